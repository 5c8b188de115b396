package stockkeeper

// #include "stockkeeper.h"
//
// // Where one id of a batch lies in the batch's bytes.
// typedef struct {
// 	size_t at;
// 	size_t len;
// } sk_go_span;
//
// typedef struct {
// 	sk_go_span order;
// 	sk_go_span product;
// 	int64_t quantity;
// } sk_go_request;
//
// typedef struct {
// 	sk_go_span id;
// 	sk_go_span name;
// 	int64_t on_hand;
// } sk_go_product;
//
// // NULL for an empty string, which the library reads as "" (refused as an
// // id, taken as a name), as cBytes passes it for a single call.
// static const uint8_t *sk_go_at(const uint8_t *bytes, sk_go_span span) {
// 	return span.len == 0 ? NULL : bytes + span.at;
// }
//
// // A batch goes to the library a chunk at a time, its ids' addresses made
// // here on the C stack: Go memory handed to C may hold no Go pointers.
// enum { SK_GO_CHUNK = 128 };
//
// // Sets the statuses of a chunk about to run, or of all that remain once
// // the engine is closed, to closed: a chunk refused whole on a closed
// // engine writes none of its own.
// static void sk_go_closed(sk_status *statuses, size_t from, size_t to) {
// 	for (size_t i = from; i < to; i++) {
// 		statuses[i] = SK_STATUS_CLOSED;
// 	}
// }
//
// // Every block of a batch in one call from Go: a crossing into C costs far
// // more than a C function call once the work around it misses the caches.
// // Once the engine is closed, every status left is closed.
// static void sk_go_block_many(sk_engine *engine, const uint8_t *bytes,
// 		const sk_go_request *requests, size_t count, uint64_t hold_time_ns,
// 		sk_status *statuses, sk_deadline *deadlines) {
// 	sk_block_request chunk[SK_GO_CHUNK];
// 	for (size_t start = 0; start < count; start += SK_GO_CHUNK) {
// 		size_t n = count - start < SK_GO_CHUNK ? count - start : SK_GO_CHUNK;
// 		for (size_t i = 0; i < n; i++) {
// 			const sk_go_request *r = &requests[start + i];
// 			chunk[i] = (sk_block_request){sk_go_at(bytes, r->order), r->order.len,
// 				sk_go_at(bytes, r->product), r->product.len, r->quantity};
// 		}
// 		sk_go_closed(statuses, start, start + n);
// 		if (sk_order_block_many(engine, chunk, n, hold_time_ns, statuses + start,
// 				deadlines + start) == SK_STATUS_CLOSED) {
// 			sk_go_closed(statuses, start + n, count);
// 			return;
// 		}
// 	}
// }
//
// static void sk_go_add_many(sk_engine *engine, const uint8_t *bytes,
// 		const sk_go_product *products, size_t count, sk_status *statuses) {
// 	sk_product_request chunk[SK_GO_CHUNK];
// 	for (size_t start = 0; start < count; start += SK_GO_CHUNK) {
// 		size_t n = count - start < SK_GO_CHUNK ? count - start : SK_GO_CHUNK;
// 		for (size_t i = 0; i < n; i++) {
// 			const sk_go_product *p = &products[start + i];
// 			chunk[i] = (sk_product_request){sk_go_at(bytes, p->id), p->id.len,
// 				sk_go_at(bytes, p->name), p->name.len, p->on_hand};
// 		}
// 		sk_go_closed(statuses, start, start + n);
// 		if (sk_product_add_many(engine, chunk, n, statuses + start) == SK_STATUS_CLOSED) {
// 			sk_go_closed(statuses, start + n, count);
// 			return;
// 		}
// 	}
// }
//
// static void sk_go_confirm_many(sk_engine *engine, const uint8_t *bytes,
// 		const sk_go_span *orders, size_t count, sk_status *statuses) {
// 	sk_text chunk[SK_GO_CHUNK];
// 	for (size_t start = 0; start < count; start += SK_GO_CHUNK) {
// 		size_t n = count - start < SK_GO_CHUNK ? count - start : SK_GO_CHUNK;
// 		for (size_t i = 0; i < n; i++) {
// 			chunk[i] = (sk_text){sk_go_at(bytes, orders[start + i]), orders[start + i].len};
// 		}
// 		sk_go_closed(statuses, start, start + n);
// 		if (sk_order_confirm_many(engine, chunk, n, statuses + start) == SK_STATUS_CLOSED) {
// 			sk_go_closed(statuses, start + n, count);
// 			return;
// 		}
// 	}
// }
import "C"

