package email_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/channel/email"
	"github.com/kizashi-dev/kizashi/webhook/channel/notifytest"
	"github.com/kizashi-dev/kizashi/webhook/notify"
)

func msg() notify.Message {
	return notify.Message{Tenant: "acme", IncidentID: 4711, Title: "DiskFull on db1", Priority: 1, State: "new", CI: "db1",
		CreatedAt: time.Date(2026, 12, 5, 18, 4, 0, 0, time.UTC), URL: "https://desk.example/incidents/4711", Level: 2, Round: 1}
}

func TestSendOverSTARTTLSWithAuth(t *testing.T) {
	srv := notifytest.StartSMTP(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(srv.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ch, err := email.New(email.Config{Host: srv.Host, Port: srv.Port, TLSConfig: srv.ClientTLS, Username: srv.Username, PasswordFile: pwFile, From: "desk@kizashi.example"})
	if err != nil {
		t.Fatal(err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	ja := notify.Contact{Name: "hanako", DisplayName: "山田花子", Email: "hanako@acme.example", Lang: notify.LangJA, Location: tokyo}
	en := notify.Contact{Name: "bob", Email: "bob@acme.example", Lang: notify.LangEN}
	for _, c := range []notify.Contact{ja, en} {
		if err := ch.Send(context.Background(), c, msg()); err != nil {
			t.Fatalf("send to %s: %v", c.Name, err)
		}
	}
	mails := srv.Mails()
	if len(mails) != 2 {
		t.Fatalf("server got %d mails, want 2", len(mails))
	}
	m := mails[0]
	if m.User != srv.Username || m.From != "desk@kizashi.example" || len(m.To) != 1 || m.To[0] != "hanako@acme.example" {
		t.Errorf("envelope: user %q from %q to %v", m.User, m.From, m.To)
	}
	if got := m.Subject(); got != "[P1] インシデント #4711: DiskFull on db1" {
		t.Errorf("subject %q", got)
	}
	for _, want := range []string{"山田花子 さん", "優先度: P1", "2026-12-06 03:04 JST", "エスカレーション: レベル 2", "https://desk.example/incidents/4711"} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("japanese body lacks %q:\n%s", want, m.Body)
		}
	}
	if got := m.Msg.Header.Get("Content-Language"); got != "ja" {
		t.Errorf("Content-Language %q", got)
	}
	if got := mails[1].Subject(); got != "[P1] Incident #4711: DiskFull on db1" {
		t.Errorf("english subject %q", got)
	}
	if !strings.Contains(mails[1].Body, "Open the incident: https://desk.example/incidents/4711") || !strings.Contains(mails[1].Body, "2026-12-05 18:04 UTC") {
		t.Errorf("english body:\n%s", mails[1].Body)
	}
}

func TestSendFailures(t *testing.T) {
	srv := notifytest.StartSMTP(t)
	c := notify.Contact{Name: "bob", Email: "bob@acme.example"}
	wrong, err := email.New(email.Config{Host: srv.Host, Port: srv.Port, TLSConfig: srv.ClientTLS, Username: srv.Username, Password: "not-the-password-1", From: "desk@kizashi.example"})
	if err != nil {
		t.Fatal(err)
	}
	if err := wrong.Send(context.Background(), c, msg()); err == nil {
		t.Error("a wrong password was accepted")
	}
	// Without the server's certificate trusted, STARTTLS fails and nothing is sent in clear.
	untrusted, err := email.New(email.Config{Host: srv.Host, Port: srv.Port, Username: srv.Username, Password: srv.Password, From: "desk@kizashi.example"})
	if err != nil {
		t.Fatal(err)
	}
	if err := untrusted.Send(context.Background(), c, msg()); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
	// Without AUTH the server refuses the sender.
	anon, err := email.New(email.Config{Host: srv.Host, Port: srv.Port, TLSConfig: srv.ClientTLS, From: "desk@kizashi.example"})
	if err != nil {
		t.Fatal(err)
	}
	if err := anon.Send(context.Background(), c, msg()); err == nil {
		t.Error("an unauthenticated message was accepted")
	}
	ok, err := email.New(email.Config{Host: srv.Host, Port: srv.Port, TLSConfig: srv.ClientTLS, Username: srv.Username, Password: srv.Password, From: "desk@kizashi.example"})
	if err != nil {
		t.Fatal(err)
	}
	srv.FailNext(1)
	if err := ok.Send(context.Background(), c, msg()); err == nil {
		t.Error("a 451 answer was taken for success")
	}
	if err := ok.Send(context.Background(), notify.Contact{Name: "nomail"}, msg()); err == nil || !strings.Contains(err.Error(), "no email address") {
		t.Errorf("contact without address: %v", err)
	}
	if err := ok.Send(context.Background(), notify.Contact{Name: "x", Email: "not an address"}, msg()); err == nil {
		t.Error("a malformed address was accepted")
	}
	if n := len(srv.Mails()); n != 0 {
		t.Errorf("server accepted %d mails", n)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []email.Config{
		{From: "a@b.example"},
		{Host: "smtp.example"},
		{Host: "smtp.example", From: "a@b.example", TLS: "ssl"},
		{Host: "smtp.example", From: "a@b.example", TLS: "none", Username: "u"},
		{Host: "smtp.example", From: "not an address"},
	} {
		if _, err := email.New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// A title is text from an alert: line breaks in it must not become headers or recipients.
func TestHeaderInjection(t *testing.T) {
	srv := notifytest.StartSMTP(t)
	ch, err := email.New(email.Config{Host: srv.Host, Port: srv.Port, TLSConfig: srv.ClientTLS, Username: srv.Username, Password: srv.Password, From: "desk@kizashi.example"})
	if err != nil {
		t.Fatal(err)
	}
	m := msg()
	m.Title = "Disk\r\nBcc: evil@attacker.example\r\n\r\nbody"
	if err := ch.Send(context.Background(), notify.Contact{Name: "bob", Email: "bob@acme.example"}, m); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	if len(mails[0].To) != 1 || mails[0].To[0] != "bob@acme.example" {
		t.Errorf("recipients %v", mails[0].To)
	}
	if h := mails[0].Msg.Header; h.Get("Bcc") != "" || len(h["Subject"]) != 1 {
		t.Errorf("headers %v", h)
	}
}
