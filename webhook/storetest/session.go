package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/store"
)

// RunSessions runs the suite of store.Sessions.
func RunSessions(t *testing.T, open Opener) {
	ctx := context.Background()
	sessions := func(t *testing.T) store.Sessions {
		st := open(t)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		s, ok := st.(store.Sessions)
		require.True(t, ok, "%T implements store.Sessions", st)
		return s
	}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

	t.Run("a session lives until it expires or is deleted", func(t *testing.T) {
		s := sessions(t)
		a := store.Session{ID: "a", Credential: "cred-a", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		require.NoError(t, s.CreateSession(ctx, a))
		got, err := s.Session(ctx, "a", t0.Add(time.Hour-time.Nanosecond))
		require.NoError(t, err)
		require.Equal(t, a, got)
		_, err = s.Session(ctx, "a", t0.Add(time.Hour))
		require.ErrorIs(t, err, store.ErrNotFound, "expired")
		_, err = s.Session(ctx, "nope", t0)
		require.ErrorIs(t, err, store.ErrNotFound)

		require.NoError(t, s.CreateSession(ctx, store.Session{ID: "b", Credential: "cred-a", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		require.NoError(t, s.DeleteSession(ctx, "a"))
		_, err = s.Session(ctx, "a", t0)
		require.ErrorIs(t, err, store.ErrNotFound, "deleted (logout)")
		_, err = s.Session(ctx, "b", t0)
		require.NoError(t, err, "another session of the same token lives on")
		require.NoError(t, s.DeleteSession(ctx, "a"), "deleting twice is fine")

		// A log-in after b expired removes it.
		require.NoError(t, s.CreateSession(ctx, store.Session{ID: "c", Credential: "cred-c", CreatedAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(3 * time.Hour)}))
		_, err = s.Session(ctx, "b", t0)
		require.ErrorIs(t, err, store.ErrNotFound, "expired sessions are pruned at the next log-in")
	})

	t.Run("the server secret is created once", func(t *testing.T) {
		s := sessions(t)
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			got = map[string]int{}
		)
		for i := range 8 {
			wg.Go(func() {
				v, err := s.ServerSecret(ctx, []byte{byte(i), 1, 2, 3})
				if assertNoError(t, err) {
					mu.Lock()
					got[string(v)]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, got, 1, "every caller gets the same secret")
		v, err := s.ServerSecret(ctx, []byte("other"))
		require.NoError(t, err)
		require.Contains(t, got, string(v))
	})

	t.Run("a user's preferences are saved, replaced and forgotten", func(t *testing.T) {
		st := open(t)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		p, ok := st.(store.Preferences)
		require.True(t, ok, "%T implements store.Preferences", st)
		got, err := p.UserPreferences(ctx, "ada")
		require.NoError(t, err)
		require.Equal(t, store.UserPreferences{}, got, "none saved")
		require.NoError(t, p.SetUserPreferences(ctx, "ada", store.UserPreferences{Language: "ja", Zone: "Asia/Tokyo"}, t0))
		require.NoError(t, p.SetUserPreferences(ctx, "otto", store.UserPreferences{Language: "en"}, t0))
		got, err = p.UserPreferences(ctx, "ada")
		require.NoError(t, err)
		require.Equal(t, store.UserPreferences{Language: "ja", Zone: "Asia/Tokyo"}, got)
		require.NoError(t, p.SetUserPreferences(ctx, "ada", store.UserPreferences{Language: "en", Zone: "UTC"}, t0.Add(time.Minute)))
		got, err = p.UserPreferences(ctx, "ada")
		require.NoError(t, err)
		require.Equal(t, store.UserPreferences{Language: "en", Zone: "UTC"}, got, "replaced")
		require.NoError(t, p.SetUserPreferences(ctx, "ada", store.UserPreferences{}, t0.Add(2*time.Minute)))
		got, err = p.UserPreferences(ctx, "ada")
		require.NoError(t, err)
		require.Equal(t, store.UserPreferences{}, got, "forgotten")
		got, err = p.UserPreferences(ctx, "otto")
		require.NoError(t, err)
		require.Equal(t, store.UserPreferences{Language: "en"}, got, "each user has their own")
	})
}
