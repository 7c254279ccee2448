package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/notify"
)

func TestRender(t *testing.T) {
	m := notify.Message{Tenant: "acme", IncidentID: 7, Title: "T", Priority: 3, State: "in_progress", CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	en := notify.Render(notify.Contact{Name: "bob"}, m)
	if en.Subject != "[P3] Incident #7: T" || !strings.Contains(en.Body, "State: in progress") || strings.Contains(en.Body, "Open the incident") {
		t.Errorf("en %+v", en)
	}
	ja := notify.Render(notify.Contact{Name: "hanako", Lang: notify.LangJA}, m)
	if !strings.Contains(ja.Body, "状態: 対応中") || strings.Contains(ja.Body, "インシデントを開く") {
		t.Errorf("ja %+v", ja)
	}
	if got := notify.IncidentURL("https://desk.example/", 7); got != "https://desk.example/incidents/7" {
		t.Errorf("url %q", got)
	}
	if notify.IncidentURL("", 7) != "" {
		t.Error("a link without an external URL")
	}
}
