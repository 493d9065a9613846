package tenants

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors shared by every layer; web maps them to status codes in one place.
var (
	// ErrNotFound: the object does not exist in this tenant (also for another
	// tenant's object, so that existence never leaks).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change contradicts existing state (duplicate name, in use).
	ErrConflict = errors.New("conflict")
	// ErrForbidden: the principal is a member but its role does not allow this.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated: no valid session or token.
	ErrUnauthenticated = errors.New("unauthenticated")
)

// ValidationError says which input field is wrong and why.
type ValidationError struct {
	Field   string
	Message string
}

// Error implements error.
func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Invalid returns a *ValidationError for field.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ValidationErrors collects several field errors, e.g. of one form.
type ValidationErrors []*ValidationError

// Error implements error.
func (es ValidationErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Add appends err when it is a validation error (or a ValidationErrors) and returns
// any other non-nil error unchanged so the caller can stop.
func (es *ValidationErrors) Add(err error) error {
	var ve *ValidationError
	var ves ValidationErrors
	switch {
	case err == nil:
	case errors.As(err, &ves):
		*es = append(*es, ves...)
	case errors.As(err, &ve):
		*es = append(*es, ve)
	default:
		return err
	}
	return nil
}

// Err returns nil when empty, else the collection as an error.
func (es ValidationErrors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// For returns the message for field, or "".
func (es ValidationErrors) For(field string) string {
	for _, e := range es {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// ForAll returns every message for field, in order.
func (es ValidationErrors) ForAll(field string) []string {
	var out []string
	for _, e := range es {
		if e.Field == field {
			out = append(out, e.Message)
		}
	}
	return out
}

// Conflict wraps ErrConflict with a message that names what conflicts.
func Conflict(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}

// NotFound wraps ErrNotFound with the kind and name that were not found.
func NotFound(kind, name string) error {
	if name == "" {
		return fmt.Errorf("%w: %s", ErrNotFound, kind)
	}
	return fmt.Errorf("%w: %s %q", ErrNotFound, kind, name)
}
