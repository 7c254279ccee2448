package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// keyError is an error about one key of the file, named by its path ("limits.max_body_bytes",
// "tenants[1].tokens[0]"). Parse adds the line of the key (or of its nearest parent present in
// the file, for a value inherited from a default).
type keyError struct {
	path string
	err  error
}

func (e *keyError) Error() string { return e.path + ": " + e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// keyErrorf returns a keyError for path.
func keyErrorf(path, format string, args ...any) error {
	return &keyError{path: path, err: fmt.Errorf(format, args...)}
}

// under makes a keyError of a nested part (its path relative to prefix) absolute; other errors
// pass unchanged.
func under(prefix string, err error) error {
	var ke *keyError
	if errors.As(err, &ke) && ke.path != "" && !strings.HasPrefix(ke.path, prefix+".") {
		ke.path = prefix + "." + ke.path
	}
	return err
}

// nest makes a keyError of a section absolute (prefix is the section's path) and prefixes any
// other error with label; nil stays nil.
func nest(prefix, label string, err error) error {
	if err == nil {
		return nil
	}
	var ke *keyError
	if errors.As(err, &ke) {
		return under(prefix, err)
	}
	return fmt.Errorf("%s: %w", label, err)
}

// withLine prefixes a keyError with the line of its key in root.
func withLine(root *yaml.Node, err error) error {
	var ke *keyError
	if err == nil || !errors.As(err, &ke) {
		return err
	}
	if n := nodeAt(root, ke.path); n != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return err
}

// nodeAt returns the node of path in root, or its nearest parent that is in the file.
func nodeAt(root *yaml.Node, path string) *yaml.Node {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, seg := range splitPath(path) {
		next := child(n, seg)
		if next == nil {
			break
		}
		n = next
	}
	if n.Kind == yaml.DocumentNode {
		return nil
	}
	return n
}

// splitPath splits "a.b[2].c" into "a", "b", "[2]", "c".
func splitPath(path string) []string {
	var out []string
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			switch {
			case i < 0:
				out, part = append(out, part), ""
			case i > 0:
				out, part = append(out, part[:i]), part[i:]
			default:
				j := strings.IndexByte(part, ']')
				if j < 0 {
					return append(out, part)
				}
				out, part = append(out, part[:j+1]), part[j+1:]
			}
		}
	}
	return out
}

// child is the value of key seg of a mapping, or item "[i]" of a sequence; for a mapping the
// key node itself when its value is not a collection (the line of "key: value").
func child(n *yaml.Node, seg string) *yaml.Node {
	if idx, ok := strings.CutPrefix(seg, "["); ok {
		i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
		if n.Kind != yaml.SequenceNode || err != nil || i < 0 || i >= len(n.Content) {
			return nil
		}
		return n.Content[i]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == seg {
			return n.Content[i+1]
		}
	}
	return nil
}

var (
	unmarshalerType         = reflect.TypeFor[yaml.Unmarshaler]()
	obsoleteUnmarshalerType = reflect.TypeFor[interface {
		UnmarshalYAML(func(any) error) error
	}]()
)

// locateDecodeError finds the scalar whose own decoder failed (a duration such as "soon": such
// decoders return errors without a line) by decoding the file's scalars one by one into the
// types of the fields they fill. It returns the line and the key path, or 0 if none fails.
func locateDecodeError(root *yaml.Node, t reflect.Type) (int, string, error) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	return locate(n, t, "")
}

func locate(n *yaml.Node, t reflect.Type, path string) (int, string, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch {
	case n.Kind == yaml.ScalarNode:
		pt := reflect.PointerTo(t)
		if !pt.Implements(unmarshalerType) && !pt.Implements(obsoleteUnmarshalerType) {
			return 0, "", nil
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			return n.Line, path, err
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if ft, ok := fieldType(t, key); ok {
				if line, p, err := locate(n.Content[i+1], ft, join(key)); line > 0 {
					return line, p, err
				}
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if line, p, err := locate(n.Content[i+1], t.Elem(), join(n.Content[i].Value)); line > 0 {
				return line, p, err
			}
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i, item := range n.Content {
			if line, p, err := locate(item, t.Elem(), path+"["+strconv.Itoa(i)+"]"); line > 0 {
				return line, p, err
			}
		}
	}
	return 0, "", nil
}

// fieldType is the type of the struct field (or inlined struct's field) that key fills.
func fieldType(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if t, ok := fieldType(ft, key); ok {
					return t, true
				}
			}
			continue
		}
		if name == "" && f.IsExported() {
			name = strings.ToLower(f.Name)
		}
		if name == key {
			return f.Type, true
		}
	}
	return nil, false
}
