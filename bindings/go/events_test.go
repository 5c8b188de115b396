package stockkeeper

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hangGuard bounds every wait of these tests. No test expects to wait for
// it: reaching it means a deadlock, and the test fails instead of hanging.
const hangGuard = 30 * time.Second

// waitFor fails the test unless done is closed within the hang guard.
func waitFor(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatalf("%s did not finish: deadlock", what)
	}
}

// eventually fails the test unless cond becomes true within the hang guard.
// It yields between tries and never sleeps.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	give := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(give) {
			t.Fatalf("%s never happened", what)
		}
		runtime.Gosched()
	}
}

// collector gathers the events a subscriber receives.
type collector struct {
	mu     sync.Mutex
	events []Event
}

func (c *collector) add(event Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, event)
}

func (c *collector) got() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// recorder is a slog.Handler that keeps every record.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, record slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, record.Clone())
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) got() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slog.Record(nil), r.records...)
}

// attr is the value of a record's attribute, as a string.
func attr(record slog.Record, key string) string {
	value := ""
	record.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			value = a.Value.String()
			return false
		}
		return true
	})
	return value
}

func mustFlush(t *testing.T, engine *Engine) {
	t.Helper()
	if err := engine.FlushEvents(); err != nil {
		t.Fatalf("FlushEvents: %v", err)
	}
}

func mustSubscribe(t *testing.T, engine *Engine, fn func(Event)) *Subscription {
	t.Helper()
	subscription, err := engine.Subscribe(fn)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return subscription
}

// holdAndCancel holds one unit of product for order and cancels it: one
// HoldEnded event.
func holdAndCancel(t *testing.T, engine *Engine, product, order string) {
	t.Helper()
	mustBlock(t, engine, product, 1, order)
	if err := engine.Cancel(order); err != nil {
		t.Fatalf("Cancel(%q): %v", order, err)
	}
}

// liveSubscriptions is how many subscriptions still have a handle.
func liveSubscriptions(engine *Engine) int {
	engine.hub.mu.Lock()
	defer engine.hub.mu.Unlock()
	return len(engine.hub.live)
}

// drain takes what a channel holds now, without waiting.
func drain(feed <-chan Event) []Event {
	var events []Event
	for {
		select {
		case event, open := <-feed:
			if !open {
				return events
			}
			events = append(events, event)
		default:
			return events
		}
	}
}

// Each way a hold ends, and each way a product sells out, reaches a func
// and a channel alike, in the order the engine published them.
func TestEventsReportEveryEndAndSellOut(t *testing.T) {
	engine := newTestEngine(t, Options{HoldTime: time.Minute})
	var got collector
	mustSubscribe(t, engine, got.add)
	feed, _, err := engine.Events(16)
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, engine, "kettle", 3)
	mustAdd(t, engine, "mug", 2)

	mustBlock(t, engine, "kettle", 1, "o1")
	mustBlock(t, engine, "kettle", 1, "o2")
	lines := []Line{{"mug", 2}, {"kettle", 1}}
	if _, err := engine.BlockOrder("o3", lines, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := engine.Confirm("o1"); err != nil {
		t.Fatal(err)
	}
	if err := engine.Cancel("o2"); err != nil {
		t.Fatal(err)
	}
	if released := mustAdvance(t, engine, time.Minute+time.Nanosecond); released != 1 {
		t.Fatalf("released %d holds, want 1", released)
	}
	// A correction that takes available to zero sells out too.
	if _, err := engine.UpdateInventory("kettle", -2); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, engine)

	want := []Event{
		{Kind: SoldOut, Product: "kettle"},
		{Kind: SoldOut, Product: "mug"},
		{Kind: HoldEnded, Order: "o1", State: Confirmed, Lines: []Line{{"kettle", 1}}},
		{Kind: HoldEnded, Order: "o2", State: Cancelled, Lines: []Line{{"kettle", 1}}},
		{Kind: HoldEnded, Order: "o3", State: Expired, Lines: []Line{{"kettle", 1}, {"mug", 2}}},
		{Kind: SoldOut, Product: "kettle"},
	}
	if events := got.got(); !reflect.DeepEqual(events, want) {
		t.Errorf("func got\n%+v\nwant\n%+v", events, want)
	}
	if events := drain(feed); !reflect.DeepEqual(events, want) {
		t.Errorf("channel got\n%+v\nwant\n%+v", events, want)
	}
}

