package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/incident"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

func retention(t *testing.T, st store.Store) store.Retention {
	t.Helper()
	r, ok := st.(store.Retention)
	require.True(t, ok, "%T implements store.Retention", st)
	return r
}

// runRetention checks that old notifications and notification journal
// lines are pruned in batches, and nothing else.
func runRetention(t *testing.T, open Opener) {
	t.Run("retention prunes old notifications and journal lines of notifications in batches", func(t *testing.T) {
		e := newEnv(t, open)
		ctx := context.Background()
		r := retention(t, e.st)
		bodies := [][]byte{
			testkit.Payload("r", "g1", "firing", t0, alert("R", "1")),
			testkit.Payload("r", "g2", "firing", t0, alert("R", "2")),
			testkit.Payload("r", "g3", "firing", t0, alert("R", "3")),
		}
		var ids []int64
		for _, b := range bodies {
			ids = append(ids, e.ingest("acme", b).Incidents[0])
		}
		e.clock.Advance(8 * 24 * time.Hour)
		// A duplicate delivery keeps its notification: it was last delivered now.
		require.True(t, e.ingest("acme", bodies[0]).Duplicate)
		e.ingest("acme", testkit.Payload("r", "g4", "firing", t0, alert("R", "4")))
		before := e.clock.Now().Add(-7 * 24 * time.Hour)

		p, err := r.PruneNotifications(ctx, before, 1)
		require.NoError(t, err)
		require.Equal(t, store.Pruned{Rows: 1, Bytes: int64(len(bodies[1]))}, p, "one batch of one, its body's bytes")
		p, err = r.PruneNotifications(ctx, before, 100)
		require.NoError(t, err)
		require.Equal(t, store.Pruned{Rows: 1, Bytes: int64(len(bodies[2]))}, p)
		p, err = r.PruneNotifications(ctx, before, 100)
		require.NoError(t, err)
		require.Zero(t, p.Rows)
		c, err := e.st.Counts(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2), c.Notifications, "the duplicate's and the new one remain")
		require.True(t, e.ingest("acme", bodies[0]).Duplicate, "still recognised as a duplicate")

		j, err := e.st.Journal(ctx, ids[1])
		require.NoError(t, err)
		var lineBytes int64
		for _, en := range j {
			if en.Kind == incident.KindNotification {
				lineBytes += int64(len(en.Message))
			}
		}
		p, err = r.PruneJournalNotifications(ctx, before, 100)
		require.NoError(t, err)
		require.Equal(t, int64(3), p.Rows, "the three old notification lines")
		require.Equal(t, 3*lineBytes, p.Bytes)
		for _, id := range ids {
			j, err := e.st.Journal(ctx, id)
			require.NoError(t, err)
			require.NotEmpty(t, j)
			for _, en := range j {
				require.NotEqual(t, incident.KindNotification, en.Kind, "incident %d", id)
			}
		}
		// The passes of the service prune in batches until done and count what they did.
		e.clock.Advance(8 * 24 * time.Hour)
		got, err := e.svc.Retain(ctx, service.Retention{Notifications: 7 * 24 * time.Hour, JournalNotifications: 7 * 24 * time.Hour, Batch: 1, MaxBatches: 10})
		require.NoError(t, err)
		require.Equal(t, int64(2), got[service.TableNotifications].Rows)
		require.Equal(t, int64(1), got[service.TableJournal].Rows, "g4's notification line")
		c, err = e.st.Counts(ctx)
		require.NoError(t, err)
		require.Zero(t, c.Notifications)
		require.Equal(t, int64(4), c.Incidents, "incidents are not retention's business")
	})
}
