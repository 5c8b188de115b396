package stockkeeper

// #include "stockkeeper.h"
//
// // sk_order_block's status and deadline in one value. Go gets it back by
// // copy; the address of a Go variable passed for the deadline would make
// // that variable escape to the heap, an allocation on every block.
// typedef struct {
// 	sk_status status;
// 	sk_deadline deadline;
// } sk_go_blocked;
//
// static sk_go_blocked sk_go_block(sk_engine *engine, const uint8_t *order,
// 		size_t order_len, const uint8_t *product, size_t product_len,
// 		int64_t quantity, uint64_t hold_time_ns) {
// 	sk_go_blocked blocked = {0};
// 	blocked.status = sk_order_block(engine, order, order_len, product, product_len,
// 		quantity, hold_time_ns, &blocked.deadline);
// 	return blocked;
// }
import "C"

import (
	"runtime"
	"strconv"
	"time"
	"unsafe"
)

// Deadline is when a hold runs out. The hold may be confirmed up to and
// including this instant, and not after.
type Deadline struct {
	// SinceStart is the deadline on the engine's monotonic clock, as time
	// since the engine started (the scale of [Engine.Now]). Wall-clock
	// changes never move it. A deadline more than 292 years after the start
	// (a hold extended by almost the longest time there is) reads as the
	// largest Duration.
	SinceStart time.Duration
	// Wall is the same instant on the wall clock as it stood when the engine
	// started. It is for display: if the wall clock is set later, the hold
	// still ends at SinceStart. An instant after April 2262 reads as that
	// month, the last time.Unix holds in nanoseconds.
	Wall time.Time
}

func deadlineOf(d C.sk_deadline) Deadline {
	return Deadline{
		SinceStart: duration(d.since_start_ns),
		Wall:       time.Unix(0, int64(d.wall_unix_ns)),
	}
}

// Line is one line of an order: a product and how many units of it.
type Line struct {
	Product  string
	Quantity int64
}

// OrderState is where an order stands.
type OrderState uint32

// The states of an order. Held is the only live one; the three others are
// final, and an order reaches exactly one of them.
const (
	// Held: its stock is reserved until the deadline.
	Held OrderState = C.SK_ORDER_STATE_HELD
	// Confirmed: paid; its units left on_hand.
	Confirmed OrderState = C.SK_ORDER_STATE_CONFIRMED
	// Cancelled: payment failed; its units went back to available.
	Cancelled OrderState = C.SK_ORDER_STATE_CANCELLED
	// Expired: its deadline passed; its units went back to available.
	Expired OrderState = C.SK_ORDER_STATE_EXPIRED
)

// String is the lower-case name every front door uses: "held",
// "confirmed", "cancelled" or "expired".
func (s OrderState) String() string {
	switch s {
	case Held:
		return "held"
	case Confirmed:
		return "confirmed"
	case Cancelled:
		return "cancelled"
	case Expired:
		return "expired"
	}
	return "OrderState(" + strconv.FormatUint(uint64(s), 10) + ")"
}

// Ended reports whether the hold is over: confirmed, cancelled or expired.
func (s OrderState) Ended() bool {
	return s != Held
}

// OrderStatus is what an order holds and where it stands.
type OrderStatus struct {
	State OrderState
	// Lines has one line per product (lines of the block naming the same
	// product are summed), sorted by product id.
	Lines []Line
	// Deadline is the hold's deadline: the one it has while held, the one
	// it had once ended.
	Deadline Deadline
}

// Block holds quantity units of product for order, for the engine's hold
// time ([Engine.HoldTime]), and returns the deadline.
//
// It fails, changing nothing, with ErrInsufficientStock when fewer than
// quantity units are available, ErrInvalidQuantity for a quantity below 1,
// ErrDuplicateOrder when the order id is held or was used within the
// retention period, ErrUnknownProduct, an id error or ErrClosed.
func (e *Engine) Block(product string, quantity int64, order string) (Deadline, error) {
	return e.block(product, quantity, order, 0)
}

// BlockFor is [Engine.Block] with a hold time of its own, which must be
// positive: zero or a negative hold time fails with ErrInvalidDuration.
func (e *Engine) BlockFor(product string, quantity int64, order string,
	holdTime time.Duration) (Deadline, error) {
	if holdTime <= 0 {
		return Deadline{}, e.refusedUncounted(ErrInvalidDuration)
	}
	return e.block(product, quantity, order, uint64(holdTime))
}

// block passes holdTime on as the library takes it: zero for the default.
func (e *Engine) block(product string, quantity int64, order string,
	holdTime uint64) (Deadline, error) {
	lib, err := e.enter()
	if err != nil {
		return Deadline{}, err
	}

	blocked := C.sk_go_block(lib.engine, cBytes(order), cLen(order), cBytes(product),
		cLen(product), C.int64_t(quantity), C.uint64_t(holdTime))
	e.leave(lib)
	if err := check(blocked.status); err != nil {
		return Deadline{}, err
	}
	return deadlineOf(blocked.deadline), nil
}

