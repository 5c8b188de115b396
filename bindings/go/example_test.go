package stockkeeper_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	stockkeeper "github.com/stockkeeper/stockkeeper/bindings/go"
)

// A hold reserves stock until it is confirmed; confirming takes the units
// out of on_hand.
func Example() {
	engine, err := stockkeeper.New(stockkeeper.Options{})
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	if err := engine.AddProduct("kettle", "Kettle", 10); err != nil {
		panic(err)
	}
	if _, err := engine.Block("kettle", 3, "order-1"); err != nil {
		panic(err)
	}
	held, _ := engine.Stock("kettle")
	fmt.Printf("held:      %+v\n", held)

	if err := engine.Confirm("order-1"); err != nil {
		panic(err)
	}
	confirmed, _ := engine.Stock("kettle")
	fmt.Printf("confirmed: %+v\n", confirmed)
	// Output:
	// held:      {OnHand:10 Reserved:3 Available:7}
	// confirmed: {OnHand:7 Reserved:0 Available:7}
}

// On the manual clock a test moves time itself: a hold not confirmed by its
// deadline expires and its stock comes back.
func ExampleEngine_Advance() {
	engine, _ := stockkeeper.New(stockkeeper.Options{ManualClock: true})
	defer engine.Close()
	_ = engine.AddProduct("kettle", "Kettle", 5)

	deadline, _ := engine.BlockFor("kettle", 2, "order-1", time.Minute)
	fmt.Println("deadline:", deadline.SinceStart)

	released, _ := engine.Advance(time.Minute + time.Nanosecond)
	fmt.Println("released:", released)

	err := engine.Confirm("order-1")
	fmt.Println("expired:", errors.Is(err, stockkeeper.ErrExpired))
	available, _ := engine.Available("kettle")
	fmt.Println("available:", available)
	// Output:
	// deadline: 1m0s
	// released: 1
	// expired: true
	// available: 5
}

// A refused hold returns an error to test with errors.Is; nothing changed.
func ExampleEngine_Block() {
	engine, _ := stockkeeper.New(stockkeeper.Options{ManualClock: true})
	defer engine.Close()
	_ = engine.AddProduct("kettle", "Kettle", 2)

	_, err := engine.Block("kettle", 3, "order-1")
	fmt.Println(errors.Is(err, stockkeeper.ErrInsufficientStock))
	fmt.Println(err)

	var failure *stockkeeper.Error
	if errors.As(err, &failure) {
		fmt.Println(failure.Name())
	}
	// Output:
	// true
	// stockkeeper: not enough stock available
	// insufficient_stock
}

// An order of several lines is held whole or not at all; the error says
// which line could not be held.
func ExampleEngine_BlockOrder() {
	engine, _ := stockkeeper.New(stockkeeper.Options{ManualClock: true})
	defer engine.Close()
	_ = engine.AddProduct("kettle", "Kettle", 5)
	_ = engine.AddProduct("toaster", "Toaster", 1)

	lines := []stockkeeper.Line{
		{Product: "kettle", Quantity: 2},
		{Product: "toaster", Quantity: 2},
	}
	_, err := engine.BlockOrder("order-1", lines, engine.HoldTime())

	var lineErr *stockkeeper.LineError
	if errors.As(err, &lineErr) {
		fmt.Println("line", lineErr.Line, lineErr.Err.Name())
	}
	available, _ := engine.Available("kettle")
	fmt.Println("kettles available:", available)
	// Output:
	// line 1 insufficient_stock
	// kettles available: 5
}

// Status reports an order's state, lines and deadline.
func ExampleEngine_Status() {
	engine, _ := stockkeeper.New(stockkeeper.Options{ManualClock: true})
	defer engine.Close()
	_ = engine.AddProduct("kettle", "Kettle", 5)
	_ = engine.AddProduct("mug", "Mug", 5)

	lines := []stockkeeper.Line{
		{Product: "mug", Quantity: 1},
		{Product: "kettle", Quantity: 1},
		{Product: "mug", Quantity: 2},
	}
	_, _ = engine.BlockOrder("order-1", lines, 10*time.Minute)
	_ = engine.Cancel("order-1")

	status, _ := engine.Status("order-1")
	fmt.Println(status.State, status.Lines, status.Deadline.SinceStart)
	// Output:
	// cancelled [{kettle 1} {mug 3}] 10m0s
}

