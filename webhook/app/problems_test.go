package app_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

// call sends a JSON request and decodes a 2xx answer into out; it returns the status and the
// body.
func call(t *testing.T, method, url, token string, in, out any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		require.NoError(t, err)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { require.NoError(t, resp.Body.Close()) }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && resp.StatusCode/100 == 2 {
		require.NoError(t, json.Unmarshal(b, out), "%s", b)
	}
	return resp.StatusCode, b
}

// TestProblemsOverHTTP runs the program: three incidents of one service propose a problem
// (detector every second); the problem becomes a known error by the API; a major incident is
// declared, updated and reviewed; the month's report and the exports are tenant-scoped.
func TestProblemsOverHTTP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	storage := "storage:\n  driver: sqlite\n  path: " + filepath.Join(t.TempDir(), "kizashi.db") + "\n"
	w := runWebhook(t, l, configYAML(storage)+"problems:\n  interval: 1s\n  recurrences: 3\n  window: 1d\n")
	now := time.Now().UTC()
	for i := range 3 {
		post(t, w.URL+"/api/v1/alerts", tokGlobex, testkit.Payload("globex-ops", fmt.Sprintf("g%d", i), "firing", now,
			map[string]string{"alertname": fmt.Sprintf("A%d", i), "service": "shop", "severity": "critical"}))
	}
	var ps apitypes.ProblemsResponse
	require.Eventually(t, func() bool {
		code, _ := call(t, "GET", w.URL+apitypes.ProblemsPath, apiGlobex, nil, &ps)
		return code == 200 && len(ps.Problems) == 1
	}, time.Minute, 50*time.Millisecond, "a problem is proposed after 3 incidents of the service")
	pr := ps.Problems[0]
	require.Equal(t, "recurrence", pr.Origin)
	require.Equal(t, "ci", pr.Scope)
	require.Equal(t, "shop", pr.Subject)

	// Another tenant sees nothing of it.
	var other apitypes.ProblemsResponse
	code, _ := call(t, "GET", w.URL+apitypes.ProblemsPath, apiAcme, nil, &other)
	require.Equal(t, 200, code)
	require.Empty(t, other.Problems)
	code, _ = call(t, "GET", fmt.Sprintf("%s%s/%d", w.URL, apitypes.ProblemsPath, pr.ID), apiAcme, nil, nil)
	require.Equal(t, 404, code)
	code, _ = call(t, "POST", fmt.Sprintf("%s%s/%d", w.URL, apitypes.ProblemsPath, pr.ID), apiAcme, apitypes.ProblemChange{}, nil)
	require.Equal(t, 404, code)

	// Known error: needs a workaround; then it has one.
	yes := true
	code, body := call(t, "POST", fmt.Sprintf("%s%s/%d", w.URL, apitypes.ProblemsPath, pr.ID), apiGlobex, apitypes.ProblemChange{KnownError: &yes}, nil)
	require.Equal(t, 400, code, "%s", body)
	wa, rc := "restart the shop", "a connection leak"
	var d apitypes.ProblemDetail
	code, body = call(t, "POST", fmt.Sprintf("%s%s/%d", w.URL, apitypes.ProblemsPath, pr.ID), apiGlobex,
		apitypes.ProblemChange{KnownError: &yes, Workaround: &wa, RootCause: &rc}, &d)
	require.Equal(t, 200, code, "%s", body)
	require.True(t, d.Problem.KnownError)
	require.Len(t, d.Incidents, 3)
	require.Len(t, d.Journal, 2)
	code, _ = call(t, "POST", w.URL+apitypes.ProblemsPath, apiGlobex, map[string]any{"title": "x", "bogus": 1}, nil)
	require.Equal(t, 400, code, "unknown fields are refused")

	// Major incident on one of them.
	ins := w.incidents(t, apiGlobex)
	require.Len(t, ins, 3)
	id := ins[0].ID
	var m apitypes.MajorIncident
	code, body = call(t, "POST", fmt.Sprintf("%s%s/%d", w.URL, apitypes.MajorIncidentsPath, id), apiGlobex,
		apitypes.MajorDeclare{Coordinator: "carol", UpdateEvery: "1m"}, &m)
	require.Equal(t, 201, code, "%s", body)
	require.Equal(t, "carol", m.Coordinator)
	require.False(t, m.UpdateDue)
	code, _ = call(t, "POST", fmt.Sprintf("%s%s/%d", w.URL, apitypes.MajorIncidentsPath, id), apiGlobex, apitypes.MajorDeclare{}, nil)
	require.Equal(t, 409, code)
	code, _ = call(t, "POST", fmt.Sprintf("%s%s/%d", w.URL, apitypes.MajorIncidentsPath, id), apiAcme, apitypes.MajorDeclare{}, nil)
	require.Equal(t, 404, code, "another tenant's incident")
	code, _ = call(t, "POST", fmt.Sprintf("%s%s/%d/update", w.URL, apitypes.MajorIncidentsPath, id), apiGlobex,
		apitypes.MajorUpdateRequest{Text: "We are on it."}, &m)
	require.Equal(t, 200, code)
	require.Equal(t, 1, m.CustomerUpdateCount)
	code, _ = call(t, "POST", fmt.Sprintf("%s%s/%d/review", w.URL, apitypes.MajorIncidentsPath, id), apiGlobex,
		apitypes.MajorReview{Summary: "Leak fixed in 2.1", ProblemID: pr.ID}, &m)
	require.Equal(t, 200, code)
	require.Equal(t, pr.ID, m.ReviewProblemID)
	require.NotNil(t, m.EndedAt)
	var ms apitypes.MajorIncidentsResponse
	code, _ = call(t, "GET", w.URL+apitypes.MajorIncidentsPath, tokNOC, nil, &ms)
	require.Equal(t, 200, code)
	require.Len(t, ms.MajorIncidents, 1, "operators see every tenant's")

	// Won't fix.
	var sps apitypes.SuppressionsResponse
	code, body = call(t, "POST", w.URL+apitypes.SuppressionsPath, apiGlobex,
		apitypes.SuppressRequest{Key: "group:globex-ops:g9", Until: now.Add(24 * time.Hour), Reason: "vendor"}, &sps)
	require.Equal(t, 200, code, "%s", body)
	require.Len(t, sps.Suppressions, 1)
	code, _ = call(t, "POST", w.URL+apitypes.SuppressionsPath, tokNOC, apitypes.SuppressRequest{Key: "k", Until: now.Add(time.Hour), Reason: "r"}, nil)
	require.Equal(t, 400, code, "an operator names the tenant")

	// The report of this month, and the exports.
	month := now.Format("2006-01")
	code, body = call(t, "GET", w.URL+apitypes.ReportPath+"?month="+month+"&lang=ja", apiGlobex, nil, nil)
	require.Equal(t, 200, code)
	require.Contains(t, string(body), "サービスレポート")
	require.Contains(t, string(body), "<svg")
	code, body = call(t, "GET", w.URL+apitypes.ReportPath+"?format=pdf&month="+month+"&tenant=globex", tokNOC, nil, nil)
	switch {
	case code == 200:
		require.True(t, bytes.HasPrefix(body, []byte("%PDF-")), "printed by chromium")
	case e2e:
		require.Equal(t, 200, code, "%s", body)
	default: // the hermetic suite may have no Chromium: the PDF is refused with a retryable answer
		require.Equal(t, 503, code, "%s", body)
		require.Contains(t, string(body), "the PDF cannot be printed now")
	}
	var rep apitypes.Report
	code, _ = call(t, "GET", w.URL+apitypes.ReportPath+"?format=json&month="+month, apiGlobex, nil, &rep)
	require.Equal(t, 200, code)
	require.Equal(t, 3, rep.Incidents)
	require.Len(t, rep.SLA, 5)
	require.Equal(t, 1, rep.ProblemsOpened)
	require.Len(t, rep.Majors, 1)
	require.Equal(t, []apitypes.ReportCount{{Label: "shop", Count: 3}}, rep.ByService)
	code, _ = call(t, "GET", w.URL+apitypes.ReportPath+"?month="+month, tokNOC, nil, nil)
	require.Equal(t, 400, code, "an operator names the tenant")
	code, _ = call(t, "GET", w.URL+apitypes.ReportPath+"?month=nope", apiGlobex, nil, nil)
	require.Equal(t, 400, code)
	code, _ = call(t, "GET", w.URL+apitypes.ReportPath+"?month="+month, "wrong-token-0123456789abcdef", nil, nil)
	require.Equal(t, 401, code)

	code, body = call(t, "GET", w.URL+apitypes.ExportPath+"/incidents?month="+month, apiGlobex, nil, nil)
	require.Equal(t, 200, code)
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4)
	code, body = call(t, "GET", w.URL+apitypes.ExportPath+"/journal?format=json&month="+month, apiAcme, nil, nil)
	require.Equal(t, 200, code)
	require.JSONEq(t, "[]", string(body), "acme had nothing")
	code, body = call(t, "GET", w.URL+apitypes.ExportPath+"/journal?format=json&month="+month, apiGlobex, nil, nil)
	require.Equal(t, 200, code)
	var lines []apitypes.JournalLine
	require.NoError(t, json.Unmarshal(body, &lines))
	kinds := map[string]bool{}
	for _, l := range lines {
		require.Equal(t, "globex", l.Tenant)
		kinds[l.Kind] = true
	}
	require.True(t, kinds["major_declared"] && kinds["customer_update"])

	// The page.
	code, body = call(t, "GET", w.URL+"/problems", apiGlobex, nil, nil)
	require.Equal(t, 200, code)
	require.Contains(t, string(body), "restart the shop")
	require.True(t, strings.Contains(string(body), "carol"))
}