func TestEventKindNames(t *testing.T) {
	for kind, name := range map[EventKind]string{
		HoldEnded: "hold_ended", SoldOut: "sold_out", EventKind(0): "EventKind(0)",
	} {
		if kind.String() != name {
			t.Errorf("%d is %q, want %q", uint32(kind), kind.String(), name)
		}
	}
}

// A panicking func is reported and keeps its subscription; the other
// subscribers get every event.
func TestPanickingSubscriberDoesNotStopOthers(t *testing.T) {
	var log recorder
	engine := newTestEngine(t, Options{Logger: slog.New(&log)})
	var panics atomic.Int32
	mustSubscribe(t, engine, func(Event) {
		panics.Add(1)
		panic("subscriber bug")
	})
	var got collector
	mustSubscribe(t, engine, got.add)
	mustAdd(t, engine, "kettle", 5)

	holdAndCancel(t, engine, "kettle", "o1")
	holdAndCancel(t, engine, "kettle", "o2")
	mustFlush(t, engine)

	if n := panics.Load(); n != 2 {
		t.Errorf("the panicking func ran %d times, want 2", n)
	}
	if events := got.got(); len(events) != 2 {
		t.Errorf("the other subscriber got %d events, want 2: %+v", len(events), events)
	}
	records := log.got()
	if len(records) != 2 {
		t.Fatalf("logged %d records, want 2", len(records))
	}
	for _, record := range records {
		if record.Level != slog.LevelError || !strings.Contains(record.Message, "panicked") ||
			attr(record, "panic") != "subscriber bug" || attr(record, "order") == "" ||
			!strings.Contains(attr(record, "stack"), "events_test.go") {
			t.Errorf("record %q %v does not report the panic", record.Message, record.Level)
		}
	}
	// The engine is unharmed.
	wantStock(t, engine, "kettle", Stock{OnHand: 5, Available: 5})
}

// A closed subscription gets nothing more; the others go on. Closing again,
// or after the engine, does nothing.
func TestSubscriptionCloseStopsItsEvents(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)
	var first, second collector
	one := mustSubscribe(t, engine, first.add)
	two := mustSubscribe(t, engine, second.add)
	feed, three, err := engine.Events(4)
	if err != nil {
		t.Fatal(err)
	}
	if n := liveSubscriptions(engine); n != 3 {
		t.Fatalf("%d live subscriptions, want 3", n)
	}

	holdAndCancel(t, engine, "kettle", "o1")
	mustFlush(t, engine)
	for _, subscription := range []*Subscription{one, one, three} {
		if err := subscription.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	if n := liveSubscriptions(engine); n != 1 {
		t.Errorf("%d live subscriptions after two closed, want 1", n)
	}
	var fed []Event
	for event := range feed { // the channel is closed: the loop ends
		fed = append(fed, event)
	}
	if len(fed) != 1 || fed[0].Order != "o1" {
		t.Errorf("the channel held %+v, want the one event before Close", fed)
	}

	holdAndCancel(t, engine, "kettle", "o2")
	mustFlush(t, engine)
	if n := len(first.got()); n != 1 {
		t.Errorf("a closed subscription got %d events, want 1", n)
	}
	if n := len(second.got()); n != 2 {
		t.Errorf("the open subscription got %d events, want 2", n)
	}

	if err := engine.Close(); err != nil {
		t.Fatal(err)
	}
	if err := two.Close(); err != nil {
		t.Errorf("Close after the engine: %v", err)
	}
	if n := liveSubscriptions(engine); n != 0 {
		t.Errorf("%d subscriptions still hold a handle after Close", n)
	}
	var none *Subscription
	if none.Close() != nil || none.Dropped() != 0 {
		t.Error("a nil subscription is not inert")
	}
}

