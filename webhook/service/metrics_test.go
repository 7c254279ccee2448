package service

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// The per-tenant series exist at zero before the first event, so increase() counts it.
func TestInitTenantsCreatesZeroSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	require.Zero(t, testutil.CollectAndCount(m.IncidentsOpened))
	m.InitTenants([]string{"acme"})
	require.Equal(t, 5, testutil.CollectAndCount(m.IncidentsOpened, "kizashi_webhook_incidents_created_total"))
	require.Equal(t, 10, testutil.CollectAndCount(m.SLABreaches))
	require.NoError(t, testutil.CollectAndCompare(m.IncidentsOpened, strings.NewReader(`
# HELP kizashi_webhook_incidents_created_total Incidents created.
# TYPE kizashi_webhook_incidents_created_total counter
kizashi_webhook_incidents_created_total{priority="P1",tenant="acme"} 0
kizashi_webhook_incidents_created_total{priority="P2",tenant="acme"} 0
kizashi_webhook_incidents_created_total{priority="P3",tenant="acme"} 0
kizashi_webhook_incidents_created_total{priority="P4",tenant="acme"} 0
kizashi_webhook_incidents_created_total{priority="P5",tenant="acme"} 0
`)))
	// A reload that adds a tenant adds its series; known ones keep their values.
	m.IncidentsOpened.WithLabelValues("acme", "P2").Inc()
	m.InitTenants([]string{"acme", "globex"})
	require.Equal(t, 10, testutil.CollectAndCount(m.IncidentsOpened))
	require.Equal(t, 1.0, testutil.ToFloat64(m.IncidentsOpened.WithLabelValues("acme", "P2")))
	lint, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, lint)
}
