package teams_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/channel/notifytest"
	"github.com/kizashi-dev/kizashi/webhook/channel/teams"
	"github.com/kizashi-dev/kizashi/webhook/notify"
)

func TestSend(t *testing.T) {
	hook := notifytest.StartTeams(t)
	ch := teams.New(http.DefaultClient, hook.URL, "")
	m := notify.Message{Tenant: "acme", IncidentID: 9, Title: "DiskFull", Priority: 2, State: "new", CreatedAt: time.Unix(0, 0), URL: "https://desk.example/incidents/9"}
	if err := ch.Send(context.Background(), notify.Contact{Name: "bob", DisplayName: "Bob", Teams: "bob@acme.example"}, m); err != nil {
		t.Fatal(err)
	}
	b := hook.Bodies()
	if len(b) != 1 {
		t.Fatalf("%d bodies", len(b))
	}
	card := b[0]["attachments"].([]any)[0].(map[string]any)["content"].(map[string]any)
	if card["body"].([]any)[0].(map[string]any)["text"] != "[P2] Incident #9: DiskFull" {
		t.Errorf("title %v", card["body"])
	}
	if card["actions"].([]any)[0].(map[string]any)["url"] != m.URL {
		t.Errorf("actions %v", card["actions"])
	}
	ent := card["msteams"].(map[string]any)["entities"].([]any)[0].(map[string]any)
	if ent["text"] != "<at>Bob</at>" || ent["mentioned"].(map[string]any)["id"] != "bob@acme.example" {
		t.Errorf("mention %v", ent)
	}
	hook.Fail(http.StatusBadGateway)
	if err := ch.Send(context.Background(), notify.Contact{Name: "bob"}, m); err == nil {
		t.Error("502 taken for success")
	}
}
