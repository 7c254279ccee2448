package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/api"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/config"
	"github.com/kizashi-dev/kizashi/webhook/limit"
	"github.com/kizashi-dev/kizashi/webhook/service"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/store/sqlite"
)

// slowStore is a store with room for a fixed number of writes at once (a
// connection pool, a single writer) whose writes hold their room until the
// test releases them: a store made slow by large notifications, without
// timing.
type slowStore struct {
	store.Store
	room    chan struct{}
	release chan struct{}
	// Writes are numbered as they arrive; entered holds those that got room.
	arrived atomic.Int32
	mu      sync.Mutex
	entered map[int32]bool
}

func (s *slowStore) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	n := s.arrived.Add(1)
	select {
	case s.room <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.room }()
	s.mu.Lock()
	s.entered[n] = true
	s.mu.Unlock()
	<-s.release
	return s.Store.Update(ctx, fn)
}

func (s *slowStore) in(n int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entered[n]
}

func TestOneTenantCannotTakeTheWholeStore(t *testing.T) {
	const tokC = "tenant-c-token-0123456789"
	cfg, err := config.Parse([]byte(`
limits:
  tenant: {concurrency: 1, inflight_bytes: 1000000, wait: 1h}
tenants:
  - {name: a, tokens: ["`+tokA+`"]}
  - {name: c, tokens: ["`+tokC+`"]}
`), ".")
	require.NoError(t, err)
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	st := &slowStore{Store: db, room: make(chan struct{}, 2), release: make(chan struct{}), entered: map[int32]bool{}}
	reg := prometheus.NewRegistry()
	m := service.NewMetrics(reg)
	m.InitTenants(cfg.TenantNames())
	svc := &service.Service{Store: st, Rules: func() service.Rules { return cfg }, Metrics: m}
	a := &api.API{Service: svc, Access: &auth.Access{Authenticator: auth.NewTokens(func() *config.Config { return cfg }, nil)}, MaxBodyBytes: func() int64 { return cfg.Limits.MaxBodyBytes },
		Gate: limit.NewGate(nil, m), TenantLimits: cfg.TenantLimits, Logger: slog.New(slog.DiscardHandler)}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(st.release) }) }
	t.Cleanup(releaseAll) // before the server closes, should the test fail

	var wg sync.WaitGroup
	codes := make(chan string, 10)
	send := func(token, tenant, gk string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/alerts", bytes.NewReader(payload(gk)))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close()
			codes <- fmt.Sprintf("%s %d", tenant, resp.StatusCode)
		}()
	}
	waiting := func(tenant string) float64 { return testutil.ToFloat64(m.WaitingGauge.WithLabelValues(tenant)) }

	// Tenant a sends four notifications at once, more than the store has
	// room for. Each is either at the store or waiting for a's turn.
	for i := range 4 {
		send(tokA, "a", fmt.Sprint("a", i))
	}
	require.Eventually(t, func() bool { return int(st.arrived.Load())+int(waiting("a")) == 4 }, 30*time.Second, 5*time.Millisecond)
	// Tenant c's notification gets room in the store while all of a's are held.
	c := st.arrived.Load() + 1
	send(tokC, "c", "c0")
	require.Eventually(t, func() bool { return st.in(c) }, 30*time.Second, 5*time.Millisecond,
		"tenant c's notification must reach the store while tenant a's are held")
	require.Equal(t, 3.0, waiting("a"), "a has one write at a time, the others wait for a's turn")
	require.Zero(t, waiting("c"))

	releaseAll()
	wg.Wait()
	close(codes)
	n := 0
	for c := range codes {
		require.Contains(t, []string{"a 200", "c 200"}, c)
		n++
	}
	require.Equal(t, 5, n)
	require.Zero(t, waiting("a"))
	ins, err := db.ListIncidents(context.Background(), store.Filter{})
	require.NoError(t, err)
	require.Len(t, ins, 5, "nothing lost")
}
