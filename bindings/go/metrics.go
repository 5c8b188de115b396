package stockkeeper

// #include "stockkeeper.h"
import "C"

import (
	"runtime"
	"unsafe"
)

// Metrics is a snapshot of an engine's counters.
//
// Every field is a uint64, as the library keeps them: the counters only
// grow, and HeldUnits sums the units held across all products, which may
// pass [MaxCount] even though no single product's count can.
//
// The hold figures are read together, so LiveHolds == Held - Confirmed -
// Cancelled - Expired holds in every snapshot. The refusal counters are
// read one by one, each exact, but not at one instant with the rest.
//
// A refusal is counted by the library, whichever way the input reached it:
// a negative quantity given to [Engine.Block], a bad id or a zero delta all
// count in RefusedInvalid. Input this package refuses itself never reaches
// the library and is not counted: a zero or negative hold time given to
// [Engine.BlockFor], [Engine.BlockOrder] or [Engine.BlockManyFor] (the C
// ABI reads zero as "the default" and has no negative durations), a
// negative [Engine.Advance], a bad [Engine.Events] buffer, and any call on a
// closed or nil engine.
type Metrics struct {
	// Held is how many holds started.
	Held uint64
	// Confirmed is how many holds ended confirmed.
	Confirmed uint64
	// Cancelled is how many holds ended cancelled.
	Cancelled uint64
	// Expired is how many holds ended expired.
	Expired uint64

	// RefusedStock counts blocks refused because a product had too little
	// available (ErrInsufficientStock), and corrections refused for the
	// same reason.
	RefusedStock uint64
	// RefusedDuplicate counts blocks refused because the order id was held
	// or remembered (ErrDuplicateOrder).
	RefusedDuplicate uint64
	// RefusedUnknown counts calls refused because no product or order had
	// the id (ErrUnknownProduct, ErrUnknownOrder).
	RefusedUnknown uint64
	// RefusedEnded counts confirms, cancels and extensions refused because
	// the hold had ended (ErrAlreadyConfirmed, ErrAlreadyCancelled,
	// ErrExpired).
	RefusedEnded uint64
	// RefusedInvalid counts calls refused for bad input: ids, names,
	// quantities, durations, overflow.
	RefusedInvalid uint64

	// LiveHolds is how many holds are live now.
	LiveHolds uint64
	// HeldUnits is how many units live holds reserve now, over every
	// product.
	HeldUnits uint64
}

// Metrics is a snapshot of the engine's counters: holds by outcome,
// refusals by reason, live holds and held units. It fails only with
// ErrClosed.
func (e *Engine) Metrics() (Metrics, error) {
	lib, err := e.enter()
	if err != nil {
		return Metrics{}, err
	}

	var m C.sk_metrics
	status := C.sk_engine_metrics(lib.engine, &m)
	e.leave(lib)
	if err := check(status); err != nil {
		return Metrics{}, err
	}
	return Metrics{
		Held:             uint64(m.held),
		Confirmed:        uint64(m.confirmed),
		Cancelled:        uint64(m.cancelled),
		Expired:          uint64(m.expired),
		RefusedStock:     uint64(m.refused_stock),
		RefusedDuplicate: uint64(m.refused_duplicate),
		RefusedUnknown:   uint64(m.refused_unknown),
		RefusedEnded:     uint64(m.refused_ended),
		RefusedInvalid:   uint64(m.refused_invalid),
		LiveHolds:        uint64(m.live_holds),
		HeldUnits:        uint64(m.held_units),
	}, nil
}

// ProductOutcomes is how the holds on one product ended. A hold of several
// products counts once for each of them.
type ProductOutcomes struct {
	Confirmed uint64
	Cancelled uint64
	Expired   uint64
}

// ConfirmedShare is the share of the product's ended holds that ended
// confirmed, from 0 to 1. The second result is false, and the share 0,
// while no hold on the product has ended.
func (o ProductOutcomes) ConfirmedShare() (float64, bool) {
	return o.share(o.Confirmed)
}

// ExpiredShare is the share of the product's ended holds that expired, from
// 0 to 1. The second result is false, and the share 0, while no hold on the
// product has ended.
func (o ProductOutcomes) ExpiredShare() (float64, bool) {
	return o.share(o.Expired)
}

func (o ProductOutcomes) share(part uint64) (float64, bool) {
	// Summed as floats: three counters near 2^64 must not wrap.
	ended := float64(o.Confirmed) + float64(o.Cancelled) + float64(o.Expired)
	if ended == 0 {
		return 0, false
	}
	return float64(part) / ended, true
}

// ProductOutcomes is how the holds on the product ended so far. It fails
// with ErrUnknownProduct, an id error or ErrClosed.
func (e *Engine) ProductOutcomes(id string) (ProductOutcomes, error) {
	lib, err := e.enter()
	if err != nil {
		return ProductOutcomes{}, err
	}

	var o C.sk_outcomes
	status := C.sk_product_outcomes(lib.engine, cBytes(id), cLen(id), &o)
	e.leave(lib)
	if err := check(status); err != nil {
		return ProductOutcomes{}, err
	}
	return ProductOutcomes{
		Confirmed: uint64(o.confirmed),
		Cancelled: uint64(o.cancelled),
		Expired:   uint64(o.expired),
	}, nil
}

// metricsTextFirstSize is the buffer MetricsText tries first; the counters
// alone take under a kilobyte.
const metricsTextFirstSize = 2048

// MetricsText is [Engine.Metrics] in the Prometheus text exposition format
// (version 0.0.4), with the outcomes of each product named, so that a
// catalogue of millions is never listed whole; a product named more than
// once is listed once. Every metric is named stockkeeper_*:
// holds_total{outcome}, refusals_total{reason}, live_holds, held_units and,
// when products are named, product_holds_ended_total{product, outcome}.
//
// It fails with ErrUnknownProduct or an id error for a product named, and
// with ErrClosed.
func (e *Engine) MetricsText(products ...string) (string, error) {
	// The texts point at the Go strings' bytes, and Go memory handed to C
	// may hold Go pointers only if they are pinned.
	var pinner runtime.Pinner
	defer pinner.Unpin()
	var texts *C.sk_text
	if len(products) > 0 {
		cTexts := make([]C.sk_text, len(products))
		for i, product := range products {
			data := cBytes(product)
			if data != nil {
				pinner.Pin(data)
			}
			cTexts[i] = C.sk_text{data: data, len: cLen(product)}
		}
		texts = &cTexts[0]
	}

	lib, err := e.enter()
	if err != nil {
		return "", err
	}

	buf := make([]byte, metricsTextFirstSize)
	for {
		var length C.size_t
		status := C.sk_engine_metrics_text(lib.engine, texts, C.size_t(len(products)),
			(*C.uint8_t)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &length)
		e.leave(lib)
		if status == C.SK_STATUS_BUFFER_TOO_SMALL && int(length) > len(buf) {
			// The counters may grow a digit before the next try; leave room.
			buf = make([]byte, int(length)+int(length)/8)
			continue
		}
		if err := check(status); err != nil {
			return "", err
		}
		return string(buf[:length]), nil
	}
}
