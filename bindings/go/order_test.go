package stockkeeper

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mustBlock holds stock or ends the test.
func mustBlock(t *testing.T, engine *Engine, product string, quantity int64,
	order string) Deadline {
	t.Helper()
	deadline, err := engine.Block(product, quantity, order)
	if err != nil {
		t.Fatalf("Block(%q, %d, %q): %v", product, quantity, order, err)
	}
	return deadline
}

// mustAdvance moves the manual clock or ends the test.
func mustAdvance(t *testing.T, engine *Engine, d time.Duration) int {
	t.Helper()
	released, err := engine.Advance(d)
	if err != nil {
		t.Fatalf("Advance(%v): %v", d, err)
	}
	return released
}

// wantState fails the test unless the order stands where it should.
func wantState(t *testing.T, engine *Engine, order string, want OrderState) OrderStatus {
	t.Helper()
	status, err := engine.Status(order)
	if err != nil {
		t.Fatalf("Status(%q): %v", order, err)
	}
	if status.State != want {
		t.Errorf("Status(%q).State = %v, want %v", order, status.State, want)
	}
	return status
}

func TestBlockHoldsUntilTheDeadline(t *testing.T) {
	engine := newTestEngine(t, Options{HoldTime: 90 * time.Second})
	mustAdd(t, engine, "kettle", 10)
	mustAdvance(t, engine, time.Second)

	deadline := mustBlock(t, engine, "kettle", 3, "o1")
	if deadline.SinceStart != 91*time.Second {
		t.Errorf("deadline %v, want 1m31s", deadline.SinceStart)
	}
	wantStock(t, engine, "kettle", Stock{OnHand: 10, Reserved: 3, Available: 7})

	status := wantState(t, engine, "o1", Held)
	if !reflect.DeepEqual(status.Lines, []Line{{"kettle", 3}}) || status.Deadline != deadline {
		t.Errorf("status %+v, want one line of 3 kettles and deadline %+v", status, deadline)
	}
}

// The wall-clock deadline is the monotonic one seen from the wall clock at
// the engine's start: both move together.
func TestDeadlineOnTheWallClock(t *testing.T) {
	before := time.Now()
	engine := newTestEngine(t, Options{})
	after := time.Now()
	mustAdd(t, engine, "kettle", 10)

	first := mustBlock(t, engine, "kettle", 1, "o1")
	mustAdvance(t, engine, time.Hour)
	second := mustBlock(t, engine, "kettle", 1, "o2")

	if got := second.Wall.Sub(first.Wall); got != time.Hour {
		t.Errorf("wall deadlines %v apart, want 1h", got)
	}
	start := first.Wall.Add(-first.SinceStart)
	if start.Before(before.Truncate(time.Second)) || start.After(after.Add(time.Second)) {
		t.Errorf("engine start on the wall clock %v, not between %v and %v", start, before, after)
	}
}

func TestBlockForUsesItsOwnHoldTime(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 10)

	deadline, err := engine.BlockFor("kettle", 1, "o1", time.Nanosecond)
	if err != nil || deadline.SinceStart != time.Nanosecond {
		t.Fatalf("BlockFor 1ns: %+v, %v", deadline, err)
	}
	deadline, err = engine.BlockFor("kettle", 1, "o2", math.MaxInt64)
	if err != nil || deadline.SinceStart != math.MaxInt64 {
		t.Errorf("BlockFor longest: %+v, %v", deadline, err)
	}

	for _, hold := range []time.Duration{0, -1, math.MinInt64} {
		_, err := engine.BlockFor("kettle", 1, "o3", hold)
		wantErr(t, "BlockFor "+hold.String(), err, ErrInvalidDuration)
	}
	wantStock(t, engine, "kettle", Stock{OnHand: 10, Reserved: 2, Available: 8})
}

func TestBlockRefusesBadInput(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)
	mustBlock(t, engine, "kettle", 1, "taken")

	for _, quantity := range []int64{0, -1, math.MinInt64} {
		_, err := engine.Block("kettle", quantity, "o1")
		wantErr(t, "quantity", err, ErrInvalidQuantity)
	}
	_, err := engine.Block("kettle", 5, "o1")
	wantErr(t, "more than available", err, ErrInsufficientStock)
	_, err = engine.Block("kettle", math.MaxInt64, "o1")
	wantErr(t, "largest quantity", err, ErrInsufficientStock)
	_, err = engine.Block("nothing", 1, "o1")
	wantErr(t, "unknown product", err, ErrUnknownProduct)
	_, err = engine.Block("kettle", 1, "taken")
	wantErr(t, "order id in use", err, ErrDuplicateOrder)
	for _, bad := range badIDs {
		_, err := engine.Block("kettle", 1, bad.id)
		wantErr(t, "order id "+bad.label, err, bad.want)
		_, err = engine.Block(bad.id, 1, "o1")
		wantErr(t, "product id "+bad.label, err, bad.want)
	}

	wantStock(t, engine, "kettle", Stock{OnHand: 5, Reserved: 1, Available: 4})
	_, err = engine.Status("o1")
	wantErr(t, "order of refused blocks", err, ErrUnknownOrder)
}

