package auth

import (
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kizashi-dev/kizashi/webhook/config"
)

// Reasons of failed authentications (bounded metric label values).
const (
	// FailToken: a bearer token that is not configured.
	FailToken = "token"
	// FailBasic: a basic-auth user or password that is wrong.
	FailBasic = "basic"
	// FailMalformed: an Authorization header that is neither Bearer nor Basic.
	FailMalformed = "malformed"
	// FailLogin: a token on the page's log-in form that is not configured.
	FailLogin = "login"
	// FailSession: a cookie of no live session (expired, logged out, token removed). Not
	// counted against the source: session ids are 256 random bits.
	FailSession = "session"
	// FailCSRF: a state change with the page's cookie but without its CSRF token, or from
	// another origin. Not counted against the source.
	FailCSRF = "csrf"
)

// Guard counts failed authentications, logs them (never the credential) and throttles the
// sources that fail too often (config.AuthFailures). A throttled source is refused before its
// credential is checked, so guessing stays at the configured rate even when a guess is right.
type Guard struct {
	limiter   *failureLimiter
	failures  *prometheus.CounterVec
	throttled prometheus.Counter
	logger    *slog.Logger
	now       func() time.Time
}

// NewGuard registers the guard's metrics on reg.
func NewGuard(reg prometheus.Registerer, logger *slog.Logger) *Guard {
	f := promauto.With(reg)
	g := &Guard{
		limiter: newFailureLimiter(),
		failures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kizashi_webhook_auth_failures_total",
			Help: "Failed authentications by reason (token, basic, malformed, login, session, csrf).",
		}, []string{"reason"}),
		throttled: f.NewCounter(prometheus.CounterOpts{
			Name: "kizashi_webhook_auth_throttled_total",
			Help: "Requests refused unchecked because their source failed to authenticate too often.",
		}),
		logger: logger,
		now:    time.Now,
	}
	for _, r := range []string{FailToken, FailBasic, FailMalformed, FailLogin, FailSession, FailCSRF} {
		g.failures.WithLabelValues(r)
	}
	return g
}

// Throttled reports whether src must be refused now, and when it may try again.
func (g *Guard) Throttled(src netip.Addr, c config.AuthFailures) (bool, time.Duration) {
	if g == nil {
		return false, 0
	}
	t, d := g.limiter.throttled(src, c, g.now())
	if t {
		g.throttled.Inc()
		g.logger.Debug("throttled request refused", "source", src)
	}
	return t, d
}

// Failed records a failed authentication of src on path. Failures of the guessable kinds
// (token, basic, malformed, login) count against the source.
func (g *Guard) Failed(src netip.Addr, reason, path string, c config.AuthFailures) {
	if g == nil {
		return
	}
	g.failures.WithLabelValues(reason).Inc()
	if reason == FailSession || reason == FailCSRF {
		g.logger.Info("request refused", "source", src, "reason", reason, "path", path)
		return
	}
	g.logger.Warn("authentication failed", "source", src, "reason", reason, "path", path)
	if t, d := g.limiter.fail(src, c, g.now()); t {
		g.logger.Warn("source throttled after failed authentications", "source", src, "retry_after", d.Round(time.Second))
	}
}

// RetryAfter is a Retry-After header value: whole seconds, at least 1.
func RetryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}
