package i18n

import (
	"errors"
	"fmt"
	"strings"
)

// Error is an error whose words are a catalogue message: a fmt format (the catalogue's key)
// and its arguments. Its English text is exactly fmt.Errorf(format, args...)'s, and it wraps
// what %w names (errors.Is, errors.As); Text says it in another language, its error arguments
// too.
type Error struct {
	format string
	args   []any
	err    error
}

// Errorf is fmt.Errorf with words the catalogue translates: format is the catalogue's key, so
// it is a string literal (the catalogue's test finds the keys in the source).
func Errorf(format string, args ...any) error {
	return &Error{format: format, args: args, err: fmt.Errorf(format, args...)}
}

// New is errors.New with words the catalogue translates (a sentinel error: compare with
// errors.Is).
func New(text string) error { return &Error{format: text} }

func (e *Error) Error() string {
	if e.err == nil {
		return e.format
	}
	return e.err.Error()
}

// Unwrap is what the format's %w wrap (through fmt's own wrapper).
func (e *Error) Unwrap() error {
	if e.err == nil {
		return nil
	}
	if u := errors.Unwrap(e.err); u != nil {
		return e.err
	}
	if _, ok := e.err.(interface{ Unwrap() []error }); ok {
		return e.err
	}
	return nil
}

// Key is the error's catalogue key (its English format).
func (e *Error) Key() string { return e.format }

// Text is err in lang (en or ja): an *Error in its translation, an error argument of it in
// lang too; an error that wraps an *Error (fmt.Errorf("context: %w", err)) with its own
// English words before the translated part; any other error in English. English is always
// err.Error().
func Text(lang string, err error) string {
	if err == nil {
		return ""
	}
	if lang != Japanese {
		return err.Error()
	}
	var e *Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	s := err.Error()
	prefix, ok := strings.CutSuffix(s, e.Error())
	if !ok {
		return s
	}
	return prefix + e.text(lang)
}

func (e *Error) text(lang string) string {
	f, ok := Format(messages, lang, e.format)
	if !ok {
		return e.Error()
	}
	if len(e.args) == 0 {
		return f
	}
	args := make([]any, len(e.args))
	for i, a := range e.args {
		if err, ok := a.(error); ok {
			a = Text(lang, err)
		}
		args[i] = a
	}
	return fmt.Sprintf(strings.ReplaceAll(f, "%w", "%v"), args...)
}