// Order ids are never silently reused: held, confirmed, cancelled and
// expired ids are all taken while remembered.
func TestOrderIDsAreNotReused(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 10)
	mustBlock(t, engine, "kettle", 1, "held")
	mustBlock(t, engine, "kettle", 1, "confirmed")
	mustBlock(t, engine, "kettle", 1, "cancelled")
	if _, err := engine.BlockFor("kettle", 1, "expired", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := engine.Confirm("confirmed"); err != nil {
		t.Fatal(err)
	}
	if err := engine.Cancel("cancelled"); err != nil {
		t.Fatal(err)
	}
	if released := mustAdvance(t, engine, 2*time.Second); released != 1 {
		t.Errorf("released %d holds, want 1", released)
	}

	for _, order := range []string{"held", "confirmed", "cancelled", "expired"} {
		_, err := engine.Block("kettle", 1, order)
		wantErr(t, "reuse of "+order, err, ErrDuplicateOrder)
		_, err = engine.BlockOrder(order, []Line{{"kettle", 1}}, time.Second)
		wantErr(t, "multi-line reuse of "+order, err, ErrDuplicateOrder)
		var lineErr *LineError
		if errors.As(err, &lineErr) {
			t.Errorf("a duplicate order blames line %d", lineErr.Line)
		}
	}
	wantStock(t, engine, "kettle", Stock{OnHand: 9, Reserved: 1, Available: 8})
}

func TestBlockOrderHoldsEveryLineOrNone(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)
	mustAdd(t, engine, "mug", 5)
	mustAdd(t, engine, "toaster", 1)

	lines := []Line{{"mug", 2}, {"kettle", 1}, {"mug", 3}}
	deadline, err := engine.BlockOrder("o1", lines, 2*time.Minute)
	if err != nil || deadline.SinceStart != 2*time.Minute {
		t.Fatalf("BlockOrder: %+v, %v", deadline, err)
	}
	wantStock(t, engine, "mug", Stock{OnHand: 5, Reserved: 5})
	status := wantState(t, engine, "o1", Held)
	if want := []Line{{"kettle", 1}, {"mug", 5}}; !reflect.DeepEqual(status.Lines, want) {
		t.Errorf("lines %v, want the same product summed and sorted: %v", status.Lines, want)
	}

	// The second line cannot be held, so the first is not held either.
	_, err = engine.BlockOrder("o2", []Line{{"kettle", 4}, {"toaster", 2}}, time.Minute)
	wantLineErr(t, err, 1, ErrInsufficientStock)
	wantStock(t, engine, "kettle", Stock{OnHand: 5, Reserved: 1, Available: 4})
	_, err = engine.Status("o2")
	wantErr(t, "refused order", err, ErrUnknownOrder)

	// Lines of one product are summed before the check.
	_, err = engine.BlockOrder("o2", []Line{{"kettle", 2}, {"kettle", 3}}, time.Minute)
	wantLineErr(t, err, 0, ErrInsufficientStock)
	_, err = engine.BlockOrder("o2", []Line{{"kettle", 2}, {"kettle", 2}}, time.Minute)
	if err != nil {
		t.Errorf("summed lines that fit: %v", err)
	}
}

func wantLineErr(t *testing.T, err error, line int, want *Error) {
	t.Helper()
	var lineErr *LineError
	if !errors.As(err, &lineErr) {
		t.Errorf("got %v, want a LineError for line %d", err, line)
		return
	}
	if lineErr.Line != line || !errors.Is(err, want) {
		t.Errorf("got line %d %s, want line %d %s", lineErr.Line, lineErr.Err.Name(), line, want.Name())
	}
}

