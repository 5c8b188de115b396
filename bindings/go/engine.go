package stockkeeper

// #include "stockkeeper.h"
import "C"

import (
	"log/slog"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Options sets up an engine. The zero value is what production wants: the
// library's defaults on the system clock, with a background thread that
// releases expired holds.
type Options struct {
	// HoldTime is how long a hold lasts when a block gives no time of its
	// own ([Engine.Block]). Zero means the library's default, five
	// minutes; a negative value is refused with ErrInvalidDuration.
	HoldTime time.Duration

	// Retention is how long an ended order is remembered, so that a late
	// confirm is told ErrExpired rather than ErrUnknownOrder and its id
	// cannot be reused. Zero means the library's default, one hour; a
	// negative value is refused with ErrInvalidDuration.
	Retention time.Duration

	// MaxRemembered bounds how many ended orders are remembered at once;
	// past it the oldest are forgotten early. Zero means the library's
	// default, one million; a negative value is refused with
	// ErrInvalidQuantity.
	MaxRemembered int

	// ManualClock runs the engine on a clock that stands still until
	// [Engine.Advance] moves it, for deterministic tests. No background
	// thread runs on the manual clock, whatever ManualRelease says.
	ManualClock bool

	// ManualRelease leaves the background releaser off: the stock of
	// expired holds then comes back when the caller runs
	// [Engine.ReleaseExpired] (or starts the thread later with
	// [Engine.StartReleaser]), or when a confirm, cancel, extend or status
	// touches the order. A hold past its deadline can never be confirmed
	// either way.
	ManualRelease bool

	// Logger receives what the package reports on its own, which is only
	// the exceptional: a subscriber's func that panicked ([Engine.Subscribe])
	// and the first event a full [Engine.Events] channel had to drop. Nil
	// means [slog.Default] at the time of the report.
	Logger *slog.Logger
}

// Engine is an inventory reservation engine: it keeps stock counts for
// products and lets orders hold stock until a deadline.
//
// Every method may be called from any number of goroutines at once. None
// blocks on I/O; each takes the locks of the products and orders it touches
// for a few instructions. [Engine.Close] releases the engine's resources; an
// engine that is dropped without Close is closed by the garbage collector.
type Engine struct {
	// calls counts the calls into the library in progress, plus closingBit
	// once Close has started. A call costs one atomic add on the way in and
	// one on the way out, and no lock: a read lock costs the same two adds
	// and more code around them, while the counter answers both questions a
	// call asks (may I start? am I the last one a shutdown waits for?) with
	// the add it does anyway.
	calls atomic.Int64
	// handle stays valid while calls counts a call in progress; shutdown
	// frees it and sets it to nil only once the count has drained to zero
	// with closingBit set, after which no call reads it again.
	handle   *C.sk_engine
	holdTime time.Duration

	// drained wakes the shutdown waiting for calls in progress: the call
	// that leaves the count at exactly closingBit sends to it. One slot, so
	// that a call never blocks on its way out; a token left over from an
	// earlier wake-up only makes the shutdown look at the count once more.
	drained chan struct{}
	// closeMu lets one Close at a time run the shutdown, so that a second
	// Close returns only once the first has freed the engine.
	closeMu sync.Mutex
	// freed is closed once the shutdown has freed the engine and released
	// every subscription.
	freed chan struct{}
	// hub is the Go side of the engine's notifications. It is a separate
	// allocation that points nowhere back here, so that live subscriptions
	// do not keep a forgotten engine from its finalizer.
	hub *hub
}

// closingBit is set in Engine.calls when Close starts. It sits far above
// any count of calls in progress, which the goroutines alive bound.
const closingBit = 1 << 62

// finalizedEngines counts engines closed by the garbage collector rather than
// by their owner, so that the tests can see the backstop at work.
var finalizedEngines atomic.Int64

// New starts an engine. With the zero [Options] it runs on the system clock
// with a background releaser thread, which [Engine.Close] stops.
//
// It fails with ErrInvalidDuration for a negative HoldTime or Retention and
// ErrInvalidQuantity for a negative MaxRemembered.
func New(options Options) (*Engine, error) {
	var settings C.sk_options
	if err := check(C.sk_options_default(&settings)); err != nil {
		return nil, err
	}
	if options.HoldTime < 0 || options.Retention < 0 {
		return nil, ErrInvalidDuration
	}
	if options.MaxRemembered < 0 {
		return nil, ErrInvalidQuantity
	}
	if options.HoldTime > 0 {
		settings.hold_time_ns = C.uint64_t(options.HoldTime)
	}
	if options.Retention > 0 {
		settings.retention_ns = C.uint64_t(options.Retention)
	}
	if options.MaxRemembered > 0 {
		settings.max_remembered = C.uint64_t(options.MaxRemembered)
	}
	settings.manual_clock = C.bool(options.ManualClock)
	settings.background_release = C.bool(!options.ManualRelease)

	var handle *C.sk_engine
	if err := check(C.sk_engine_new(&settings, &handle)); err != nil {
		return nil, err
	}
	engine := &Engine{
		handle:   handle,
		holdTime: duration(settings.hold_time_ns),
		drained:  make(chan struct{}, 1),
		freed:    make(chan struct{}),
		hub:      newHub(options.Logger),
	}
	runtime.SetFinalizer(engine, finalize)
	return engine, nil
}

func finalize(engine *Engine) {
	finalizedEngines.Add(1)
	_ = engine.Close()
}

// Close stops the engine. Calls that start after it fail with ErrClosed.
// It then stops and joins the background releaser, delivers the events
// already queued and those of every call that succeeded to their
// subscribers (whose funcs may still call the engine, and are told
// ErrClosed), waits for calls in progress on other goroutines to return,
// frees the library's memory and ends every subscription, closing the
// channels of [Engine.Events]. While a subscriber's func is running, Close
// waits for it to return.
//
// Close is safe to call again and from several goroutines at once: every
// call returns once the engine is freed. The one exception is a call from
// inside a subscriber's func, which cannot wait for its own return: there
// Close only starts the shutdown and returns at once, and the engine is
// freed after the func returns. Closing a nil *Engine does nothing.
//
// Close always returns nil; the error result lets an Engine be an io.Closer.
func (e *Engine) Close() error {
	if e == nil {
		return nil
	}
	e.markClosing()
	if e.hub.inCallback() {
		go e.shutdown()
		return nil
	}
	e.shutdown()
	return nil
}

// markClosing sets closingBit, after which every call fails with ErrClosed
// without reaching the library. The module's Go version predates
// atomic.Int64.Or, hence the loop.
func (e *Engine) markClosing() {
	for {
		calls := e.calls.Load()
		if calls&closingBit != 0 || e.calls.CompareAndSwap(calls, calls|closingBit) {
			return
		}
	}
}

// shutdown closes and frees the engine once. The library's close runs
// while calls may still be in progress: it waits for a subscriber's func to
// return, and that func may be in a call of its own.
func (e *Engine) shutdown() {
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	// Only shutdown writes handle, and closeMu keeps a second one out.
	handle := e.handle
	if handle == nil {
		return
	}

	C.sk_engine_close(handle)

	for e.calls.Load() != closingBit {
		<-e.drained
	}
	C.sk_engine_free(handle)
	e.handle = nil

	// The library joined its notifier thread in sk_engine_close, so no
	// subscriber can be called any more.
	e.hub.releaseAll()
	close(e.freed)
	runtime.SetFinalizer(e, nil)
}

// enter starts a call into the library: it returns the handle, counted as
// in use until the paired leave, or ErrClosed. Every successful enter is
// paired with a leave.
func (e *Engine) enter() (*C.sk_engine, error) {
	if e == nil {
		return nil, ErrNullArgument
	}
	// Refused before counting once closing: a stream of refused calls,
	// each counted for a moment, could otherwise keep the count from ever
	// reaching the value shutdown waits for.
	if e.calls.Load()&closingBit != 0 {
		return nil, ErrClosed
	}
	if e.calls.Add(1)&closingBit != 0 {
		e.leave()
		return nil, ErrClosed
	}
	// An Engine not made by New (its zero value) has no engine behind it.
	if e.handle == nil {
		e.leave()
		return nil, ErrNullArgument
	}
	beforeCall()
	return e.handle, nil
}

// leave ends a call begun by enter, and wakes the shutdown if this was the
// last call it waits for.
func (e *Engine) leave() {
	if e.calls.Add(-1) == closingBit {
		e.wakeShutdown()
	}
}

// wakeShutdown is kept out of leave so that leave stays small enough to be
// inlined into every call.
//
//go:noinline
func (e *Engine) wakeShutdown() {
	select {
	case e.drained <- struct{}{}:
	default:
	}
}

// HoldTime is how long a hold lasts when a block gives no time of its own:
// [Options.HoldTime], or the library's default when that was zero. It
// answers even after Close.
func (e *Engine) HoldTime() time.Duration {
	if e == nil {
		return 0
	}
	return e.holdTime
}

// StartReleaser starts the background releaser if it is not running, for an
// engine made with [Options.ManualRelease]. It does nothing on the manual
// clock. It fails with ErrClosed on a closed engine or when the operating
// system refuses a new thread.
func (e *Engine) StartReleaser() error {
	handle, err := e.enter()
	if err != nil {
		return err
	}
	defer e.leave()

	status := C.sk_engine_start_releaser(handle)
	runtime.KeepAlive(e)
	return check(status)
}

// ReleaseExpired releases every hold whose deadline has passed and forgets
// ended orders past their retention; it returns how many holds it released.
// The background releaser does this on its own; with [Options.ManualRelease]
// the caller does. It fails only with ErrClosed.
func (e *Engine) ReleaseExpired() (int, error) {
	handle, err := e.enter()
	if err != nil {
		return 0, err
	}
	defer e.leave()

	var released C.uint64_t
	status := C.sk_engine_release_expired(handle, &released)
	runtime.KeepAlive(e)
	if err := check(status); err != nil {
		return 0, err
	}
	return count(released), nil
}

// Advance moves the manual clock forward by d, then releases the holds that
// fell due and returns how many it released. Advancing by zero only
// releases. It fails with ErrClockNotManual on the system clock,
// ErrInvalidDuration for a negative d and ErrOverflow when the clock would
// pass 2^64-1 nanoseconds.
func (e *Engine) Advance(d time.Duration) (int, error) {
	if d < 0 {
		return 0, ErrInvalidDuration
	}
	handle, err := e.enter()
	if err != nil {
		return 0, err
	}
	defer e.leave()

	var released C.uint64_t
	status := C.sk_engine_advance(handle, C.uint64_t(d), &released)
	runtime.KeepAlive(e)
	if err := check(status); err != nil {
		return 0, err
	}
	return count(released), nil
}

// Now is the engine's time: how long it has run on its clock (on the manual
// clock, how far it was advanced). Deadlines are given on the same scale. It
// fails only with ErrClosed.
func (e *Engine) Now() (time.Duration, error) {
	handle, err := e.enter()
	if err != nil {
		return 0, err
	}
	defer e.leave()

	var now C.uint64_t
	status := C.sk_engine_now(handle, &now)
	runtime.KeepAlive(e)
	if err := check(status); err != nil {
		return 0, err
	}
	return duration(now), nil
}

// Version is the version of the linked library, such as "0.1.0".
func Version() string {
	return C.GoString(C.sk_version())
}

// duration converts the library's nanoseconds. A manual clock advanced past
// 292 years is beyond time.Duration; such a time reads as the largest
// Duration rather than wrapping to a negative one.
func duration(ns C.uint64_t) time.Duration {
	if ns > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}

// count converts a number of holds, which cannot pass the memory of the
// process and so fits an int.
func count(n C.uint64_t) int {
	if uint64(n) > math.MaxInt {
		return math.MaxInt
	}
	return int(n)
}
