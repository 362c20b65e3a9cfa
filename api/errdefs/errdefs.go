// Package errdefs classifies errors so that the daemon can send them over
// ttrpc with a status code and the CLI can pick exit codes and wording.
package errdefs

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
func IsNotFound(err error) bool       { return errors.Is(err, ErrNotFound) || code(err) == codes.NotFound }
func IsInvalidArgument(err error) bool {
	return errors.Is(err, ErrInvalidArgument) || code(err) == codes.InvalidArgument
}
func IsConflict(err error) bool {
	return errors.Is(err, ErrConflict) || code(err) == codes.FailedPrecondition
}
func IsAlreadyExists(err error) bool {
	return errors.Is(err, ErrAlreadyExists) || code(err) == codes.AlreadyExists
}
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || code(err) == codes.Unavailable
}
func code(err error) codes.Code {
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return codes.Unknown
}

// ToStatus converts a daemon error into a ttrpc/grpc status error.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	c := codes.Unknown
	switch {
	case errors.Is(err, ErrNotFound):
		c = codes.NotFound
	case errors.Is(err, ErrInvalidArgument):
		c = codes.InvalidArgument
	case errors.Is(err, ErrConflict):
		c = codes.FailedPrecondition
	case errors.Is(err, ErrAlreadyExists):
		c = codes.AlreadyExists
	case errors.Is(err, ErrUnavailable):
		c = codes.Unavailable
	case errors.Is(err, context.Canceled):
		c = codes.Canceled
	case errors.Is(err, ErrNotRunning):
		c = codes.FailedPrecondition
	}
	return status.Error(c, err.Error())
}

// Message returns the text of a status error without gRPC's decoration.
func Message(err error) string {
	if s, ok := status.FromError(err); ok {
		return s.Message()
	}
	return strings.TrimSpace(err.Error())
}
