package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/store"
)

// RunDeliveries runs the conformance suite of store.Delivering and store.OnCallOverrides.
func RunDeliveries(t *testing.T, open Opener) {
	ctx := context.Background()
	setup := func(t *testing.T) (*env, store.Delivering) {
		e := newEnv(t, open)
		ds, ok := e.st.(store.Delivering)
		require.True(t, ok, "%T does not implement store.Delivering", e.st)
		return e, ds
	}
	key := store.DeliveryKey{Kind: "report", Tenant: "acme", Period: "2025-01"}

	t.Run("one replica of many claims a period, once", func(t *testing.T) {
		e, ds := setup(t)
		now := e.clock.Now()
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			won []string
		)
		for _, owner := range []string{"a", "b", "c", "d"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ok, err := ds.ClaimDelivery(ctx, key, now, owner, now, now.Add(time.Minute))
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					won = append(won, owner)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		require.Len(t, won, 1, "claims won: %v", won)
		require.NoError(t, ds.MarkDelivery(ctx, key, won[0], "ann@example.com"))
		require.NoError(t, ds.MarkDelivery(ctx, key, won[0], "ann@example.com"))
		require.Error(t, ds.MarkDelivery(ctx, key, "intruder", "x"), "a delivery marked without the lease")
		ok, err := ds.FinishDelivery(ctx, key, "intruder", store.DeliverySent, "", "", now, nil)
		require.NoError(t, err)
		require.False(t, ok, "finished without the lease")
		ok, err = ds.FinishDelivery(ctx, key, won[0], store.DeliverySent, "to ann", "", now, nil)
		require.NoError(t, err)
		require.True(t, ok)
		e.clock.Advance(time.Hour)
		later := e.clock.Now()
		d, ok, err := ds.ClaimDelivery(ctx, key, later, "a", later, later.Add(time.Minute))
		require.NoError(t, err)
		require.False(t, ok, "a finished period claimed again")
		require.Equal(t, store.DeliverySent, d.Outcome)
		require.Equal(t, []string{"ann@example.com"}, d.Delivered)
		require.Equal(t, "to ann", d.Note)
		list, err := ds.Deliveries(ctx, "report", "acme", 10)
		require.NoError(t, err)
		require.Len(t, list, 1)
		list, err = ds.Deliveries(ctx, "report", "globex", 10)
		require.NoError(t, err)
		require.Empty(t, list)
	})

	t.Run("an expired lease is taken over, a retry waits for its time", func(t *testing.T) {
		e, ds := setup(t)
		now := e.clock.Now()
		_, ok, err := ds.ClaimDelivery(ctx, key, now, "crashed", now, now.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		_, ok, err = ds.ClaimDelivery(ctx, key, now, "b", now, now.Add(time.Minute))
		require.NoError(t, err)
		require.False(t, ok, "a live lease taken over")
		e.clock.Advance(2 * time.Minute)
		now = e.clock.Now()
		_, ok, err = ds.ClaimDelivery(ctx, key, now, "b", now, now.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, ok, "an expired lease not taken over")
		require.NoError(t, ds.RetryDelivery(ctx, key, "b", "451 try again", now.Add(10*time.Minute)))
		_, ok, err = ds.ClaimDelivery(ctx, key, now, "b", now, now.Add(time.Minute))
		require.NoError(t, err)
		require.False(t, ok, "claimed before its retry time")
		e.clock.Advance(10 * time.Minute)
		now = e.clock.Now()
		d, ok, err := ds.ClaimDelivery(ctx, key, now, "c", now, now.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, 1, d.Attempts)
		require.Equal(t, "451 try again", d.LastError)
	})

	t.Run("on-call overrides are kept per tenant", func(t *testing.T) {
		e, _ := setup(t)
		os, ok := e.st.(store.OnCallOverrides)
		require.True(t, ok, "%T does not implement store.OnCallOverrides", e.st)
		now := e.clock.Now()
		a := &store.OnCallOverride{Tenant: "acme", Schedule: "ops", Contact: "ann", From: now, To: now.Add(time.Hour), Reason: "swap", CreatedBy: "bob", CreatedAt: now}
		require.NoError(t, os.AddOverride(ctx, a))
		require.NotZero(t, a.ID)
		past := &store.OnCallOverride{Tenant: "acme", Schedule: "ops", Contact: "cy", From: now.Add(-3 * time.Hour), To: now.Add(-2 * time.Hour), CreatedBy: "bob", CreatedAt: now}
		require.NoError(t, os.AddOverride(ctx, past))
		g := &store.OnCallOverride{Tenant: "globex", Schedule: "ops", Contact: "gil", From: now, To: now.Add(time.Hour), CreatedBy: "bob", CreatedAt: now}
		require.NoError(t, os.AddOverride(ctx, g))
		list, err := os.Overrides(ctx, "acme", now)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, *a, list[0])
		all, err := os.Overrides(ctx, "", now.Add(-24*time.Hour))
		require.NoError(t, err)
		require.Len(t, all, 3)
		_, err = os.DeleteOverride(ctx, "globex", a.ID, "bob", now)
		require.ErrorIs(t, err, store.ErrNotFound, "another tenant's override deleted")
		got, err := os.DeleteOverride(ctx, "acme", a.ID, "bob", now)
		require.NoError(t, err)
		require.Equal(t, "ann", got.Contact)
		list, err = os.Overrides(ctx, "acme", now)
		require.NoError(t, err)
		require.Empty(t, list, "a deleted override listed")
		_, err = os.DeleteOverride(ctx, "acme", a.ID, "bob", now)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
