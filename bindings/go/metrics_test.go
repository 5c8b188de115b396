package stockkeeper

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func mustMetrics(t *testing.T, engine *Engine) Metrics {
	t.Helper()
	metrics, err := engine.Metrics()
	if err != nil {
		t.Fatalf("Metrics: %v", err)
	}
	return metrics
}

// A known sequence gives known counters, refusals of bad input included
// whichever way they reached the library.
func TestMetricsCountAKnownSequence(t *testing.T) {
	engine := newTestEngine(t, Options{HoldTime: time.Minute})
	if m := mustMetrics(t, engine); m != (Metrics{}) {
		t.Errorf("a new engine counts %+v", m)
	}
	mustAdd(t, engine, "kettle", 10)
	mustAdd(t, engine, "mug", 5)
	mustBlock(t, engine, "kettle", 2, "o1")
	mustBlock(t, engine, "kettle", 3, "o2")
	if _, err := engine.BlockOrder("o3", []Line{{"kettle", 1}, {"mug", 2}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	want := Metrics{Held: 3, LiveHolds: 3, HeldUnits: 8}
	if m := mustMetrics(t, engine); m != want {
		t.Errorf("with three live holds:\n got %+v\nwant %+v", m, want)
	}

	if err := engine.Confirm("o1"); err != nil {
		t.Fatal(err)
	}
	if err := engine.Cancel("o2"); err != nil {
		t.Fatal(err)
	}
	mustAdvance(t, engine, time.Minute+time.Nanosecond)

	refusals := []struct {
		what string
		err  error
		want *Error
	}{
		{"block too many", blockErr(engine, "kettle", 100, "o4"), ErrInsufficientStock},
		{"correct below zero", updateErr(engine, "mug", -6), ErrInsufficientStock},
		{"block a used id", blockErr(engine, "kettle", 1, "o1"), ErrDuplicateOrder},
		{"confirm an unknown order", engine.Confirm("nobody"), ErrUnknownOrder},
		{"read an unknown product", availableErr(engine, "nothing"), ErrUnknownProduct},
		{"confirm twice", engine.Confirm("o1"), ErrAlreadyConfirmed},
		{"cancel an expired hold", engine.Cancel("o3"), ErrExpired},
		{"negative quantity", blockErr(engine, "kettle", -1, "o5"), ErrInvalidQuantity},
		{"zero quantity", blockErr(engine, "kettle", 0, "o5"), ErrInvalidQuantity},
		{"empty product id", blockErr(engine, "", 1, "o5"), ErrEmptyID},
		{"order id not UTF-8", blockErr(engine, "kettle", 1, "\xff"), ErrInvalidUTF8},
		{"negative stock", engine.AddProduct("toaster", "Toaster", -1), ErrInvalidQuantity},
		{"zero delta", updateErr(engine, "kettle", 0), ErrInvalidQuantity},
		{"negative extension", extendErr(engine, "o1", -time.Second), ErrInvalidDuration},
		// Not refusals the metrics count: a product that exists already,
		// and a hold time this package refuses before the library sees it.
		{"existing product", engine.AddProduct("kettle", "Kettle", 1), ErrProductExists},
		{"zero hold time", blockForErr(engine, "kettle", 1, "o6", 0), ErrInvalidDuration},
	}
	for _, r := range refusals {
		wantErr(t, r.what, r.err, r.want)
	}

	want = Metrics{
		Held: 3, Confirmed: 1, Cancelled: 1, Expired: 1,
		RefusedStock: 2, RefusedDuplicate: 1, RefusedUnknown: 2, RefusedEnded: 2,
		RefusedInvalid: 7,
	}
	if m := mustMetrics(t, engine); m != want {
		t.Errorf("after the sequence:\n got %+v\nwant %+v", m, want)
	}
}

func blockErr(engine *Engine, product string, quantity int64, order string) error {
	_, err := engine.Block(product, quantity, order)
	return err
}

func blockForErr(engine *Engine, product string, quantity int64, order string,
	holdTime time.Duration) error {
	_, err := engine.BlockFor(product, quantity, order, holdTime)
	return err
}

func updateErr(engine *Engine, product string, delta int64) error {
	_, err := engine.UpdateInventory(product, delta)
	return err
}

func availableErr(engine *Engine, product string) error {
	_, err := engine.Available(product)
	return err
}

func extendErr(engine *Engine, order string, by time.Duration) error {
	_, err := engine.Extend(order, by)
	return err
}

func TestProductOutcomesAndTheirShares(t *testing.T) {
	engine := newTestEngine(t, Options{HoldTime: time.Minute})
	mustAdd(t, engine, "kettle", 10)
	mustAdd(t, engine, "mug", 10)
	mustAdd(t, engine, "toaster", 10)
	for i := 0; i < 4; i++ {
		order := "k" + strconv.Itoa(i)
		mustBlock(t, engine, "kettle", 1, order)
		if i < 3 {
			if err := engine.Confirm(order); err != nil {
				t.Fatal(err)
			}
		}
	}
	holdAndCancel(t, engine, "mug", "m1")
	mustAdvance(t, engine, time.Minute+time.Nanosecond)

	for _, c := range []struct {
		product          string
		want             ProductOutcomes
		confirmed, ended float64
		any              bool
	}{
		{"kettle", ProductOutcomes{Confirmed: 3, Expired: 1}, 0.75, 0.25, true},
		{"mug", ProductOutcomes{Cancelled: 1}, 0, 0, true},
		{"toaster", ProductOutcomes{}, 0, 0, false},
	} {
		outcomes, err := engine.ProductOutcomes(c.product)
		if err != nil || outcomes != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.product, outcomes, err, c.want)
		}
		share, ok := outcomes.ConfirmedShare()
		if share != c.confirmed || ok != c.any {
			t.Errorf("%s: confirmed share %v, %v; want %v, %v", c.product, share, ok,
				c.confirmed, c.any)
		}
		share, ok = outcomes.ExpiredShare()
		if share != c.ended || ok != c.any {
			t.Errorf("%s: expired share %v, %v; want %v, %v", c.product, share, ok, c.ended, c.any)
		}
	}

	huge := ProductOutcomes{Confirmed: 1 << 63, Cancelled: 1 << 63, Expired: 0}
	if share, ok := huge.ConfirmedShare(); share != 0.5 || !ok {
		t.Errorf("shares of counters near 2^64: %v, %v; want 0.5", share, ok)
	}

	_, err := engine.ProductOutcomes("nothing")
	wantErr(t, "outcomes of an unknown product", err, ErrUnknownProduct)
	wantBadIDsRefused(t, "outcomes", func(id string) error {
		_, err := engine.ProductOutcomes(id)
		return err
	})
}

