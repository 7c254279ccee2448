package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/kizashi-dev/kizashi/webhook/config"
)

// Tokens authenticates the credentials of the configuration: the tenants' (Alertmanager's),
// the tenants' API tokens' and the operators' bearer tokens (tokens, token_files) and the
// tenants' basic-auth users (password,
// password_file). It follows configuration reloads by itself.
//
// Files are read when a credential is checked, not when the configuration is loaded (the
// configuration only checks them), as Alertmanager reads its *_file settings: a token added to
// or removed from a token file, or a new password in a password file, counts from the next
// request on, with no reload, and removing a token ends the page sessions opened with it. A
// token is looked for first in the files that held it when they were last read (each read
// again: one small read per request), then, when it is not there, in every file. A file that
// cannot be read or holds a token the configuration would refuse makes the check fail with an
// error (the caller answers "retry later"), never with a principal.
type Tokens struct {
	config func() *config.Config
	refKey []byte

	mu  sync.Mutex
	set *tokenSet
}

// NewTokens returns the authenticator of the configuration cfg returns (called at each check:
// a reload applies at once). secret is the installation's secret: session references are
// keyed by it.
func NewTokens(cfg func() *config.Config, secret []byte) *Tokens {
	return &Tokens{config: cfg, refKey: DeriveKey(secret, "session credential")}
}

var _ Authenticator = (*Tokens)(nil)

// tokenSet is the credentials of one configuration: inline secrets indexed once, files read
// when used.
type tokenSet struct {
	cfg    *config.Config
	inline map[[sha256.Size]byte]inlineToken
	refs   map[string]Principal // session references of the inline tokens
	files  []*tokenFile
	basic  map[string]*basicUser
}

// tokenFile is one token file of a principal, with what it held when it was last read.
type tokenFile struct {
	path  string
	owner Principal

	mu     sync.Mutex
	raw    []byte
	tokens map[[sha256.Size]byte]string // token hash -> session reference
	refs   map[string]bool
}

type inlineToken struct {
	owner Principal
	ref   string
}

type basicUser struct {
	owner Principal
	hash  [sha256.Size]byte // of an inline password
	file  string            // or its password file
}

func (t *Tokens) current() *tokenSet {
	cfg := t.config()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.set == nil || t.set.cfg != cfg {
		t.set = t.build(cfg)
	}
	return t.set
}

func (t *Tokens) build(cfg *config.Config) *tokenSet {
	s := &tokenSet{cfg: cfg, inline: map[[sha256.Size]byte]inlineToken{}, refs: map[string]Principal{}, basic: map[string]*basicUser{}}
	add := func(p Principal, tokens, files []string) {
		for _, tok := range tokens {
			h := sha256.Sum256([]byte(tok))
			r := t.ref(h)
			s.inline[h], s.refs[r] = inlineToken{p, r}, p
		}
		for _, f := range files {
			s.files = append(s.files, &tokenFile{path: f, owner: p})
		}
	}
	for _, tc := range cfg.Tenants {
		add(Principal{Name: tc.Name, Tenant: tc.Name, Role: RoleTenant}, tc.Tokens, tc.TokenFiles)
		for _, at := range tc.APITokens {
			role := RoleAPIRead
			if at.Role == config.APIAct {
				role = RoleAPIAct
			}
			add(Principal{Name: at.Name, Tenant: tc.Name, Role: role}, at.Tokens, at.TokenFiles)
		}
		for _, ba := range tc.BasicAuth {
			s.basic[ba.Username] = &basicUser{owner: Principal{Name: ba.Username, Tenant: tc.Name, Role: RoleTenant},
				hash: sha256.Sum256([]byte(ba.Password)), file: ba.PasswordFile}
		}
	}
	for _, o := range cfg.Operators {
		add(Principal{Name: o.Name, Role: RoleOperator}, o.Tokens, o.TokenFiles)
	}
	return s
}

// ref is the session reference of a token: an HMAC of its hash under the installation's
// secret, so that the store holds nothing a token could be guessed from offline.
func (t *Tokens) ref(h [sha256.Size]byte) string {
	m := hmac.New(sha256.New, t.refKey)
	m.Write(h[:])
	return hex.EncodeToString(m.Sum(nil))
}

