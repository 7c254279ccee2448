package pagerduty_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/channel/pagerduty"
	"github.com/kizashi-dev/kizashi/webhook/notify"
)

func TestSendTrigger(t *testing.T) {
	events := make(chan pagerduty.Event, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev pagerduty.Event
		if r.URL.Path != "/v2/enqueue" || json.NewDecoder(r.Body).Decode(&ev) != nil || len(ev.RoutingKey) != 32 || ev.Payload.Summary == "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"status":"invalid event","message":"Event object is invalid"}`))
			return
		}
		events <- ev
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"success","message":"Event processed","dedup_key":"` + ev.DedupKey + `"}`))
	}))
	defer srv.Close()
	ch := pagerduty.New(srv.Client(), srv.URL, "0123456789abcdef0123456789abcdef", "")
	m := notify.Message{Tenant: "acme", IncidentID: 9, Title: "DiskFull", Priority: 1, State: "new", CreatedAt: time.Unix(0, 0), URL: "https://desk.example/incidents/9", DedupKey: "kizashi-acme-3"}
	if err := ch.Send(context.Background(), notify.Contact{Name: "bob"}, m); err != nil {
		t.Fatal(err)
	}
	ev := <-events
	if ev.EventAction != "trigger" || ev.DedupKey != "kizashi-acme-3:bob" || ev.Payload.Severity != "critical" || ev.ClientURL != m.URL {
		t.Errorf("event %+v", ev)
	}
	if err := pagerduty.New(srv.Client(), srv.URL, "short", "").Send(context.Background(), notify.Contact{Name: "bob"}, m); err == nil {
		t.Error("a 400 was taken for success")
	}
}
