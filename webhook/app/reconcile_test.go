package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/app"
)

// runWebhook runs the program in-process on l with a configuration file.
func runWebhook(t testing.TB, l net.Listener, cfgYAML string, opts ...func(*app.Options)) *webhook {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kizashi-webhook.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(cfgYAML), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	w := &webhook{URL: "http://" + l.Addr().String(), cancel: cancel, done: make(chan error, 1), config: cfg}
	o := app.Options{ConfigFile: cfg, Listener: l, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range opts {
		f(&o)
	}
	go func() { w.done <- app.Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-w.done)
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(w.URL + "/-/ready")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200
	}, time.Minute, 20*time.Millisecond)
	return w
}

func byTitle(ins []apitypes.Incident) map[string]apitypes.Incident {
	out := map[string]apitypes.Incident{}
	for _, in := range ins {
		out[in.Title] = in
	}
	return out
}

func (w *webhook) detail(t *testing.T, id int64) apitypes.Detail {
	t.Helper()
	var d apitypes.Detail
	require.Equal(t, 200, w.get(t, apiAcme, fmt.Sprintf("/api/v1/incidents/%d", id), &d))
	return d
}

func journalText(d apitypes.Detail) string {
	var b strings.Builder
	for _, e := range d.Journal {
		fmt.Fprintf(&b, "%s %s %s\n", e.Actor, e.Kind, e.Message)
	}
	return b.String()
}
