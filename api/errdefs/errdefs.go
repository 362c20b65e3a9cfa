// Package errdefs classifies errors so that the daemon can send them over
// the API with a code and the CLI can pick exit codes and wording.
package errdefs

import (
	"context"
	"errors"
	"strings"

	"github.com/ctrd/ctrd/rpc"
)

// The codes errors travel with (rpc.Error's Code).
const (
	codeNotFound        = "not_found"
	codeInvalidArgument = "invalid_argument"
	codeConflict        = "conflict" // also "not running": a state conflict
	codeAlreadyExists   = "already_exists"
	codeUnavailable     = "unavailable"
)

// Sentinels to wrap with fmt.Errorf("...: %w", errdefs.ErrNotFound).
var (
	ErrNotFound        = errors.New("not found")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrConflict        = errors.New("conflict")
	ErrAlreadyExists   = errors.New("already exists")
	ErrNotRunning      = errors.New("not running")
	ErrUnavailable     = errors.New("unavailable")
)

// Typed wraps err so errors.Is(err, kind) holds while the message stays err's.
func Typed(kind error, err error) error {
	if err == nil {
		return nil
	}
	return &typed{kind: kind, err: err}
}

type typed struct {
	kind error
	err  error
}

func (t *typed) Error() string        { return t.err.Error() }
func (t *typed) Unwrap() []error      { return []error{t.kind, t.err} }
func NotFound(err error) error        { return Typed(ErrNotFound, err) }
func InvalidArgument(err error) error { return Typed(ErrInvalidArgument, err) }
func Conflict(err error) error        { return Typed(ErrConflict, err) }
func AlreadyExists(err error) error   { return Typed(ErrAlreadyExists, err) }
func IsNotFound(err error) bool       { return errors.Is(err, ErrNotFound) || code(err) == codeNotFound }
func IsInvalidArgument(err error) bool {
	return errors.Is(err, ErrInvalidArgument) || code(err) == codeInvalidArgument
}
func IsConflict(err error) bool {
	return errors.Is(err, ErrConflict) || code(err) == codeConflict
}
func IsAlreadyExists(err error) bool {
	return errors.Is(err, ErrAlreadyExists) || code(err) == codeAlreadyExists
}
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || code(err) == codeUnavailable
}

// code is the code an error came over the API with, or "".
func code(err error) string {
	var e *rpc.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ToWire converts a daemon error into the error its caller receives: its
// message, and the code of its kind.
func ToWire(err error) error {
	if err == nil {
		return nil
	}
	var e *rpc.Error
	if errors.As(err, &e) {
		return err
	}
	c := ""
	switch {
	case errors.Is(err, ErrNotFound):
		c = codeNotFound
	case errors.Is(err, ErrInvalidArgument):
		c = codeInvalidArgument
	case errors.Is(err, ErrConflict):
		c = codeConflict
	case errors.Is(err, ErrAlreadyExists):
		c = codeAlreadyExists
	case errors.Is(err, ErrUnavailable):
		c = codeUnavailable
	case errors.Is(err, context.Canceled):
		c = rpc.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		c = rpc.CodeDeadlineExceeded
	case errors.Is(err, ErrNotRunning):
		c = codeConflict
	}
	return &rpc.Error{Code: c, Message: err.Error()}
}

// Message returns the text of an error, trimmed.
func Message(err error) string {
	var e *rpc.Error
	if errors.As(err, &e) {
		return strings.TrimSpace(e.Message)
	}
	return strings.TrimSpace(err.Error())
}
