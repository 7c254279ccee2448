package source_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alecthomas/units"
	pconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/queryconfig"
	"github.com/kizashi-dev/kizashi/exporter/source"
)

func TestQueriesWithBasicAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "kizashi" || pass != "secret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		require.NoError(t, r.ParseForm())
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/query":
			require.Equal(t, "up", r.Form.Get("query"))
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[1700000000,"1"]}]}}`))
		case "/api/v1/query_range":
			require.Equal(t, "60", r.Form.Get("step"))
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[[1700000000,"1"],[1700000060,"2"]]}]}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	cfg := queryconfig.DefaultSource
	cfg.URL = srv.URL
	cfg.HTTPClientConfig.BasicAuth = &pconfig.BasicAuth{Username: "kizashi", Password: "secret"}
	p, err := source.New(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	vec, err := p.Query(ctx, "up", time.Unix(1700000000, 0))
	require.NoError(t, err)
	require.Len(t, vec, 1)
	require.Equal(t, model.LabelValue("a"), vec[0].Metric["job"])
	mat, err := p.QueryRange(ctx, "up", time.Unix(1700000000, 0), time.Unix(1700000060, 0), time.Minute)
	require.NoError(t, err)
	require.Len(t, mat[0].Values, 2)

	cfg.HTTPClientConfig.BasicAuth.Password = "wrong"
	p, err = source.New(cfg)
	require.NoError(t, err)
	_, err = p.Query(ctx, "up", time.Unix(1700000000, 0))
	require.ErrorContains(t, err, `query "up"`)
}

// vectorJSON is a query answer of n series, each with a label of pad bytes.
func vectorJSON(n, pad int) []byte {
	var b strings.Builder
	b.WriteString(`{"status":"success","data":{"resultType":"vector","result":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"metric":{"i":"%d","pad":"%s"},"value":[1700000000,"1"]}`, i, strings.Repeat("x", pad))
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// TestAnswerLimits: an answer over max_response_size (bytes, counted decompressed) or
// max_response_samples fails the query with ErrTooLarge; one at the limits passes.
func TestAnswerLimits(t *testing.T) {
	var body atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*body.Load())
	}))
	defer srv.Close()
	cfg := queryconfig.DefaultSource
	cfg.URL = srv.URL
	cfg.MaxResponseSize = units.MiB
	cfg.MaxSamplesPerQuery = 1000
	cfg.MaxResponseSamples = 2000
	p, err := source.New(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	query := func(b []byte) error {
		body.Store(&b)
		_, err := p.Query(ctx, "up", time.Unix(1700000000, 0))
		return err
	}

	// Exactly 1 MiB passes (JSON may end in spaces); one byte more does not.
	exact := vectorJSON(100, 10000)
	exact = append(exact, bytes.Repeat([]byte(" "), int(units.MiB)-len(exact))...)
	require.NoError(t, query(exact))
	err = query(append(exact, ' '))
	require.ErrorIs(t, err, source.ErrTooLarge)
	require.EqualError(t, err, `query "up": answer too large: over max_response_size 1MiB`)

	require.NoError(t, query(vectorJSON(2000, 100)), "2000 samples, 0.3 MiB")
	err = query(vectorJSON(2001, 10))
	require.ErrorIs(t, err, source.ErrTooLarge)
	require.EqualError(t, err, `query "up": answer too large: 2001 samples, over max_response_samples 2000`)
	err = query(vectorJSON(1000, 2000))
	require.ErrorIs(t, err, source.ErrTooLarge)

	// A range answer counts every point.
	b := []byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[` +
		strings.TrimSuffix(strings.Repeat(`[1700000000,"1"],`, 2001), ",") + `]}]}}`)
	body.Store(&b)
	_, err = p.QueryRange(ctx, "up", time.Unix(1700000000, 0), time.Unix(1700002000, 0), time.Second)
	require.ErrorIs(t, err, source.ErrTooLarge)
	require.EqualError(t, err, `query range "up": answer too large: 2001 samples, over max_response_samples 2000`)
}