import (
	"sync"
	"time"
	"unsafe"
)

// BlockRequest is one block of a batch: Quantity units of Product held for
// Order, as [Engine.Block] takes them.
type BlockRequest struct {
	Product  string
	Quantity int64
	Order    string
}

// Blocked is what one request of a batch gave: the deadline of its hold,
// or the error [Engine.Block] would have returned for it.
type Blocked struct {
	Deadline Deadline
	Err      error
}

// BlockMany runs every request in turn, exactly as [Engine.Block] would run
// it, and returns what each gave, in order: a request that fails leaves
// the others alone. The whole batch crosses into the library once, where
// a Block crosses once per order, and the library reads it ahead: while one
// request runs, what the requests a few places after it will look up is
// fetched into the cache, so that on a large catalogue their cache misses
// overlap (BenchmarkBlock against BenchmarkBlockMany).
//
// It returns ErrClosed and no results on an engine closed before the call.
// When the engine is closed once the call has begun, the requests before
// the close have taken effect, each one after it fails with ErrClosed (all
// of them, when the close came before the first), and BlockMany returns
// ErrClosed too.
func (e *Engine) BlockMany(requests []BlockRequest) ([]Blocked, error) {
	return e.blockMany(requests, 0)
}

// BlockManyFor is [Engine.BlockMany] with a hold time of its own for every
// request, which must be positive: zero or a negative hold time fails with
// ErrInvalidDuration before any request runs.
func (e *Engine) BlockManyFor(requests []BlockRequest, holdTime time.Duration) ([]Blocked, error) {
	if holdTime <= 0 {
		return nil, e.refusedUncounted(ErrInvalidDuration)
	}
	return e.blockMany(requests, uint64(holdTime))
}

func (e *Engine) blockMany(requests []BlockRequest, holdTime uint64) ([]Blocked, error) {
	scratch := getScratch()
	defer putScratch(scratch)
	cRequests := grow(&scratch.requests, len(requests))
	for i, request := range requests {
		cRequests[i] = C.sk_go_request{
			order:    scratch.add(request.Order),
			product:  scratch.add(request.Product),
			quantity: C.int64_t(request.Quantity),
		}
	}
	deadlines := grow(&scratch.deadlines, len(requests))
	cross := func(lib *library, statuses *C.sk_status) {
		C.sk_go_block_many(lib.engine, scratch.base(), &cRequests[0], C.size_t(len(requests)),
			C.uint64_t(holdTime), statuses, &deadlines[0])
	}
	statuses, err := e.crossBatch(scratch, len(requests), cross)
	if err != nil {
		return nil, err
	}
	if len(requests) == 0 {
		return []Blocked{}, nil
	}
	results := make([]Blocked, len(requests))
	for i, status := range statuses {
		if err := errorOf(status); err != nil {
			results[i].Err = err
			continue
		}
		results[i].Deadline = deadlineOf(deadlines[i])
	}
	return results, closedDuring(statuses[len(statuses)-1])
}

// ConfirmMany confirms every order in turn, exactly as [Engine.Confirm]
// would, and returns the error each confirm gave, nil where it succeeded,
// in one call into the library for the whole batch. It answers a closed
// engine as [Engine.BlockMany] does.
func (e *Engine) ConfirmMany(orders []string) ([]error, error) {
	scratch := getScratch()
	defer putScratch(scratch)
	spans := grow(&scratch.spans, len(orders))
	for i, order := range orders {
		spans[i] = scratch.add(order)
	}
	return e.errorBatch(scratch, len(orders), func(lib *library, statuses *C.sk_status) {
		C.sk_go_confirm_many(lib.engine, scratch.base(), &spans[0], C.size_t(len(orders)), statuses)
	})
}

// NewProduct is one product of a batch: ID with OnHand units, named Name, as
// [Engine.AddProduct] takes them.
type NewProduct struct {
	ID     string
	Name   string
	OnHand int64
}

