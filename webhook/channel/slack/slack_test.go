package slack_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/channel/notifytest"
	"github.com/kizashi-dev/kizashi/webhook/channel/slack"
	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/notify"
)

func TestSend(t *testing.T) {
	hook := notifytest.StartSlack(t)
	ch := slack.New(http.DefaultClient, hook.URL, "")
	m := notify.Message{Tenant: "acme", IncidentID: 9, Title: "a <b> & c", Priority: 1, State: "new", CreatedAt: time.Unix(0, 0), URL: "https://desk.example/incidents/9"}
	if err := ch.Send(context.Background(), notify.Contact{Name: "hanako", Slack: "U024BE7LH", Lang: notify.LangJA}, m); err != nil {
		t.Fatal(err)
	}
	b := hook.Bodies()
	if len(b) != 1 {
		t.Fatalf("%d bodies", len(b))
	}
	text := b[0]["text"].(string)
	if !strings.HasPrefix(text, "<@U024BE7LH> [P1] インシデント #9: a &lt;b&gt; &amp; c") {
		t.Errorf("text %q", text)
	}
	blocks := b[0]["blocks"].([]any)
	last := blocks[len(blocks)-1].(map[string]any)
	btn := last["elements"].([]any)[0].(map[string]any)
	if btn["url"] != m.URL || btn["text"].(map[string]any)["text"] != "インシデントを開く" {
		t.Errorf("button %v", btn)
	}
	hook.Fail(http.StatusNotFound)
	err := ch.Send(context.Background(), notify.Contact{Name: "x"}, m)
	var fe *forward.Error
	if !errors.As(err, &fe) || fe.Kind != forward.Permanent {
		t.Errorf("404 (no_service): %v", err)
	}
	hook.Fail(http.StatusTooManyRequests)
	if err := ch.Send(context.Background(), notify.Contact{Name: "x"}, m); !errors.As(err, &fe) || fe.Kind != forward.Throttle {
		t.Errorf("429: %v", err)
	}
}
