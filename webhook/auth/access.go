package auth

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/config"
)

// Access is what the HTTP front ends (the REST API, the page, the operational endpoints) share
// to tell who a request is: the authenticator, the page's sessions, the guard against guessing
// and the server's settings (trusted proxies, cookies, failure limits). Which credential an
// endpoint takes, and what it answers, is the front end's to say.
type Access struct {
	Authenticator Authenticator
	// Sessions are the page's sessions (nil: the cookie authenticates nothing).
	Sessions *Sessions
	// Guard counts, logs and limits failed authentications (nil: none).
	Guard *Guard
	// Settings returns the server's settings (nil: the defaults).
	Settings func() *config.Server
}

// Server returns the server's settings.
func (a *Access) Server() *config.Server {
	if a.Settings != nil {
		if s := a.Settings(); s != nil {
			return s
		}
	}
	return &config.DefaultServer
}

// Source is the address r comes from (see ClientAddr).
func (a *Access) Source(r *http.Request) netip.Addr { return ClientAddr(r, a.Server().Proxies()) }

// Throttled reports whether r's source failed too often to be heard now, and when it may try
// again.
func (a *Access) Throttled(r *http.Request) (bool, time.Duration) {
	return a.Guard.Throttled(a.Source(r), a.Server().AuthFailures)
}

// Failed records a failed authentication of r (reason: one of the Fail* constants).
func (a *Access) Failed(r *http.Request, reason string) {
	a.Guard.Failed(a.Source(r), reason, r.URL.Path, a.Server().AuthFailures)
}

// SecureCookie reports whether the page's cookie must be marked Secure for r: always when the
// settings say so, else when r came over TLS (directly or through a trusted proxy).
func (a *Access) SecureCookie(r *http.Request) bool {
	s := a.Server()
	return s.SecureCookies || IsHTTPS(r, s.Proxies())
}

// FromHeader authenticates the Authorization header: a bearer token or HTTP basic
// authentication. present is false when there is none. A credential that proves nothing
// returns ErrUnauthenticated with reason, the Fail* constant to record; other errors mean it
// could not be checked.
func (a *Access) FromHeader(ctx context.Context, r *http.Request) (p Principal, present bool, reason string, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Principal{}, false, "", nil
	}
	var c Credential
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		c.Token, reason = strings.TrimSpace(tok), FailToken
	} else if u, pw, ok := r.BasicAuth(); ok {
		c.Username, c.Password, reason = u, pw, FailBasic
	} else {
		return Principal{}, true, FailMalformed, ErrUnauthenticated
	}
	if c.Token == "" && c.Username == "" && c.Password == "" {
		return Principal{}, true, reason, ErrUnauthenticated
	}
	p, _, err = a.Authenticator.Authenticate(ctx, c)
	if errors.Is(err, ErrUnauthenticated) {
		return Principal{}, true, reason, err
	}
	if err != nil {
		return Principal{}, true, "", err
	}
	return p, true, "", nil
}

// Session returns the principal of the page's session cookie on r; false when there is no
// cookie or no live session.
func (a *Access) Session(r *http.Request) (p Principal, cookie string, ok bool, err error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || a.Sessions == nil {
		return Principal{}, "", false, nil
	}
	p, ok, err = a.Sessions.Principal(r.Context(), a.Authenticator, c.Value, time.Now())
	return p, c.Value, ok, err
}

// CrossOrigin refuses cross-origin browser requests that change state: Sec-Fetch-Site must be
// same-origin (or none: typed by the user), or else Origin must name this host; requests
// with neither header are not from a browser and pass.
func CrossOrigin() *http.CrossOriginProtection {
	return http.NewCrossOriginProtection()
}
