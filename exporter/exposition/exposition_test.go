package exposition_test

import (
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/exporter/exposition"
)

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		name, accept string
		format       expfmt.Format
		scheme       model.EscapingScheme
	}{
		{"prometheus 2.42", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
			expfmt.FmtText, model.UnderscoreEscaping},
		{"prometheus 3", "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
			exposition.FmtText1, model.NoEscaping},
		{"prometheus 3, escaping values", "text/plain;version=1.0.0;escaping=values;q=0.3,text/plain;version=0.0.4;q=0.2",
			exposition.FmtText1, model.ValueEncodingEscaping},
		{"text 0.0.4 with dots", "text/plain;version=0.0.4;escaping=dots", expfmt.FmtText, model.DotsEscaping},
		{"no Accept", "", expfmt.FmtText, model.UnderscoreEscaping},
		{"anything", "*/*", expfmt.FmtText, model.UnderscoreEscaping},
		{"unknown escaping", "text/plain;version=1.0.0;escaping=rot13", exposition.FmtText1, model.UnderscoreEscaping},
		{"protobuf only", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", expfmt.FmtText, model.UnderscoreEscaping},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("Accept", tc.accept)
			f, scheme := exposition.Negotiate(h)
			require.Equal(t, tc.format.WithEscapingScheme(tc.scheme), f.WithEscapingScheme(tc.scheme), "format %s", f)
			require.Equal(t, tc.scheme, scheme)
		})
	}
}

// TestNameFollowsModel: names without a colon are escaped exactly as model.EscapeName does;
// every escaped name is a legacy label name.
func TestNameFollowsModel(t *testing.T) {
	for _, n := range []string{"service.name", "http.response.status_code", "a-b", "1abc", "サービス", "a b", `a"b\c`, "_ok", "ok"} {
		for _, scheme := range []model.EscapingScheme{model.UnderscoreEscaping, model.DotsEscaping, model.ValueEncodingEscaping} {
			got := exposition.Name(n, scheme)
			want := model.EscapeName(n, scheme)
			if model.LegacyValidation.IsValidLabelName(n) {
				want = n // as model.EscapeMetricFamily: legacy names are left as they are
			}
			require.Equal(t, want, got, "%q %s", n, scheme)
			require.True(t, model.LegacyValidation.IsValidLabelName(got), got)
		}
		require.Equal(t, n, exposition.Name(n, model.NoEscaping))
	}
	// model.EscapeName keeps colons (they are valid in metric names); label names cannot have them.
	require.Equal(t, "a:b", model.EscapeName("a:b", model.UnderscoreEscaping))
	for scheme, want := range map[model.EscapingScheme]string{model.NoEscaping: "a:b", model.UnderscoreEscaping: "a_b",
		model.DotsEscaping: "a__b", model.ValueEncodingEscaping: "U__a_3a_b"} {
		require.Equal(t, want, exposition.Name("a:b", scheme))
	}
	require.Equal(t, "a\uFFFDb\uFFFD", exposition.Name("a\x00b\xff", model.NoEscaping), "NUL and invalid UTF-8")
	require.Equal(t, "a_b_", exposition.Name("a\x00b\xff", model.UnderscoreEscaping))
	require.Equal(t, "", exposition.Name("", model.UnderscoreEscaping))
}

func TestAppendLabel(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"job", "node", `job="node"`},
		{"service.name", "api", `"service.name"="api"`},
		{"a:b", "x", `"a:b"="x"`},
		{`x"} 1` + "\n", `v"} 1` + "\n" + `\`, `"x\"} 1\n"="v\"} 1\n\\"`},
	} {
		require.Equal(t, tc.want, string(exposition.AppendLabel(nil, tc.name, tc.value)))
	}
	require.Equal(t, "NaN +Inf -Inf 1.5 1e+100", strings.Join([]string{
		string(exposition.AppendFloat(nil, math.NaN())), string(exposition.AppendFloat(nil, math.Inf(1))),
		string(exposition.AppendFloat(nil, math.Inf(-1))), string(exposition.AppendFloat(nil, 1.5)), string(exposition.AppendFloat(nil, 1e100))}, " "))
}
