package stockkeeper

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// twinEngines are two engines on the manual clock with the same catalogue:
// one runs a batch, the other the same calls one by one.
func twinEngines(t *testing.T) (batched, single *Engine) {
	t.Helper()
	batched = newTestEngine(t, Options{HoldTime: time.Minute})
	single = newTestEngine(t, Options{HoldTime: time.Minute})
	for _, engine := range []*Engine{batched, single} {
		mustAdd(t, engine, "kettle", 5)
		mustAdd(t, engine, "mug", 1)
		mustAdvance(t, engine, time.Second)
	}
	return batched, single
}

// sameAftermath fails the test unless both engines hold the same stock and
// counted the same outcomes and refusals.
func sameAftermath(t *testing.T, batched, single *Engine) {
	t.Helper()
	for _, product := range []string{"kettle", "mug"} {
		got, err := batched.Stock(product)
		if err != nil {
			t.Fatal(err)
		}
		wantStock(t, single, product, got)
	}
	got, err := batched.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	want, err := single.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("metrics after the batch %+v, after single calls %+v", got, want)
	}
}

// blockRequests is a batch with every outcome a block can have, some of
// them only because of a request earlier in the same batch.
func blockRequests() []BlockRequest {
	requests := []BlockRequest{
		{"kettle", 2, "o1"},
		{"mug", 1, "o2"},
		{"mug", 1, "o3"},                // the batch's own o2 took the last mug
		{"kettle", 1, "o1"},             // the batch's own o1 holds this id
		{"kettle", 4, "o4"},             // three kettles are left
		{"teapot", 1, "o5"},             // no such product
		{"kettle", 0, "o6"},             // no quantity
		{"kettle", -1, "o7"},            // a negative one
		{"kettle", math.MinInt64, "o8"}, // the most negative one
		{"kettle", 3, "o9"},
	}
	for i, bad := range badIDs {
		requests = append(requests,
			BlockRequest{"kettle", 1, bad.id},
			BlockRequest{bad.id, 1, fmt.Sprintf("bad-product-%d", i)})
	}
	return requests
}

func TestBlockManyAnswersAsBlockDoes(t *testing.T) {
	batched, single := twinEngines(t)
	requests := blockRequests()

	results, err := batched.BlockMany(requests)
	if err != nil {
		t.Fatalf("BlockMany: %v", err)
	}
	if len(results) != len(requests) {
		t.Fatalf("%d results for %d requests", len(results), len(requests))
	}
	held := 0
	for i, request := range requests {
		deadline, err := single.Block(request.Product, request.Quantity, request.Order)
		// The engines started apart on the wall clock, not on their own.
		if results[i].Err != err || results[i].Deadline.SinceStart != deadline.SinceStart {
			t.Errorf("request %d (%.20q, %d, %.20q): batch gave %v, %v; Block gave %v, %v",
				i, request.Product, request.Quantity, request.Order,
				results[i].Deadline.SinceStart, results[i].Err, deadline.SinceStart, err)
		}
		if err == nil {
			held++
		}
	}
	if held != 3 {
		t.Errorf("%d requests held, want o1, o2 and o9", held)
	}
	sameAftermath(t, batched, single)
}

func TestBlockManyForHoldsForItsOwnTime(t *testing.T) {
	batched, single := twinEngines(t)
	for _, bad := range []time.Duration{0, -time.Second} {
		results, err := batched.BlockManyFor([]BlockRequest{{"kettle", 1, "o1"}}, bad)
		if results != nil || !errors.Is(err, ErrInvalidDuration) {
			t.Errorf("hold time %v: got %v, %v, want ErrInvalidDuration", bad, results, err)
		}
	}
	requests := []BlockRequest{{"kettle", 1, "o1"}, {"mug", 1, "o2"}}
	results, err := batched.BlockManyFor(requests, 90*time.Second)
	if err != nil {
		t.Fatalf("BlockManyFor: %v", err)
	}
	for i, request := range requests {
		deadline, err := single.BlockFor(request.Product, request.Quantity, request.Order,
			90*time.Second)
		if err != nil || results[i].Err != nil ||
			results[i].Deadline.SinceStart != deadline.SinceStart {
			t.Errorf("request %d: batch gave %+v, BlockFor gave %v, %v",
				i, results[i], deadline, err)
		}
		if results[i].Deadline.SinceStart != 91*time.Second {
			t.Errorf("request %d: deadline %v, want 1m31s", i, results[i].Deadline.SinceStart)
		}
	}
	sameAftermath(t, batched, single)
}

