package notifytest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Hook is a fake incoming webhook (Slack or Teams) that records the bodies
// it accepted. Like Slack, it answers 400 to a body that is not the
// documented shape, and Status codes queued with Fail first.
type Hook struct {
	URL  string
	kind string

	mu     sync.Mutex
	bodies []map[string]any
	fail   []int
}

// StartSlack starts a fake Slack incoming webhook: it requires a JSON object
// with a non-empty "text" string and, when present, "blocks" each with a
// "type"; it answers 200 "ok" as Slack does.
func StartSlack(t testing.TB) *Hook { return start(t, "slack") }

// StartTeams starts a fake Teams incoming webhook: it requires "type":
// "message" and attachments of an Adaptive Card (contentType
// application/vnd.microsoft.card.adaptive, content.type AdaptiveCard,
// content.body); it answers 200 "1" as the connector does.
func StartTeams(t testing.TB) *Hook { return start(t, "teams") }

func start(t testing.TB, kind string) *Hook {
	h := &Hook{kind: kind}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	h.URL = srv.URL + "/services/T000/B000/XXXX"
	return h
}

// Fail makes the next requests answer the given statuses.
func (h *Hook) Fail(status ...int) {
	h.mu.Lock()
	h.fail = append(h.fail, status...)
	h.mu.Unlock()
}

// Bodies returns the accepted bodies.
func (h *Hook) Bodies() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.bodies...)
}

func (h *Hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "invalid_method", http.StatusMethodNotAllowed)
		return
	}
	h.mu.Lock()
	if len(h.fail) > 0 {
		st := h.fail[0]
		h.fail = h.fail[1:]
		h.mu.Unlock()
		http.Error(w, "failure", st)
		return
	}
	h.mu.Unlock()
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var body map[string]any
	if err != nil || json.Unmarshal(b, &body) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if msg := check(h.kind, body); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.bodies = append(h.bodies, body)
	h.mu.Unlock()
	if h.kind == "slack" {
		_, _ = io.WriteString(w, "ok")
	} else {
		_, _ = io.WriteString(w, "1")
	}
}

func check(kind string, body map[string]any) string {
	switch kind {
	case "slack":
		if s, _ := body["text"].(string); s == "" {
			return "no_text"
		}
		if bl, ok := body["blocks"]; ok {
			arr, ok := bl.([]any)
			if !ok {
				return "invalid_blocks"
			}
			for _, b := range arr {
				m, _ := b.(map[string]any)
				if s, _ := m["type"].(string); s == "" {
					return "invalid_blocks"
				}
			}
		}
	case "teams":
		if body["type"] != "message" {
			return "type must be message"
		}
		atts, _ := body["attachments"].([]any)
		if len(atts) == 0 {
			return "no attachments"
		}
		for _, a := range atts {
			m, _ := a.(map[string]any)
			if m["contentType"] != "application/vnd.microsoft.card.adaptive" {
				return "bad contentType"
			}
			c, _ := m["content"].(map[string]any)
			if c["type"] != "AdaptiveCard" {
				return "content is not an AdaptiveCard"
			}
			if b, _ := c["body"].([]any); len(b) == 0 {
				return "card has no body"
			}
		}
	}
	return ""
}