// AddProducts adds every product in turn, exactly as [Engine.AddProduct]
// would, and returns the error each gave, nil where it was added: a product
// refused (its id taken, by an earlier product of the batch too) leaves the
// others alone. The whole batch crosses into the library once and is read
// ahead there, for a catalogue load; goroutines each adding a batch of
// their own run side by side. It answers a closed engine as
// [Engine.BlockMany] does.
func (e *Engine) AddProducts(products []NewProduct) ([]error, error) {
	scratch := getScratch()
	defer putScratch(scratch)
	cProducts := grow(&scratch.products, len(products))
	for i, product := range products {
		cProducts[i] = C.sk_go_product{
			id:      scratch.add(product.ID),
			name:    scratch.add(product.Name),
			on_hand: C.int64_t(product.OnHand),
		}
	}
	return e.errorBatch(scratch, len(products), func(lib *library, statuses *C.sk_status) {
		C.sk_go_add_many(lib.engine, scratch.base(), &cProducts[0], C.size_t(len(products)),
			statuses)
	})
}

// errorBatch runs a batch of n requests, made ready in scratch, through
// cross, its one call into the library, which writes a status for each:
// it returns the error of each request, nil where it succeeded, and
// ErrClosed when the engine closed while the batch ran. On an engine closed
// before it, or an empty batch, cross is not called.
func (e *Engine) errorBatch(scratch *batchScratch, n int,
	cross func(lib *library, statuses *C.sk_status)) ([]error, error) {
	statuses, err := e.crossBatch(scratch, n, cross)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return []error{}, nil
	}
	results := make([]error, len(statuses))
	for i, status := range statuses {
		// errorOf's nil *Error must not become a non-nil error.
		if err := errorOf(status); err != nil {
			results[i] = err
		}
	}
	return results, closedDuring(statuses[len(statuses)-1])
}

// crossBatch makes room in scratch for the statuses of a batch of n
// requests, made ready there, and hands it to cross, its one call into the
// library, which writes a status for each. On an engine closed before it,
// it returns the error; on an empty batch, no statuses. In neither case is
// cross called.
func (e *Engine) crossBatch(scratch *batchScratch, n int,
	cross func(lib *library, statuses *C.sk_status)) ([]C.sk_status, error) {
	statuses := grow(&scratch.statuses, n)
	lib, err := e.enter()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return statuses, nil
	}

	cross(lib, &statuses[0])
	e.leave(lib)
	return statuses, nil
}

// batchScratch is the memory a batch hands to C: its ids (and names)
// gathered into one byte slice, which the requests point into by offset
// (Go memory handed to C may hold no Go pointers), and the arrays C writes
// the outcomes to. A pool keeps it from one batch to the next, so that a
// batch allocates only the results it returns.
type batchScratch struct {
	bytes     []byte
	requests  []C.sk_go_request
	products  []C.sk_go_product
	deadlines []C.sk_deadline
	spans     []C.sk_go_span
	statuses  []C.sk_status
}

var scratchPool = sync.Pool{New: func() any { return new(batchScratch) }}

// A pooled scratch keeps at most this many bytes of ids and arrays for this
// many requests: the memory of an outsized batch goes back to the collector
// rather than stay in the pool.
const (
	pooledBytes    = 1 << 20
	pooledRequests = 1 << 16
)

func getScratch() *batchScratch {
	scratch := scratchPool.Get().(*batchScratch)
	scratch.bytes = scratch.bytes[:0]
	return scratch
}

func putScratch(scratch *batchScratch) {
	arrays := max(cap(scratch.requests), cap(scratch.products), cap(scratch.deadlines),
		cap(scratch.spans), cap(scratch.statuses))
	if cap(scratch.bytes) <= pooledBytes && arrays <= pooledRequests {
		scratchPool.Put(scratch)
	}
}

// grow sets *s to a slice of length n, reusing its memory when there is
// enough, and returns it.
func grow[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n)
	}
	*s = (*s)[:n]
	return *s
}

func (b *batchScratch) add(id string) C.sk_go_span {
	span := C.sk_go_span{at: C.size_t(len(b.bytes)), len: C.size_t(len(id))}
	b.bytes = append(b.bytes, id...)
	return span
}

// base is the address of the ids' bytes, or NULL when every id is empty.
func (b *batchScratch) base() *C.uint8_t {
	if len(b.bytes) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b.bytes[0]))
}

// closedDuring is ErrClosed when the engine closed while a batch ran, which
// its last request failing with ErrClosed tells: a close is for good, so
// every request from the close on failed with it.
func closedDuring(last C.sk_status) error {
	if last == C.SK_STATUS_CLOSED {
		return ErrClosed
	}
	return nil
}