func TestSubscribeRefusesBadArguments(t *testing.T) {
	engine := newTestEngine(t, Options{})
	_, err := engine.Subscribe(nil)
	wantErr(t, "nil func", err, ErrNullArgument)
	for _, buffer := range []int{0, -1} {
		_, _, err := engine.Events(buffer)
		wantErr(t, "buffer "+strconv.Itoa(buffer), err, ErrInvalidQuantity)
	}
	if n := liveSubscriptions(engine); n != 0 {
		t.Errorf("refused subscriptions left %d handles", n)
	}
}

// A buffer too large to make fails the call instead of ending the program.
func TestEventsRefusesABufferTooLargeToMake(t *testing.T) {
	engine := newTestEngine(t, Options{})
	for _, buffer := range []int{MaxEventsBuffer + 1, math.MaxInt} {
		feed, subscription, err := engine.Events(buffer)
		wantErr(t, "buffer "+strconv.Itoa(buffer), err, ErrInvalidQuantity)
		if feed != nil || subscription != nil {
			t.Errorf("buffer %d: a refused call gave a feed or a subscription", buffer)
		}
	}
	if n := liveSubscriptions(engine); n != 0 {
		t.Errorf("refused subscriptions left %d handles", n)
	}
}

// A func may call the engine: it sees the state after the event, and a
// flush from inside it returns at once instead of waiting for itself.
func TestSubscriberCallsBackIntoTheEngine(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)
	type seen struct {
		stock Stock
		err   error
	}
	seenCh := make(chan seen, 10)
	mustSubscribe(t, engine, func(event Event) {
		if event.Kind != HoldEnded {
			return
		}
		if err := engine.FlushEvents(); err != nil {
			seenCh <- seen{err: err}
			return
		}
		stock, err := engine.Stock("kettle")
		seenCh <- seen{stock, err}
		// A hold made from inside a func is an ordinary hold.
		if event.Order == "o1" {
			_, err := engine.Block("kettle", 1, "from-inside")
			seenCh <- seen{err: err}
		}
	})

	mustBlock(t, engine, "kettle", 2, "o1")
	if err := engine.Confirm("o1"); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, engine)
	close(seenCh)
	var all []seen
	for s := range seenCh {
		all = append(all, s)
	}
	want := []seen{{stock: Stock{OnHand: 3, Available: 3}}, {}}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("the func saw %+v, want %+v", all, want)
	}
	wantState(t, engine, "from-inside", Held)
}

// blockingSubscriber subscribes a func that, on the first HoldEnded event,
// says so on entered and waits for release; then calls after(), if any.
func blockingSubscriber(
	t *testing.T, engine *Engine, after func(),
) (entered, release chan struct{}) {
	t.Helper()
	entered = make(chan struct{})
	release = make(chan struct{})
	var once sync.Once
	mustSubscribe(t, engine, func(event Event) {
		if event.Kind != HoldEnded {
			return
		}
		once.Do(func() {
			close(entered)
			<-release
			if after != nil {
				after()
			}
		})
	})
	return entered, release
}

// While a func is stuck, blocks, confirms and reads go on: events wait in
// the library's queue, not in the engine's callers.
func TestBlockedSubscriberDoesNotStallTheEngine(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 1000)
	entered, release := blockingSubscriber(t, engine, nil)
	var got collector
	mustSubscribe(t, engine, got.add)

	holdAndCancel(t, engine, "kettle", "first")
	waitFor(t, "the func starting", entered)

	const orders = 200
	done := make(chan struct{})
	var failure atomic.Value
	go func() {
		defer close(done)
		for i := 0; i < orders; i++ {
			order := "o" + strconv.Itoa(i)
			if _, err := engine.Block("kettle", 1, order); err != nil {
				failure.Store(err)
				return
			}
			if err := engine.Confirm(order); err != nil {
				failure.Store(err)
				return
			}
		}
		if _, err := engine.Metrics(); err != nil {
			failure.Store(err)
		}
	}()
	waitFor(t, "blocks and confirms behind a stuck subscriber", done)
	if err := failure.Load(); err != nil {
		t.Fatal(err)
	}
	wantStock(t, engine, "kettle", Stock{OnHand: 1000 - orders, Available: 1000 - orders})

	close(release)
	mustFlush(t, engine)
	if n := len(got.got()); n != orders+1 {
		t.Errorf("the other subscriber got %d events once the queue moved, want %d", n, orders+1)
	}
}