func TestConfirmManyAnswersAsConfirmDoes(t *testing.T) {
	batched, single := twinEngines(t)
	for _, engine := range []*Engine{batched, single} {
		mustBlock(t, engine, "kettle", 1, "held")
		mustBlock(t, engine, "kettle", 1, "cancelled")
		if err := engine.Cancel("cancelled"); err != nil {
			t.Fatal(err)
		}
		if _, err := engine.BlockFor("mug", 1, "late", time.Second); err != nil {
			t.Fatal(err)
		}
		mustAdvance(t, engine, 2*time.Second)
	}
	orders := []string{"held", "held", "cancelled", "late", "never"}
	for _, bad := range badIDs {
		orders = append(orders, bad.id)
	}

	results, err := batched.ConfirmMany(orders)
	if err != nil {
		t.Fatalf("ConfirmMany: %v", err)
	}
	if len(results) != len(orders) {
		t.Fatalf("%d results for %d orders", len(results), len(orders))
	}
	for i, order := range orders {
		err := single.Confirm(order)
		if results[i] != err {
			t.Errorf("order %d %.40q: batch gave %v, Confirm gave %v", i, order, results[i], err)
		}
	}
	if results[0] != nil || !errors.Is(results[1], ErrAlreadyConfirmed) {
		t.Errorf("the first confirm of held gave %v, the second %v", results[0], results[1])
	}
	sameAftermath(t, batched, single)
}

// Batches longer than the chunks the package hands the library at once
// (128 requests) answer as single calls do, duplicates of an order id held
// in the chunk before among them.
func TestBatchesAcrossChunksAnswerAsSingleCalls(t *testing.T) {
	batched, single := twinEngines(t)
	for _, engine := range []*Engine{batched, single} {
		mustAdd(t, engine, "crate", 400)
	}
	var requests []BlockRequest
	var orders []string
	for i := 0; i < 300; i++ {
		order := fmt.Sprintf("c%d", i)
		request := map[int]BlockRequest{
			0: {"crate", 1, order},
			1: {"crate", 0, order},
			2: {"teapot", 1, order},
			3: {"crate", 1, ""},
			4: {"crate", 2, fmt.Sprintf("c%d", i-4)},
		}[i%5]
		requests = append(requests, request)
		orders = append(orders, order)
	}
	blocked, err := batched.BlockMany(requests)
	if err != nil {
		t.Fatalf("BlockMany: %v", err)
	}
	for i, request := range requests {
		_, err := single.Block(request.Product, request.Quantity, request.Order)
		if blocked[i].Err != err {
			t.Errorf("request %d %+v: batch gave %v, Block gave %v", i, request, blocked[i].Err, err)
		}
	}
	confirmed, err := batched.ConfirmMany(orders)
	if err != nil {
		t.Fatalf("ConfirmMany: %v", err)
	}
	for i, order := range orders {
		if err := single.Confirm(order); confirmed[i] != err {
			t.Errorf("order %s: batch gave %v, Confirm gave %v", order, confirmed[i], err)
		}
	}
	got, err := batched.Stock("crate")
	if err != nil {
		t.Fatal(err)
	}
	wantStock(t, single, "crate", got)
	if got.OnHand != 400-60 {
		t.Errorf("crate stock %+v, want the 60 orders held and confirmed gone", got)
	}
	sameAftermath(t, batched, single)
}

// AddProducts answers each product as AddProduct would, across chunks of
// the batch's way into C, including products whose id the same batch took.
func TestAddProductsAnswersAsAddProductDoes(t *testing.T) {
	batched, single := twinEngines(t)
	var products []NewProduct
	for i := 0; i < 300; i++ {
		id := fmt.Sprintf("p%d", i%140)
		product := map[int]NewProduct{
			0: {id, "Product", int64(i)},
			1: {id, "", 0},
			2: {id, "Bad\x00name", 1},
			3: {id, strings.Repeat("n", 1025), 1},
			4: {id, "Product", -1},
			5: {id, "Product", math.MinInt64},
			6: {"kettle", "Taken", 1},
		}[i%7]
		products = append(products, product)
	}
	for i, bad := range badIDs {
		products = append(products, NewProduct{bad.id, fmt.Sprintf("Bad id %d", i), 1})
	}
	results, err := batched.AddProducts(products)
	if err != nil {
		t.Fatalf("AddProducts: %v", err)
	}
	if len(results) != len(products) {
		t.Fatalf("%d results for %d products", len(results), len(products))
	}
	added, taken := 0, 0
	for i, product := range products {
		err := single.AddProduct(product.ID, product.Name, product.OnHand)
		if results[i] != err {
			t.Errorf("product %d (%.20q, %.20q, %d): batch gave %v, AddProduct gave %v",
				i, product.ID, product.Name, product.OnHand, results[i], err)
		}
		if errors.Is(err, ErrProductExists) && product.ID != "kettle" {
			taken++
		}
		if err == nil {
			added++
			got, err := batched.Stock(product.ID)
			if err != nil || got.OnHand != product.OnHand {
				t.Errorf("product %d added with %+v, %v; want %d on hand", i, got, err,
					product.OnHand)
			}
		}
	}
	// Products 140 on reuse the ids of those 140 places before them.
	if added < 30 || taken < 30 {
		t.Errorf("%d products added and %d refused as taken by the batch itself", added, taken)
	}
	sameAftermath(t, batched, single)
}

