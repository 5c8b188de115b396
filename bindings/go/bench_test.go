package stockkeeper

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

// The benchmarks run the Rust benchmark's "ffi-pairs" workload: block then
// confirm on a catalogue of 100,000 products, every id prepared before the
// timer starts, so that ns/op minus the Rust figure per pair is what the Go
// front door (cgo and the wrapper) adds to two calls.
//
//	go test -run '^$' -bench . -benchtime 1000000x

const benchProducts = 100_000

func benchEngine(b *testing.B) *Engine {
	b.Helper()
	engine, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = engine.Close() })
	for i := range benchProducts {
		if err := engine.AddProduct(fmt.Sprintf("sku-%010d", i), "Product", 1_000_000_000); err != nil {
			b.Fatal(err)
		}
	}
	return engine
}

// benchIds prepares n product ids (a stride through the catalogue) and n
// order ids, unique across the whole benchmark run under prefix.
func benchIds(n int, prefix string) (products, orders []string) {
	products = make([]string, n)
	orders = make([]string, n)
	for i := range n {
		products[i] = fmt.Sprintf("sku-%010d", (i*7919)%benchProducts)
		orders[i] = fmt.Sprintf("ord-%s%011d", prefix, i)
	}
	return products, orders
}

var benchRun atomic.Int64

// settle finishes the collection the prepared ids set off, so that its
// marking, on the other CPU and in write barriers, is not timed as calls.
func settle() {
	runtime.GC()
}

// startPairs makes the engine and the ids of a pairs benchmark, settles the
// collector and starts the timer from zero.
func startPairs(b *testing.B) (engine *Engine, products, orders []string) {
	b.Helper()
	engine = benchEngine(b)
	products, orders = benchIds(b.N, fmt.Sprint(benchRun.Add(1)%10))
	settle()
	b.ResetTimer()
	return engine, products, orders
}

func BenchmarkBlockConfirm(b *testing.B) {
	engine, products, orders := startPairs(b)
	pairs(b, engine, products, orders)
}

// pairs blocks then confirms each order in turn.
func pairs(b *testing.B, engine *Engine, products, orders []string) {
	for i := range b.N {
		if _, err := engine.Block(products[i], 1, orders[i]); err != nil {
			b.Fatal(err)
		}
		if err := engine.Confirm(orders[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlockConfirmSubscribed runs the same pairs with a subscriber
// whose func counts every event (one a pair, as each confirm ends a hold).
// The timer stops when the last call returns; every event is then checked
// delivered.
func BenchmarkBlockConfirmSubscribed(b *testing.B) {
	engine, products, orders := startPairs(b)
	var heard atomic.Int64
	subscription, err := engine.Subscribe(func(Event) { heard.Add(1) })
	if err != nil {
		b.Fatal(err)
	}
	defer subscription.Close()
	b.ResetTimer()
	pairs(b, engine, products, orders)
	b.StopTimer()
	if err := engine.FlushEvents(); err != nil {
		b.Fatal(err)
	}
	if got := heard.Load(); got != int64(b.N) {
		b.Fatalf("%d events heard of %d pairs", got, b.N)
	}
}

// benchBatch is how many orders the batch benchmarks send a batch, as the
// Python benchmark's batches.
const benchBatch = 1000

// batches calls run on every benchBatch-long stretch of 0..n in turn.
func batches(b *testing.B, n int, run func(start, end int) error) {
	for start := 0; start < n; start += benchBatch {
		if err := run(start, min(start+benchBatch, n)); err != nil {
			b.Fatal(err)
		}
	}
}

// startBatches is startPairs for the batch benchmarks: the ids come as the
// requests of a batch too.
func startBatches(b *testing.B) (engine *Engine, requests []BlockRequest, orders []string) {
	b.Helper()
	engine, products, orders := startPairs(b)
	b.StopTimer()
	requests = make([]BlockRequest, len(products))
	for i := range requests {
		requests[i] = BlockRequest{Product: products[i], Quantity: 1, Order: orders[i]}
	}
	settle()
	b.StartTimer()
	return engine, requests, orders
}

// BenchmarkBlock and BenchmarkBlockMany hold the same orders, one call each
// and in batches: their difference per order is what a batch saves.
func BenchmarkBlock(b *testing.B) {
	engine, products, orders := startPairs(b)
	for i := range b.N {
		if _, err := engine.Block(products[i], 1, orders[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlockMany(b *testing.B) {
	engine, requests, _ := startBatches(b)
	batches(b, b.N, func(start, end int) error {
		blocked, err := engine.BlockMany(requests[start:end])
		for i := range blocked {
			err = errors.Join(err, blocked[i].Err)
		}
		return err
	})
}

// BenchmarkBlockConfirmMany runs the same pairs as BenchmarkBlockConfirm in
// batches, BlockMany then ConfirmMany. A confirm then comes a thousand
// blocks after its own, when its product is out of the cache again, where
// BenchmarkBlockConfirm confirms at once. ns/op is per pair.
func BenchmarkBlockConfirmMany(b *testing.B) {
	engine, requests, orders := startBatches(b)
	batches(b, b.N, func(start, end int) error {
		blocked, err := engine.BlockMany(requests[start:end])
		if err != nil {
			return err
		}
		confirmed, err := engine.ConfirmMany(orders[start:end])
		if err != nil {
			return err
		}
		for i := range blocked {
			if err := errors.Join(blocked[i].Err, confirmed[i]); err != nil {
				return fmt.Errorf("pair %d: %w", start+i, err)
			}
		}
		return nil
	})
}

// BenchmarkAvailable reads one product over and over, as the Rust and C
// benchmarks' "ffi-reads" do: nothing cold and nothing allocated, so ns/op
// minus the Rust figure is the Go front door alone, per call.
func BenchmarkAvailable(b *testing.B) {
	engine := benchEngine(b)
	product, _ := benchIds(1, "")
	settle()
	b.ResetTimer()
	var seen int64
	for range b.N {
		available, err := engine.Available(product[0])
		if err != nil {
			b.Fatal(err)
		}
		seen += available
	}
	if seen <= 0 {
		b.Fatal("the read product has no stock")
	}
}

// BenchmarkCgoFloor times the cheapest call into the library: what cgo
// itself costs per call here, which no Go front door can go below.
func BenchmarkCgoFloor(b *testing.B) {
	for range b.N {
		cgoFloor()
	}
}

func BenchmarkBlockConfirmParallel(b *testing.B) {
	engine, products, orders := startPairs(b)
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if _, err := engine.Block(products[i], 1, orders[i]); err != nil {
				b.Error(err)
				return
			}
			if err := engine.Confirm(orders[i]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
