package source_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	pconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/config"
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

	cfg := config.DefaultSource
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