func TestBlockOrderNamesTheLineAtFault(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)
	mustAdd(t, engine, "toaster", 5)
	mustAdd(t, engine, "mug", 5)

	for label, bad := range map[string]struct {
		line Line
		want *Error
	}{
		"unknown product": {Line{"nothing", 1}, ErrUnknownProduct},
		"zero quantity":   {Line{"mug", 0}, ErrInvalidQuantity},
		"negative":        {Line{"mug", -3}, ErrInvalidQuantity},
		"too many":        {Line{"mug", 6}, ErrInsufficientStock},
		"empty id":        {Line{"", 1}, ErrEmptyID},
		"id too long":     {Line{strings.Repeat("m", 257), 1}, ErrIDTooLong},
		"NUL in id":       {Line{"m\x00g", 1}, ErrIDContainsNUL},
		"invalid UTF-8":   {Line{"m\xffg", 1}, ErrInvalidUTF8},
	} {
		_, err := engine.BlockOrder("o1", []Line{{"kettle", 1}, {"toaster", 1}, bad.line}, time.Minute)
		if !errors.Is(err, bad.want) {
			t.Errorf("%s: got %v, want %s", label, err, bad.want.Name())
			continue
		}
		wantLineErr(t, err, 2, bad.want)
	}
	wantStock(t, engine, "kettle", Stock{OnHand: 5, Available: 5})
	wantStock(t, engine, "toaster", Stock{OnHand: 5, Available: 5})

	// Lines naming one product are summed, and the first of them is blamed.
	_, err := engine.BlockOrder("o1", []Line{{"mug", 3}, {"kettle", 1}, {"mug", 3}}, time.Minute)
	wantLineErr(t, err, 0, ErrInsufficientStock)
	wantStock(t, engine, "mug", Stock{OnHand: 5, Available: 5})
}

func TestBlockOrderRefusesBadOrders(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)
	one := []Line{{"kettle", 1}}

	_, err := engine.BlockOrder("o1", nil, time.Minute)
	wantErr(t, "no lines", err, ErrInvalidQuantity)
	_, err = engine.BlockOrder("o1", []Line{}, time.Minute)
	wantErr(t, "empty lines", err, ErrInvalidQuantity)
	_, err = engine.BlockOrder("o1", one, 0)
	wantErr(t, "zero hold time", err, ErrInvalidDuration)
	_, err = engine.BlockOrder("o1", one, -time.Second)
	wantErr(t, "negative hold time", err, ErrInvalidDuration)
	for _, bad := range badIDs {
		_, err := engine.BlockOrder(bad.id, one, time.Minute)
		wantErr(t, "order id "+bad.label, err, bad.want)
		var lineErr *LineError
		if errors.As(err, &lineErr) {
			t.Errorf("a bad order id blames line %d", lineErr.Line)
		}
	}
	wantStock(t, engine, "kettle", Stock{OnHand: 5, Available: 5})
}

func TestConfirmAndCancelEndAHoldOnce(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 10)
	mustBlock(t, engine, "kettle", 3, "paid")
	mustBlock(t, engine, "kettle", 2, "unpaid")

	if err := engine.Confirm("paid"); err != nil {
		t.Fatal(err)
	}
	if err := engine.Cancel("unpaid"); err != nil {
		t.Fatal(err)
	}
	wantStock(t, engine, "kettle", Stock{OnHand: 7, Available: 7})
	wantState(t, engine, "paid", Confirmed)
	wantState(t, engine, "unpaid", Cancelled)

	wantErr(t, "confirm twice", engine.Confirm("paid"), ErrAlreadyConfirmed)
	wantErr(t, "cancel confirmed", engine.Cancel("paid"), ErrAlreadyConfirmed)
	wantErr(t, "confirm cancelled", engine.Confirm("unpaid"), ErrAlreadyCancelled)
	wantErr(t, "cancel twice", engine.Cancel("unpaid"), ErrAlreadyCancelled)
	wantErr(t, "confirm unknown", engine.Confirm("nobody"), ErrUnknownOrder)
	wantErr(t, "cancel unknown", engine.Cancel("nobody"), ErrUnknownOrder)
	wantBadIDsRefused(t, "confirm", engine.Confirm)
	wantBadIDsRefused(t, "cancel", engine.Cancel)
	wantStock(t, engine, "kettle", Stock{OnHand: 7, Available: 7})
}

// A deadline is absolute: confirm at the deadline succeeds, one nanosecond
// later it fails and the stock is back.
func TestConfirmAtAndPastTheDeadline(t *testing.T) {
	engine := newTestEngine(t, Options{HoldTime: time.Minute})
	mustAdd(t, engine, "kettle", 5)
	mustBlock(t, engine, "kettle", 2, "on-time")
	mustBlock(t, engine, "kettle", 3, "late")

	if released := mustAdvance(t, engine, time.Minute); released != 0 {
		t.Errorf("released %d holds at the deadline, want 0", released)
	}
	if err := engine.Confirm("on-time"); err != nil {
		t.Errorf("confirm at the deadline: %v", err)
	}
	if released := mustAdvance(t, engine, time.Nanosecond); released != 1 {
		t.Errorf("released %d holds past the deadline, want 1", released)
	}
	wantErr(t, "confirm past the deadline", engine.Confirm("late"), ErrExpired)
	wantErr(t, "cancel past the deadline", engine.Cancel("late"), ErrExpired)
	wantStock(t, engine, "kettle", Stock{OnHand: 3, Available: 3})
	status := wantState(t, engine, "late", Expired)
	if status.Deadline.SinceStart != time.Minute {
		t.Errorf("expired order keeps deadline %v, want 1m0s", status.Deadline.SinceStart)
	}
}

