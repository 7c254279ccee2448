//go:build e2e

package app_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/bench"
)

// TestPostgresTwoReplicas runs two webhook programs (each with its own
// connection pool) on one PostgreSQL database, as an HA deployment would, and
// sends every notification to both of them at once (the replicas of an
// Alertmanager cluster each notify), while distinct notifications of the same
// groups arrive concurrently on either replica. Every notification must be
// acknowledged, stored exactly once and counted as a duplicate exactly once,
// and each group must have exactly one (open) incident with all its alerts.
func TestPostgresTwoReplicas(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	storage := fmt.Sprintf("storage:\n  driver: postgres\n  max_conns: 8\n  dsn: %q\n", dsn)
	replicas := []*webhook{startWebhook(t, storage), startWebhook(t, storage)}

	const (
		groups = 40
		rounds = 8 // distinct notifications per group
		alerts = 10
	)
	type job struct {
		seq     uint64
		replica int
	}
	var jobs []job
	for seq := uint64(0); seq < groups*rounds; seq++ {
		jobs = append(jobs, job{seq, 0}, job{seq, 1})
	}
	// Shuffled, so that the two copies of a notification and the rounds of
	// one group race each other on both replicas.
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(jobs), func(i, j int) { jobs[i], jobs[j] = jobs[j], jobs[i] })

	ch := make(chan job)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
		errs  []error
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				body := bench.Payload(j.seq, groups, alerts, false)
				req, err := http.NewRequest(http.MethodPost, replicas[j.replica].URL+"/api/v1/alerts", bytes.NewReader(body))
				if err == nil {
					req.Header.Set("Authorization", "Bearer "+tokAcme)
					req.Header.Set("Content-Type", "application/json")
					var resp *http.Response
					if resp, err = client.Do(req); err == nil {
						err = resp.Body.Close()
						mu.Lock()
						codes[resp.StatusCode]++
						mu.Unlock()
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	require.Empty(t, errs)
	require.Equal(t, map[int]int{200: len(jobs)}, codes, "every delivery acknowledged, none failed")

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer func() { require.NoError(t, conn.Close(ctx)) }()
	count := func(q string) int64 {
		t.Helper()
		var n int64
		require.NoError(t, conn.QueryRow(ctx, q).Scan(&n))
		return n
	}
	// No notification lost, none stored twice; each second copy detected as
	// a duplicate, whichever replica it reached.
	require.Equal(t, int64(groups*rounds), count(`SELECT COUNT(*) FROM notifications`))
	require.Equal(t, int64(groups*rounds), count(`SELECT COALESCE(SUM(duplicates), 0) FROM notifications`))
	require.Zero(t, count(`SELECT COUNT(*) FROM notifications WHERE duplicates <> 1`))
	// Exactly one incident per group, open, with all its alerts.
	require.Equal(t, int64(groups), count(`SELECT COUNT(*) FROM incidents`))
	require.Equal(t, int64(groups), count(`SELECT COUNT(DISTINCT (tenant, correlation_key)) FROM incidents WHERE state NOT IN ('closed', 'canceled')`))
	require.Equal(t, int64(groups*alerts), count(`SELECT COUNT(*) FROM alerts`))
	require.Equal(t, int64(groups), count(`SELECT COUNT(*) FROM outbox WHERE event = 'created'`))
	// Both replicas serve the same incidents.
	for _, r := range replicas {
		require.Len(t, r.incidents(t, apiAcme), groups)
	}
}
