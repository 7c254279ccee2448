package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
)

// GET /api/v1/kpis is scoped like the incidents: a tenant sees its own figures only.
func TestKPIsAreScoped(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct{ tok, gk string }{{tokA, "g1"}, {tokA, "g2"}, {tokB, "g1"}} {
		code, resp := f.do(t, http.MethodPost, "/api/v1/alerts", tc.tok, payload(tc.gk))
		require.Equal(t, 200, code, string(resp))
	}
	get := func(tok, query string) apitypes.KPIsResponse {
		code, resp := f.do(t, http.MethodGet, apitypes.KPIsPath+query, tok, nil)
		require.Equal(t, 200, code, string(resp))
		var out apitypes.KPIsResponse
		require.NoError(t, json.Unmarshal(resp, &out))
		return out
	}
	a := get(apiA, "?tenant=b")
	require.Equal(t, 2, a.Total.Incidents, "a tenant's credential sees its own tenant, whatever it asks")
	require.Equal(t, 2, a.Total.Unacknowledged)
	require.Nil(t, a.Total.MTTA, "nothing acknowledged yet")
	require.Len(t, a.KPIs, 1)
	require.Equal(t, "a", a.KPIs[0].Tenant)
	require.Equal(t, 3, get(tokOp, "").Total.Incidents)
	require.Equal(t, 1, get(tokOp, "?tenant=b").Total.Incidents)
	require.Zero(t, get(tokOp, "?to=2000-01-01T00:00:00Z").Total.Incidents)
	code, _ := f.do(t, http.MethodGet, apitypes.KPIsPath, "", nil)
	require.Equal(t, http.StatusUnauthorized, code)
}
