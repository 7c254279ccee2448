package alertmsg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/sanitize"
)

const valid = `{"version":"4","groupKey":"{}:{alertname=\"A\"}","truncatedAlerts":0,"status":"firing",
"receiver":"team\\.ops","groupLabels":{"alertname":"A"},"commonLabels":{"alertname":"A"},"commonAnnotations":{},
"externalURL":"http://am:9093","notification_reason":"first notification","someFutureField":{"x":1},
"alerts":[{"status":"firing","labels":{"alertname":"A","instance":"a"},"annotations":{},"startsAt":"2025-01-01T00:00:00Z",
"endsAt":"2025-01-01T00:05:00Z","generatorURL":"http://prom","fingerprint":"0123456789abcdef"},
{"status":"resolved","labels":{"alertname":"A","instance":"b"},"annotations":{},"startsAt":"2025-01-01T00:00:00Z",
"endsAt":"2025-01-01T00:03:00Z","generatorURL":"http://prom"}]}`

func TestParse(t *testing.T) {
	m, err := Parse([]byte(valid))
	require.NoError(t, err)
	require.Equal(t, "team.ops", m.ReceiverName())
	require.True(t, m.Alerts[0].EndsAt.IsZero(), "firing endsAt is normalized to zero")
	require.NotEmpty(t, m.Alerts[1].Fingerprint, "missing fingerprint is computed")
	require.True(t, m.Complete())
	require.False(t, m.Repeat())
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, err string
	}{
		{"version", `"version":"4"`, `"version":"3"`, `unsupported payload version "3"`},
		{"group key", `"groupKey":"{}:{alertname=\"A\"}"`, `"groupKey":""`, "missing groupKey"},
		{"receiver", `"receiver":"team\\.ops"`, `"receiver":""`, "missing receiver"},
		{"status", `"status":"firing",` + "\n", `"status":"burning",` + "\n", `invalid status "burning"`},
		{"alert status", `"status":"resolved","labels"`, `"status":"x","labels"`, `alert 1: invalid status "x"`},
		{"label name", `"instance":"b"`, `"":"b"`, `alert 1: empty label name`},
		{"startsAt", `"startsAt":"2025-01-01T00:00:00Z",` + "\n" + `"endsAt":"2025-01-01T00:03:00Z"`, `"endsAt":"2025-01-01T00:03:00Z"`, "alert 1: missing startsAt"},
		{"not json", `{"version"`, `["version"`, "decode notification"},
		{"trailing", `"http://prom"}]}`, `"http://prom"}]}{}`, "trailing data"},
		{"duplicate fingerprint", `"instance":"b"},"annotations":{},"startsAt":"2025-01-01T00:00:00Z",` + "\n" + `"endsAt":"2025-01-01T00:03:00Z","generatorURL":"http://prom"}`,
			`"instance":"b"},"annotations":{},"startsAt":"2025-01-01T00:00:00Z",` + "\n" + `"endsAt":"2025-01-01T00:03:00Z","generatorURL":"http://prom","fingerprint":"0123456789abcdef"}`, "duplicate fingerprint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(valid, tc.from, tc.to, 1)
			require.NotEqual(t, valid, body, "replacement must apply")
			_, err := Parse([]byte(body))
			require.ErrorContains(t, err, tc.err)
		})
	}
	t.Run("no alerts", func(t *testing.T) {
		_, err := Parse([]byte(`{"version":"4","groupKey":"g","status":"firing","receiver":"r","alerts":[]}`))
		require.ErrorContains(t, err, "no alerts")
	})
}

func TestDecodeLimit(t *testing.T) {
	_, err := Decode(strings.NewReader(valid), Limits{MaxBytes: 100})
	require.True(t, errors.Is(err, ErrTooLarge))
	_, err = Decode(strings.NewReader(valid), Limits{MaxBytes: int64(len(valid)) - 1})
	require.True(t, errors.Is(err, ErrTooLarge))
	m, err := Decode(strings.NewReader(valid), Limits{MaxBytes: int64(len(valid))})
	require.NoError(t, err)
	require.Equal(t, Raw{Body: []byte(valid)}, m.Raw, "a small body is kept as received")
}

