package daemon_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/kizashi-dev/kizashi/exporter/daemon"
	"github.com/kizashi-dev/kizashi/exporter/internal/fakesource"
)

// TestWebConfigBasicAuth: --web.config.file (exporter-toolkit) protects every endpoint.
func TestWebConfigBasicAuth(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "kizashi.yml")
	writeConfig(t, cfgPath, fmt.Sprintf(configTmpl, 0.5))
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	require.NoError(t, err)
	webPath := filepath.Join(dir, "web.yml")
	writeConfig(t, webPath, "basic_auth_users:\n  prom: "+string(hash)+"\n")

	src := fakesource.New(fakesource.Many("node_load1", 1), func(i int, t time.Time) float64 { return 1 })
	opts := daemon.Options{ConfigFile: cfgPath, DataDir: filepath.Join(dir, "data"), Source: src, SnapshotInterval: time.Hour,
		Web: &web.FlagConfig{WebConfigFile: &webPath, WebListenAddresses: &[]string{}}}
	ex := start(t, opts)

	for _, path := range []string{"/metrics", "/", "/-/healthy"} {
		code, _ := get(t, ex.url+path)
		require.Equal(t, http.StatusUnauthorized, code, path)
	}
	for _, c := range []struct {
		user, pass string
		want       int
	}{{"prom", "s3cret", http.StatusOK}, {"prom", "wrong", http.StatusUnauthorized}, {"other", "s3cret", http.StatusUnauthorized}} {
		req, err := http.NewRequest(http.MethodGet, ex.url+"/-/healthy", nil)
		require.NoError(t, err)
		req.SetBasicAuth(c.user, c.pass)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, c.want, resp.StatusCode, "%s:%s", c.user, c.pass)
	}
}