func TestExtendMovesALiveDeadline(t *testing.T) {
	engine := newTestEngine(t, Options{HoldTime: time.Minute})
	mustAdd(t, engine, "kettle", 5)
	mustBlock(t, engine, "kettle", 2, "o1")

	deadline, err := engine.Extend("o1", 30*time.Second)
	if err != nil || deadline.SinceStart != 90*time.Second {
		t.Fatalf("Extend: %+v, %v; want 1m30s", deadline, err)
	}
	if released := mustAdvance(t, engine, 90*time.Second); released != 0 {
		t.Errorf("an extended hold was released at its old deadline")
	}
	if err := engine.Confirm("o1"); err != nil {
		t.Errorf("confirm at the extended deadline: %v", err)
	}
	_, err = engine.Extend("o1", time.Second)
	wantErr(t, "extend confirmed", err, ErrAlreadyConfirmed)

	mustBlock(t, engine, "kettle", 1, "o2")
	if err := engine.Cancel("o2"); err != nil {
		t.Fatal(err)
	}
	_, err = engine.Extend("o2", time.Second)
	wantErr(t, "extend cancelled", err, ErrAlreadyCancelled)

	mustBlock(t, engine, "kettle", 1, "o3")
	_, err = engine.Extend("o3", 0)
	wantErr(t, "extend by zero", err, ErrInvalidDuration)
	_, err = engine.Extend("o3", -time.Second)
	wantErr(t, "extend by a negative", err, ErrInvalidDuration)
	_, err = engine.Extend("nobody", time.Second)
	wantErr(t, "extend unknown", err, ErrUnknownOrder)
	wantBadIDsRefused(t, "extend", func(id string) error {
		_, err := engine.Extend(id, time.Second)
		return err
	})
	status := wantState(t, engine, "o3", Held)
	if status.Deadline.SinceStart != 150*time.Second {
		t.Errorf("refused extensions moved the deadline to %v", status.Deadline.SinceStart)
	}

	mustAdvance(t, engine, time.Minute+time.Nanosecond)
	_, err = engine.Extend("o3", time.Second)
	wantErr(t, "extend expired", err, ErrExpired)
	wantState(t, engine, "o3", Expired)
}

// Deadlines live on a 64-bit nanosecond clock; one that would pass it
// overflows, in Extend and in Block alike.
func TestDeadlinesPastTheClockOverflow(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)
	mustBlock(t, engine, "kettle", 1, "o1")

	if _, err := engine.Extend("o1", math.MaxInt64); err != nil {
		t.Fatalf("first long extension: %v", err)
	}
	_, err := engine.Extend("o1", math.MaxInt64)
	wantErr(t, "extension past the clock", err, ErrOverflow)

	mustAdvance(t, engine, math.MaxInt64)
	mustAdvance(t, engine, math.MaxInt64)
	now, err := engine.Now()
	if err != nil || now != math.MaxInt64 {
		t.Errorf("Now past time.Duration's range = %v, %v; want the largest Duration", now, err)
	}
	_, err = engine.BlockFor("kettle", 1, "o2", math.MaxInt64)
	wantErr(t, "hold past the clock", err, ErrOverflow)
	_, err = engine.Advance(math.MaxInt64)
	wantErr(t, "advance past the clock", err, ErrOverflow)
	wantStock(t, engine, "kettle", Stock{OnHand: 5, Available: 5})
}

