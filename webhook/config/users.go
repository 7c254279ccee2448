package config

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// User roles.
const (
	// RoleAdmin: every tenant, every action.
	RoleAdmin = "admin"
	// RoleOperator: every tenant's incidents, every desk action.
	RoleOperator = "operator"
	// RoleCustomer: one tenant's incidents, customer-visible comments and SLA status, read
	// only; never internal work notes.
	RoleCustomer = "customer"
)

// Roles lists the user roles.
var Roles = []string{RoleAdmin, RoleOperator, RoleCustomer}

// User is a named person who logs in to the service desk: with a password (password_hash, a
// bcrypt hash as htpasswd -B or exporter-toolkit's web configuration use) and/or through the
// OpenID Connect provider (oidc), matched by the ID token's subject or verified e-mail. The name
// is the journal's actor for everything the user does.
type User struct {
	Name string `yaml:"name"`
	Role string `yaml:"role"`
	// Tenant is a customer's tenant (required for customers; not allowed for others).
	Tenant string `yaml:"tenant"`
	// Groups limits an operator to the incidents of these assignment groups and the unassigned
	// ones (empty: every incident; operators only).
	Groups       []string `yaml:"groups"`
	PasswordHash string   `yaml:"password_hash"`
	// OIDCSubject and Email match the OpenID Connect ID token ("sub", or "email" with
	// "email_verified" true).
	OIDCSubject string `yaml:"oidc_subject"`
	Email       string `yaml:"email"`
}

// OIDC configures log-in through an OpenID Connect provider (authorization code flow with
// PKCE).
type OIDC struct {
	// Issuer is the provider's issuer URL (discovery at /.well-known/openid-configuration).
	Issuer           string   `yaml:"issuer"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	RedirectURL      string   `yaml:"redirect_url"`
	Scopes           []string `yaml:"scopes"`
}

// ClientSecretValue returns the client secret, reading its file when it is one.
func (o *OIDC) ClientSecretValue() (string, error) {
	if o.ClientSecretFile == "" {
		return o.ClientSecret, nil
	}
	b, err := os.ReadFile(o.ClientSecretFile)
	if err != nil {
		return "", fmt.Errorf("read oidc client_secret_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// UserByName returns the user of a name.
func (c *Config) UserByName(name string) (*User, bool) {
	for i := range c.Users {
		if c.Users[i].Name == name {
			return &c.Users[i], true
		}
	}
	return nil, false
}

func (c *Config) validateUsers(baseDir string) error {
	taken := map[string]string{}
	for i, t := range c.Tenants {
		taken[t.Name] = fmt.Sprintf("tenants[%d]", i)
		for j, ba := range t.BasicAuth {
			taken[ba.Username] = fmt.Sprintf("tenants[%d].basic_auth[%d]", i, j)
		}
		for j, at := range t.APITokens {
			if at.Name != t.Name {
				taken[at.Name] = fmt.Sprintf("tenants[%d].api_tokens[%d]", i, j)
			}
		}
	}
	for i, o := range c.Operators {
		taken[o.Name] = fmt.Sprintf("operators[%d]", i)
	}
	subjects, emails := map[string]bool{}, map[string]bool{}
	for i := range c.Users {
		u := &c.Users[i]
		path := fmt.Sprintf("users[%d]", i)
		switch {
		case strings.TrimSpace(u.Name) == "" || strings.TrimSpace(u.Name) != u.Name || strings.ContainsAny(u.Name, ":\n"):
			return keyErrorf(path+".name", "user name %q must be non-empty, without surrounding white space, ':' or newlines", u.Name)
		case slices.Contains([]string{"alertmanager", "system", "reconciler"}, u.Name):
			return keyErrorf(path+".name", "user name %q is reserved for the system's journal lines", u.Name)
		case taken[u.Name] != "":
			return keyErrorf(path+".name", "user name %q is already the name of %s", u.Name, taken[u.Name])
		}
		taken[u.Name] = path
		if !slices.Contains(Roles, u.Role) {
			return keyErrorf(path+".role", "role must be one of %s", strings.Join(Roles, ", "))
		}
		if u.Role == RoleCustomer {
			if !slices.ContainsFunc(c.Tenants, func(t TenantConfig) bool { return t.Name == u.Tenant }) {
				return keyErrorf(path+".tenant", "customer %q needs the name of a configured tenant", u.Name)
			}
		} else if u.Tenant != "" {
			return keyErrorf(path+".tenant", "only customers have a tenant")
		}
		if len(u.Groups) > 0 && u.Role != RoleOperator {
			return keyErrorf(path+".groups", "only operators are limited to assignment groups")
		}
		for j, g := range u.Groups {
			if strings.TrimSpace(g) == "" || strings.TrimSpace(g) != g {
				return keyErrorf(fmt.Sprintf("%s.groups[%d]", path, j), "assignment group %q must be non-empty, without surrounding white space", g)
			}
		}
		if u.PasswordHash != "" {
			if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
				return keyErrorf(path+".password_hash", "not a bcrypt hash (htpasswd -nBC 10 %s): %v", u.Name, err)
			}
		}
		if u.PasswordHash == "" && u.OIDCSubject == "" && u.Email == "" {
			return keyErrorf(path, "user %q needs password_hash, oidc_subject or email", u.Name)
		}
		if (u.OIDCSubject != "" || u.Email != "") && c.OIDC == nil {
			return keyErrorf(path, "user %q logs in through OpenID Connect, but oidc is not configured", u.Name)
		}
		if u.OIDCSubject != "" {
			if subjects[u.OIDCSubject] {
				return keyErrorf(path+".oidc_subject", "oidc_subject already belongs to another user")
			}
			subjects[u.OIDCSubject] = true
		}
		if u.Email != "" {
			e := strings.ToLower(u.Email)
			if emails[e] {
				return keyErrorf(path+".email", "email already belongs to another user")
			}
			emails[e] = true
		}
	}
	if o := c.OIDC; o != nil {
		o.ClientSecretFile = resolve(baseDir, o.ClientSecretFile)
		iss, err := url.Parse(o.Issuer)
		if err != nil || iss.Host == "" || (iss.Scheme != "https" && iss.Scheme != "http") {
			return keyErrorf("oidc.issuer", "must be an http(s) URL")
		}
		ru, err := url.Parse(o.RedirectURL)
		if err != nil || ru.Host == "" || (ru.Scheme != "https" && ru.Scheme != "http") || ru.Path != "/login/oidc/callback" {
			return keyErrorf("oidc.redirect_url", "must be this server's http(s) URL of /login/oidc/callback")
		}
		if o.ClientID == "" {
			return keyErrorf("oidc.client_id", "required")
		}
		if (o.ClientSecret == "") == (o.ClientSecretFile == "") {
			return keyErrorf("oidc", "exactly one of client_secret and client_secret_file is required")
		}
		if _, err := o.ClientSecretValue(); err != nil {
			return keyErrorf("oidc.client_secret_file", "%v", err)
		}
		if len(o.Scopes) == 0 {
			o.Scopes = []string{"openid", "email", "profile"}
		}
	}
	return nil
}

// HasTenant reports whether a tenant of that name is configured.
func (c *Config) HasTenant(name string) bool {
	return slices.ContainsFunc(c.Tenants, func(t TenantConfig) bool { return t.Name == name })
}
