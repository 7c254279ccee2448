package fake

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/forward"
)

// Receiver operations.
const (
	HookDeliver = "deliver"
	HookUnknown = "unknown"
)

// Ticket is what the fake receiver keeps per correlation id.
type Ticket struct {
	ID         string
	Incident   forward.WebhookIncident
	Deliveries int
	// JournalIDs counts each journal id received (more than 1: a duplicate).
	JournalIDs map[int64]int
}

// Receiver is a generic webhook receiver as the README documents it: it
// verifies X-Kizashi-Signature, upserts one ticket per correlation_id and
// answers {"id": ...}.
type Receiver struct {
	*Server
	Secret []byte

	mu      sync.Mutex
	tickets map[string]*Ticket
	bad     int
}

// NewReceiver starts a fake receiver.
func NewReceiver(t testing.TB, secret []byte) *Receiver {
	rc := &Receiver{Secret: secret, tickets: map[string]*Ticket{}}
	rc.Server = newServer(t, func(r *http.Request) string {
		if r.Method == http.MethodPost {
			return HookDeliver
		}
		return HookUnknown
	}, rc.handle)
	return rc
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
	if err := forward.Verify(rc.Secret, r.Header.Get(forward.HeaderTimestamp), r.Header.Get(forward.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		rc.mu.Lock()
		rc.bad++
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p forward.WebhookPayload
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
