package stockkeeper

import (
	"errors"
	"fmt"
	"testing"
)

// Every status of the header has a sentinel carrying the library's name.
func TestSentinelsCarryTheLibraryNames(t *testing.T) {
	want := map[*Error]string{
		ErrNullArgument:      "null_argument",
		ErrBufferTooSmall:    "buffer_too_small",
		ErrOutOfRange:        "out_of_range",
		ErrInternal:          "internal",
		ErrEmptyID:           "empty_id",
		ErrIDTooLong:         "id_too_long",
		ErrIDContainsNUL:     "id_contains_nul",
		ErrInvalidUTF8:       "invalid_utf8",
		ErrInvalidName:       "invalid_name",
		ErrInvalidQuantity:   "invalid_quantity",
		ErrOverflow:          "overflow",
		ErrInvalidDuration:   "invalid_duration",
		ErrUnknownProduct:    "unknown_product",
		ErrUnknownOrder:      "unknown_order",
		ErrProductExists:     "product_exists",
		ErrDuplicateOrder:    "duplicate_order",
		ErrInsufficientStock: "insufficient_stock",
		ErrAlreadyConfirmed:  "already_confirmed",
		ErrAlreadyCancelled:  "already_cancelled",
		ErrExpired:           "expired",
		ErrClockNotManual:    "clock_not_manual",
		ErrClosed:            "closed",
	}
	if len(sentinels) != len(want) {
		t.Errorf("%d sentinels registered, want %d", len(sentinels), len(want))
	}
	for err, name := range want {
		if err.Name() != name {
			t.Errorf("sentinel %d is named %q, want %q", err.Code(), err.Name(), name)
		}
		if err.Message() == "" || err.Error() != "stockkeeper: "+err.Message() {
			t.Errorf("%s: message %q, Error() %q", name, err.Message(), err.Error())
		}
		if sentinels[err.Code()] != err {
			t.Errorf("%s: not the registered sentinel of code %d", name, err.Code())
		}
	}
}

func TestErrorsMatchOnlyTheirOwnSentinel(t *testing.T) {
	err := errorOf(303)
	if err != ErrInsufficientStock {
		t.Fatalf("status 303 gave %v, want the sentinel itself", err)
	}
	wrapped := fmt.Errorf("placing order: %w", err)
	if !errors.Is(wrapped, ErrInsufficientStock) {
		t.Error("a wrapped error does not match its sentinel")
	}
	if errors.Is(wrapped, ErrUnknownProduct) {
		t.Error("insufficient_stock matches unknown_product")
	}
	if errorOf(0) != nil || check(0) != nil {
		t.Error("status ok gave an error")
	}
}

// A code this version does not know still becomes an error, with the
// library's name for unknown codes and its number in the text.
func TestUnknownStatusStillFails(t *testing.T) {
	err := check(7777)
	var failure *Error
	if !errors.As(err, &failure) {
		t.Fatalf("got %T, want *Error", err)
	}
	if failure.Code() != 7777 || failure.Name() != "unknown_status" {
		t.Errorf("got code %d name %q", failure.Code(), failure.Name())
	}
	if got := err.Error(); got != "stockkeeper: "+failure.Message()+" 7777" {
		t.Errorf("Error() = %q", got)
	}
	for _, sentinel := range sentinels {
		if errors.Is(err, sentinel) {
			t.Errorf("unknown status matches %s", sentinel.Name())
		}
	}
	if !errors.Is(err, check(7777)) {
		t.Error("two errors of one unknown code do not match")
	}
}

func TestLineErrorUnwrapsToTheSentinel(t *testing.T) {
	var err error = &LineError{Line: 2, Err: ErrUnknownProduct}
	if !errors.Is(err, ErrUnknownProduct) {
		t.Error("a line error does not match its sentinel")
	}
	if got, want := err.Error(), "stockkeeper: line 2: "+ErrUnknownProduct.Message(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var failure *Error
	if !errors.As(err, &failure) || failure != ErrUnknownProduct {
		t.Errorf("errors.As gave %v", failure)
	}
}

// Nil errors of the package's types neither match nor panic.
func TestNilErrorsDoNotPanic(t *testing.T) {
	var none *Error
	if errors.Is(ErrClosed, none) || errors.Is(none, ErrClosed) {
		t.Error("a nil *Error matches a sentinel")
	}
	if none.Error() == "" {
		t.Error("a nil *Error has no text")
	}
	if none.Code() != 0 || none.Name() != "" || none.Message() != "" {
		t.Error("a nil *Error has a code, a name or a message")
	}
	empty := &LineError{Line: 1}
	if errors.Is(empty, ErrClosed) || empty.Error() == "" || empty.Unwrap() != nil {
		t.Errorf("a line error without its error: %q, unwraps to %v", empty.Error(), empty.Unwrap())
	}
	var noLine *LineError
	if noLine.Error() == "" || noLine.Unwrap() != nil {
		t.Error("a nil *LineError is not inert")
	}
}
