package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/kizashi-dev/kizashi/webhook/app"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kizashi test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
}

// TestWebConfigTLS: the web config's TLS settings (relative paths), headers and users apply as
// exporter-toolkit applies them, the users to /metrics only.
func TestWebConfigTLS(t *testing.T) {
	dir := t.TempDir()
	selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-password"), bcrypt.MinCost)
	require.NoError(t, err)
	webPath := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(webPath, []byte(`tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
http_server_config:
  headers:
    X-Frame-Options: deny
basic_auth_users:
  prometheus: `+string(hash)+"\n"), 0o600))
	cfg := filepath.Join(dir, "kizashi-webhook.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(configYAML("storage: {driver: sqlite, path: "+filepath.Join(dir, "k.db")+"}\n")), 0o600))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{ConfigFile: cfg, Listener: l, Registry: prometheus.NewRegistry(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Web: &web.FlagConfig{WebConfigFile: &webPath, WebListenAddresses: &[]string{}}})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	base := "https://" + l.Addr().String()
	get := func(path string, basic ...string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		if len(basic) == 2 {
			req.SetBasicAuth(basic[0], basic[1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil
		}
		require.NoError(t, resp.Body.Close())
		return resp
	}
	require.Eventually(t, func() bool { r := get("/-/ready"); return r != nil && r.StatusCode == 200 }, time.Minute, 20*time.Millisecond)
	r := get("/-/healthy")
	require.Equal(t, "deny", r.Header.Get("X-Frame-Options"))
	require.True(t, r.TLS != nil)
	require.Equal(t, http.StatusUnauthorized, get("/metrics").StatusCode)
	require.Equal(t, 200, get("/metrics", "prometheus", "scrape-password").StatusCode)

	plain, err := http.Get("http://" + l.Addr().String() + "/-/healthy")
	require.NoError(t, err)
	require.NoError(t, plain.Body.Close())
	require.Equal(t, http.StatusBadRequest, plain.StatusCode, "plain HTTP is not served")
}

func TestWebConfigRateLimitRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "web.yml")
	require.NoError(t, os.WriteFile(p, []byte("rate_limit:\n  burst: 10\n  interval: 1s\n"), 0o600))
	err := app.CheckWebConfig(p)
	require.ErrorContains(t, err, "rate_limit is not supported by kizashi-webhook")
	require.NoError(t, app.CheckWebConfig(""))
}