// BlockOrder holds every line of an order for holdTime, or nothing: lines
// naming the same product are summed, then every product must have that
// many units available. holdTime must be positive (zero or negative fails
// with ErrInvalidDuration); pass [Engine.HoldTime] for the engine's default.
// Concurrent orders never deadlock, whatever the order of their lines.
//
// When a line is at fault (a bad product id or quantity, lines of a product
// summing past [MaxCount], an unknown product, not enough stock) the error
// is a [*LineError] naming the line ([LineError.Line] says which); it still
// matches the sentinel through errors.Is. Otherwise it
// fails as [Engine.Block] does, and with ErrInvalidQuantity for no lines.
func (e *Engine) BlockOrder(order string, lines []Line, holdTime time.Duration) (Deadline, error) {
	if holdTime <= 0 {
		return Deadline{}, e.refusedUncounted(ErrInvalidDuration)
	}
	// The C lines point at the Go strings' bytes, and Go memory handed to C
	// may hold Go pointers only if they are pinned.
	var pinner runtime.Pinner
	defer pinner.Unpin()
	// One element at least, so that &cLines[0] exists; the library reads
	// line_count and reports ErrInvalidQuantity for no lines.
	cLines := make([]C.sk_line, max(len(lines), 1))
	for i, line := range lines {
		product := cBytes(line.Product)
		if product != nil {
			pinner.Pin(product)
		}
		cLines[i] = C.sk_line{
			product:     product,
			product_len: cLen(line.Product),
			quantity:    C.int64_t(line.Quantity),
		}
	}

	lib, err := e.enter()
	if err != nil {
		return Deadline{}, err
	}

	var deadline C.sk_deadline
	failedLine := ^C.size_t(0)
	status := C.sk_order_block_lines(lib.engine, cBytes(order), cLen(order), &cLines[0],
		C.size_t(len(lines)), C.uint64_t(holdTime), &deadline, &failedLine)
	e.leave(lib)
	runtime.KeepAlive(cLines)
	if err := errorOf(status); err != nil {
		if failedLine < C.size_t(len(lines)) {
			return Deadline{}, &LineError{Line: int(failedLine), Err: err}
		}
		return Deadline{}, err
	}
	return deadlineOf(deadline), nil
}

// Confirm confirms a held order: its units leave on_hand. It succeeds up to
// and including the deadline.
//
// It fails with ErrExpired once the deadline has passed, even if no release
// has run yet (the hold's stock is released then); ErrAlreadyConfirmed or
// ErrAlreadyCancelled for an ended order; ErrUnknownOrder for an id never
// held or already forgotten; an id error or ErrClosed. When a confirm races
// the expiry of the same hold, exactly one of them wins.
func (e *Engine) Confirm(order string) error {
	lib, err := e.enter()
	if err != nil {
		return err
	}

	status := C.sk_order_confirm(lib.engine, cBytes(order), cLen(order))
	e.leave(lib)
	return check(status)
}

// Cancel cancels a held order (payment failed): its units go back to
// available. It fails as [Engine.Confirm] does.
func (e *Engine) Cancel(order string) error {
	lib, err := e.enter()
	if err != nil {
		return err
	}

	status := C.sk_order_cancel(lib.engine, cBytes(order), cLen(order))
	e.leave(lib)
	return check(status)
}

// Extend moves a live hold's deadline by later and returns the new deadline.
//
// It fails with ErrInvalidDuration for a zero or negative by, ErrExpired
// when the deadline has passed already, ErrAlreadyConfirmed or
// ErrAlreadyCancelled for an ended order, ErrOverflow when the deadline
// would pass the clock's range, ErrUnknownOrder, an id error or ErrClosed.
func (e *Engine) Extend(order string, by time.Duration) (Deadline, error) {
	// A negative extension goes to the library as zero, which it refuses
	// with ErrInvalidDuration and counts in the metrics.
	by = max(by, 0)
	lib, err := e.enter()
	if err != nil {
		return Deadline{}, err
	}

	var deadline C.sk_deadline
	status := C.sk_order_extend(lib.engine, cBytes(order), cLen(order), C.uint64_t(by), &deadline)
	e.leave(lib)
	if err := check(status); err != nil {
		return Deadline{}, err
	}
	return deadlineOf(deadline), nil
}

// Status is where an order stands, what it holds and its deadline, all as
// they stood at one moment. A held order whose deadline has passed is
// expired by this call. It fails with ErrUnknownOrder for an id never held
// or forgotten, an id error or ErrClosed.
func (e *Engine) Status(order string) (OrderStatus, error) {
	lib, err := e.enter()
	if err != nil {
		return OrderStatus{}, err
	}

	var info C.sk_order_info
	views := make([]C.sk_line_view, statusFirstLines)
	ids := make([]byte, statusFirstIDBytes)
	for {
		var count, idsLen C.size_t
		status := C.sk_order_read(lib.engine, cBytes(order), cLen(order), &info,
			&views[0], C.size_t(len(views)), (*C.uint8_t)(unsafe.Pointer(&ids[0])),
			C.size_t(len(ids)), &count, &idsLen)
		e.leave(lib)
		if status == C.SK_STATUS_BUFFER_TOO_SMALL {
			// The id may have been forgotten and taken by a larger order
			// since: the next read asks again if it must.
			views = make([]C.sk_line_view, max(int(count), len(views)))
			ids = make([]byte, max(int(idsLen), len(ids)))
			continue
		}
		if err := check(status); err != nil {
			return OrderStatus{}, err
		}
		lines := make([]Line, int(count))
		for i := range lines {
			at, length := int(views[i].product_offset), int(views[i].product_len)
			lines[i] = Line{Product: string(ids[at : at+length]), Quantity: int64(views[i].quantity)}
		}
		return OrderStatus{
			State:    OrderState(info.state),
			Lines:    lines,
			Deadline: deadlineOf(info.deadline),
		}, nil
	}
}

// The room Status gives an order's lines and ids at first; most orders have
// one line and a short product id, and a larger one costs one more call.
const (
	statusFirstLines   = 4
	statusFirstIDBytes = 128
)
