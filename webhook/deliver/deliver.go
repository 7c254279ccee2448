// Package deliver runs the desk's once-per-period deliveries: reminders of major incidents'
// customer updates (reminders.go) and the monthly service report mailed to each tenant
// (reports.go). Each job is a row of the store (store.Delivering) made once per key however
// many replicas try and leased by the replica that runs it, as escalation steps are: a job
// whose deliveries fail is retried for those only; a replica that crashed mid-job loses its
// lease and another runs the job again, repeating at most the deliveries whose record was
// lost with it. Time comes from Now, so tests need no sleeps.
package deliver

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kizashi-dev/kizashi/webhook/notify"
	"github.com/kizashi-dev/kizashi/webhook/oncall"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Kinds of deliveries (store.DeliveryKey.Kind).
const (
	KindReminder = "update_reminder"
	KindReport   = "service_report"
)

// Actor is the journal's actor of reminder lines.
const Actor = "notify"

// KindJournal is the journal kind of reminder lines.
const KindJournal = "reminder"

// People is how a tenant's people are reached.
type People struct {
	Contacts  map[string]notify.Contact
	Channels  map[string]notify.Channel
	Schedules map[string]*oncall.Schedule
}

// Metrics counts deliveries.
type Metrics struct {
	jobs *prometheus.CounterVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kizashi_webhook_scheduled_deliveries_total",
		Help: "Scheduled deliveries finished or retried (kind update_reminder or service_report), by result (sent, failed, retried)."},
		[]string{"tenant", "kind", "result"})}
	reg.MustRegister(m.jobs)
	return m
}

func (m *Metrics) count(tenant, kind, result string) {
	if m != nil {
		m.jobs.WithLabelValues(tenant, kind, result).Inc()
	}
}

// Runner is what both engines share.
type Runner struct {
	Store store.Delivering
	Now   func() time.Time
	// Owner names this replica in leases.
	Owner string
	// Lease bounds a job's run (default 5m).
	Lease time.Duration
	// MaxAttempts bounds the runs of a job whose deliveries fail (default 5).
	MaxAttempts int
	Log         *slog.Logger
	Metrics     *Metrics

	mu   sync.Mutex
	done map[store.DeliveryKey]bool // jobs seen finished: not claimed again
}

// finished tells whether key was seen finished (so a tick writes nothing for it again).
func (r *Runner) finished(key store.DeliveryKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done[key]
}

// remember notes a job seen finished. The memory is bounded: it is forgotten at 10000 keys
// (the store still answers).
func (r *Runner) remember(d *store.Delivery) {
	if d == nil || d.Outcome == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil || len(r.done) >= 10000 {
		r.done = map[store.DeliveryKey]bool{}
	}
	r.done[d.DeliveryKey] = true
}

// once runs send for the job of key, due at due, unless it was seen finished or another
// replica holds it: it claims the job (a lease until now + Lease) and remembers it when send
// reports it done. It reports whether send finished the job now.
func (r *Runner) once(ctx context.Context, key store.DeliveryKey, due, now time.Time, send func(d *store.Delivery) (bool, error)) (bool, error) {
	if r.finished(key) {
		return false, nil
	}
	d, ok, err := r.Store.ClaimDelivery(ctx, key, due, r.Owner, now, now.Add(r.Lease))
	if err != nil || !ok {
		r.remember(d)
		return false, err
	}
	done, err := send(d)
	if done {
		r.remember(&store.Delivery{DeliveryKey: key, Outcome: store.DeliverySent})
	}
	return done, err
}

func (r *Runner) defaults() {
	if r.Lease <= 0 {
		r.Lease = 5 * time.Minute
	}
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 5
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
}

// backoff is the wait before a failed job's next attempt: 5m, 10m, 20m...
func backoff(attempts int) time.Duration {
	return time.Duration(5<<min(attempts, 6)) * time.Minute
}
