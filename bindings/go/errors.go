package stockkeeper

// #include "stockkeeper.h"
import "C"

import (
	"fmt"
	"strconv"
)

// Error is the error every operation of the package returns, alone or
// wrapped in a [LineError]. It carries the library's status code, the code's
// stable name (the same in every language stockkeeper speaks) and a short
// English message. A refused operation changed nothing.
//
// Compare errors with [errors.Is] against the sentinels below
// (errors.Is(err, stockkeeper.ErrInsufficientStock)); an Error matches the
// sentinel with the same code.
type Error struct {
	code    uint32
	name    string
	message string
}

// Code is the status number of the C ABI (303 for insufficient_stock).
// Numbers are fixed and never reused for another meaning. A nil *Error
// answers 0, and empty strings for Name and Message.
func (e *Error) Code() uint32 {
	if e == nil {
		return 0
	}
	return e.code
}

// Name is the stable snake_case name of the code ("insufficient_stock"),
// the name the behaviour cases and every other front door use.
func (e *Error) Name() string {
	if e == nil {
		return ""
	}
	return e.name
}

// Message is the library's one-line English description of the code.
func (e *Error) Message() string {
	if e == nil {
		return ""
	}
	return e.message
}

// Error returns the message, prefixed with the package name.
func (e *Error) Error() string {
	if e == nil {
		return "stockkeeper: <nil>"
	}
	if _, known := sentinels[e.code]; !known {
		return "stockkeeper: " + e.message + " " + strconv.FormatUint(uint64(e.code), 10)
	}
	return "stockkeeper: " + e.message
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is matches an error to its sentinel.
func (e *Error) Is(target error) bool {
	other, ok := target.(*Error)
	return ok && e != nil && other != nil && other.code == e.code
}

// LineError is the error of [Engine.BlockOrder] when one line of the order
// is at fault: a bad product id or quantity, a product whose lines sum past
// [MaxCount], an unknown product, or not enough stock. It unwraps to the
// [*Error], so errors.Is matches it to the sentinel; use errors.As to learn
// the line.
type LineError struct {
	// Line is the index, in the lines given, of the line at fault. The
	// order is checked in steps, and the first step that fails gives the
	// error, a LineError when it is a line's fault: the order id (not a
	// line's); no lines at all (ErrInvalidQuantity, not a line's); a bad
	// product id or quantity (the first such line); a product whose lines
	// sum past [MaxCount] (ErrOverflow); a deadline past the clock's range
	// (ErrOverflow, not a line's); an unknown product; a duplicate order id
	// (not a line's); too little stock. In the three steps about a product,
	// Line is the first line naming the lowest id at fault in that step. A
	// zero or negative hold time is refused before any of them.
	Line int
	// Err says what is wrong with it.
	Err *Error
}

// Error names the line and what is wrong with it.
func (e *LineError) Error() string {
	if e == nil || e.Err == nil {
		return "stockkeeper: line error without an error"
	}
	return fmt.Sprintf("stockkeeper: line %d: %s", e.Line, e.Err.message)
}

// Unwrap returns the [*Error] of the line.
func (e *LineError) Unwrap() error {
	if e == nil || e.Err == nil {
		return nil
	}
	return e.Err
}

// The sentinels, one per status code of the library. Every error the package
// returns matches exactly one of them through errors.Is, except for a code
// this version of the package does not know.
var (
	// ErrNullArgument (null_argument): a required pointer was NULL at the C
	// boundary, or a method was called on a nil *Engine.
	ErrNullArgument = sentinel(C.SK_STATUS_NULL_ARGUMENT)
	// ErrBufferTooSmall (buffer_too_small): an answer did not fit the buffer
	// given for it.
	ErrBufferTooSmall = sentinel(C.SK_STATUS_BUFFER_TOO_SMALL)
	// ErrOutOfRange (out_of_range): an index was past the end.
	ErrOutOfRange = sentinel(C.SK_STATUS_OUT_OF_RANGE)
	// ErrInternal (internal): a bug in the library was caught at the boundary;
	// the call had no effect or its full effect, never half of one.
	ErrInternal = sentinel(C.SK_STATUS_INTERNAL)

	// ErrEmptyID (empty_id): an id was the empty string.
	ErrEmptyID = sentinel(C.SK_STATUS_EMPTY_ID)
	// ErrIDTooLong (id_too_long): an id was longer than [MaxIDBytes] bytes.
	ErrIDTooLong = sentinel(C.SK_STATUS_ID_TOO_LONG)
	// ErrIDContainsNUL (id_contains_nul): an id contained a NUL byte.
	ErrIDContainsNUL = sentinel(C.SK_STATUS_ID_CONTAINS_NUL)
	// ErrInvalidUTF8 (invalid_utf8): an id or name was not valid UTF-8.
	ErrInvalidUTF8 = sentinel(C.SK_STATUS_INVALID_UTF8)
	// ErrInvalidName (invalid_name): a product name was longer than
	// [MaxNameBytes] bytes or contained a NUL byte.
	ErrInvalidName = sentinel(C.SK_STATUS_INVALID_NAME)
	// ErrInvalidQuantity (invalid_quantity): a quantity to hold was below 1,
	// an update's delta zero, a starting count negative, an order had no
	// lines, or an event channel's buffer was below 1.
	ErrInvalidQuantity = sentinel(C.SK_STATUS_INVALID_QUANTITY)
	// ErrOverflow (overflow): a count would pass [MaxCount], or a time its
	// bound.
	ErrOverflow = sentinel(C.SK_STATUS_OVERFLOW)
	// ErrInvalidDuration (invalid_duration): a hold time or extension was zero
	// or negative.
	ErrInvalidDuration = sentinel(C.SK_STATUS_INVALID_DURATION)

	// ErrUnknownProduct (unknown_product): no product has the id.
	ErrUnknownProduct = sentinel(C.SK_STATUS_UNKNOWN_PRODUCT)
	// ErrUnknownOrder (unknown_order): no live or remembered order has the id.
	ErrUnknownOrder = sentinel(C.SK_STATUS_UNKNOWN_ORDER)

	// ErrProductExists (product_exists): a product with the id exists already.
	ErrProductExists = sentinel(C.SK_STATUS_PRODUCT_EXISTS)
	// ErrDuplicateOrder (duplicate_order): the order id is held, or ended within
	// the retention period.
	ErrDuplicateOrder = sentinel(C.SK_STATUS_DUPLICATE_ORDER)
	// ErrInsufficientStock (insufficient_stock): a product cannot cover the
	// quantity asked for, or a correction would take its available stock below
	// zero.
	ErrInsufficientStock = sentinel(C.SK_STATUS_INSUFFICIENT_STOCK)
	// ErrAlreadyConfirmed (already_confirmed): the order was confirmed already.
	ErrAlreadyConfirmed = sentinel(C.SK_STATUS_ALREADY_CONFIRMED)
	// ErrAlreadyCancelled (already_cancelled): the order was cancelled already.
	ErrAlreadyCancelled = sentinel(C.SK_STATUS_ALREADY_CANCELLED)
	// ErrExpired (expired): the order's deadline passed and its stock went back
	// to the shelf.
	ErrExpired = sentinel(C.SK_STATUS_EXPIRED)

	// ErrClockNotManual (clock_not_manual): the operation needs the manual clock
	// ([Options.ManualClock]) and the engine runs on the system clock.
	ErrClockNotManual = sentinel(C.SK_STATUS_CLOCK_NOT_MANUAL)
	// ErrClosed (closed): the engine was closed.
	ErrClosed = sentinel(C.SK_STATUS_CLOSED)
)

// sentinels finds the sentinel of a code, so that a failing call allocates
// nothing and returns the very value callers compare with.
var sentinels = map[uint32]*Error{}

// sentinel makes the error of a code from the library's own name and
// message, so that the texts cannot drift from the other front doors.
func sentinel(code uint32) *Error {
	err := describe(code)
	sentinels[code] = err
	return err
}

func describe(code uint32) *Error {
	return &Error{
		code:    code,
		name:    C.GoString(C.sk_status_name(C.uint32_t(code))),
		message: C.GoString(C.sk_status_message(C.uint32_t(code))),
	}
}

// errorOf turns a status of the C ABI into nil or an *Error. It is the one
// place where statuses become Go errors.
func errorOf(status C.sk_status) *Error {
	if status == C.SK_STATUS_OK {
		return nil
	}
	if err, ok := sentinels[uint32(status)]; ok {
		return err
	}
	return describe(uint32(status))
}

// check is errorOf for callers that return a plain error: it keeps a nil
// *Error from becoming a non-nil error interface.
func check(status C.sk_status) error {
	if err := errorOf(status); err != nil {
		return err
	}
	return nil
}