func TestIdempotencyKey(t *testing.T) {
	base, err := Parse([]byte(valid))
	require.NoError(t, err)
	key := base.IdempotencyKey("acme")
	for _, tc := range []struct {
		name    string
		mutate  func(string) string
		tenant  string
		sameKey bool
	}{
		{"identical", func(s string) string { return s }, "acme", true},
		{"other tenant", func(s string) string { return s }, "globex", false},
		{"reason ignored", func(s string) string {
			return strings.Replace(s, `"first notification"`, `"repeat interval elapsed"`, 1)
		}, "acme", true},
		{"firing endsAt ignored", func(s string) string {
			return strings.Replace(s, `"endsAt":"2025-01-01T00:05:00Z"`, `"endsAt":"2025-01-01T00:09:00Z"`, 1)
		}, "acme", true},
		{"external url ignored", func(s string) string { return strings.Replace(s, "http://am:9093", "http://am2:9093", 1) }, "acme", true},
		{"resolved endsAt counts", func(s string) string {
			return strings.Replace(s, `"endsAt":"2025-01-01T00:03:00Z"`, `"endsAt":"2025-01-01T00:04:00Z"`, 1)
		}, "acme", false},
		{"status counts", func(s string) string {
			return strings.Replace(s, `"status":"firing","labels"`, `"status":"resolved","labels"`, 1)
		}, "acme", false},
		{"group key counts", func(s string) string { return strings.Replace(s, `alertname=\"A\"}"`, `alertname=\"B\"}"`, 1) }, "acme", false},
		{"receiver counts", func(s string) string { return strings.Replace(s, `team\\.ops`, `team\\.dev`, 1) }, "acme", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.mutate(valid)))
			require.NoError(t, err)
			require.Equal(t, tc.sameKey, m.IdempotencyKey(tc.tenant) == key)
		})
	}
}

func TestUnquoteMeta(t *testing.T) {
	for _, s := range []string{"plain", "team.ops", `a\b`, "x+y*z?[]{}()^$|", ""} {
		require.Equal(t, s, UnquoteMeta(regexp.QuoteMeta(s)))
	}
}

