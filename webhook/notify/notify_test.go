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

func TestRenderReminder(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	m := notify.Message{Tenant: "acme", IncidentID: 7, Title: "T", Priority: 1, State: "in_progress",
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), UpdateDue: time.Date(2026, 1, 1, 1, 30, 0, 0, time.UTC), URL: "https://desk.example/incidents/7"}
	en := notify.Render(notify.Contact{Name: "bob"}, m)
	if en.Subject != "[P1] Customer update due: major incident #7: T" || !strings.Contains(en.Body, "is due (2026-01-01 01:30 UTC): please post it") ||
		strings.Contains(en.Body, "acknowledge") || !strings.Contains(en.Body, m.URL) {
		t.Errorf("en %+v", en)
	}
	ja := notify.Render(notify.Contact{Name: "hanako", Lang: notify.LangJA, Location: tokyo}, m)
	if !strings.Contains(ja.Subject, "顧客への状況報告の期限") || !strings.Contains(ja.Body, "2026-01-01 10:30 JST") || strings.Contains(ja.Body, "対応（確認）") {
		t.Errorf("ja %+v", ja)
	}
}
