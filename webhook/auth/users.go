package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/kizashi-dev/kizashi/webhook/config"
)

// Users authenticates the configuration's named users (config.User): a user name and password
// (HTTP basic authentication or the page's log-in form) against the user's bcrypt hash, and
// resolves the session references of users who logged in with a password or through OpenID
// Connect (see OIDC). A session ends when its user is removed or its password, role, tenant or
// OpenID Connect identity changes in the configuration (a reload).
type Users struct {
	config func() *config.Config
	refKey []byte
}

// NewUsers returns the authenticator of the users of the configuration cfg returns.
func NewUsers(cfg func() *config.Config, secret []byte) *Users {
	return &Users{config: cfg, refKey: DeriveKey(secret, "user session")}
}

var _ Authenticator = (*Users)(nil)

// dummyHash is compared against when the user does not exist, so that an unknown name takes as
// long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("kizashi dummy password"), bcrypt.DefaultCost)

// UserPrincipal is the principal of a configured user.
func UserPrincipal(u *config.User) Principal {
	p := Principal{Name: u.Name, User: true}
	switch u.Role {
	case config.RoleAdmin:
		p.Role = RoleAdmin
	case config.RoleOperator:
		p.Role = RoleOperator
		if len(u.Groups) > 0 {
			p.Groups = append([]string{}, u.Groups...)
		}
	default:
		p.Role, p.Tenant = RoleCustomer, u.Tenant
	}
	return p
}

// Authenticate implements Authenticator: a user name and password.
func (a *Users) Authenticate(_ context.Context, c Credential) (Principal, string, error) {
	if c.Username == "" || c.Token != "" {
		return Principal{}, "", ErrUnauthenticated
	}
	u, ok := a.config().UserByName(c.Username)
	if !ok || u.PasswordHash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(c.Password))
		return Principal{}, "", ErrUnauthenticated
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(c.Password)) != nil {
		return Principal{}, "", ErrUnauthenticated
	}
	return UserPrincipal(u), a.ref("password", u), nil
}

// OIDCRef is the session reference of a user who logged in through OpenID Connect.
func (a *Users) OIDCRef(u *config.User) string { return a.ref("oidc", u) }

// ref names a user's session: keyed by the installation's secret, and changed by any change of
// what the user may do or how it proves who it is.
func (a *Users) ref(kind string, u *config.User) string {
	m := hmac.New(sha256.New, a.refKey)
	for _, s := range []string{kind, u.Name, u.Role, u.Tenant, u.PasswordHash, u.OIDCSubject, strings.ToLower(u.Email)} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	return "user:" + kind + ":" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Resolve implements Authenticator.
func (a *Users) Resolve(_ context.Context, ref string) (Principal, error) {
	rest, ok := strings.CutPrefix(ref, "user:")
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	kind, _, _ := strings.Cut(rest, ":")
	cfg := a.config()
	for i := range cfg.Users {
		u := &cfg.Users[i]
		if kind == "password" && u.PasswordHash == "" || kind == "oidc" && cfg.OIDC == nil {
			continue
		}
		if hmac.Equal([]byte(ref), []byte(a.ref(kind, u))) {
			return UserPrincipal(u), nil
		}
	}
	return Principal{}, ErrUnauthenticated
}

// WithUsers authenticates the configuration's credentials (creds: Tokens) and its named
// users: a credential is checked by creds first, so that Alertmanager's tokens and basic-auth
// users cost what they cost without users (a user's bcrypt comparison runs only for names creds
// does not know), and a session reference goes to the users when it is theirs.
func WithUsers(creds Authenticator, users *Users) Authenticator {
	return &withUsers{creds: creds, users: users}
}

type withUsers struct {
	creds Authenticator
	users *Users
}

func (w *withUsers) Authenticate(ctx context.Context, c Credential) (Principal, string, error) {
	p, ref, err := w.creds.Authenticate(ctx, c)
	if err == nil || !errors.Is(err, ErrUnauthenticated) || c.Username == "" {
		return p, ref, err
	}
	return w.users.Authenticate(ctx, c)
}

func (w *withUsers) Resolve(ctx context.Context, ref string) (Principal, error) {
	if strings.HasPrefix(ref, "user:") {
		return w.users.Resolve(ctx, ref)
	}
	return w.creds.Resolve(ctx, ref)
}
