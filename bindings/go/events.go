package stockkeeper

// #include "stockkeeper.h"
//
// void skGoDeliverEvent(sk_event *event, uintptr_t handle);
//
// // The library hands the subscriber's user data back as a pointer; Go
// // wants the cgo.Handle it carries as the integer it is.
// static void sk_go_deliver(const sk_event *event, void *user_data) {
// 	skGoDeliverEvent((sk_event *)event, (uintptr_t)user_data);
// }
//
// static sk_status sk_go_subscribe(sk_engine *engine, uintptr_t handle, uint64_t *id) {
// 	return sk_engine_subscribe(engine, sk_go_deliver, (void *)handle, id);
// }
import "C"

import (
	"context"
	"log/slog"
	"runtime/cgo"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// EventKind says what an [Event] is about.
type EventKind uint32

// The kinds of event.
const (
	// HoldEnded: a hold ended, confirmed, cancelled or expired.
	HoldEnded EventKind = C.SK_EVENT_KIND_HOLD_ENDED
	// SoldOut: a product's available stock reached zero, through a hold or a
	// correction.
	SoldOut EventKind = C.SK_EVENT_KIND_SOLD_OUT
)

// String is the snake_case name of the kind: "hold_ended" or "sold_out".
func (k EventKind) String() string {
	switch k {
	case HoldEnded:
		return "hold_ended"
	case SoldOut:
		return "sold_out"
	}
	return "EventKind(" + strconv.FormatUint(uint64(k), 10) + ")"
}

// Event is something that happened in an engine. It is a copy: it stays
// valid and unchanged after the subscriber returns.
type Event struct {
	Kind EventKind
	// Order is the order whose hold ended, for HoldEnded; "" otherwise.
	Order string
	// State is how the hold ended, for HoldEnded: Confirmed, Cancelled or
	// Expired. It is zero otherwise.
	State OrderState
	// Lines are what the ended hold held, one line per product sorted by
	// product id, for HoldEnded; nil otherwise.
	Lines []Line
	// Product is the product that sold out, for SoldOut; "" otherwise.
	Product string
}

// eventOf copies an event out of the library's memory, which is valid only
// until the callback returns.
func eventOf(raw *C.sk_event) Event {
	event := Event{
		Kind:    EventKind(raw.kind),
		Order:   goString(raw.order, raw.order_len),
		State:   OrderState(raw.state),
		Product: goString(raw.product, raw.product_len),
	}
	if raw.line_count > 0 {
		lines := unsafe.Slice(raw.lines, raw.line_count)
		event.Lines = make([]Line, len(lines))
		for i, line := range lines {
			event.Lines[i] = Line{
				Product:  goString(line.product, line.product_len),
				Quantity: int64(line.quantity),
			}
		}
	}
	return event
}

// goString copies a borrowed pointer + length string.
func goString(data *C.uint8_t, length C.size_t) string {
	if length == 0 {
		return ""
	}
	return string(unsafe.Slice((*byte)(unsafe.Pointer(data)), length))
}

// Subscribe calls fn with every event of the engine from now on, one event
// at a time, in the order the engine published them.
//
// fn runs on the engine's notifier thread, after the engine released every
// lock, never on the goroutine whose call caused the event. A slow fn
// delays the events of every subscriber of this engine, never the engine's
// callers: blocks, confirms and the releaser go on, and events queue up in
// the library until fn returns. fn may call the engine, and may close its
// own subscription or the engine (neither waits there; see
// [Subscription.Close] and [Engine.Close]). Closing or flushing another
// engine from fn waits for that engine's notifier: if that engine's funcs
// may close or flush this one (a subscription's Close flushes too), the two
// wait for each other for ever. A panic in fn is recovered and
// reported to [Options.Logger]; fn misses that one event, keeps its
// subscription, and other subscribers miss nothing. fn must not call
// runtime.Goexit (which t.FailNow and t.Fatal do): the Go runtime ends the
// process when a goroutine exits on a thread it did not create.
//
// The subscription keeps fn reachable until it ends; if fn refers to the
// engine, or to the Subscription (which refers to the engine), the engine
// is not collected before the subscription or the engine is closed.
//
// It fails with ErrNullArgument for a nil fn and with ErrClosed: on a closed
// engine, and also when the operating system refuses the notifier thread that
// the first subscription starts, the engine staying open then.
func (e *Engine) Subscribe(fn func(Event)) (*Subscription, error) {
	if fn == nil {
		return nil, e.refusedUncounted(ErrNullArgument)
	}
	return e.subscribe(&subscriber{fn: fn})
}

// Events is a channel variant of [Engine.Subscribe]: it returns a channel
// that receives every event of the engine from now on, in order, with room
// for buffer events.
//
// Sends never wait: when the channel is full, the event is dropped for this
// subscription, counted in [Subscription.Dropped] (the first drop is also
// reported to [Options.Logger]), and the engine and other subscribers go on.
// Size the buffer for the bursts the reader must not miss.
//
// The channel is closed when the subscription ends: after
// [Subscription.Close], or after [Engine.Close] once the events queued
// before it were sent, so a range loop over it ends with the engine.
//
// It fails with ErrInvalidQuantity for a buffer below 1 or above
// MaxEventsBuffer, and with ErrClosed as [Engine.Subscribe] does.
func (e *Engine) Events(buffer int) (<-chan Event, *Subscription, error) {
	if buffer < 1 || buffer > MaxEventsBuffer {
		return nil, nil, e.refusedUncounted(ErrInvalidQuantity)
	}
	feed := make(chan Event, buffer)
	subscription, err := e.subscribe(&subscriber{feed: feed})
	if err != nil {
		return nil, nil, err
	}
	return feed, subscription, nil
}

// MaxEventsBuffer is the largest buffer [Engine.Events] takes: 16 Mi events,
// which already reserves gigabytes. A channel too large to make would
// otherwise end the program rather than fail the call.
const MaxEventsBuffer = 1 << 24

func (e *Engine) subscribe(s *subscriber) (*Subscription, error) {
	lib, err := e.enter()
	if err != nil {
		return nil, err
	}

	s.hub = e.hub
	s.handle = cgo.NewHandle(s)
	// Live in the hub before the library knows it: a shutdown that closes
	// the library after the subscription is made must find it to release
	// it, and one that released the hub before finds the library closed,
	// so that the subscription fails here and is released below.
	e.hub.add(s)
	var id C.uint64_t
	status := C.sk_go_subscribe(lib.engine, C.uintptr_t(s.handle), &id)
	e.leave(lib)
	if err := check(status); err != nil {
		e.hub.release(s)
		return nil, err
	}
	return &Subscription{engine: e, subscriber: s, id: id, done: make(chan struct{})}, nil
}

// FlushEvents waits until every event published before the call reached
// its subscribers: their funcs returned, or the event was sent to (or
// dropped by) their channels. Called from inside a subscriber's func it
// returns at once, since the events behind the running one cannot be
// delivered before that func returns. It fails only with ErrClosed.
func (e *Engine) FlushEvents() error {
	lib, err := e.enter()
	if err != nil {
		return err
	}

	status := C.sk_engine_flush_events(lib.engine)
	e.leave(lib)
	return check(status)
}

// Subscription is a live subscription from [Engine.Subscribe] or
// [Engine.Events]. Its methods may be called from any goroutine.
type Subscription struct {
	engine     *Engine
	subscriber *subscriber
	// id is the library's number for the subscription.
	id C.uint64_t
	// started is set by the first Close, which runs the release.
	started atomic.Bool
	// done is closed once the library can no longer call the subscriber.
	done chan struct{}
}

// Close ends the subscription. From the moment it is called no delivery to
// the subscriber begins (one already under way may still reach its func),
// and a channel from [Engine.Events] is closed. It returns once the
// subscriber's func is no longer running, so that nothing reaches it after
// Close returns.
//
// Called from inside a subscriber's func of the same engine, it cannot wait
// for that func: it returns at once, and the rest is done after the func
// returns. Closing again, or after the engine was closed, does nothing. It
// always returns nil; the error result lets a Subscription be an io.Closer.
func (s *Subscription) Close() error {
	if s == nil || s.subscriber == nil {
		return nil
	}
	s.subscriber.end()
	inCallback := s.engine.hub.inCallback()
	if s.started.CompareAndSwap(false, true) {
		if inCallback {
			go s.release()
		} else {
			s.release()
		}
	}
	if !inCallback {
		<-s.done
	}
	return nil
}

// release ends the subscription in the library and, once the library can
// no longer call it, deletes its handle. The flush is what makes that
// sure: the notifier thread has handled the unsubscription, and every call
// queued before it, when the flush returns.
func (s *Subscription) release() {
	defer close(s.done)
	e := s.engine
	lib, err := e.enter()
	if err != nil {
		// The engine is closing: its shutdown releases every subscription,
		// after the library stopped calling them.
		<-e.shutDown
		return
	}
	unsubscribed := C.sk_engine_unsubscribe(lib.engine, s.id)
	flushed := C.sk_engine_flush_events(lib.engine)
	e.leave(lib)
	if unsubscribed != C.SK_STATUS_OK || flushed != C.SK_STATUS_OK {
		// The library was closed in between, and may still be delivering
		// what was queued: only the shutdown knows when that is over.
		<-e.shutDown
		return
	}
	e.hub.release(s.subscriber)
}

// Dropped is how many events a channel from [Engine.Events] could not take
// because it was full. It is always zero for [Engine.Subscribe].
func (s *Subscription) Dropped() uint64 {
	if s == nil || s.subscriber == nil {
		return 0
	}
	return s.subscriber.dropped.Load()
}

// hub is the Go side of one engine's notifications.
type hub struct {
	logger *slog.Logger
	// deliveringOn is the id of the OS thread delivering an event to a
	// subscriber of this engine (running its func, or sending to its
	// channel and reporting a drop), or 0 while none is. cgo keeps a
	// callback on the thread that called it, so a call made from inside a
	// func, or from the Logger's handler then, finds its own thread here.
	deliveringOn atomic.Int64

	mu sync.Mutex
	// live holds every subscriber whose handle is not deleted yet; whoever
	// takes one out of it deletes the handle.
	live map[*subscriber]struct{}
}

func newHub(logger *slog.Logger) *hub {
	return &hub{logger: logger, live: map[*subscriber]struct{}{}}
}

// inCallback reports whether the caller runs inside a delivery of this
// engine (a subscriber's func, or the Logger's handler reporting on one),
// where waiting for the notifier thread would wait for itself.
func (h *hub) inCallback() bool {
	if h == nil {
		return false
	}
	thread := h.deliveringOn.Load()
	return thread != 0 && thread == int64(syscall.Gettid())
}

func (h *hub) add(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.live[s] = struct{}{}
}

// release ends a subscriber and deletes its handle, unless that was done
// already. The library must no longer be able to call it.
func (h *hub) release(s *subscriber) {
	h.mu.Lock()
	_, live := h.live[s]
	delete(h.live, s)
	h.mu.Unlock()
	if live {
		s.end()
		s.handle.Delete()
	}
}

// releaseAll releases every subscriber, once the library's close has
// returned: the library calls none of them any more.
func (h *hub) releaseAll() {
	if h == nil {
		return
	}
	h.mu.Lock()
	live := h.live
	h.live = map[*subscriber]struct{}{}
	h.mu.Unlock()
	for s := range live {
		s.end()
		s.handle.Delete()
	}
}

// logger is where exceptional events go: Options.Logger, or the default
// logger of the moment.
func (h *hub) log() *slog.Logger {
	if h.logger != nil {
		return h.logger
	}
	return slog.Default()
}

// report hands a record to the logger on the notifier thread. A handler
// that panics loses its record: the panic would otherwise cross into the
// library's thread and end the process.
func (h *hub) report(level slog.Level, message string, args ...any) {
	defer func() { _ = recover() }()
	h.log().Log(context.Background(), level, message, args...)
}

// subscriber is what a cgo.Handle handed to the library stands for. It
// holds the subscriber's func or channel, never the Engine.
type subscriber struct {
	hub    *hub
	handle cgo.Handle
	// fn is the func of Subscribe; nil for a channel.
	fn func(Event)
	// feed is the channel of Events; nil for a func.
	feed chan Event

	// ended is set when the subscription ends; no event is handed on after.
	ended atomic.Bool
	// mu orders sends on feed against closing it.
	mu      sync.Mutex
	dropped atomic.Uint64
}

// end stops handing events on, and closes the channel of a feed. It may be
// called any number of times.
func (s *subscriber) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended.Swap(true) && s.feed != nil {
		close(s.feed)
	}
}