// Close waits for a stuck func, without holding what the func needs: the
// func's own calls, and even its own Close, are answered (ErrClosed and
// nil) and Close completes once it returns.
func TestCloseWhileASubscriberIsBlocked(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)
	fromInside := make(chan error, 3)
	entered, release := blockingSubscriber(t, engine, func() {
		_, err := engine.Available("kettle")
		fromInside <- err
		fromInside <- engine.Close()
		fromInside <- engine.FlushEvents()
	})
	feed, subscription, err := engine.Events(8)
	if err != nil {
		t.Fatal(err)
	}

	holdAndCancel(t, engine, "kettle", "o1")
	holdAndCancel(t, engine, "kettle", "o2")
	waitFor(t, "the func starting", entered)

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = engine.Close()
	}()
	eventually(t, "Close starting", func() bool {
		_, err := engine.Available("kettle")
		return errors.Is(err, ErrClosed)
	})
	select {
	case <-closed:
		t.Fatal("Close returned while a subscriber's func was still running")
	default:
	}
	// A second Close waits for the first, and a subscription closed
	// meanwhile waits for the engine.
	second := make(chan struct{})
	go func() {
		defer close(second)
		_ = engine.Close()
		_ = subscription.Close()
	}()

	close(release)
	waitFor(t, "Close", closed)
	waitFor(t, "the second Close", second)
	wantErr(t, "a call from the func during Close", <-fromInside, ErrClosed)
	if err := <-fromInside; err != nil {
		t.Errorf("Close from the func during Close: %v", err)
	}
	wantErr(t, "a flush from the func during Close", <-fromInside, ErrClosed)

	// Events queued before Close were still delivered, then the channel
	// was closed.
	var fed []string
	for event := range feed {
		fed = append(fed, event.Order)
	}
	if !reflect.DeepEqual(fed, []string{"o1", "o2"}) {
		t.Errorf("the channel got %q, want the two events queued before Close", fed)
	}
	if engine.handle != nil || liveSubscriptions(engine) != 0 {
		t.Error("Close returned before freeing the engine and its subscriptions")
	}
}

// Close called from inside a func cannot wait for that func: it returns at
// once, later calls fail, and the engine is freed after the func returns.
func TestCloseFromInsideASubscriber(t *testing.T) {
	engine, err := New(Options{ManualClock: true})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, engine, "kettle", 5)
	fromInside := make(chan error, 2)
	var once sync.Once
	mustSubscribe(t, engine, func(Event) {
		once.Do(func() {
			fromInside <- engine.Close()
			_, err := engine.Available("kettle")
			fromInside <- err
		})
	})
	var got collector
	mustSubscribe(t, engine, got.add)

	holdAndCancel(t, engine, "kettle", "o1")
	if err := <-fromInside; err != nil {
		t.Errorf("Close from inside: %v", err)
	}
	wantErr(t, "a call after Close from inside", <-fromInside, ErrClosed)
	_, err = engine.Block("kettle", 1, "o2")
	wantErr(t, "a block after Close from inside", err, ErrClosed)

	// This Close waits for the shutdown the func started.
	if err := engine.Close(); err != nil {
		t.Fatal(err)
	}
	if engine.handle != nil || liveSubscriptions(engine) != 0 {
		t.Error("the engine was not freed")
	}
	if events := got.got(); len(events) != 1 || events[0].Order != "o1" {
		t.Errorf("the other subscriber got %+v, want the event queued before Close", events)
	}
}

// A func may close its own subscription: it is not called again, and its
// handle is released once the notifier thread has moved on.
func TestSubscriptionCloseFromInsideItsFunc(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)
	var self atomic.Pointer[Subscription]
	var calls atomic.Int32
	closeErr := make(chan error, 1)
	subscription := mustSubscribe(t, engine, func(Event) {
		if calls.Add(1) == 1 {
			closeErr <- self.Load().Close()
		}
	})
	self.Store(subscription)
	var got collector
	mustSubscribe(t, engine, got.add)

	holdAndCancel(t, engine, "kettle", "o1")
	holdAndCancel(t, engine, "kettle", "o2")
	mustFlush(t, engine)
	if err := <-closeErr; err != nil {
		t.Errorf("Close from inside: %v", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the func ran %d times, want once", n)
	}
	if n := len(got.got()); n != 2 {
		t.Errorf("the other subscriber got %d events, want 2", n)
	}
	eventually(t, "the handle released", func() bool { return liveSubscriptions(engine) == 1 })
	if err := subscription.Close(); err != nil {
		t.Errorf("Close again from outside: %v", err)
	}
}

