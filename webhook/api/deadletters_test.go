package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
	"github.com/kizashi-dev/kizashi/webhook/publicid"
	"github.com/kizashi-dev/kizashi/webhook/store"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

func TestDeadLettersAndRefs(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	fw := f.st.(store.Forwarding)
	code, _ := f.do(t, "POST", "/api/v1/alerts", tokA, payload("g1"))
	require.Equal(t, 200, code)
	code, _ = f.do(t, "POST", "/api/v1/alerts", tokA, payload("g2"))
	require.Equal(t, 200, code)
	_, err := fw.DispatchOutbox(ctx, time.Now(), 100, func(tenant string) []string { return []string{tenant + "/snow"} })
	require.NoError(t, err)
	now := time.Now()
	jobs, err := fw.ClaimJobs(ctx, "a/snow", "w", now, now.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	// One delivered with a ticket, one dead.
	ref := store.ExternalRef{ID: "abc", Key: "INC0010001", URL: "https://snow.example/incident.do?sys_id=abc"}
	ok, err := fw.CompleteJob(ctx, jobs[0].ID, "w", store.JobDone{Gen: jobs[0].Gen, Ref: ref, At: now})
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, fw.FailJob(ctx, jobs[1].ID, "w", store.JobFailed{Error: "HTTP 400: bad group", Count: true, Dead: true, At: now}))

	var d apitypes.Detail
	code, b := f.do(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", f.pub(publicid.Incident, jobs[0].IncidentID)), apiA, nil)
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(b, &d))
	require.Equal(t, []apitypes.ExternalRef{{Target: "a/snow", ID: "abc", Key: "INC0010001", URL: ref.URL}}, d.Incident.ExternalRefs)
	var list apitypes.ListResponse
	code, b = f.do(t, "GET", "/api/v1/incidents", apiA, nil)
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(b, &list))
	refs := map[int64]int{}
	for _, in := range list.Incidents {
		require.NotNil(t, in.ExternalRefs, "always a list")
		refs[in.ID] = len(in.ExternalRefs)
	}
	require.Equal(t, map[int64]int{f.pub(publicid.Incident, jobs[0].IncidentID): 1, f.pub(publicid.Incident, jobs[1].IncidentID): 0}, refs)

	for _, tc := range []struct {
		name, token, query string
		n                  int
	}{
		{"own tenant", apiA, "", 1},
		{"other tenant sees none", apiB, "", 0},
		{"operator sees all", tokOp, "", 1},
		{"operator filters by tenant", tokOp, "?tenant=b", 0},
		{"filter by target", apiA, "?target=a/other", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out apitypes.DeadLettersResponse
			code, b := f.do(t, "GET", "/api/v1/deadletters"+tc.query, tc.token, nil)
			require.Equal(t, 200, code, string(b))
			require.NoError(t, json.Unmarshal(b, &out))
			require.Len(t, out.DeadLetters, tc.n)
			if tc.n == 1 {
				dl := out.DeadLetters[0]
				require.Equal(t, f.pub(publicid.DeadLetter, jobs[1].ID), dl.ID)
				require.Equal(t, "a/snow", dl.Target)
				require.Equal(t, f.pub(publicid.Incident, jobs[1].IncidentID), dl.IncidentID)
				require.Equal(t, "HTTP 400: bad group", dl.LastError)
				require.Equal(t, 1, dl.Attempts)
			}
		})
	}
	code, _ = f.do(t, "GET", "/api/v1/deadletters?limit=0", apiA, nil)
	require.Equal(t, 400, code)
	code, _ = f.do(t, "GET", "/api/v1/deadletters", "", nil)
	require.Equal(t, 401, code)

	id := fmt.Sprint(f.pub(publicid.DeadLetter, jobs[1].ID))
	code, _ = f.do(t, "POST", "/api/v1/deadletters/"+id+"/retry", apiB, nil)
	require.Equal(t, 404, code, "another tenant's dead letter")
	code, _ = f.do(t, "POST", "/api/v1/deadletters/retry", apiA, nil)
	require.Equal(t, 400, code, "target required")
	code, b = f.do(t, "POST", "/api/v1/deadletters/"+id+"/retry", apiA, nil)
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"retried":1}`, string(b))
	code, _ = f.do(t, "POST", "/api/v1/deadletters/"+id+"/retry", apiA, nil)
	require.Equal(t, 409, code, "not dead any more")
	got, err := fw.ClaimJobs(ctx, "a/snow", "w2", time.Now(), time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, got, 1, "due again")
	require.NoError(t, fw.FailJob(ctx, got[0].ID, "w2", store.JobFailed{Error: "again", Dead: true, At: now}))
	code, b = f.do(t, "POST", "/api/v1/deadletters/retry?target=a/snow", tokOp, nil)
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"retried":1}`, string(b))
}

func TestWatchdogEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	before := time.Now()
	firing := testkit.Payload("wd", `{}:{alertname="Watchdog"}`, "firing", t0, map[string]string{"alertname": "Watchdog"})
	resolved := testkit.Payload("wd", `{}:{alertname="Watchdog"}`, "resolved", t0, map[string]string{"alertname": "Watchdog"})
	for _, tc := range []struct {
		name, token string
		body        []byte
		code        int
		heartbeat   bool
	}{
		{"heartbeat", tokA, firing, 200, true},
		{"resolved is not a heartbeat", tokA, resolved, 200, false},
		{"operator cannot", tokOp, firing, 403, false},
		{"no credentials", "", firing, 401, false},
		{"malformed", tokA, []byte(`{`), 400, false},
		{"too large", tokA, append(firing[:len(firing)-1:len(firing)-1], []byte(`,"x":"`+strings.Repeat("x", 30000)+`"}`)...), 413, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, b := f.do(t, "POST", "/api/v1/watchdog", tc.token, tc.body)
			require.Equal(t, tc.code, code, string(b))
			if code == 200 {
				var out struct{ Heartbeat bool }
				require.NoError(t, json.Unmarshal(b, &out))
				require.Equal(t, tc.heartbeat, out.Heartbeat)
			}
		})
	}
	w, err := f.st.(store.Reconciling).Watchdog(ctx, "a", time.Now())
	require.NoError(t, err)
	require.False(t, w.LastSeenAt.Before(before.Truncate(time.Microsecond)), "fed by the heartbeat")
	require.False(t, w.LastSeenAt.After(time.Now()))
	c, err := f.st.Counts(ctx)
	require.NoError(t, err)
	require.Zero(t, c.Incidents, "a heartbeat is not an incident")
}
