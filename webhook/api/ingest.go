package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/kizashi-dev/kizashi/webhook/alertmsg"
	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/limit"
	"github.com/kizashi-dev/kizashi/webhook/service"
)

// retryAfter is the pause a 503 suggests (Alertmanager 0.25 uses its own
// backoff; other senders may honour it).
const retryAfter = 10

// decode reads a tenant's notification from the request body as a stream
// (see alertmsg.Decode). On failure it answers and returns false: 400 for a
// malformed notification, tooLarge for a body over max_body_bytes, and 503
// (retried) when the body could not be read: a client that stalls past the
// server's read timeout, or one that went away, has sent nothing malformed.
func (a *API) decode(w http.ResponseWriter, r *http.Request, tenant string, tooLarge int) (*alertmsg.Message, bool) {
	lim := alertmsg.Limits{MaxBytes: a.MaxBodyBytes()}
	if a.MaxAlerts != nil {
		lim.MaxAlerts = a.MaxAlerts()
	}
	m, err := alertmsg.Decode(r.Body, lim)
	var re *alertmsg.ReadError
	switch {
	case err == nil:
		if m.Dropped > 0 {
			a.Logger.Warn("notification truncated to max_alerts", "tenant", tenant, "kept", len(m.Alerts), "dropped", m.Dropped)
			if a.Service.Metrics != nil {
				a.Service.Metrics.Truncated.Inc()
			}
		}
		return m, true
	case errors.Is(err, alertmsg.ErrTooLarge):
		a.Logger.Error("notification body over limits.max_body_bytes", "tenant", tenant, "limit", lim.MaxBytes, "status", tooLarge)
		if tooLarge == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		}
		a.reject(w, tooLarge, service.RejectTooLarge, "notification body over limits.max_body_bytes")
	case errors.As(err, &re) && timeout(re.Err):
		a.Logger.Warn("notification body not received within the read timeout", "tenant", tenant, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		a.reject(w, http.StatusServiceUnavailable, service.RejectTimeout, "notification body not received in time, retry")
	case errors.As(err, &re):
		// The client went away: nobody reads the answer, and it sent nothing wrong.
		a.Logger.Debug("client went away while sending its notification", "tenant", tenant, "err", err)
		a.reject(w, http.StatusServiceUnavailable, service.RejectAborted, "notification body incomplete, retry")
	default:
		a.reject(w, http.StatusBadRequest, service.RejectMalformed, err.Error())
	}
	return nil, false
}

// admit holds a tenant's notification back, answering 503 with Retry-After,
// while one of the tenant's quotas is spent or its share of the store stays
// taken for limits' wait (see package limit). Otherwise the notification
// takes its turn until the returned function is called, which charges the
// bytes read to the tenant's quota.
func (a *API) admit(w http.ResponseWriter, r *http.Request, tenant string) (func(), bool) {
	if a.Gate == nil {
		return func() {}, true
	}
	k, err := a.Gate.Admit(r.Context(), tenant, a.TenantLimits(tenant), r.ContentLength)
	if err != nil {
		h, held := limit.ErrHeld(err)
		if !held {
			// The client went away while it waited.
			a.reject(w, http.StatusServiceUnavailable, service.RejectAborted, "request canceled")
			return nil, false
		}
		a.Logger.Debug("notification held back", "tenant", tenant, "reason", h.Reason, "retry_after", h.RetryAfter)
		if a.Service.Metrics != nil {
			a.Service.Metrics.Held.WithLabelValues(tenant, h.Reason).Inc()
		}
		w.Header().Set("Retry-After", auth.RetryAfter(h.RetryAfter))
		a.reject(w, http.StatusServiceUnavailable, service.RejectHeld, "tenant limit reached ("+h.Reason+"), retry")
		return nil, false
	}
	body := &countingBody{ReadCloser: r.Body}
	r.Body = body
	return func() { k.Done(body.n) }, true
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

// timeout reports a read deadline that passed (the server's read timeout).
func timeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