// reference decodes a body the way the receiver did before it streamed:
// the whole body at once.
func reference(body []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	m.sanitize()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	m.normalize()
	return &m, nil
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(`{"version":"4","groupKey":"g","status":"resolved","receiver":"r","alerts":[{"status":"resolved","labels":{"a":"b"},"startsAt":"2025-01-01T00:00:00Z","endsAt":"2025-01-01T00:00:01Z"}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"version":"4","groupKey":"g\u0000","status":"firing","receiver":"r\u0000","alerts":[{"status":"firing","labels":{"a\u0000":"b\u0000"},"annotations":{"x":"\u0000"},"startsAt":"2025-01-01T00:00:00Z","generatorURL":"\u0000","fingerprint":"\u0000"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(bytes.NewReader(body), Limits{MaxBytes: 1 << 16})
		ref, refErr := reference(body)
		if refErr == nil && json.Valid(body) {
			// What decoding the whole body at once accepts, the stream accepts, alike.
			require.NoError(t, err)
			require.Equal(t, ref.Alerts, m.Alerts)
			require.Equal(t, ref.GroupKey, m.GroupKey)
			require.Equal(t, ref.IdempotencyKey("t"), m.IdempotencyKey("t"))
		}
		if err != nil {
			return
		}
		require.True(t, json.Valid(body))
		raw, err := m.Raw.JSON()
		require.NoError(t, err)
		require.Equal(t, body, raw, "the raw body is kept as received")
		// A decoded message is valid, keyed stably and re-validates.
		require.NoError(t, m.Validate())
		require.Len(t, m.IdempotencyKey("t"), 64)
		require.Equal(t, m.IdempotencyKey("t"), m.IdempotencyKey("t"))
		require.True(t, sanitize.Valid(m.Receiver) && sanitize.Valid(m.GroupKey) && sanitize.Valid(m.NotificationReason))
		for _, a := range m.Alerts {
			require.NotEmpty(t, a.Fingerprint)
			require.True(t, sanitize.Valid(a.Fingerprint) && sanitize.Valid(a.GeneratorURL))
			for k, v := range a.Labels {
				require.True(t, sanitize.Valid(k) && sanitize.Valid(v), "label %q=%q", k, v)
			}
			for k, v := range a.Annotations {
				require.True(t, sanitize.Valid(k) && sanitize.Valid(v), "annotation %q=%q", k, v)
			}
			if a.Status == StatusFiring {
				require.True(t, a.EndsAt.IsZero())
			}
		}
	})
}

// amMessage is Alertmanager's notify/webhook.Message (v0.34; that package
// pulls in more than the tests should).
type amMessage struct {
	*template.Data

	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// amBody encodes a notification as Alertmanager's webhook notifier does:
// the envelope (version, groupKey) comes after the alerts.
func amBody(t testing.TB, alerts int, truncated uint64) []byte {
	t.Helper()
	d := &template.Data{Receiver: "storm", Status: "firing", GroupLabels: template.KV{"alertname": "Down"},
		CommonLabels: template.KV{"alertname": "Down"}, CommonAnnotations: template.KV{}, ExternalURL: "http://am"}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range alerts {
		labels := template.KV{"alertname": "Down", "instance": fmt.Sprintf("host-%d", i)}
		d.Alerts = append(d.Alerts, template.Alert{Status: "firing", Labels: labels, Annotations: template.KV{"summary": "down"},
			StartsAt: start, GeneratorURL: "http://prom/graph", Fingerprint: Fingerprint(labels)})
	}
	b, err := json.Marshal(&amMessage{Data: d, Version: "4", GroupKey: `{}:{alertname="Down"}`, TruncatedAlerts: truncated})
	require.NoError(t, err)
	require.Less(t, bytes.Index(b, []byte(`"alerts"`)), bytes.Index(b, []byte(`"groupKey"`)), "Alertmanager sends the group key last")
	return b
}

func TestDecodeAlertmanagerOrderAndStorms(t *testing.T) {
	body := amBody(t, 5000, 0)
	m, err := Decode(bytes.NewReader(body), Limits{MaxBytes: int64(len(body))})
	require.NoError(t, err)
	require.Len(t, m.Alerts, 5000)
	require.Equal(t, `{}:{alertname="Down"}`, m.GroupKey)
	require.True(t, m.Complete())
	require.Equal(t, EncodingGzip, m.Raw.Encoding, "a large body is kept compressed")
	require.Less(t, len(m.Raw.Body), len(body)/5)
	raw, err := m.Raw.JSON()
	require.NoError(t, err)
	require.Equal(t, body, raw)

	// Beyond MaxAlerts the rest is read and counted, not kept.
	m, err = Decode(bytes.NewReader(body), Limits{MaxBytes: int64(len(body)), MaxAlerts: 1000})
	require.NoError(t, err)
	require.Len(t, m.Alerts, 1000)
	require.Equal(t, 4000, m.Dropped)
	require.False(t, m.Complete())
	require.Equal(t, "host-999", m.Alerts[999].Labels["instance"], "the first alerts are kept, as Alertmanager's max_alerts does")
	raw, err = m.Raw.JSON()
	require.NoError(t, err)
	require.Equal(t, body, raw, "the stored body is the whole notification")

	m, err = Decode(bytes.NewReader(amBody(t, 3, 7)), Limits{})
	require.NoError(t, err)
	require.False(t, m.Complete(), "Alertmanager truncated it")
}

// stalled returns part of a body, then err.
type stalled struct {
	part []byte
	err  error
}

func (s *stalled) Read(p []byte) (int, error) {
	if len(s.part) > 0 {
		n := copy(p, s.part)
		s.part = s.part[n:]
		return n, nil
	}
	return 0, s.err
}

func TestDecodeTellsReadErrorsFromMalformedBodies(t *testing.T) {
	half := []byte(valid[:len(valid)/2])
	for _, tc := range []struct {
		name string
		r    io.Reader
		read bool
	}{
		{"read deadline", &stalled{half, os.ErrDeadlineExceeded}, true},
		{"client gone before the end of its Content-Length", &stalled{half, io.ErrUnexpectedEOF}, true},
		{"connection reset", &stalled{half, syscall.ECONNRESET}, true},
		{"body ends inside the JSON", &stalled{half, io.EOF}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.r, Limits{})
			require.Error(t, err)
			var re *ReadError
			require.Equal(t, tc.read, errors.As(err, &re), "%v", err)
			require.False(t, errors.Is(err, ErrTooLarge))
		})
	}
}