// wantLines fails the test unless text holds every one of lines.
func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	for _, line := range lines {
		if !strings.Contains(text, line) {
			t.Errorf("the text lacks %q:\n%s", line, text)
		}
	}
}

func TestMetricsTextExposesEveryCounter(t *testing.T) {
	engine := newTestEngine(t, Options{HoldTime: time.Minute})
	quoted := "a\"b\\c\nd"
	mustAdd(t, engine, "kettle", 10)
	mustAdd(t, engine, quoted, 10)
	mustBlock(t, engine, "kettle", 2, "o1")
	mustBlock(t, engine, quoted, 1, "o2")
	if err := engine.Confirm("o1"); err != nil {
		t.Fatal(err)
	}
	_, _ = engine.Block("kettle", 100, "o3")

	text, err := engine.MetricsText()
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, text,
		"# HELP stockkeeper_holds_total Holds started (held) and how they ended.\n",
		"# TYPE stockkeeper_holds_total counter\n",
		"stockkeeper_holds_total{outcome=\"held\"} 2\n",
		"stockkeeper_holds_total{outcome=\"confirmed\"} 1\n",
		"stockkeeper_holds_total{outcome=\"cancelled\"} 0\n",
		"stockkeeper_holds_total{outcome=\"expired\"} 0\n",
		"# TYPE stockkeeper_refusals_total counter\n",
		"stockkeeper_refusals_total{reason=\"stock\"} 1\n",
		"stockkeeper_refusals_total{reason=\"invalid\"} 0\n",
		"# TYPE stockkeeper_live_holds gauge\n",
		"stockkeeper_live_holds 1\n",
		"# TYPE stockkeeper_held_units gauge\n",
		"stockkeeper_held_units 1\n",
	)
	if strings.Contains(text, "product_holds_ended_total") {
		t.Errorf("products listed though none was named:\n%s", text)
	}

	text, err = engine.MetricsText("kettle", quoted)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, text,
		"# TYPE stockkeeper_product_holds_ended_total counter\n",
		"stockkeeper_product_holds_ended_total{product=\"kettle\",outcome=\"confirmed\"} 1\n",
		"stockkeeper_product_holds_ended_total{product=\"kettle\",outcome=\"expired\"} 0\n",
		"stockkeeper_product_holds_ended_total{product=\"a\\\"b\\\\c\\nd\",outcome=\"cancelled\"} 0\n",
	)
	wantSamplesParse(t, text)

	_, err = engine.MetricsText("kettle", "nothing")
	wantErr(t, "text for an unknown product", err, ErrUnknownProduct)
	_, err = engine.MetricsText("")
	wantErr(t, "text for an empty id", err, ErrEmptyID)
}

// wantSamplesParse checks that every sample line ends in a whole number.
func wantSamplesParse(t *testing.T, text string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		value := line[strings.LastIndexByte(line, ' ')+1:]
		if _, err := strconv.ParseUint(value, 10, 64); err != nil {
			t.Errorf("sample %q: %v", line, err)
		}
	}
}

