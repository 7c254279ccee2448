package config

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"iter"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinSecretLength is the shortest token or basic-auth password accepted.
const MinSecretLength = 16

// CheckSecret applies the credential rule to a token or a basic-auth password: at least
// MinSecretLength characters, no leading or trailing white space, characters of at least two
// kinds (lower-case letters, upper-case letters, digits, others) and no one character making up
// half of it or more. Generated tokens (openssl rand -hex 16, -base64 24, a UUID) pass; "aaaa…",
// "1111…", "abababab…" and a 16-digit number do not. The error never holds the secret.
func CheckSecret(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("is empty or only white space")
	case strings.TrimSpace(s) != s:
		return errors.New("has leading or trailing white space")
	}
	n := utf8.RuneCountInString(s)
	if n < MinSecretLength {
		return fmt.Errorf("must have at least %d characters", MinSecretLength)
	}
	var kinds [4]bool
	counts := map[rune]int{}
	most := 0
	for _, r := range s {
		switch {
		case unicode.IsLower(r):
			kinds[0] = true
		case unicode.IsUpper(r):
			kinds[1] = true
		case unicode.IsDigit(r):
			kinds[2] = true
		default:
			kinds[3] = true
		}
		counts[r]++
		most = max(most, counts[r])
	}
	k := 0
	for _, set := range kinds {
		if set {
			k++
		}
	}
	if k < 2 {
		return errors.New("must mix at least two kinds of characters (lower-case letters, upper-case letters, digits, others)")
	}
	if 2*most >= n {
		return errors.New("must not be made mostly of one character")
	}
	return nil
}

// ParseTokens reads the text of a token file: one token per line, blank lines and lines
// starting with # ignored, every token passing CheckSecret (an error names the line).
func ParseTokens(b []byte) ([]string, error) {
	var out []string
	for n, tok := range tokenLines(b) {
		if err := CheckSecret(tok); err != nil {
			return nil, fmt.Errorf("line %d: token %w", n, err)
		}
		out = append(out, tok)
	}
	return out, nil
}

// tokenLines yields the tokens of a token file with their line numbers.
func tokenLines(b []byte) iter.Seq2[int, string] {
	return func(yield func(int, string) bool) {
		for k, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !yield(k+1, line) {
				return
			}
		}
	}
}

// ReadPassword reads a basic-auth password file (surrounding white space removed) and checks
// it with CheckSecret.
func ReadPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read password_file: %w", err)
	}
	pw := strings.TrimSpace(string(b))
	if err := CheckSecret(pw); err != nil {
		return "", fmt.Errorf("password %w", err)
	}
	return pw, nil
}

