package alertmsg

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"

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
	_, err := Decode(strings.NewReader(valid), 100)
	require.True(t, errors.Is(err, ErrTooLarge))
	_, err = Decode(strings.NewReader(valid), int64(len(valid)))
	require.NoError(t, err)
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

func FuzzDecode(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(`{"version":"4","groupKey":"g","status":"resolved","receiver":"r","alerts":[{"status":"resolved","labels":{"a":"b"},"startsAt":"2025-01-01T00:00:00Z","endsAt":"2025-01-01T00:00:01Z"}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"version":"4","groupKey":"g\u0000","status":"firing","receiver":"r\u0000","alerts":[{"status":"firing","labels":{"a\u0000":"b\u0000"},"annotations":{"x":"\u0000"},"startsAt":"2025-01-01T00:00:00Z","generatorURL":"\u0000","fingerprint":"\u0000"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(bytes.NewReader(body), 1<<16)
		if err != nil {
			return
		}
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