// A text longer than the first buffer is read whole on a second try.
func TestMetricsTextLongerThanTheFirstBuffer(t *testing.T) {
	engine := newTestEngine(t, Options{})
	var products []string
	for i := 0; i < 20; i++ {
		id := strconv.Itoa(i) + strings.Repeat("x", MaxIDBytes-3)
		mustAdd(t, engine, id, 1)
		holdAndCancel(t, engine, id, "o"+strconv.Itoa(i))
		products = append(products, id)
	}
	text, err := engine.MetricsText(products...)
	if err != nil {
		t.Fatal(err)
	}
	if len(text) <= metricsTextFirstSize {
		t.Fatalf("the text is %d bytes; the test needs more than %d", len(text),
			metricsTextFirstSize)
	}
	for _, id := range products {
		line := "{product=\"" + id + "\",outcome=\"cancelled\"} 1\n"
		if !strings.Contains(text, line) {
			t.Errorf("the text lacks the outcomes of %.8s…", id)
		}
	}
	wantSamplesParse(t, text)
}

// Snapshots taken while goroutines hold, confirm, cancel and expire are
// each consistent and never go back; at the end the counters match what
// the goroutines saw succeed.
func TestMetricsSnapshotsAreConsistent(t *testing.T) {
	const (
		holdTime = time.Second
		workers  = 8
		rounds   = 300
	)
	engine := newTestEngine(t, Options{HoldTime: holdTime})
	mustAdd(t, engine, "kettle", 1_000_000)

	var held, confirmed, cancelled, endedLate atomic.Uint64
	var stop atomic.Bool
	var holders, others sync.WaitGroup
	for worker := 0; worker < workers; worker++ {
		holders.Add(1)
		go func() {
			defer holders.Done()
			random := rand.New(rand.NewPCG(uint64(worker), 7))
			for round := 0; round < rounds; round++ {
				order := strconv.Itoa(worker) + "-" + strconv.Itoa(round)
				if _, err := engine.Block("kettle", 1+random.Int64N(3), order); err != nil {
					t.Errorf("Block: %v", err)
					return
				}
				held.Add(1)
				var err error
				switch random.IntN(3) {
				case 0:
					if err = engine.Confirm(order); err == nil {
						confirmed.Add(1)
					}
				case 1:
					if err = engine.Cancel(order); err == nil {
						cancelled.Add(1)
					}
				}
				switch {
				case errors.Is(err, ErrExpired):
					endedLate.Add(1)
				case err != nil:
					t.Errorf("end %s: %v", order, err)
				}
			}
		}()
	}
	others.Add(1)
	go func() { // the clock
		defer others.Done()
		for !stop.Load() {
			if _, err := engine.Advance(10 * time.Millisecond); err != nil {
				t.Errorf("Advance: %v", err)
				return
			}
		}
	}()
	for reader := 0; reader < 2; reader++ {
		others.Add(1)
		go func() {
			defer others.Done()
			var last Metrics
			for !stop.Load() {
				m, err := engine.Metrics()
				if err != nil {
					t.Errorf("Metrics: %v", err)
					return
				}
				if m.LiveHolds != m.Held-m.Confirmed-m.Cancelled-m.Expired {
					t.Errorf("inconsistent snapshot %+v", m)
				}
				// Every hold holds one to three units.
				if m.HeldUnits < m.LiveHolds || m.HeldUnits > 3*m.LiveHolds {
					t.Errorf("held units out of line with live holds: %+v", m)
				}
				if m.Held < last.Held || m.Confirmed < last.Confirmed ||
					m.Cancelled < last.Cancelled || m.Expired < last.Expired ||
					m.RefusedEnded < last.RefusedEnded {
					t.Errorf("a counter went back: %+v after %+v", m, last)
				}
				last = m
			}
		}()
	}
	holders.Wait()
	stop.Store(true)
	others.Wait()
	mustAdvance(t, engine, holdTime+time.Nanosecond)

	want := Metrics{
		Held:         held.Load(),
		Confirmed:    confirmed.Load(),
		Cancelled:    cancelled.Load(),
		Expired:      held.Load() - confirmed.Load() - cancelled.Load(),
		RefusedEnded: endedLate.Load(),
	}
	if m := mustMetrics(t, engine); m != want {
		t.Errorf("at the end:\n got %+v\nwant %+v", m, want)
	}
	outcomes, err := engine.ProductOutcomes("kettle")
	wantOutcomes := ProductOutcomes{want.Confirmed, want.Cancelled, want.Expired}
	if err != nil || outcomes != wantOutcomes {
		t.Errorf("outcomes %+v, %v; want %+v", outcomes, err, wantOutcomes)
	}
}