func TestStatusReportsEveryState(t *testing.T) {
	engine := newTestEngine(t, Options{HoldTime: time.Minute})
	long := strings.Repeat("é", MaxIDBytes/2)
	mustAdd(t, engine, long, 5)
	mustAdd(t, engine, "kettle", 5)

	lines := []Line{{long, 2}, {"kettle", 1}}
	if _, err := engine.BlockOrder("o1", lines, time.Minute); err != nil {
		t.Fatal(err)
	}
	status := wantState(t, engine, "o1", Held)
	if want := []Line{{"kettle", 1}, {long, 2}}; !reflect.DeepEqual(status.Lines, want) {
		t.Errorf("lines %q, want the longest id whole and lines sorted by id", status.Lines)
	}

	// At its deadline the hold is still live.
	mustAdvance(t, engine, time.Minute)
	wantState(t, engine, "o1", Held)
	if err := engine.Confirm("o1"); err != nil {
		t.Fatal(err)
	}
	wantState(t, engine, "o1", Confirmed)

	mustBlock(t, engine, "kettle", 1, "o2")
	if err := engine.Cancel("o2"); err != nil {
		t.Fatal(err)
	}
	wantState(t, engine, "o2", Cancelled)

	_, err := engine.Status("nobody")
	wantErr(t, "status unknown", err, ErrUnknownOrder)
	wantBadIDsRefused(t, "status", func(id string) error {
		_, err := engine.Status(id)
		return err
	})
}

// An id forgotten at once is taken by an order of other lines, over and
// over, while Status reads it: the lines it returns are always those of the
// order whose state it returns.
func TestStatusReadsAnOrderAtOneMoment(t *testing.T) {
	engine := newTestEngine(t, Options{Retention: time.Nanosecond})
	for _, product := range []string{"a", "b", "c"} {
		mustAdd(t, engine, product, 1)
	}
	two, one := []Line{{"a", 1}, {"b", 1}}, []Line{{"c", 1}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			_, errTwo := engine.BlockOrder("x", two, time.Minute)
			errCancel := engine.Cancel("x")
			_, errAdvance := engine.Advance(2 * time.Nanosecond)
			_, errOne := engine.BlockOrder("x", one, time.Minute)
			errConfirm := engine.Confirm("x")
			_, errRestock := engine.UpdateInventory("c", 1)
			_, errForget := engine.Advance(2 * time.Nanosecond)
			if err := errors.Join(errTwo, errCancel, errAdvance, errOne, errConfirm,
				errRestock, errForget); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for reads := 0; ; reads++ {
		select {
		case <-done:
			return
		default:
		}
		status, err := engine.Status("x")
		if errors.Is(err, ErrUnknownOrder) {
			continue
		}
		if err != nil {
			t.Fatalf("read %d: %v", reads, err)
		}
		switch {
		case status.State == Cancelled && !reflect.DeepEqual(status.Lines, two),
			status.State == Confirmed && !reflect.DeepEqual(status.Lines, one):
			t.Fatalf("read %d: %v with the lines %v", reads, status.State, status.Lines)
		}
	}
}

func TestOrderStateNames(t *testing.T) {
	for state, name := range map[OrderState]string{
		Held: "held", Confirmed: "confirmed", Cancelled: "cancelled", Expired: "expired",
		OrderState(0): "OrderState(0)", OrderState(9): "OrderState(9)",
	} {
		if state.String() != name {
			t.Errorf("%d reads %q, want %q", uint32(state), state.String(), name)
		}
	}
	if Held.Ended() || !Confirmed.Ended() || !Cancelled.Ended() || !Expired.Ended() {
		t.Error("only Held is live")
	}
}

// Ended orders are forgotten after the retention period, and then their id
// is free again.
func TestRetentionForgetsEndedOrders(t *testing.T) {
	engine := newTestEngine(t, Options{Retention: time.Hour})
	mustAdd(t, engine, "kettle", 5)
	mustBlock(t, engine, "kettle", 1, "o1")
	if err := engine.Confirm("o1"); err != nil {
		t.Fatal(err)
	}

	mustAdvance(t, engine, time.Hour-time.Second)
	wantState(t, engine, "o1", Confirmed)
	mustAdvance(t, engine, 2*time.Second)
	if _, err := engine.ReleaseExpired(); err != nil {
		t.Fatal(err)
	}
	_, err := engine.Status("o1")
	wantErr(t, "status past retention", err, ErrUnknownOrder)
	mustBlock(t, engine, "kettle", 1, "o1")
}

// A product whose lines sum past MaxCount is a line's fault too: the first
// line naming the lowest such id, before any unknown product.
func TestBlockOrderBlamesALineForAnOverflowingSum(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "a", 1)
	mustAdd(t, engine, "c", 1)
	lines := []Line{{"c", math.MaxInt64}, {"b", 1}, {"a", 1}, {"c", 1}, {"a", math.MaxInt64}}
	_, err := engine.BlockOrder("o1", lines, time.Minute)
	wantLineErr(t, err, 2, ErrOverflow)
	_, err = engine.BlockOrder("o1", lines[:4], time.Minute)
	wantLineErr(t, err, 0, ErrOverflow)
	wantStock(t, engine, "a", Stock{OnHand: 1, Available: 1})
}
