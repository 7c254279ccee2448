package queryconfig

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// nodeOf captures the node of a value for the unmarshalers in yaml.v2 style (which keep the
// decoder's strictness, unknown keys being errors, but are not given the node).
type nodeOf struct{ n *yaml.Node }

func (c *nodeOf) UnmarshalYAML(n *yaml.Node) error {
	c.n = n
	return nil
}

// keyError is a validation error about the value of one key of a mapping; at gives it the
// key's line.
type keyError struct {
	key string
	err error
}

func (e *keyError) Error() string { return e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

func keyErrorf(key, format string, args ...any) error {
	return &keyError{key: key, err: fmt.Errorf(format, args...)}
}

// at places err in the mapping n: "line N: <what><err>", N the line of the key err is about
// (a keyError), or of the mapping itself.
func at(n *yaml.Node, what string, err error) error {
	line := n.Line
	var ke *keyError
	if errors.As(err, &ke) {
		if k := key(n, ke.key); k != nil {
			line = k.Line
		}
	}
	return fmt.Errorf("line %d: %s%w", line, what, err)
}

// locate places an error of decoding the mapping n into newPlain's type. yaml.TypeErrors name
// their lines: each gets the key it is about. Others (a custom unmarshaler's, such as
// model.Duration's) are found by decoding the pairs of n one at a time and named by the line
// and key of the first that fails.
func locate(n *yaml.Node, what string, newPlain func() any, err error) error {
	if n.Kind != yaml.MappingNode {
		return err
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		out := &yaml.TypeError{Errors: make([]string, len(te.Errors))}
		for i, e := range te.Errors {
			out.Errors[i] = withKey(n, what, e)
		}
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		pair := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{k, v}}
		if perr := pair.Decode(newPlain()); perr != nil {
			return fmt.Errorf("line %d: %s%s: %s", k.Line, what, k.Value, hideValues(perr.Error(), v))
		}
	}
	return fmt.Errorf("line %d: %s%w", n.Line, what, err)
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// withKey rewrites yaml's "line N: cannot unmarshal ..." as "line N: <what><key>: cannot
// unmarshal ...", the key being the one of n whose value holds line N.
func withKey(n *yaml.Node, what, msg string) string {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	line, err := strconv.Atoi(m[1])
	if err != nil {
		return msg
	}
	if strings.HasPrefix(m[2], "field ") { // field x not found in type ...: names its key
		return fmt.Sprintf("line %d: %s%s", line, what, m[2])
	}
	k := ""
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Line <= line {
			k = n.Content[i].Value
		}
	}
	if k == "" {
		return fmt.Sprintf("line %d: %s%s", line, what, m[2])
	}
	return fmt.Sprintf("line %d: %s%s: %s", line, what, k, m[2])
}

// key returns the key node named name in the mapping n, or nil.
func key(n *yaml.Node, name string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name {
			return n.Content[i]
		}
	}
	return nil
}

// value returns the value node of the key name in the mapping n, or nil.
func value(n *yaml.Node, name string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name {
			return n.Content[i+1]
		}
	}
	return nil
}

// scalar returns the value of the key name in the mapping n if it is a scalar, else "".
func scalar(n *yaml.Node, name string) string {
	if v := value(n, name); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// quoted matches the values yaml quotes in its type errors (cannot unmarshal !!str `hunter2`
// into int): the start of a value that may be a secret written under the wrong key;
// quotedString those of other decoders (not a valid duration string: "hunter2").
var (
	quoted       = regexp.MustCompile("`[^`]*`")
	quotedString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
)

// hideValues removes from a decoder's message the values of v it may quote (not a valid
// duration string: "hunter2"): one may be a secret written under the wrong key.
func hideValues(msg string, v *yaml.Node) string {
	msg = quotedString.ReplaceAllString(msg, "(value not shown)")
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && len(n.Value) >= 3 {
			msg = strings.ReplaceAll(msg, n.Value, "(value not shown)")
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(v)
	return msg
}

// redact removes the quoted values from yaml's type errors; the line and the key stay.
func redact(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	out := &yaml.TypeError{Errors: make([]string, len(te.Errors))}
	for i, e := range te.Errors {
		out.Errors[i] = quoted.ReplaceAllString(e, "(value not shown)")
	}
	return out
}
