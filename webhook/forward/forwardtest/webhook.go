package forwardtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/forward/webhook"
)

// Receiver operations.
const (
	HookDeliver = "deliver"
	HookUnknown = "unknown"
)

// Ticket is what the fake receiver keeps per correlation id.
type Ticket struct {
	ID         string
	Incident   webhook.WebhookIncident
	Deliveries int
	// JournalIDs counts each journal id received (more than 1: a duplicate).
	JournalIDs map[int64]int
}

// Receiver is a generic webhook receiver as the README documents it: it
// verifies X-Kizashi-Signature, upserts one ticket per correlation_id and
// answers {"id": ...}.
type Receiver struct {
	*Server

	mu      sync.Mutex
	secret  []byte
	tickets map[string]*Ticket
	bad     int
}

// NewReceiver starts a fake receiver.
func NewReceiver(t testing.TB, secret []byte) *Receiver {
	rc := &Receiver{secret: secret, tickets: map[string]*Ticket{}}
	rc.Server = newServer(t, func(r *http.Request) string {
		if r.Method == http.MethodPost {
			return HookDeliver
		}
		return HookUnknown
	}, rc.handle)
	return rc
}

// SetSecret replaces the secret signatures are verified with.
func (rc *Receiver) SetSecret(secret []byte) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secret = secret
}

// Tickets returns copies of the tickets by correlation id.
func (rc *Receiver) Tickets() map[string]Ticket {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]Ticket{}
	for k, t := range rc.tickets {
		c := *t
		c.JournalIDs = map[int64]int{}
		for id, n := range t.JournalIDs {
			c.JournalIDs[id] = n
		}
		out[k] = c
	}
	return out
}

// BadSignatures counts rejected deliveries.
func (rc *Receiver) BadSignatures() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.bad
}

func (rc *Receiver) handle(op string, w http.ResponseWriter, r *http.Request) {
	if op != HookDeliver {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	secret := rc.secret
	rc.mu.Unlock()
	if err := webhook.Verify(secret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		rc.mu.Lock()
		rc.bad++
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p webhook.WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil || p.CorrelationID == "" {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	t := rc.tickets[p.CorrelationID]
	if t == nil {
		t = &Ticket{ID: "WH-" + strconv.Itoa(len(rc.tickets)+1), JournalIDs: map[int64]int{}}
		rc.tickets[p.CorrelationID] = t
	}
	t.Incident = p.Incident
	t.Deliveries++
	for _, e := range p.Journal {
		t.JournalIDs[e.ID]++
	}
	id := t.ID
	rc.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "key": id})
}
