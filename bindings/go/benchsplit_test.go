//go:build stockkeeper_bench

package stockkeeper

import "testing"

// Where a Go pair's time goes. BenchmarkBlockConfirm runs the pairs through
// the front door; these run the same pairs with less and less of Go around
// them, so that the report can tell the door's own code, the crossings into
// C and the engine apart:
//
//	go test -tags stockkeeper_bench -run '^$' -bench . -benchtime 1000000x

// BenchmarkBlockConfirmBare crosses into C twice a pair, as the front door
// does, but with none of the door's own code around the crossings.
func BenchmarkBlockConfirmBare(b *testing.B) {
	engine, products, orders := startPairs(b)
	for i := range b.N {
		if !benchBarePair(engine, products[i], orders[i]) {
			b.Fatalf("pair %d refused", i)
		}
	}
}

// BenchmarkBlockConfirmLoopedInC runs every pair from a loop in C, one
// crossing in all: the engine's cost inside a Go program.
func BenchmarkBlockConfirmLoopedInC(b *testing.B) {
	engine, products, orders := startPairs(b)
	b.StopTimer()
	ids := newBenchIdsInC(products, orders)
	b.Cleanup(ids.free)
	settle()
	b.StartTimer()
	done, err := benchPairsInC(engine, ids)
	if err != nil || done != b.N {
		b.Fatalf("%d of %d pairs went through: %v", done, b.N, err)
	}
}

// BenchmarkColdCrossing calls a C function that touches four cold cache
// lines, once a crossing; BenchmarkColdLoopedInC makes the same calls from a
// loop in C. Their difference is what a crossing costs around such a call,
// against BenchmarkCgoFloor's crossing to a function that touches nothing.
func BenchmarkColdCrossing(b *testing.B) {
	if !benchCold() {
		b.Skip("no memory for the cold buffer")
	}
	b.ResetTimer()
	for range b.N {
		benchColdCall()
	}
}

func BenchmarkColdLoopedInC(b *testing.B) {
	if !benchCold() {
		b.Skip("no memory for the cold buffer")
	}
	b.ResetTimer()
	benchColdLoop(b.N)
}

// The split benchmarks measure something only if they do the work: a pair
// must move stock, and the C loop must stop at the first refusal.
func TestBenchSplitHelpersDoTheWork(t *testing.T) {
	engine, err := New(Options{ManualClock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	if err := engine.AddProduct("p", "P", 2); err != nil {
		t.Fatal(err)
	}
	if !benchBarePair(engine, "p", "o1") {
		t.Fatal("a bare pair was refused")
	}
	ids := newBenchIdsInC([]string{"p", "p", "p"}, []string{"o2", "o3", "o4"})
	defer ids.free()
	done, err := benchPairsInC(engine, ids)
	if err != nil || done != 1 {
		t.Fatalf("the C loop did %d pairs (%v), want 1 before the stock ran out", done, err)
	}
	stock, err := engine.Stock("p")
	if err != nil {
		t.Fatal(err)
	}
	if stock.OnHand != 0 || stock.Reserved != 0 {
		t.Fatalf("stock %+v, want both units sold", stock)
	}
}