// Engine.Close delivers what was queued to channels, then closes them.
func TestEngineCloseEndsEveryChannel(t *testing.T) {
	engine, err := New(Options{ManualClock: true})
	if err != nil {
		t.Fatal(err)
	}
	feed, subscription, err := engine.Events(8)
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, engine, "kettle", 5)
	holdAndCancel(t, engine, "kettle", "o1")
	mustBlock(t, engine, "kettle", 1, "o2")
	if err := engine.Confirm("o2"); err != nil {
		t.Fatal(err)
	}
	if err := engine.Close(); err != nil {
		t.Fatal(err)
	}
	var states []OrderState
	for event := range feed {
		states = append(states, event.State)
	}
	if !reflect.DeepEqual(states, []OrderState{Cancelled, Confirmed}) {
		t.Errorf("the channel got %v before closing, want [cancelled confirmed]", states)
	}
	if err := subscription.Close(); err != nil || subscription.Dropped() != 0 {
		t.Errorf("Close after the engine: %v, dropped %d", err, subscription.Dropped())
	}
}

// A full channel drops events for itself only, counts them and reports
// the first drop.
func TestFullChannelDropsAndCounts(t *testing.T) {
	var log recorder
	engine := newTestEngine(t, Options{Logger: slog.New(&log)})
	feed, subscription, err := engine.Events(1)
	if err != nil {
		t.Fatal(err)
	}
	var got collector
	mustSubscribe(t, engine, got.add)
	mustAdd(t, engine, "kettle", 5)
	for i := 1; i <= 3; i++ {
		holdAndCancel(t, engine, "kettle", "o"+strconv.Itoa(i))
	}
	mustFlush(t, engine)

	if n := subscription.Dropped(); n != 2 {
		t.Errorf("dropped %d events, want 2", n)
	}
	if events := drain(feed); len(events) != 1 || events[0].Order != "o1" {
		t.Errorf("the channel held %+v, want the first event", events)
	}
	if n := len(got.got()); n != 3 {
		t.Errorf("the func subscriber got %d events, want 3", n)
	}
	records := log.got()
	if len(records) != 1 || records[0].Level != slog.LevelWarn {
		t.Errorf("logged %d records, want one warning", len(records))
	}

	// With room again, events flow again.
	holdAndCancel(t, engine, "kettle", "o4")
	mustFlush(t, engine)
	if events := drain(feed); len(events) != 1 || events[0].Order != "o4" {
		t.Errorf("the channel held %+v after draining, want o4", events)
	}
}

// onReport is a slog.Handler that runs a func of the test for every record:
// the Logger's handler is user code, run on the notifier thread.
type onReport func()

func (f onReport) Enabled(context.Context, slog.Level) bool  { return true }
func (f onReport) Handle(context.Context, slog.Record) error { f(); return nil }
func (f onReport) WithAttrs([]slog.Attr) slog.Handler        { return f }
func (f onReport) WithGroup(string) slog.Handler             { return f }