func TestBatchesOnAClosedEngine(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)
	if blocked, err := engine.BlockMany([]BlockRequest{}); err != nil || len(blocked) != 0 {
		t.Errorf("an empty batch gave %v, %v", blocked, err)
	}
	if confirmed, err := engine.ConfirmMany(nil); err != nil || len(confirmed) != 0 {
		t.Errorf("an empty batch gave %v, %v", confirmed, err)
	}
	if added, err := engine.AddProducts(nil); err != nil || len(added) != 0 {
		t.Errorf("an empty batch gave %v, %v", added, err)
	}
	if err := engine.Close(); err != nil {
		t.Fatal(err)
	}
	for _, requests := range [][]BlockRequest{nil, {{"kettle", 1, "o1"}}} {
		blocked, err := engine.BlockMany(requests)
		if blocked != nil || !errors.Is(err, ErrClosed) {
			t.Errorf("BlockMany of %d after Close gave %v, %v", len(requests), blocked, err)
		}
	}
	confirmed, err := engine.ConfirmMany([]string{"o1"})
	if confirmed != nil || !errors.Is(err, ErrClosed) {
		t.Errorf("ConfirmMany after Close gave %v, %v", confirmed, err)
	}
	added, err := engine.AddProducts([]NewProduct{{"mug", "Mug", 1}})
	if added != nil || !errors.Is(err, ErrClosed) {
		t.Errorf("AddProducts after Close gave %v, %v", added, err)
	}
}

// Batches from many goroutines at once over a few products never hold more
// than there is, and every unit held is one a batch reported held.
func TestConcurrentBatchesNeverOversell(t *testing.T) {
	engine := newTestEngine(t, Options{})
	products := []string{"a", "b", "c"}
	const units, goroutines, perBatch = 50, 8, 40
	for _, product := range products {
		mustAdd(t, engine, product, units)
	}
	held := make([]map[string]int64, goroutines)
	var wait sync.WaitGroup
	for g := range goroutines {
		wait.Add(1)
		go func() {
			defer wait.Done()
			held[g] = map[string]int64{}
			requests := make([]BlockRequest, perBatch)
			for i := range requests {
				requests[i] = BlockRequest{products[i%len(products)], int64(1 + i%2),
					fmt.Sprintf("g%d-o%d", g, i)}
			}
			results, err := engine.BlockMany(requests)
			if err != nil {
				t.Error(err)
				return
			}
			var confirm []string
			for i, result := range results {
				switch {
				case result.Err == nil:
					held[g][requests[i].Product] += requests[i].Quantity
					confirm = append(confirm, requests[i].Order)
				case !errors.Is(result.Err, ErrInsufficientStock):
					t.Errorf("request %+v: %v", requests[i], result.Err)
				}
			}
			confirmed, err := engine.ConfirmMany(confirm)
			if err != nil {
				t.Error(err)
				return
			}
			for i, err := range confirmed {
				if err != nil {
					t.Errorf("confirm %s: %v", confirm[i], err)
				}
			}
		}()
	}
	wait.Wait()
	for _, product := range products {
		var sold int64
		for g := range goroutines {
			sold += held[g][product]
		}
		if sold > units {
			t.Errorf("%s: %d units sold of %d", product, sold, units)
		}
		wantStock(t, engine, product, Stock{OnHand: units - sold, Available: units - sold})
	}
}

// A batch that a Close overtakes: the requests before the close took
// effect, and every one after it failed with ErrClosed. The close waits
// until the batch has held something, so the batch has begun; it usually
// lands before the batch's last request, and the test holds either way.
func TestCloseDuringABatch(t *testing.T) {
	engine, err := New(Options{ManualClock: true})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, engine, "kettle", math.MaxInt32)
	requests := make([]BlockRequest, 20_000)
	for i := range requests {
		requests[i] = BlockRequest{"kettle", 1, fmt.Sprintf("o%d", i)}
	}
	done := make(chan struct{})
	var results []Blocked
	var batchErr error
	go func() {
		defer close(done)
		results, batchErr = engine.BlockMany(requests)
	}()
	for {
		stock, err := engine.Stock("kettle")
		if err != nil {
			t.Fatal(err)
		}
		if stock.Reserved > 0 {
			break
		}
		runtime.Gosched()
	}
	if err := engine.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	if len(results) != len(requests) {
		t.Fatalf("a batch under way gave %d results for %d requests (%v)",
			len(results), len(requests), batchErr)
	}
	closedAt := len(results)
	for i, result := range results {
		if errors.Is(result.Err, ErrClosed) {
			closedAt = i
			break
		}
		if result.Err != nil {
			t.Fatalf("request %d: %v", i, result.Err)
		}
	}
	for i := closedAt; i < len(results); i++ {
		if !errors.Is(results[i].Err, ErrClosed) {
			t.Fatalf("request %d after the close at %d gave %v", i, closedAt, results[i].Err)
		}
	}
	t.Logf("closed at %d of %d", closedAt, len(results))
	if closed := closedAt < len(results); closed != errors.Is(batchErr, ErrClosed) {
		t.Errorf("the batch returned %v, with the close at request %d of %d",
			batchErr, closedAt, len(results))
	}
}
