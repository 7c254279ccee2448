package timezone

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	loc, err := Parse("")
	require.NoError(t, err)
	require.Nil(t, loc, "empty is UTC")
	loc, err = Parse("Asia/Tokyo")
	require.NoError(t, err)
	require.Equal(t, "Asia/Tokyo", loc.String())
	for _, bad := range []string{"Local", "Mars/Olympus", "../../etc/passwd", "Europe/Berlin\x00", "/etc/localtime", "europe berlin"} {
		_, err := Parse(bad)
		require.Error(t, err, bad)
		require.ErrorContains(t, err, "time zone", bad)
	}
}
