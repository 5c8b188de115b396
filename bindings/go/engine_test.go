package stockkeeper

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewAppliesOptionsAndDefaults(t *testing.T) {
	engine := newTestEngine(t, Options{})
	if engine.HoldTime() != 5*time.Minute {
		t.Errorf("default hold time %v, want 5m0s", engine.HoldTime())
	}
	mustAdd(t, engine, "kettle", 1)
	if deadline := mustBlock(t, engine, "kettle", 1, "o1"); deadline.SinceStart != 5*time.Minute {
		t.Errorf("default deadline %v, want 5m0s", deadline.SinceStart)
	}

	engine = newTestEngine(t, Options{
		HoldTime:      time.Second,
		Retention:     time.Minute,
		MaxRemembered: 10,
	})
	if engine.HoldTime() != time.Second {
		t.Errorf("hold time %v, want 1s", engine.HoldTime())
	}
	if now, err := engine.Now(); err != nil || now != 0 {
		t.Errorf("a new manual clock reads %v, %v; want 0", now, err)
	}
}

func TestNewRefusesNegativeOptions(t *testing.T) {
	for label, c := range map[string]struct {
		options Options
		want    *Error
	}{
		"hold time":      {Options{HoldTime: -1}, ErrInvalidDuration},
		"retention":      {Options{Retention: -time.Hour}, ErrInvalidDuration},
		"max remembered": {Options{MaxRemembered: -1}, ErrInvalidQuantity},
	} {
		engine, err := New(c.options)
		wantErr(t, label, err, c.want)
		if engine != nil {
			t.Errorf("%s: got an engine with the error", label)
		}
	}
}

func TestVersion(t *testing.T) {
	if Version() == "" {
		t.Error("empty version")
	}
}

func TestAdvanceAndNowOnTheManualClock(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdvance(t, engine, 1500*time.Millisecond)
	mustAdvance(t, engine, 0)
	if now, err := engine.Now(); err != nil || now != 1500*time.Millisecond {
		t.Errorf("Now = %v, %v; want 1.5s", now, err)
	}
	_, err := engine.Advance(-time.Nanosecond)
	wantErr(t, "advance backwards", err, ErrInvalidDuration)
	if now, _ := engine.Now(); now != 1500*time.Millisecond {
		t.Errorf("a refused advance moved the clock to %v", now)
	}
	if released, err := engine.ReleaseExpired(); err != nil || released != 0 {
		t.Errorf("ReleaseExpired with nothing due = %d, %v", released, err)
	}
	if err := engine.StartReleaser(); err != nil {
		t.Errorf("StartReleaser on the manual clock: %v", err)
	}
}