// Close is safe to call twice; calls after it fail with ErrClosed.
func ExampleEngine_Close() {
	engine, _ := stockkeeper.New(stockkeeper.Options{})
	fmt.Println(engine.Close(), engine.Close())

	_, err := engine.Available("kettle")
	fmt.Println(errors.Is(err, stockkeeper.ErrClosed))
	// Output:
	// <nil> <nil>
	// true
}

// Metrics counts holds by outcome and refusals by reason; ProductOutcomes
// tells how the holds on one product ended.
func ExampleEngine_Metrics() {
	engine, _ := stockkeeper.New(stockkeeper.Options{ManualClock: true})
	defer engine.Close()
	_ = engine.AddProduct("kettle", "Kettle", 5)

	_, _ = engine.BlockFor("kettle", 2, "order-1", time.Minute)
	_, _ = engine.BlockFor("kettle", 1, "order-2", time.Minute)
	_ = engine.Confirm("order-1")
	_, _ = engine.Advance(time.Minute + time.Nanosecond) // order-2 expires
	_, _ = engine.Block("kettle", 9, "order-3")          // too many
	_, _ = engine.Block("kettle", -1, "order-4")         // bad input

	m, _ := engine.Metrics()
	fmt.Printf("held %d, confirmed %d, expired %d, live %d\n",
		m.Held, m.Confirmed, m.Expired, m.LiveHolds)
	fmt.Printf("refused: stock %d, invalid %d\n", m.RefusedStock, m.RefusedInvalid)

	outcomes, _ := engine.ProductOutcomes("kettle")
	share, _ := outcomes.ConfirmedShare()
	fmt.Printf("kettle holds confirmed: %.0f%%\n", share*100)
	// Output:
	// held 2, confirmed 1, expired 1, live 0
	// refused: stock 1, invalid 1
	// kettle holds confirmed: 50%
}

// MetricsText serves the counters to Prometheus, with the products named.
func ExampleEngine_MetricsText() {
	engine, _ := stockkeeper.New(stockkeeper.Options{ManualClock: true})
	defer engine.Close()
	_ = engine.AddProduct("kettle", "Kettle", 5)
	_, _ = engine.Block("kettle", 2, "order-1")
	_ = engine.Confirm("order-1")

	text, _ := engine.MetricsText("kettle")
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "confirmed") && !strings.HasPrefix(line, "#") {
			fmt.Println(line)
		}
	}
	// Output:
	// stockkeeper_holds_total{outcome="confirmed"} 1
	// stockkeeper_product_holds_ended_total{product="kettle",outcome="confirmed"} 1
}

// Subscribe calls a func with every event, on the engine's notifier thread;
// FlushEvents waits until the events so far were delivered.
func ExampleEngine_Subscribe() {
	engine, _ := stockkeeper.New(stockkeeper.Options{ManualClock: true})
	defer engine.Close()
	_ = engine.AddProduct("kettle", "Kettle", 2)

	subscription, _ := engine.Subscribe(func(event stockkeeper.Event) {
		switch event.Kind {
		case stockkeeper.HoldEnded:
			fmt.Println(event.Order, event.State, event.Lines)
		case stockkeeper.SoldOut:
			fmt.Println(event.Product, "sold out")
		}
	})
	defer subscription.Close()

	_, _ = engine.Block("kettle", 2, "order-1")
	_ = engine.Cancel("order-1")
	_ = engine.FlushEvents()
	// Output:
	// kettle sold out
	// order-1 cancelled [{kettle 2}]
}

// Events hands events over a channel, which the engine never waits for: a
// full channel drops events and counts them.
func ExampleEngine_Events() {
	engine, _ := stockkeeper.New(stockkeeper.Options{ManualClock: true})
	_ = engine.AddProduct("kettle", "Kettle", 5)

	events, subscription, _ := engine.Events(16)
	_, _ = engine.BlockFor("kettle", 1, "order-1", time.Minute)
	_, _ = engine.Advance(time.Minute + time.Nanosecond)

	// Close delivers what was queued, then closes the channel.
	_ = engine.Close()
	for event := range events {
		fmt.Println(event.Kind, event.Order, event.State)
	}
	fmt.Println("dropped:", subscription.Dropped())
	// Output:
	// hold_ended order-1 expired
	// dropped: 0
}
