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
	// past it the oldest are forgotten early (of orders that one release
	// pass ended, in no set order). Zero means the library's
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
	// means [slog.Default] at the time of the report. Its handler runs on
	// the engine's notifier thread, and a call from it into the engine acts
	// as one from inside a subscriber's func. A handler that panics loses
	// that record, and the panic goes no further. A handler must not call
	// runtime.Goexit, for the reason a subscriber's func must not.
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
	// open is the library's engine while the Engine is open, nil from the
	// moment Close starts. A call loads it once, with no atomic write, and
	// keeps what it loaded reachable until the library returns. The
	// library counts the call itself, so that its close waits for it.
	open atomic.Pointer[library]
	// closing is set when Close starts, before open is cleared: it tells a
	// closed Engine from one not made by New.
	closing atomic.Bool
	// handle is the same library engine, for the shutdown to close, and
	// nil once it has. Only New and the shutdown write it.
	handle   *library
	holdTime time.Duration

	// closeMu lets one Close at a time run the shutdown, so that a second
	// Close returns only once the first is done.
	closeMu sync.Mutex
	// shutDown is closed once the shutdown has closed the engine, given back
	// its products and orders, and released every subscription.
	shutDown chan struct{}
	// hub is the Go side of the engine's notifications. It is a separate
	// allocation that points nowhere back here, so that live subscriptions
	// do not keep a forgotten engine from its finalizer.
	hub *hub
}

// library owns an engine of the library, and frees it when the garbage
// collector finds it unreachable. Close cannot free it: a goroutine may
// have loaded it from Engine.open a moment before Close cleared it, and
// be about to call in. Every call keeps it reachable until the library
// returns, so its finalizer runs only once no goroutine can be calling
// with it. By then Close has already given back the engine's products and
// orders, and what is left takes a few kilobytes.
type library struct {
	engine *C.sk_engine
}

func newLibrary(engine *C.sk_engine) *library {
	lib := &library{engine: engine}
	runtime.SetFinalizer(lib, freeLibrary)
	return lib
}

func freeLibrary(lib *library) {
	freedLibraries.Add(1)
	C.sk_engine_free(lib.engine)
}

// freedLibraries counts the library engines freed, so that the tests can
// see the finalizer at work.
var freedLibraries atomic.Int64

// finalizedEngines counts engines closed by the garbage collector rather than
// by their owner, so that the tests can see the backstop at work.
var finalizedEngines atomic.Int64

// New starts an engine. With the zero [Options] it runs on the system clock
// with a background releaser thread, which [Engine.Close] stops.
//
// It fails with ErrInvalidDuration for a negative HoldTime or Retention,
// ErrInvalidQuantity for a negative MaxRemembered, and ErrClosed when the
// operating system refuses the releaser's thread.
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
	lib := newLibrary(handle)
	engine := &Engine{
		handle:   lib,
		holdTime: duration(settings.hold_time_ns),
		shutDown: make(chan struct{}),
		hub:      newHub(options.Logger),
	}
	engine.open.Store(lib)
	runtime.SetFinalizer(engine, finalize)
	return engine, nil
}

// finalize closes a dropped engine on a goroutine of its own: Close waits
// for the subscribers' funcs, and one that never returns must not hold up
// the one goroutine that runs every finalizer of the process.
func finalize(engine *Engine) {
	finalizedEngines.Add(1)
	go engine.Close()
}

// Close stops the engine. Calls that start after it fail with ErrClosed.
// It then stops and joins the background releaser, delivers the events
// already queued and those of every call that succeeded to their
// subscribers (whose funcs may still call the engine, and are told
// ErrClosed), waits for the calls in progress in the library on other
// goroutines to return, gives back the engine's products and orders, and
// ends every subscription, closing the channels of [Engine.Events]. While a
// subscriber's func is running, Close waits for it to return. Once Close
// returns no call changes the engine; a call that began as Close did may
// still return after it, with ErrClosed. The few kilobytes the library
// keeps for a closed engine are freed by the garbage collector, once no
// goroutine can be in a call on it.
//
// Close is safe to call again and from several goroutines at once: every
// call returns once the engine is closed. The one exception is a call from
// inside a subscriber's func, which cannot wait for its own return: there
// Close only starts the shutdown and returns at once, and the rest is done
// after the func returns. Closing a nil *Engine does nothing.
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