// On the system clock time cannot be moved, and the caller may release on
// its own or start the thread later.
func TestSystemClockWithManualRelease(t *testing.T) {
	engine, err := New(Options{ManualRelease: true})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	_, err = engine.Advance(time.Second)
	wantErr(t, "advance the system clock", err, ErrClockNotManual)

	mustAdd(t, engine, "kettle", 3)
	if _, err := engine.BlockFor("kettle", 3, "o1", time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	// The system clock moves by itself; no sleep is needed for a
	// one-nanosecond hold to pass, only another look.
	released := 0
	for attempt := 0; released == 0 && attempt < 1_000_000; attempt++ {
		n, err := engine.ReleaseExpired()
		if err != nil {
			t.Fatal(err)
		}
		released += n
	}
	if released != 1 {
		t.Fatalf("released %d holds, want 1", released)
	}
	wantStock(t, engine, "kettle", Stock{OnHand: 3, Available: 3})
	wantErr(t, "confirm released", engine.Confirm("o1"), ErrExpired)

	if err := engine.StartReleaser(); err != nil {
		t.Errorf("StartReleaser: %v", err)
	}
	if err := engine.StartReleaser(); err != nil {
		t.Errorf("StartReleaser again: %v", err)
	}
}

// Every method of a closed engine fails with ErrClosed, and closing again
// does nothing.
func TestClosedEngineRefusesEverything(t *testing.T) {
	for label, options := range map[string]Options{
		"manual clock":        {ManualClock: true},
		"background releaser": {},
	} {
		engine, err := New(options)
		if err != nil {
			t.Fatal(err)
		}
		mustAdd(t, engine, "kettle", 5)
		mustBlock(t, engine, "kettle", 1, "o1")
		if err := engine.Close(); err != nil {
			t.Errorf("%s: Close: %v", label, err)
		}
		if err := engine.Close(); err != nil {
			t.Errorf("%s: second Close: %v", label, err)
		}
		for name, err := range everyCall(engine) {
			wantErr(t, label+": "+name+" after Close", err, ErrClosed)
		}
		if engine.HoldTime() != 5*time.Minute {
			t.Errorf("%s: HoldTime after Close = %v", label, engine.HoldTime())
		}
	}
}

// A nil *Engine is bad input like any other: it fails, it does not panic.
func TestNilEngineFails(t *testing.T) {
	var engine *Engine
	if err := engine.Close(); err != nil {
		t.Errorf("Close of nil: %v", err)
	}
	for name, err := range everyCall(engine) {
		wantErr(t, name+" on nil", err, ErrNullArgument)
	}
	if engine.HoldTime() != 0 {
		t.Error("HoldTime of nil is not zero")
	}
}

// An Engine not made by New, its zero value, fails every call the same way,
// the batch calls included, and closes as a no-op.
func TestZeroEngineFails(t *testing.T) {
	engine := &Engine{}
	for name, err := range everyCall(engine) {
		wantErr(t, name+" on a zero Engine", err, ErrNullArgument)
	}
	blocked, err := engine.BlockMany([]BlockRequest{{Order: "o9", Product: "kettle", Quantity: 1}})
	wantErr(t, "BlockMany on a zero Engine", err, ErrNullArgument)
	confirmed, err := engine.ConfirmMany([]string{"o9"})
	wantErr(t, "ConfirmMany on a zero Engine", err, ErrNullArgument)
	if blocked != nil || confirmed != nil {
		t.Errorf("refused batches answered %v and %v", blocked, confirmed)
	}
	if err := engine.Close(); err != nil {
		t.Errorf("Close of a zero Engine: %v", err)
	}
}

// Arguments the package refuses itself are judged after the engine, as
// the library judges its own: a closed engine answers ErrClosed and a nil or
// zero one ErrNullArgument, whatever else is wrong with the call.
func TestBadArgumentsAreJudgedAfterTheEngine(t *testing.T) {
	closed, err := New(Options{ManualClock: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	for label, engine := range map[string]struct {
		engine *Engine
		want   *Error
	}{
		"closed": {closed, ErrClosed},
		"nil":    {nil, ErrNullArgument},
		"zero":   {&Engine{}, ErrNullArgument},
	} {
		for name, err := range badArgumentCalls(engine.engine) {
			wantErr(t, label+": "+name, err, engine.want)
		}
	}
	open := newTestEngine(t, Options{})
	mustAdd(t, open, "kettle", 5)
	want := map[string]*Error{
		"BlockFor": ErrInvalidDuration, "BlockOrder": ErrInvalidDuration,
		"BlockManyFor": ErrInvalidDuration, "Advance": ErrInvalidDuration,
		"Subscribe": ErrNullArgument, "Events": ErrInvalidQuantity,
	}
	for name, err := range badArgumentCalls(open) {
		wantErr(t, "open: "+name, err, want[name])
	}
	if available, err := open.Available("kettle"); err != nil || available != 5 {
		t.Errorf("the refused calls left %d available (%v), want 5", available, err)
	}
}

// badArgumentCalls calls each method whose bad arguments the package
// refuses itself, with such an argument, and returns what each one said.
func badArgumentCalls(engine *Engine) map[string]error {
	errs := map[string]error{}
	_, errs["BlockFor"] = engine.BlockFor("kettle", 1, "o1", 0)
	_, errs["BlockOrder"] = engine.BlockOrder("o1", []Line{{"kettle", 1}}, -time.Second)
	one := []BlockRequest{{Order: "o1", Product: "kettle", Quantity: 1}}
	_, errs["BlockManyFor"] = engine.BlockManyFor(one, 0)
	_, errs["Advance"] = engine.Advance(-time.Second)
	_, errs["Subscribe"] = engine.Subscribe(nil)
	_, _, errs["Events"] = engine.Events(0)
	return errs
}

// everyCall calls every method that reaches the library once, with good
// arguments, and returns what each one said.
func everyCall(engine *Engine) map[string]error {
	errs := map[string]error{}
	errs["AddProduct"] = engine.AddProduct("mug", "Mug", 1)
	_, errs["Available"] = engine.Available("kettle")
	_, errs["Stock"] = engine.Stock("kettle")
	_, errs["UpdateInventory"] = engine.UpdateInventory("kettle", 1)
	_, errs["Block"] = engine.Block("kettle", 1, "o2")
	_, errs["BlockFor"] = engine.BlockFor("kettle", 1, "o3", time.Minute)
	_, errs["BlockOrder"] = engine.BlockOrder("o4", []Line{{"kettle", 1}}, time.Minute)
	errs["Confirm"] = engine.Confirm("o1")
	errs["Cancel"] = engine.Cancel("o1")
	_, errs["Extend"] = engine.Extend("o1", time.Minute)
	_, errs["Status"] = engine.Status("o1")
	_, errs["ReleaseExpired"] = engine.ReleaseExpired()
	_, errs["Advance"] = engine.Advance(time.Second)
	_, errs["Now"] = engine.Now()
	errs["StartReleaser"] = engine.StartReleaser()
	_, errs["Metrics"] = engine.Metrics()
	_, errs["ProductOutcomes"] = engine.ProductOutcomes("kettle")
	_, errs["MetricsText"] = engine.MetricsText("kettle")
	_, errs["Subscribe"] = engine.Subscribe(func(Event) {})
	_, _, errs["Events"] = engine.Events(1)
	errs["FlushEvents"] = engine.FlushEvents()
	return errs
}

// Close may race calls on other goroutines: each call either completes or
// fails with ErrClosed, and Close waits for those in progress.
func TestCloseRacesCalls(t *testing.T) {
	for round := 0; round < 20; round++ {
		engine, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		mustAdd(t, engine, "kettle", 1_000_000)

		workers := callUntilClosed(t, 8, func(order string, _ int) error {
			_, err := engine.Block("kettle", 1, order)
			if err == nil {
				err = engine.Cancel(order)
			}
			if err == nil {
				_, err = engine.Status(order)
			}
			if err == nil {
				_, err = engine.Stock("kettle")
			}
			return err
		})
		runtime.Gosched()
		var closers sync.WaitGroup
		for closer := 0; closer < 2; closer++ {
			closers.Add(1)
			go func() {
				defer closers.Done()
				if err := engine.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
		}
		closers.Wait()
		workers.Wait()
	}
}

// Close returns while other goroutines go on calling: calls refused as
// closed never hold it up. The callers stop only once Close returned (or
// the bound passed), and outnumber the CPUs many times, so that one of
// them is nearly always inside a call: a Close that waited for every call
// to be out would wait as long as they go on.
func TestCloseReturnsWhileOthersGoOnCalling(t *testing.T) {
	engine, err := New(Options{ManualClock: true})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, engine, "kettle", 5)
	var stop atomic.Bool
	var callers, calling sync.WaitGroup
	for caller := 0; caller < 32; caller++ {
		callers.Add(1)
		calling.Add(1)
		go func() {
			defer callers.Done()
			_, _ = engine.Stock("kettle")
			calling.Done()
			for !stop.Load() {
				_, _ = engine.Stock("kettle")
			}
		}()
	}
	calling.Wait()
	closed := make(chan struct{})
	go func() {
		_ = engine.Close()
		close(closed)
	}()
	inTime := true
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		inTime = false
	}
	stop.Store(true)
	callers.Wait()
	<-closed
	if !inTime {
		t.Fatal("Close waited for calls it refused")
	}
	if _, err := engine.Stock("kettle"); !errors.Is(err, ErrClosed) {
		t.Errorf("Stock after Close: %v, want ErrClosed", err)
	}
}

// callUntilClosed starts n goroutines, each calling step with orders of its
// own ("worker-i", i counting from 0) until step fails with ErrClosed. Any
// other error fails the test and stops that goroutine.
func callUntilClosed(t *testing.T, n int, step func(order string, i int) error) *sync.WaitGroup {
	var workers sync.WaitGroup
	for worker := 0; worker < n; worker++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := 0; ; i++ {
				order := strconv.Itoa(worker) + "-" + strconv.Itoa(i)
				err := step(order, i)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("%s while closing: %v", order, err)
					return
				}
			}
		}()
	}
	return &workers
}

