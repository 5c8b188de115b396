package stockkeeper_test

import (
	"errors"
	"fmt"
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