// validateCredentials checks every tenant's and operator's tokens and basic-auth users: the
// secrets (token files and password files are read to check them; package auth reads them
// again when it checks a request, so that a changed file needs no reload), the tenants' API
// tokens, that no token serves two principals, and the principal names. Principal names
// (tenants, operators, basic-auth users, API tokens) are the journal's actors: an operator may not share a tenant's name, nor a basic-auth
// user another principal's.
func (c *Config) validateCredentials(baseDir string) error {
	seen := map[[sha256.Size]byte]bool{}
	add := func(tok string) error {
		if err := CheckSecret(tok); err != nil {
			return fmt.Errorf("token %w", err)
		}
		h := sha256.Sum256([]byte(tok))
		if seen[h] {
			return errors.New("token already used by another tenant or operator")
		}
		seen[h] = true
		return nil
	}
	// tokens checks the inline tokens and those of the token files of the principal at path;
	// it returns how many.
	tokens := func(path string, inline, files []string) (int, error) {
		n := 0
		for j, tok := range inline {
			if err := add(tok); err != nil {
				return n, &keyError{path: fmt.Sprintf("%s.tokens[%d]", path, j), err: err}
			}
			n++
		}
		for j, f := range files {
			fpath := fmt.Sprintf("%s.token_files[%d]", path, j)
			b, err := os.ReadFile(resolve(baseDir, f))
			if err != nil {
				return n, keyErrorf(fpath, "read token file: %w", err)
			}
			for line, tok := range tokenLines(b) {
				if err := add(tok); err != nil {
					return n, keyErrorf(fpath, "%s line %d: %w", f, line, err)
				}
				n++
			}
		}
		return n, nil
	}
	names := map[string]string{} // principal name -> path of its owner
	for i, t := range c.Tenants {
		names[t.Name] = fmt.Sprintf("tenants[%d]", i)
	}
	basic := map[string]bool{}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		path := fmt.Sprintf("tenants[%d]", i)
		n, err := tokens(path, t.Tokens, t.TokenFiles)
		if err != nil {
			return err
		}
		if n == 0 && len(t.BasicAuth) == 0 {
			return keyErrorf(path, "tenant %q needs tokens, token_files or basic_auth", t.Name)
		}
		for j, ba := range t.BasicAuth {
			bpath := fmt.Sprintf("%s.basic_auth[%d]", path, j)
			if err := validateBasic(baseDir, bpath, ba, t.Name, names, basic); err != nil {
				return err
			}
		}
		for j, at := range t.APITokens {
			apath := fmt.Sprintf("%s.api_tokens[%d]", path, j)
			switch {
			case strings.TrimSpace(at.Name) == "" || strings.TrimSpace(at.Name) != at.Name || strings.ContainsAny(at.Name, ":\n"):
				return keyErrorf(apath+".name", "API token name %q must be non-empty, without surrounding white space, ':' or newlines", at.Name)
			case at.Role != APIRead && at.Role != APIAct:
				return keyErrorf(apath+".role", "role must be %s (read the tenant's incidents) or %s (read and work on them)", APIRead, APIAct)
			}
			// The tenant's own name is fine (the journal says what it said when the tenant's
			// Alertmanager token worked on incidents), another principal's is not.
			if other, dup := names[at.Name]; dup && other != path {
				return keyErrorf(apath+".name", "API token name %q is already the name of %s", at.Name, other)
			}
			if at.Name != t.Name {
				names[at.Name] = apath
			}
			n, err := tokens(apath, at.Tokens, at.TokenFiles)
			if err != nil {
				return err
			}
			if n == 0 {
				return keyErrorf(apath, "API token %q needs tokens or token_files", at.Name)
			}
		}
	}
	for i, o := range c.Operators {
		path := fmt.Sprintf("operators[%d]", i)
		switch {
		case strings.TrimSpace(o.Name) == "":
			return keyErrorf(path+".name", "operator name required")
		case strings.TrimSpace(o.Name) != o.Name:
			return keyErrorf(path+".name", "operator name %q has leading or trailing white space", o.Name)
		}
		if other, dup := names[o.Name]; dup {
			return keyErrorf(path+".name", "operator name %q is already the name of %s", o.Name, other)
		}
		names[o.Name] = path
		n, err := tokens(path, o.Tokens, o.TokenFiles)
		if err != nil {
			return err
		}
		if n == 0 {
			return keyErrorf(path, "operator %q needs tokens or token_files", o.Name)
		}
	}
	return nil
}

// validateBasic checks one basic-auth user of a tenant; basic holds the usernames seen.
func validateBasic(baseDir, path string, ba BasicAuth, tenant string, names map[string]string, basic map[string]bool) error {
	pw, ppath := ba.Password, path+".password"
	if ba.PasswordFile != "" {
		ppath = path + ".password_file"
		if ba.Password != "" {
			return keyErrorf(path, "password and password_file are exclusive")
		}
		b, err := os.ReadFile(resolve(baseDir, ba.PasswordFile))
		if err != nil {
			return keyErrorf(ppath, "read password_file: %w", err)
		}
		pw = strings.TrimSpace(string(b))
	}
	if ba.Username == "" || pw == "" {
		return keyErrorf(path, "basic_auth needs username and password or password_file")
	}
	if strings.TrimSpace(ba.Username) != ba.Username || strings.ContainsAny(ba.Username, ":") {
		return keyErrorf(path+".username", "username %q must not contain ':' nor start or end with white space", ba.Username)
	}
	if err := CheckSecret(pw); err != nil {
		return keyErrorf(ppath, "password %w", err)
	}
	if basic[ba.Username] {
		return keyErrorf(path+".username", "basic_auth username %q already used", ba.Username)
	}
	basic[ba.Username] = true
	// The tenant's own name is fine (the journal says the same), another principal's is not.
	if other, ok := names[ba.Username]; ok && ba.Username != tenant {
		return keyErrorf(path+".username", "basic_auth username %q is already the name of %s", ba.Username, other)
	}
	if _, ok := names[ba.Username]; !ok {
		names[ba.Username] = path
	}
	return nil
}
