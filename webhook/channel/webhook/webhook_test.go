package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/channel/webhook"
	fwebhook "github.com/kizashi-dev/kizashi/webhook/forward/webhook"
	"github.com/kizashi-dev/kizashi/webhook/notify"
)

func TestSendSigned(t *testing.T) {
	now := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	got := make(chan webhook.Payload, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := fwebhook.Verify([]byte("s3cret-Signing-key"), r.Header.Get("X-Kizashi-Timestamp"), r.Header.Get("X-Kizashi-Signature"), b, now, time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var p webhook.Payload
		if err := json.Unmarshal(b, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- p
	}))
	defer srv.Close()
	ch := webhook.New(srv.Client(), srv.URL, "s3cret-Signing-key", "", func() time.Time { return now })
	m := notify.Message{Tenant: "acme", IncidentID: 9, Title: "DiskFull", Priority: 1, State: "new", CreatedAt: now, URL: "https://desk.example/incidents/9", Level: 1, Round: 1}
	if err := ch.Send(context.Background(), notify.Contact{Name: "bob", User: "bob@acme", Lang: "en"}, m); err != nil {
		t.Fatal(err)
	}
	p := <-got
	if p.Kind != "notification" || p.IncidentID != 9 || p.Contact.User != "bob@acme" || p.URL != m.URL || p.Subject != "[P1] Incident #9: DiskFull" {
		t.Errorf("payload %+v", p)
	}
	m.UpdateDue = now.Add(30 * time.Minute)
	if err := ch.Send(context.Background(), notify.Contact{Name: "bob"}, m); err != nil {
		t.Fatal(err)
	}
	p = <-got
	if p.Kind != "update_reminder" || !p.UpdateDue.Equal(m.UpdateDue) || p.Subject != "[P1] Customer update due: major incident #9: DiskFull" {
		t.Errorf("reminder payload %+v", p)
	}
	m.UpdateDue = time.Time{}
	bad := webhook.New(srv.Client(), srv.URL, "another-secret-key", "", func() time.Time { return now })
	if err := bad.Send(context.Background(), notify.Contact{Name: "bob"}, m); err == nil {
		t.Error("a wrongly signed delivery was accepted")
	}
}
