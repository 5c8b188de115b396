package stockkeeper

// #include "stockkeeper.h"
//
// // A status and what a read found, in one value that Go gets back by copy:
// // the address of a Go variable passed for the output would move that
// // variable to the heap, an allocation on every read (as sk_go_block in
// // order.go avoids for blocks).
// typedef struct {
// 	sk_status status;
// 	int64_t available;
// } sk_go_available_t;
//
// typedef struct {
// 	sk_status status;
// 	sk_stock stock;
// } sk_go_stock_t;
//
// static sk_go_available_t sk_go_available(sk_engine *engine, const uint8_t *id,
// 		size_t id_len) {
// 	sk_go_available_t read = {0};
// 	read.status = sk_product_available(engine, id, id_len, &read.available);
// 	return read;
// }
//
// static sk_go_stock_t sk_go_stock(sk_engine *engine, const uint8_t *id, size_t id_len) {
// 	sk_go_stock_t read = {0};
// 	read.status = sk_product_stock(engine, id, id_len, &read.stock);
// 	return read;
// }
//
// static sk_go_stock_t sk_go_update(sk_engine *engine, const uint8_t *id, size_t id_len,
// 		int64_t delta) {
// 	sk_go_stock_t updated = {0};
// 	updated.status = sk_product_update(engine, id, id_len, delta, &updated.stock);
// 	return updated;
// }
import "C"

import "math"

// The bounds of the contract, the same in every language.
const (
	// MaxIDBytes is the longest product or order id, in bytes of UTF-8:
	// 256.
	MaxIDBytes = C.SK_MAX_ID_BYTES
	// MaxNameBytes is the longest product name, in bytes of UTF-8: 1024.
	MaxNameBytes = C.SK_MAX_NAME_BYTES
	// MaxCount is the largest count a product or order may reach: 2^63-1.
	MaxCount = math.MaxInt64
)

// Stock is a product's three numbers, read together.
type Stock struct {
	// OnHand is the units physically in stock, held ones included.
	OnHand int64
	// Reserved is the units held by live orders.
	Reserved int64
	// Available is OnHand - Reserved: what a new order can still hold.
	Available int64
}

func stockOf(s C.sk_stock) Stock {
	return Stock{
		OnHand:    int64(s.on_hand),
		Reserved:  int64(s.reserved),
		Available: int64(s.available),
	}
}

// AddProduct adds a product with onHand units.
//
// Ids are non-empty UTF-8 of at most [MaxIDBytes] bytes with no NUL byte;
// names are UTF-8 of at most [MaxNameBytes] bytes with no NUL byte and may be
// empty. It fails with ErrProductExists for an id in use, ErrEmptyID,
// ErrIDTooLong, ErrIDContainsNUL, ErrInvalidUTF8 or ErrInvalidName for a bad
// id or name, ErrInvalidQuantity for a negative onHand and ErrClosed.
func (e *Engine) AddProduct(id, name string, onHand int64) error {
	lib, err := e.enter()
	if err != nil {
		return err
	}

	status := C.sk_product_add(lib.engine, cBytes(id), cLen(id), cBytes(name), cLen(name),
		C.int64_t(onHand))
	e.leave(lib)
	return check(status)
}

// Available is the units of the product a new order can still hold:
// on_hand - reserved. It fails with ErrUnknownProduct, an id error or
// ErrClosed.
func (e *Engine) Available(id string) (int64, error) {
	lib, err := e.enter()
	if err != nil {
		return 0, err
	}

	read := C.sk_go_available(lib.engine, cBytes(id), cLen(id))
	e.leave(lib)
	if err := check(read.status); err != nil {
		return 0, err
	}
	return int64(read.available), nil
}

// Stock is the product's on_hand, reserved and available, read at one
// instant. It fails as [Engine.Available] does.
func (e *Engine) Stock(id string) (Stock, error) {
	lib, err := e.enter()
	if err != nil {
		return Stock{}, err
	}

	read := C.sk_go_stock(lib.engine, cBytes(id), cLen(id))
	e.leave(lib)
	if err := check(read.status); err != nil {
		return Stock{}, err
	}
	return stockOf(read.stock), nil
}

// UpdateInventory restocks the product (delta > 0: on_hand grows by delta)
// or corrects it (delta < 0: on_hand shrinks by -delta), and returns the
// stock after the change. Held units are untouched.
//
// It fails with ErrInvalidQuantity for a zero delta, ErrInsufficientStock
// for a correction that would take available below zero, ErrOverflow for a
// restock that would take on_hand past [MaxCount] or a correction of
// math.MinInt64 (more than any count can be), ErrUnknownProduct, an id error
// or ErrClosed.
func (e *Engine) UpdateInventory(id string, delta int64) (Stock, error) {
	lib, err := e.enter()
	if err != nil {
		return Stock{}, err
	}

	updated := C.sk_go_update(lib.engine, cBytes(id), cLen(id), C.int64_t(delta))
	e.leave(lib)
	if err := check(updated.status); err != nil {
		return Stock{}, err
	}
	return stockOf(updated.stock), nil
}
