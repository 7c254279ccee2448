package escalation

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the engine does.
type Metrics struct {
	deliveries *prometheus.CounterVec
	steps      *prometheus.CounterVec
}

// NewMetrics registers the engine's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kizashi_webhook_escalation_deliveries_total",
			Help: "Notifications of escalation steps to a contact through a channel, by result (sent, failed)."}, []string{"tenant", "channel", "result"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kizashi_webhook_escalation_steps_total",
			Help: "Escalation steps finished, by outcome (notified, stopped)."}, []string{"tenant", "outcome"}),
	}
	reg.MustRegister(m.deliveries, m.steps)
	return m
}

func (m *Metrics) delivery(tenant, channel, result string) {
	if m != nil {
		m.deliveries.WithLabelValues(tenant, channel, result).Inc()
	}
}

func (m *Metrics) step(tenant, outcome string) {
	if m != nil {
		m.steps.WithLabelValues(tenant, outcome).Inc()
	}
}
