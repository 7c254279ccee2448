// Package auth tells who a request to kizashi-webhook is and what that principal may do: the
// principals and their roles, the authenticators that turn a credential into a principal
// (Tokens: the configuration's tokens, API tokens and basic-auth users; Users: named users,
// with OpenID Connect), the service-desk page's sessions with their CSRF
// tokens, the guard that counts and throttles failed authentications per source, and the
// address a request comes from behind trusted proxies. The configuration (package config) only
// says what is configured; this package checks credentials against it when a request comes in,
// reading the secret files then (as Alertmanager reads its *_file settings), so that replacing
// a token file needs no reload.
//
// The HTTP handlers (packages api and ui, and the operational endpoints of package app) decide
// which credential each endpoint takes and what it answers; they use Access for the steps they
// share.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"

	"github.com/kizashi-dev/kizashi/webhook/i18n"
	"github.com/kizashi-dev/kizashi/webhook/service"
)

// Role is what a principal may do.
type Role string

// Roles.
const (
	// RoleTenant is a tenant's Alertmanager credential (a token or a basic-auth user of the
	// tenant's configuration): it only posts the tenant's alerts (/api/v1/alerts,
	// /api/v1/watchdog); the REST API and the page refuse it (IngestOnly).
	RoleTenant Role = "tenant"
	// RoleAPIRead is a tenant's API token of role read (config.APIToken): it reads the
	// tenant's incidents as the tenant's customer does and changes nothing.
	RoleAPIRead Role = "api-read"
	// RoleAPIAct is a tenant's API token of role act: it reads the tenant's incidents,
	// internal work notes included, and works on them; it sends no alerts.
	RoleAPIAct Role = "api-act"
	// RoleOperator is the service provider's operator: it reads and works on every tenant's
	// incidents and sends no alerts.
	RoleOperator Role = "operator"
	// RoleAdmin is a named administrator: every tenant, every action.
	RoleAdmin Role = "admin"
	// RoleCustomer is a named person of one tenant's customer: it reads the tenant's incidents,
	// their customer-visible comments and SLA status, and changes nothing.
	RoleCustomer Role = "customer"
)

// Principal is an authenticated caller.
type Principal struct {
	// Name names the principal in the journal: the tenant, the basic-auth user or the operator
	// that owns the credential, never anything the request says.
	Name string
	// Tenant is the principal's tenant; "" for a principal of every tenant (an operator).
	Tenant string
	Role   Role
	// User is set for a named person (config.User), not a credential of a tenant or operator.
	User bool
	// Groups, when not nil, limits an operator user to the incidents of these assignment groups
	// and the unassigned ones (config.User.Groups).
	Groups []string
}

// AllTenants reports whether the principal sees every tenant's incidents.
func (p Principal) AllTenants() bool { return p.Role == RoleOperator || p.Role == RoleAdmin }

// ReadOnly reports whether the principal may only read (a customer, a read API token): every
// desk action, injected alert, retry and mute is refused.
func (p Principal) ReadOnly() bool { return p.Role == RoleCustomer || p.Role == RoleAPIRead }

// SeesInternal reports whether the principal reads internal work notes (everyone but
// customers and read API tokens).
func (p Principal) SeesInternal() bool { return p.Role != RoleCustomer && p.Role != RoleAPIRead }

// WorksOnIncidents reports whether the principal acts on incidents and the desk's records: an
// operator, an admin or a tenant's API token of role act (customers, read tokens and
// Alertmanager credentials do not; nor does a role this package does not know).
func (p Principal) WorksOnIncidents() bool {
	return p.Role == RoleOperator || p.Role == RoleAdmin || p.Role == RoleAPIAct
}

// IngestOnly reports whether the principal is an Alertmanager credential, which only posts
// alerts: the REST API and the page refuse it with ErrIngestOnly.
func (p Principal) IngestOnly() bool { return p.Role == RoleTenant }

// ErrIngestOnly is the refusal of an Alertmanager credential where it does not serve: it names
// the credentials that do.
var ErrIngestOnly = i18n.New("this is a tenant's Alertmanager credential (tenants[].tokens, token_files, basic_auth): it only posts alerts to /api/v1/alerts and /api/v1/watchdog; the REST API and the page take a tenant API token (tenants[].api_tokens, role read or act), an operator token (operators[]) or a user (users[])")

// SendsAlerts reports whether the principal may post Alertmanager's notifications (to its
// tenant).
func (p Principal) SendsAlerts() bool { return p.Role == RoleTenant && p.Tenant != "" }

// Scope is the tenant whose incidents the principal sees; "" means every tenant.
func (p Principal) Scope() string { return p.Caller().Scope() }

// Caller is the principal as the service layer knows who acts.
func (p Principal) Caller() service.Caller {
	return service.Caller{Name: p.Name, Tenant: p.Tenant, Operator: p.AllTenants(), ReadOnly: p.ReadOnly(), Person: p.User, Groups: p.Groups}
}

// Credential is what a request presents.
type Credential struct {
	// Token is a bearer token (Authorization: Bearer, or the page's log-in form).
	Token string
	// Username and Password are HTTP basic authentication.
	Username, Password string
}

// ErrUnauthenticated is returned for a credential that proves nothing: unknown, wrong, or no
// longer configured.
var ErrUnauthenticated = errors.New("unauthenticated")

// An Authenticator checks one kind of credential. Errors other than ErrUnauthenticated mean the
// credential could not be checked now (a secret file that cannot be read): the caller answers
// so that the client retries, and counts no failure against it.
type Authenticator interface {
	// Authenticate returns the principal a credential proves and a reference to the credential
	// for a session to keep ("" when the credential cannot open a session). The reference is
	// never the secret nor a plain hash of it, and stays the same while the credential is
	// valid.
	Authenticate(ctx context.Context, c Credential) (Principal, string, error)
	// Resolve returns the principal of a reference while its credential is still valid: a
	// session ends when its credential is removed or replaced.
	Resolve(ctx context.Context, ref string) (Principal, error)
}

// DeriveKey derives the key of one purpose from the installation's secret (see
// store.Sessions.ServerSecret).
func DeriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("kizashi-webhook " + purpose))
	return m.Sum(nil)
}
