// Package stockkeeper is the Go front door of stockkeeper, an in-process,
// thread-safe inventory reservation engine.
//
// An [Engine] keeps stock counts for products and lets an order hold stock
// while the customer pays. Every product has three numbers ([Stock]):
// on_hand (units in stock, held ones included), reserved (units held by live
// orders) and available (on_hand - reserved, what a new order can still
// hold). A hold ends exactly once: confirmed (its units leave on_hand),
// cancelled, or expired when its deadline passes unconfirmed (its units go
// back to available). Deadlines are absolute: a hold past its deadline
// cannot be confirmed, whether or not a release has run.
//
// # Engines and their lifetime
//
// [New] starts an engine. With the zero [Options] it runs on the system
// clock and a background thread releases expired holds within 100 ms of
// their deadline. [Options.ManualClock] gives a clock that only
// [Engine.Advance] moves, for tests that must not sleep.
//
// An engine may be used from any number of goroutines at once. [Engine.Close]
// waits for calls in progress, stops the background thread and frees the
// engine; calls after it fail with [ErrClosed], and closing twice is
// harmless. An engine dropped without Close is closed when the garbage
// collector finds it unreachable, so it never leaks, but only Close says
// when the thread stops.
//
// # Errors
//
// A refused operation changes nothing and returns an error that matches one
// sentinel through [errors.Is]:
//
//	if errors.Is(err, stockkeeper.ErrInsufficientStock) { ... }
//
// Every error is an [*Error] carrying the library's stable code name (the
// one the other front doors and the behaviour cases use) and message. A
// multi-line [Engine.BlockOrder] that fails because of one line returns a
// [*LineError] naming the line.
//
// Ids and names are checked by the library, not by this package: a Go
// string that is not valid UTF-8, is empty, is longer than [MaxIDBytes] or
// holds a NUL byte is passed through as it is and refused with the
// contract's error.
//
// # Building
//
// The package links the Rust library statically from target/release of the
// repository; build it first with `cargo build --release --lib` (or
// `make lib`) at the repository root, and build Go with cgo enabled. The
// debug build tag (go test -tags debug) collects garbage before every call
// into the library, to catch an engine freed while a call still uses it.
package stockkeeper
