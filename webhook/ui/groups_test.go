package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/webhook/auth"
	"github.com/kizashi-dev/kizashi/webhook/incident"
)

const tokDBA = "dba-operator-token-0123456789XY"

// groupAuth adds an operator limited to the assignment group dba (a user with groups) to the
// configuration's tokens.
type groupAuth struct{ auth.Authenticator }

var dbaOperator = auth.Principal{Name: "dora", Role: auth.RoleOperator, User: true, Groups: []string{"dba"}}

func (a groupAuth) Authenticate(ctx context.Context, c auth.Credential) (auth.Principal, string, error) {
	if c.Token == tokDBA {
		return dbaOperator, "dba:dora", nil
	}
	return a.Authenticator.Authenticate(ctx, c)
}

func (a groupAuth) Resolve(ctx context.Context, ref string) (auth.Principal, error) {
	if ref == "dba:dora" {
		return dbaOperator, nil
	}
	return a.Authenticator.Resolve(ctx, ref)
}

// TestOperatorLimitedToGroupsOnThePage: the queue of an operator limited to groups holds its
// groups' and the unassigned incidents of every tenant; another group's incident, its chart and
// its actions answer 404.
func TestOperatorLimitedToGroupsOnThePage(t *testing.T) {
	d := newDesk(t, "")
	d.access.Authenticator = groupAuth{d.access.Authenticator}
	now := time.Now()
	mine := d.ingest("acme", "g1", now, map[string]string{"alertname": "Mine"}, nil)
	d.act(mine, incident.Action{Kind: incident.ActAssign, AssignmentGroup: "dba"})
	theirs := d.ingest("acme", "g2", now, map[string]string{"alertname": "Theirs"}, nil)
	d.act(theirs, incident.Action{Kind: incident.ActAssign, AssignmentGroup: "web"})
	free := d.ingest("globex", "g3", now, map[string]string{"alertname": "Unassigned"}, nil)
	cookie, csrf := d.session(tokDBA)

	list := d.do(cookie, http.MethodGet, "/incidents", nil, nil)
	require.Equal(t, http.StatusOK, list.code)
	require.ElementsMatch(t, []int64{mine, free}, queueIDs(t, list.body))
	list = d.do(cookie, http.MethodGet, "/incidents?assignment_group=web", nil, nil)
	require.Empty(t, queueIDs(t, list.body), "a filter cannot widen the groups")

	path := "/incidents/" + strconv.FormatInt(theirs, 10)
	require.Equal(t, http.StatusNotFound, d.do(cookie, http.MethodGet, path, nil, nil).code)
	require.Equal(t, http.StatusNotFound, d.do(cookie, http.MethodGet, path+"/chart.svg", nil, nil).code)
	a := d.do(cookie, http.MethodPost, path+"/act", url.Values{"csrf": {csrf}, "action": {"acknowledge"}}, map[string]string{"Origin": d.srv.URL})
	require.Equal(t, http.StatusNotFound, a.code)
	in, err := d.st.Incident(context.Background(), "", theirs)
	require.NoError(t, err)
	require.Equal(t, incident.StateNew, in.State, "nothing changed")

	require.Equal(t, http.StatusOK, d.do(cookie, http.MethodGet, "/incidents/"+strconv.FormatInt(mine, 10), nil, nil).code)
	// The operator of every group sees both.
	all, _ := d.session(tokNOC)
	require.ElementsMatch(t, []int64{mine, theirs, free}, queueIDs(t, d.do(all, http.MethodGet, "/incidents", nil, nil).body))
}