// read reads the file again and returns what it holds now.
func (f *tokenFile) read(t *Tokens) (map[[sha256.Size]byte]string, map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.path)
	if err == nil && f.tokens != nil && bytes.Equal(b, f.raw) {
		return f.tokens, f.refs, nil
	}
	f.raw, f.tokens, f.refs = nil, nil, nil
	if err != nil {
		return nil, nil, fmt.Errorf("read token file of %s: %w", f.owner.Name, err)
	}
	toks, err := config.ParseTokens(b)
	if err != nil {
		return nil, nil, fmt.Errorf("token file %s of %s: %w", f.path, f.owner.Name, err)
	}
	f.raw, f.tokens, f.refs = b, map[[sha256.Size]byte]string{}, map[string]bool{}
	for _, tok := range toks {
		h := sha256.Sum256([]byte(tok))
		r := t.ref(h)
		f.tokens[h], f.refs[r] = r, true
	}
	return f.tokens, f.refs, nil
}

// held reports whether the file held the token (by hash) or the reference (when key is "")
// when it was last read.
func (f *tokenFile) held(h [sha256.Size]byte, ref string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ref != "" {
		return f.refs[ref]
	}
	_, ok := f.tokens[h]
	return ok
}

// inFiles looks for a token (by hash) or a reference in the token files: first in those that
// held it, read again, then in all of them.
func (t *Tokens) inFiles(s *tokenSet, h [sha256.Size]byte, ref string) (Principal, string, error) {
	find := func(f *tokenFile) (string, bool, error) {
		toks, refs, err := f.read(t)
		if err != nil {
			return "", false, err
		}
		if ref != "" {
			return ref, refs[ref], nil
		}
		r, ok := toks[h]
		return r, ok, nil
	}
	for _, f := range s.files {
		if !f.held(h, ref) {
			continue
		}
		if r, ok, err := find(f); err == nil && ok {
			return f.owner, r, nil
		}
	}
	var errs []error
	for _, f := range s.files {
		r, ok, err := find(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			return f.owner, r, nil
		}
	}
	if len(errs) > 0 {
		return Principal{}, "", errors.Join(errs...)
	}
	return Principal{}, "", ErrUnauthenticated
}

// Authenticate checks a bearer token or a basic-auth user and password. Tokens open sessions;
// basic-auth users do not.
func (t *Tokens) Authenticate(_ context.Context, c Credential) (Principal, string, error) {
	s := t.current()
	switch {
	case c.Token != "":
		h := sha256.Sum256([]byte(c.Token))
		if it, ok := s.inline[h]; ok {
			return it.owner, it.ref, nil
		}
		return t.inFiles(s, h, "")
	case c.Username != "" || c.Password != "":
		return t.basicAuth(s, c.Username, c.Password)
	}
	return Principal{}, "", ErrUnauthenticated
}

func (t *Tokens) basicAuth(s *tokenSet, user, pass string) (Principal, string, error) {
	h := sha256.Sum256([]byte(pass))
	u, ok := s.basic[user]
	if !ok {
		return Principal{}, "", ErrUnauthenticated
	}
	want := u.hash
	if u.file != "" {
		pw, err := config.ReadPassword(u.file)
		if err != nil {
			return Principal{}, "", fmt.Errorf("basic-auth user %s: %w", user, err)
		}
		want = sha256.Sum256([]byte(pw))
	}
	if subtle.ConstantTimeCompare(h[:], want[:]) != 1 {
		return Principal{}, "", ErrUnauthenticated
	}
	return u.owner, "", nil
}

// Resolve returns the principal of a token's session reference while the token is configured.
func (t *Tokens) Resolve(_ context.Context, ref string) (Principal, error) {
	if ref == "" {
		return Principal{}, ErrUnauthenticated
	}
	s := t.current()
	if p, ok := s.refs[ref]; ok {
		return p, nil
	}
	p, _, err := t.inFiles(s, [sha256.Size]byte{}, ref)
	return p, err
}