// An engine dropped without Close is closed and freed by the garbage
// collector, background thread and all.
func TestForgottenEnginesAreFinalized(t *testing.T) {
	before := finalizedEngines.Load()
	const dropped = 64
	for i := 0; i < dropped; i++ {
		engine, err := New(Options{ManualClock: i%2 == 0})
		if err != nil {
			t.Fatal(err)
		}
		mustAdd(t, engine, "kettle", 5)
		mustBlock(t, engine, "kettle", 1, "o1")
	}
	// Finalizers run on their own goroutine after a collection; keep
	// collecting and yielding until at least one has run.
	for attempt := 0; finalizedEngines.Load() == before && attempt < 100_000; attempt++ {
		runtime.GC()
		runtime.Gosched()
	}
	if finalizedEngines.Load() == before {
		t.Fatal("no dropped engine was finalized")
	}
}

// settledCount collects garbage until count, which finalizers add to,
// stands still for a while, and returns it: finalizers of earlier tests'
// engines may still be queued.
func settledCount(count *atomic.Int64) int64 {
	last, still := count.Load(), 0
	for still < 20 {
		runtime.GC()
		runtime.Gosched()
		if now := count.Load(); now != last {
			last, still = now, 0
		} else {
			still++
		}
	}
	return last
}

// Close leaves the library engine's last bytes to the garbage collector,
// which frees them once no goroutine holds the engine for a call: not while
// one still does, though the Engine is closed.
func TestClosedEnginesAreFreedOnceNoCallHoldsThem(t *testing.T) {
	settled := func() int64 { return settledCount(&freedLibraries) }
	engine, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, engine, "kettle", 5)
	mustBlock(t, engine, "kettle", 1, "o1")
	held := engine.open.Load()
	if err := engine.Close(); err != nil {
		t.Fatal(err)
	}
	if engine.handle != nil || engine.open.Load() != nil {
		t.Fatal("the closed Engine still refers to the library engine")
	}
	before := settled()
	if after := settled(); after != before {
		t.Fatalf("%d library engines freed while a call still held one", after-before)
	}
	runtime.KeepAlive(held)
	for attempt := 0; freedLibraries.Load() == before && attempt < 100_000; attempt++ {
		runtime.GC()
		runtime.Gosched()
	}
	if freedLibraries.Load() == before {
		t.Fatal("the closed library engine was never freed")
	}
}

