package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kizashi-dev/kizashi/webhook/config"
)

// OIDCStateCookie carries a log-in's state, nonce and PKCE verifier between the redirect to
// the provider and its answer (HttpOnly, SameSite Lax: the answer is a top-level navigation
// from the provider's site; 10 minutes; signed with the installation's secret).
const OIDCStateCookie = "kizashi_oidc"

const oidcStateTTL = 10 * time.Minute

// OIDC logs users in through an OpenID Connect provider: the authorization code flow with
// PKCE, state and nonce (golang.org/x/oauth2), the ID token verified by
// github.com/coreos/go-oidc (signature from the provider's JWKS, issuer, audience, expiry).
// The verified token names a configured user by its subject (oidc_subject) or its verified
// e-mail (email with email_verified true): a person the configuration does not list cannot log
// in, whatever the provider says. Discovery happens at the first log-in (and again after a
// reload changes the issuer).
type OIDC struct {
	config func() *config.Config
	users  *Users
	key    []byte
	client *http.Client

	mu       sync.Mutex
	issuer   string
	provider *oidc.Provider
}

// NewOIDC returns the OpenID Connect log-in of the configuration cfg returns. client reaches
// the provider (nil: a client with a 30s timeout).
func NewOIDC(cfg func() *config.Config, users *Users, secret []byte, client *http.Client) *OIDC {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &OIDC{config: cfg, users: users, key: DeriveKey(secret, "oidc state"), client: client}
}

// Enabled reports whether OpenID Connect is configured.
func (o *OIDC) Enabled() bool { return o != nil && o.config().OIDC != nil }

// ErrOIDCDisabled is returned when OpenID Connect is not configured.
var ErrOIDCDisabled = errors.New("OpenID Connect is not configured")

func (o *OIDC) setup(ctx context.Context) (*config.OIDC, *oidc.Provider, *oauth2.Config, error) {
	c := o.config().OIDC
	if c == nil {
		return nil, nil, nil, ErrOIDCDisabled
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider == nil || o.issuer != c.Issuer {
		// The provider keeps this context to fetch its keys later: not the request's.
		p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), o.client), c.Issuer)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("oidc discovery: %w", err)
		}
		o.provider, o.issuer = p, c.Issuer
	}
	secret, err := c.ClientSecretValue()
	if err != nil {
		return nil, nil, nil, err
	}
	oc := &oauth2.Config{ClientID: c.ClientID, ClientSecret: secret, Endpoint: o.provider.Endpoint(),
		RedirectURL: c.RedirectURL, Scopes: c.Scopes}
	return c, o.provider, oc, nil
}

// Start begins a log-in: it sets the state cookie and returns the provider's URL to redirect
// the browser to.
func (o *OIDC) Start(w http.ResponseWriter, r *http.Request, secure bool) (string, error) {
	_, _, oc, err := o.setup(r.Context())
	if err != nil {
		return "", err
	}
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	val := strings.Join([]string{state, nonce, verifier, fmt.Sprint(time.Now().Add(oidcStateTTL).Unix())}, ".")
	http.SetCookie(w, &http.Cookie{Name: OIDCStateCookie, Value: val + "." + o.sign(val), Path: "/login/oidc",
		MaxAge: int(oidcStateTTL.Seconds()), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	return oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// ErrOIDCLogin is returned for an answer of the provider that logs nobody in: a wrong or
// expired state, an error from the provider, a token that does not verify, or a person the
// configuration does not list.
var ErrOIDCLogin = errors.New("OpenID Connect log-in refused")

// Finish completes a log-in from the provider's answer (the callback request): it returns the
// user's principal and the session reference. It clears the state cookie.
func (o *OIDC) Finish(w http.ResponseWriter, r *http.Request, secure bool) (Principal, string, error) {
	http.SetCookie(w, &http.Cookie{Name: OIDCStateCookie, Value: "", Path: "/login/oidc", MaxAge: -1, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(OIDCStateCookie)
	if err != nil {
		return Principal{}, "", fmt.Errorf("%w: no log-in in progress", ErrOIDCLogin)
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 5 || !hmac.Equal([]byte(parts[4]), []byte(o.sign(strings.Join(parts[:4], ".")))) {
		return Principal{}, "", fmt.Errorf("%w: bad state cookie", ErrOIDCLogin)
	}
	state, nonce, verifier, expires := parts[0], parts[1], parts[2], parts[3]
	if exp, err := strconv.ParseInt(expires, 10, 64); err != nil || time.Now().Unix() > exp {
		return Principal{}, "", fmt.Errorf("%w: log-in took too long", ErrOIDCLogin)
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return Principal{}, "", fmt.Errorf("%w: provider answered %q", ErrOIDCLogin, e)
	}
	if !hmac.Equal([]byte(q.Get("state")), []byte(state)) {
		return Principal{}, "", fmt.Errorf("%w: state does not match", ErrOIDCLogin)
	}
	cfg, provider, oc, err := o.setup(r.Context())
	if err != nil {
		return Principal{}, "", err
	}
	ctx := oidc.ClientContext(r.Context(), o.client)
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return Principal{}, "", fmt.Errorf("%w: code exchange: %w", ErrOIDCLogin, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return Principal{}, "", fmt.Errorf("%w: no id_token in the token response", ErrOIDCLogin)
	}
	idt, err := provider.VerifierContext(ctx, &oidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return Principal{}, "", fmt.Errorf("%w: %w", ErrOIDCLogin, err)
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(nonce)) {
		return Principal{}, "", fmt.Errorf("%w: nonce does not match", ErrOIDCLogin)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		return Principal{}, "", fmt.Errorf("%w: claims: %w", ErrOIDCLogin, err)
	}
	u := o.match(idt.Subject, claims.Email, claims.EmailVerified)
	if u == nil {
		return Principal{}, "", fmt.Errorf("%w: subject %q is no configured user", ErrOIDCLogin, idt.Subject)
	}
	return UserPrincipal(u), o.users.OIDCRef(u), nil
}

// match finds the configured user of a verified ID token: by subject, else by verified e-mail.
func (o *OIDC) match(subject, email string, verified bool) *config.User {
	cfg := o.config()
	for i := range cfg.Users {
		if u := &cfg.Users[i]; u.OIDCSubject != "" && u.OIDCSubject == subject {
			return u
		}
	}
	if !verified || email == "" {
		return nil
	}
	for i := range cfg.Users {
		if u := &cfg.Users[i]; u.OIDCSubject == "" && u.Email != "" && strings.EqualFold(u.Email, email) {
			return u
		}
	}
	return nil
}

func (o *OIDC) sign(s string) string {
	m := hmac.New(sha256.New, o.key)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
