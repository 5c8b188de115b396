package stockkeeper

// #include "stockkeeper.h"
import "C"

import (
	"math"
	"runtime"
)

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
	handle, err := e.enter()
	if err != nil {
		return err
	}
	defer e.leave()

	status := C.sk_product_add(handle, cBytes(id), cLen(id), cBytes(name), cLen(name),
		C.int64_t(onHand))
	runtime.KeepAlive(e)
	return check(status)
}

// Available is the units of the product a new order can still hold:
// on_hand - reserved. It fails with ErrUnknownProduct, an id error or
// ErrClosed.
func (e *Engine) Available(id string) (int64, error) {
	handle, err := e.enter()
	if err != nil {
		return 0, err
	}
	defer e.leave()

	var available C.int64_t
	status := C.sk_product_available(handle, cBytes(id), cLen(id), &available)
	runtime.KeepAlive(e)
	if err := check(status); err != nil {
		return 0, err
	}
	return int64(available), nil
}

// Stock is the product's on_hand, reserved and available, read at one
// instant. It fails as [Engine.Available] does.
func (e *Engine) Stock(id string) (Stock, error) {
	handle, err := e.enter()
	if err != nil {
		return Stock{}, err
	}
	defer e.leave()

	var stock C.sk_stock
	status := C.sk_product_stock(handle, cBytes(id), cLen(id), &stock)
	runtime.KeepAlive(e)
	if err := check(status); err != nil {
		return Stock{}, err
	}
	return stockOf(stock), nil
}

// UpdateInventory restocks the product (delta > 0: on_hand grows by delta)
// or corrects it (delta < 0: on_hand shrinks by -delta), and returns the
// stock after the change. Held units are untouched.
//
// It fails with ErrInvalidQuantity for a zero delta, ErrInsufficientStock
// for a correction that would take available below zero, ErrOverflow for a
// restock that would take on_hand past [MaxCount], ErrUnknownProduct, an id
// error or ErrClosed.
func (e *Engine) UpdateInventory(id string, delta int64) (Stock, error) {
	handle, err := e.enter()
	if err != nil {
		return Stock{}, err
	}
	defer e.leave()

	var stock C.sk_stock
	status := C.sk_product_update(handle, cBytes(id), cLen(id), C.int64_t(delta), &stock)
	runtime.KeepAlive(e)
	if err := check(status); err != nil {
		return Stock{}, err
	}
	return stockOf(stock), nil
}
