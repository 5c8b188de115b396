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
// The package builds on Linux, against the static library built by
// `cargo build --release --lib` (see cgo.go).
//
// # Engines and their lifetime
//
// [New] starts an engine. With the zero [Options] it runs on the system
// clock and a background thread releases expired holds as their deadline
// passes, within moments of it. [Options.ManualClock] gives a clock that only
// [Engine.Advance] moves, for tests that must not sleep.
//
// An engine may be used from any number of goroutines at once. [Engine.Close]
// stops the background thread, waits for calls in progress, delivers their
// events and the others already queued, and gives back the engine's
// products and orders; calls after it fail with [ErrClosed], and closing
// twice, or from two goroutines at once, is harmless. An engine dropped
// without Close is closed when the garbage collector finds it unreachable,
// so it never leaks, but only Close says when the thread stops.
//
// # Notifications
//
// A host learns when holds end and products sell out without polling.
// [Engine.Subscribe] calls a func with every [Event]; [Engine.Events] sends
// them on a channel. Either way events come from the engine's notifier
// thread, one at a time and in order, after the engine released its locks,
// and every event is a copy the subscriber may keep.
//
// The engine's callers never wait for a subscriber. A slow func delays only
// the events behind it, which queue up in the library; a channel is never
// waited for: when it is full the event is dropped for it and counted
// ([Subscription.Dropped]). A func may call the engine, and a panic in it is
// recovered and reported to [Options.Logger] without harming other
// subscribers. [Engine.FlushEvents] waits until the events published so far
// were delivered, which makes tests deterministic; [Subscription.Close]
// ends a subscription.
//
// The library never holds a Go pointer: it calls back with a
// runtime/cgo.Handle, deleted only once the library can no longer call with
// it.
//
// # Batches
//
// Every call crosses from Go into C, and a crossing costs more than a C
// function call, most of all around work that misses the caches.
// [Engine.BlockMany] and [Engine.ConfirmMany] run a batch of orders in one
// crossing, each order answered as [Engine.Block] and [Engine.Confirm]
// would answer it alone.
//
// # Metrics
//
// [Engine.Metrics] is a snapshot of the counters: holds by outcome, calls
// refused by reason, live holds and held units. [Engine.ProductOutcomes]
// tells how the holds on one product ended, with the share confirmed and
// the share expired. [Engine.MetricsText] renders the same in the
// Prometheus text format for a scrape handler.
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