// Many goroutines race holds, confirms, cancels, restocks, corrections and
// the clock on a few hot products, with multi-line orders whose lines come
// in any order. Whatever interleaving happens, every reader sees
// 0 <= reserved <= on_hand, nothing is sold twice, stock is conserved and
// every hold ends exactly once.
func TestConcurrentOrdersKeepTheInvariants(t *testing.T) {
	const (
		holdTime = time.Second
		initial  = 500
		workers  = 12
		rounds   = 400
	)
	products := []string{"kettle", "mug", "toaster"}
	engine := newTestEngine(t, Options{HoldTime: holdTime, Retention: 1000 * time.Hour})
	for _, product := range products {
		mustAdd(t, engine, product, initial)
	}

	type record struct {
		units      map[string]int64
		confirmed  atomic.Int32
		cancelled  atomic.Int32
		failedEnds atomic.Int32
	}
	var (
		mu       sync.Mutex
		orders   = map[string]*record{}
		restocks = map[string]*atomic.Int64{}
		released atomic.Int64
	)
	for _, product := range products {
		restocks[product] = new(atomic.Int64)
	}
	// Every held order is offered to the enders twice, so that confirm and
	// cancel of the same hold race each other and the clock.
	held := make(chan string, workers*rounds*2)
	var stop atomic.Bool

	var blockers, others sync.WaitGroup
	for worker := 0; worker < workers; worker++ {
		blockers.Add(1)
		go func() {
			defer blockers.Done()
			random := rand.New(rand.NewPCG(uint64(worker), 1))
			for round := 0; round < rounds; round++ {
				order := "w" + strconv.Itoa(worker) + "-" + strconv.Itoa(round)
				lines := randomLines(random, products)
				var err error
				if len(lines) == 1 {
					_, err = engine.Block(lines[0].Product, lines[0].Quantity, order)
				} else {
					_, err = engine.BlockOrder(order, lines, holdTime)
				}
				if errors.Is(err, ErrInsufficientStock) {
					continue
				}
				if err != nil {
					t.Errorf("hold %s: %v", order, err)
					continue
				}
				units := map[string]int64{}
				for _, line := range lines {
					units[line.Product] += line.Quantity
				}
				mu.Lock()
				orders[order] = &record{units: units}
				mu.Unlock()
				held <- order
				held <- order
			}
		}()
	}

	ender := func(seed uint64) {
		defer others.Done()
		random := rand.New(rand.NewPCG(seed, 2))
		for order := range held {
			mu.Lock()
			rec := orders[order]
			mu.Unlock()
			var err error
			switch random.IntN(3) {
			case 0:
				if err = engine.Confirm(order); err == nil {
					rec.confirmed.Add(1)
				}
			case 1:
				if err = engine.Cancel(order); err == nil {
					rec.cancelled.Add(1)
				}
			default:
				continue // left to expire, or to the other offer
			}
			if err != nil {
				rec.failedEnds.Add(1)
				if !errors.Is(err, ErrExpired) && !errors.Is(err, ErrAlreadyConfirmed) &&
					!errors.Is(err, ErrAlreadyCancelled) {
					t.Errorf("end %s: %v", order, err)
				}
			}
		}
	}
	for i := 0; i < 4; i++ {
		others.Add(1)
		go ender(uint64(i))
	}

	others.Add(3)
	go func() { // the clock
		defer others.Done()
		for !stop.Load() {
			n, err := engine.Advance(10 * time.Millisecond)
			if err != nil {
				t.Errorf("Advance: %v", err)
				return
			}
			released.Add(int64(n))
		}
	}()
	go func() { // restocks and corrections
		defer others.Done()
		random := rand.New(rand.NewPCG(99, 3))
		for !stop.Load() {
			product := products[random.IntN(len(products))]
			delta := int64(random.IntN(5) - 2)
			if delta == 0 {
				continue
			}
			_, err := engine.UpdateInventory(product, delta)
			switch {
			case err == nil:
				restocks[product].Add(delta)
			case delta < 0 && errors.Is(err, ErrInsufficientStock):
			default:
				t.Errorf("update %s by %d: %v", product, delta, err)
			}
		}
	}()
	go func() { // a reader checking what every reader may see
		defer others.Done()
		for !stop.Load() {
			for _, product := range products {
				stock, err := engine.Stock(product)
				if err != nil {
					t.Errorf("Stock: %v", err)
					return
				}
				if stock.OnHand < 0 || stock.Reserved < 0 || stock.Reserved > stock.OnHand ||
					stock.Available != stock.OnHand-stock.Reserved {
					t.Errorf("observed %s %+v", product, stock)
				}
			}
		}
	}()

	blockers.Wait()
	close(held)
	stop.Store(true)
	others.Wait()

	// Every hold still live runs out.
	n, err := engine.Advance(holdTime + time.Second)
	if err != nil {
		t.Fatal(err)
	}
	released.Add(int64(n))

	confirmedUnits := map[string]int64{}
	expired, confirmedOrders, cancelledOrders := 0, 0, 0
	for order, rec := range orders {
		confirmed, cancelled := rec.confirmed.Load(), rec.cancelled.Load()
		if confirmed+cancelled > 1 {
			t.Errorf("%s ended %d times (confirmed %d, cancelled %d)", order,
				confirmed+cancelled, confirmed, cancelled)
		}
		status, err := engine.Status(order)
		if err != nil {
			t.Errorf("Status(%s): %v", order, err)
			continue
		}
		want := Expired
		switch {
		case confirmed == 1:
			want = Confirmed
			confirmedOrders++
			for product, units := range rec.units {
				confirmedUnits[product] += units
			}
		case cancelled == 1:
			want = Cancelled
			cancelledOrders++
		default:
			expired++
		}
		if status.State != want {
			t.Errorf("%s is %v, but confirm succeeded %d times and cancel %d", order,
				status.State, confirmed, cancelled)
		}
	}
	if int(released.Load()) > expired {
		t.Errorf("released %d holds, but only %d expired", released.Load(), expired)
	}
	for _, product := range products {
		want := Stock{OnHand: initial + restocks[product].Load() - confirmedUnits[product]}
		want.Available = want.OnHand
		wantStock(t, engine, product, want)
	}
	t.Logf("%d orders held: %d confirmed, %d cancelled, %d expired (%d released by the clock)",
		len(orders), confirmedOrders, cancelledOrders, expired, released.Load())
}

// randomLines makes an order of one to four lines over the products, in a
// random order, sometimes naming a product twice.
func randomLines(random *rand.Rand, products []string) []Line {
	lines := make([]Line, 1+random.IntN(4))
	for i := range lines {
		lines[i] = Line{
			Product:  products[random.IntN(len(products))],
			Quantity: 1 + random.Int64N(4),
		}
	}
	return lines
}