// deliver hands one event to the subscriber, on the notifier thread. All
// of it counts as inside a callback, the report of a full channel
// included: the Logger's handler runs here too, and a Close from it cannot
// wait for the thread it runs on any more than one from a func can.
func (s *subscriber) deliver(raw *C.sk_event) {
	if s.ended.Load() {
		return
	}
	s.hub.deliveringOn.Store(int64(syscall.Gettid()))
	defer s.hub.deliveringOn.Store(0)
	event := eventOf(raw)
	if s.fn != nil {
		s.call(event)
		return
	}
	// Reported with the lock let go: the handler may end this subscription,
	// which takes it.
	if s.send(event) {
		s.hub.report(slog.LevelWarn, "stockkeeper: an event channel is full; its events are "+
			"dropped and counted until it has room", "capacity", cap(s.feed), "event", event.Kind)
	}
}

// send puts the event on the channel, or drops and counts it when the
// channel is full; it reports whether that was the first drop.
func (s *subscriber) send(event Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended.Load() {
		return false
	}
	select {
	case s.feed <- event:
		return false
	default:
		return s.dropped.Add(1) == 1
	}
}

// call runs the subscriber's func, recovering a panic so that it reaches
// neither the library's thread nor the other subscribers.
func (s *subscriber) call(event Event) {
	defer func() {
		if failure := recover(); failure != nil {
			s.hub.report(slog.LevelError, "stockkeeper: a subscriber's func panicked; it "+
				"missed this event and keeps its subscription",
				"panic", failure, "event", event.Kind, "order", event.Order,
				"product", event.Product, "stack", string(debug.Stack()))
		}
	}()
	s.fn(event)
}
