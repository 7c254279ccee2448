package publicid

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTripAndNoOrder(t *testing.T) {
	c, err := New([]byte("secret"))
	require.NoError(t, err)
	seen := map[int64]bool{}
	increasing := 0
	prev := int64(0)
	for id := int64(1); id <= 20000; id++ {
		p := c.Public(Incident, id)
		require.Positive(t, p)
		require.Less(t, p, domain, "exact in a JSON number")
		require.False(t, seen[p], "unique")
		seen[p] = true
		back, ok := c.Private(Incident, p)
		require.True(t, ok)
		require.Equal(t, id, back)
		if p > prev {
			increasing++
		}
		prev = p
	}
	// Consecutive ids are in no order: about half the steps go up.
	require.InDelta(t, 10000, increasing, 500)
	require.NotEqual(t, c.Public(Incident, 7), c.Public(Journal, 7), "kinds are separate")

	other, err := New([]byte("other secret"))
	require.NoError(t, err)
	require.NotEqual(t, c.Public(Incident, 7), other.Public(Incident, 7), "keyed")
}

func TestEdges(t *testing.T) {
	c, err := New([]byte("k"))
	require.NoError(t, err)
	for _, id := range []int64{0, -1, domain, domain + 5} {
		require.Equal(t, id, c.Public(Incident, id), "outside the domain: unchanged")
	}
	_, ok := c.Private(Incident, 0)
	require.False(t, ok)
	_, ok = c.Private(Incident, -3)
	require.False(t, ok)
	// The walk past 0: whichever id the permutation sends to 0 still round-trips.
	z := int64(c.unpermute(Incident, 0))
	if z != 0 {
		p := c.Public(Incident, z)
		require.NotZero(t, p)
		back, ok := c.Private(Incident, p)
		require.True(t, ok)
		require.Equal(t, z, back)
	}
	var none *Codec
	require.Equal(t, int64(42), none.Public(Incident, 42))
	id, ok := none.Private(Incident, 42)
	require.True(t, ok)
	require.Equal(t, int64(42), id)
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(int64(1), []byte("k"))
	f.Add(int64(1<<52-1), []byte(""))
	f.Fuzz(func(t *testing.T, id int64, key []byte) {
		c, err := New(key)
		require.NoError(t, err)
		p := c.Public(Incident, id)
		if id < 1 {
			require.Equal(t, id, p)
			return
		}
		require.Positive(t, p)
		back, ok := c.Private(Incident, p)
		require.True(t, ok)
		require.Equal(t, id, back)
	})
}

func BenchmarkPublic(b *testing.B) {
	c, err := New([]byte("k"))
	require.NoError(b, err)
	b.ReportAllocs()
	for i := range b.N {
		_ = c.Public(Incident, int64(i+1))
	}
}