// The Logger's handler, run on the notifier thread when a full channel
// drops an event, may close a subscription or the engine, as a subscriber's
// func may: the closed subscription hears nothing more, the engine closes,
// and nothing deadlocks or deletes a handle still in use. Each close comes
// amid one batch of events, twenty holds expiring in one pass.
func TestTheLoggersHandlerMayCloseWhatAFuncMay(t *testing.T) {
	for _, what := range []string{"subscription", "engine"} {
		t.Run(what, func(t *testing.T) {
			var engine *Engine
			var target *Subscription
			closed := make(chan struct{})
			var once sync.Once
			handler := onReport(func() {
				once.Do(func() {
					if what == "engine" {
						_ = engine.Close()
					} else {
						_ = target.Close()
					}
					close(closed)
				})
			})
			engine, err := New(Options{ManualClock: true, Logger: slog.New(handler)})
			if err != nil {
				t.Fatal(err)
			}
			defer engine.Close()
			mustAdd(t, engine, "kettle", 100)
			feed, _, err := engine.Events(1)
			if err != nil {
				t.Fatal(err)
			}
			var got collector
			target = mustSubscribe(t, engine, got.add)
			for i := 0; i < 20; i++ {
				mustBlock(t, engine, "kettle", 1, "o"+strconv.Itoa(i))
			}
			if _, err := engine.Advance(time.Hour); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the close from the handler", closed)
			if what == "engine" {
				shut := make(chan struct{})
				go func() {
					_ = engine.Close()
					close(shut)
				}()
				waitFor(t, "Close after the handler's", shut)
				drain(feed)
			} else {
				mustFlush(t, engine)
			}
			// Closing its subscription, the handler stopped the func at the
			// second event, where the channel overflowed: the func heard the
			// first only. Closing the engine delivered what was queued.
			want := map[string]int{"subscription": 1, "engine": 20}[what]
			if n := len(got.got()); n != want {
				t.Errorf("the func heard %d events, want %d", n, want)
			}
			if n := liveSubscriptions(engine); what == "engine" && n != 0 {
				t.Errorf("%d subscriptions left after Close", n)
			}
		})
	}
}

// A Logger whose handler panics loses its records, and nothing else: the
// full channel and the panicking func are reported to it, and events keep
// flowing to every subscriber.
func TestAPanickingLoggerLosesOnlyItsRecords(t *testing.T) {
	var reports atomic.Int64
	handler := onReport(func() {
		reports.Add(1)
		panic("the handler fails")
	})
	engine := newTestEngine(t, Options{Logger: slog.New(handler)})
	mustAdd(t, engine, "kettle", 10)
	feed, _, err := engine.Events(1)
	if err != nil {
		t.Fatal(err)
	}
	mustSubscribe(t, engine, func(Event) { panic("the func fails") })
	var got collector
	mustSubscribe(t, engine, got.add)
	for i := 1; i <= 3; i++ {
		holdAndCancel(t, engine, "kettle", "o"+strconv.Itoa(i))
	}
	mustFlush(t, engine)
	// The first drop once, and the func's panic at each of three events.
	if n := reports.Load(); n != 4 {
		t.Errorf("the handler was called %d times, want 4", n)
	}
	if n := len(got.got()); n != 3 {
		t.Errorf("the other func heard %d events, want 3", n)
	}
	if events := drain(feed); len(events) != 1 {
		t.Errorf("the channel held %d events, want 1", len(events))
	}
}

// Subscribing, unsubscribing, funcs calling back, holds and two Closes all
// race; nothing deadlocks, every call either works or fails with ErrClosed,
// and every handle is released.
func TestSubscriptionsRaceClose(t *testing.T) {
	for round := 0; round < 10; round++ {
		engine, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		mustAdd(t, engine, "kettle", 1_000_000)
		unexpected := func(what string, err error) {
			if err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("%s while closing: %v", what, err)
			}
		}
		_, err = engine.Subscribe(func(Event) {
			_, err := engine.Stock("kettle")
			unexpected("Stock from a func", err)
		})
		unexpected("Subscribe", err)

		var workers sync.WaitGroup
		for worker := 0; worker < 4; worker++ {
			workers.Add(2)
			go func() {
				defer workers.Done()
				for i := 0; ; i++ {
					order := strconv.Itoa(worker) + "-" + strconv.Itoa(i)
					_, err := engine.Block("kettle", 1, order)
					if err == nil {
						err = engine.Cancel(order)
					}
					if err != nil {
						unexpected("Block and Cancel", err)
						return
					}
				}
			}()
			go func() {
				defer workers.Done()
				for {
					feed, subscription, err := engine.Events(4)
					if err != nil {
						unexpected("Events", err)
						return
					}
					drain(feed)
					if err := engine.FlushEvents(); err != nil {
						unexpected("FlushEvents", err)
					}
					_ = subscription.Close()
				}
			}()
		}
		runtime.Gosched()
		var closers sync.WaitGroup
		for closer := 0; closer < 2; closer++ {
			closers.Add(1)
			go func() {
				defer closers.Done()
				_ = engine.Close()
			}()
		}
		all := make(chan struct{})
		go func() {
			closers.Wait()
			workers.Wait()
			close(all)
		}()
		waitFor(t, "round "+strconv.Itoa(round), all)
		if n := liveSubscriptions(engine); n != 0 {
			t.Errorf("round %d: %d handles left after Close", round, n)
		}
	}
}

