package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/apitypes"
)

func TestManualIncidentLinkAndMerge(t *testing.T) {
	f := newFixture(t, nil)
	create := func(tok, body string) (int, apitypes.Detail) {
		code, resp := f.do(t, http.MethodPost, apitypes.IncidentsPath, tok, []byte(body))
		var d apitypes.Detail
		if code == http.StatusCreated {
			require.NoError(t, json.Unmarshal(resp, &d))
		}
		return code, d
	}
	code, call := create(tokOp, `{"tenant":"a","title":"Checkout slow","description":"caller: Sato","channel":"phone","impact":2,"urgency":1}`)
	require.Equal(t, http.StatusCreated, code)
	require.Equal(t, "a", call.Incident.Tenant)
	require.Equal(t, "new", string(call.Incident.State))
	require.Equal(t, "noc", call.Journal[0].Actor)
	code, mail := create(apiA, `{"title":"Checkout slow (mail)","channel":"email","impact":2,"urgency":1}`)
	require.Equal(t, http.StatusCreated, code)
	for _, bad := range []string{
		`{"tenant":"a","title":"","channel":"phone","impact":2,"urgency":1}`,
		`{"tenant":"a","title":"x","channel":"pigeon","impact":2,"urgency":1}`,
		`{"tenant":"zz","title":"x","channel":"phone","impact":2,"urgency":1}`,
		`{"tenant":"a","title":"x","channel":"phone","impact":0,"urgency":1}`,
		`{"tenant":"a","title":"x","channel":"phone","impact":2,"urgency":1,"user":"eve"}`,
	} {
		code, _ = create(tokOp, bad)
		require.Equal(t, http.StatusBadRequest, code, bad)
	}
	// Tenant b cannot touch a's incidents; the ids it names are not found.
	code, _ = f.do(t, http.MethodPost, fmt.Sprintf("%s/%d/link", apitypes.IncidentsPath, call.Incident.ID), apiB,
		[]byte(fmt.Sprintf(`{"target_id":%d}`, mail.Incident.ID)))
	require.Equal(t, http.StatusNotFound, code)

	code, resp := f.do(t, http.MethodPost, fmt.Sprintf("%s/%d/merge", apitypes.IncidentsPath, mail.Incident.ID), tokOp,
		[]byte(fmt.Sprintf(`{"target_id":%d,"text":"same report"}`, call.Incident.ID)))
	require.Equal(t, http.StatusOK, code, string(resp))
	var d apitypes.Detail
	require.NoError(t, json.Unmarshal(resp, &d))
	require.Equal(t, "canceled", string(d.Incident.State))
	last := d.Journal[len(d.Journal)-1]
	require.Equal(t, fmt.Sprintf("new -> canceled: merged into incident #%d — same report", call.Incident.ID), last.Message,
		"the journal names the incident by its public id")
	code, _ = f.do(t, http.MethodPost, fmt.Sprintf("%s/%d/merge", apitypes.IncidentsPath, mail.Incident.ID), tokOp,
		[]byte(fmt.Sprintf(`{"target_id":%d}`, call.Incident.ID)))
	require.Equal(t, http.StatusConflict, code)

	code, resp = f.do(t, http.MethodPost, fmt.Sprintf("%s/%d/priority", apitypes.IncidentsPath, call.Incident.ID), tokOp,
		[]byte(`{"impact":1,"urgency":1,"text":"VIP customer"}`))
	require.Equal(t, http.StatusOK, code, string(resp))
	require.NoError(t, json.Unmarshal(resp, &d))
	require.Equal(t, 1, d.Incident.Priority)
}