// markClosing makes every call from now on fail with ErrClosed without
// reaching the library. A call that loaded the library engine a moment
// before reaches it still, and the library refuses it or, if it came
// first, the library's close waits for it.
func (e *Engine) markClosing() {
	e.closing.Store(true)
	e.open.Store(nil)
}

// shutdown closes the engine once. The library's close waits for every call
// in progress in the library, a subscriber's func included (which may be in
// a call of its own), and gives back the products and orders; the library
// engine's last bytes are freed by its finalizer (see library).
func (e *Engine) shutdown() {
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	// Only shutdown writes handle after New, and closeMu keeps a second one
	// out.
	lib := e.handle
	if lib == nil {
		return
	}
	C.sk_engine_close(lib.engine)
	runtime.KeepAlive(lib)
	e.handle = nil

	// The library joined its notifier thread in sk_engine_close, so no
	// subscriber can be called any more.
	e.hub.releaseAll()
	close(e.shutDown)
	runtime.SetFinalizer(e, nil)
}

// enter starts a call into the library: it returns the library engine to
// call, or ErrClosed. Every successful enter is paired with a leave once the
// library has returned.
func (e *Engine) enter() (*library, error) {
	if e == nil {
		return nil, ErrNullArgument
	}
	lib := e.open.Load()
	if lib == nil {
		// An Engine not made by New (its zero value) has no engine behind it.
		if !e.closing.Load() {
			return nil, ErrNullArgument
		}
		return nil, ErrClosed
	}
	beforeCall()
	return lib, nil
}

// refusedUncounted answers input that this package refuses itself, because
// the C ABI cannot carry it (a negative duration; a zero hold time, which C
// reads as the default): with err, unless the engine is nil or closed,
// which every call answers first. The library never sees the input, so the
// metrics do not count it.
func (e *Engine) refusedUncounted(err error) error {
	lib, closed := e.enter()
	if closed != nil {
		return closed
	}
	e.leave(lib)
	return err
}

// leave ends a call begun by enter, once the library has returned. Both
// stay reachable until here: the Engine, so that its finalizer cannot close
// it under the call, and the library engine, which a Close meanwhile may
// have let go of.
func (e *Engine) leave(lib *library) {
	runtime.KeepAlive(e)
	runtime.KeepAlive(lib)
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
	lib, err := e.enter()
	if err != nil {
		return err
	}

	status := C.sk_engine_start_releaser(lib.engine)
	e.leave(lib)
	return check(status)
}

// ReleaseExpired releases every hold whose deadline has passed and forgets
// ended orders past their retention; it returns how many holds it released.
// The background releaser does this on its own; with [Options.ManualRelease]
// the caller does. It fails only with ErrClosed.
func (e *Engine) ReleaseExpired() (int, error) {
	lib, err := e.enter()
	if err != nil {
		return 0, err
	}

	var released C.uint64_t
	status := C.sk_engine_release_expired(lib.engine, &released)
	e.leave(lib)
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
		return 0, e.refusedUncounted(ErrInvalidDuration)
	}
	lib, err := e.enter()
	if err != nil {
		return 0, err
	}

	var released C.uint64_t
	status := C.sk_engine_advance(lib.engine, C.uint64_t(d), &released)
	e.leave(lib)
	if err := check(status); err != nil {
		return 0, err
	}
	return count(released), nil
}

// Now is the engine's time: how long it has run on its clock (on the manual
// clock, how far it was advanced). Deadlines are given on the same scale. It
// fails only with ErrClosed.
func (e *Engine) Now() (time.Duration, error) {
	lib, err := e.enter()
	if err != nil {
		return 0, err
	}

	var now C.uint64_t
	status := C.sk_engine_now(lib.engine, &now)
	e.leave(lib)
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