// Every hold a call ended before Close (the call returned nil) reaches the
// subscriber, wherever Close lands among the calls: the library waits for
// calls already past its check to publish. Many short rounds, each closing
// once a few holds have ended.
func TestCloseRacingCallsLosesNoEvent(t *testing.T) {
	for round := 0; round < 150; round++ {
		engine, err := New(Options{ManualClock: true})
		if err != nil {
			t.Fatal(err)
		}
		mustAdd(t, engine, "kettle", 1_000_000)
		var announced, ended atomic.Int64
		if _, err := engine.Subscribe(func(event Event) {
			if event.Kind == HoldEnded {
				announced.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
		workers := callUntilClosed(t, 3, func(order string, i int) error {
			_, err := engine.Block("kettle", 1, order)
			if err == nil && i%2 == 0 {
				err = engine.Confirm(order)
			} else if err == nil {
				err = engine.Cancel(order)
			}
			if err == nil {
				ended.Add(1)
			}
			return err
		})
		for ended.Load() < int64(2+round%30) {
			runtime.Gosched()
		}
		if err := engine.Close(); err != nil {
			t.Fatal(err)
		}
		workers.Wait()
		if got, want := announced.Load(), ended.Load(); got != want {
			t.Fatalf("round %d: %d holds ended before Close, %d announced", round, want, got)
		}
	}
}

// A subscription does not keep a forgotten engine alive: the garbage
// collector closes the engine, and that ends the subscription's channel.
func TestForgottenEngineWithSubscriptionsIsFinalized(t *testing.T) {
	feed := func() <-chan Event {
		engine, err := New(Options{ManualClock: true})
		if err != nil {
			t.Fatal(err)
		}
		feed, _, err := engine.Events(4)
		if err != nil {
			t.Fatal(err)
		}
		mustAdd(t, engine, "kettle", 5)
		holdAndCancel(t, engine, "kettle", "o1")
		return feed
	}()
	var fed []Event
	eventually(t, "the forgotten engine closing its channel", func() bool {
		runtime.GC()
		select {
		case event, open := <-feed:
			if open {
				fed = append(fed, event)
			}
			return !open
		default:
			return false
		}
	})
	if len(fed) != 1 || fed[0].Order != "o1" {
		t.Errorf("the channel got %+v before closing, want the one event", fed)
	}
}

// A forgotten engine whose subscriber's func never returns is closed all
// the same, without holding up the one goroutine that runs every finalizer
// of the process.
func TestForgottenEngineWithABlockedFuncHoldsUpNoFinalizer(t *testing.T) {
	// The next engine finalized is this test's.
	last := settledCount(&finalizedEngines)
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{})
	func() {
		engine, err := New(Options{ManualClock: true})
		if err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		if _, err := engine.Subscribe(func(Event) {
			once.Do(func() { close(entered) })
			<-release
		}); err != nil {
			t.Fatal(err)
		}
		mustAdd(t, engine, "kettle", 5)
		holdAndCancel(t, engine, "kettle", "o1")
	}()
	<-entered
	eventually(t, "the forgotten engine's finalizer", func() bool {
		runtime.GC()
		return finalizedEngines.Load() != last
	})

	ran := make(chan struct{})
	func() {
		unrelated := new([64]byte)
		runtime.SetFinalizer(unrelated, func(*[64]byte) { close(ran) })
	}()
	eventually(t, "a finalizer after the engine's", func() bool {
		runtime.GC()
		select {
		case <-ran:
			return true
		default:
			return false
		}
	})
}

// The zero Subscription, like the nil one, is inert.
func TestZeroSubscriptionIsInert(t *testing.T) {
	var zero Subscription
	if zero.Close() != nil || zero.Dropped() != 0 {
		t.Error("a zero subscription is not inert")
	}
}
