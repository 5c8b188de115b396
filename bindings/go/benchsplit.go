//go:build stockkeeper_bench

package stockkeeper

// The C side of the benchmarks that split a Go call's time into its parts
// (benchsplit_test.go). Built only with the stockkeeper_bench tag, which
// `make bench` sets, so no program using the package carries it.

// #include <stdlib.h>
// #include <string.h>
// #include "stockkeeper.h"
//
// typedef struct {
// 	const uint8_t *bytes;
// 	size_t len;
// } sk_bench_id;
//
// // One block, the deadline kept on the C stack.
// static sk_status sk_bench_block(sk_engine *engine, sk_bench_id product,
// 		sk_bench_id order) {
// 	sk_deadline deadline;
// 	return sk_order_block(engine, order.bytes, order.len, product.bytes,
// 		product.len, 1, 0, &deadline);
// }
//
// static sk_status sk_bench_pair(sk_engine *engine, sk_bench_id product,
// 		sk_bench_id order) {
// 	sk_status status = sk_bench_block(engine, product, order);
// 	if (status != SK_STATUS_OK) {
// 		return status;
// 	}
// 	return sk_order_confirm(engine, order.bytes, order.len);
// }
//
// // Every pair in one call: how many went through before the first refusal.
// static size_t sk_bench_pairs(sk_engine *engine, const sk_bench_id *products,
// 		const sk_bench_id *orders, size_t count) {
// 	for (size_t i = 0; i < count; i++) {
// 		if (sk_bench_pair(engine, products[i], orders[i]) != SK_STATUS_OK) {
// 			return i;
// 		}
// 	}
// 	return count;
// }
//
// // The cold-memory probe: a buffer far larger than the caches, and a
// // function that adds one to a byte in each of four of its cache lines,
// // picked by a full-period generator so that no prefetcher can guess them.
// enum { SK_BENCH_COLD_LINES = 1 << 22 };
// static unsigned char *sk_bench_cold_buffer;
// static uint64_t sk_bench_cold_line;
//
// static int sk_bench_cold_init(void) {
// 	sk_bench_cold_buffer = malloc((size_t)SK_BENCH_COLD_LINES * 64);
// 	if (sk_bench_cold_buffer == NULL) {
// 		return 0;
// 	}
// 	memset(sk_bench_cold_buffer, 0, (size_t)SK_BENCH_COLD_LINES * 64);
// 	return 1;
// }
//
// static void sk_bench_cold(void) {
// 	for (int i = 0; i < 4; i++) {
// 		sk_bench_cold_line = (sk_bench_cold_line * 2862933555777941757ULL + 3037000493ULL)
// 			& (SK_BENCH_COLD_LINES - 1);
// 		sk_bench_cold_buffer[sk_bench_cold_line * 64]++;
// 	}
// }
//
// static void sk_bench_cold_loop(size_t calls) {
// 	for (size_t i = 0; i < calls; i++) {
// 		sk_bench_cold();
// 	}
// }
import "C"

import (
	"sync"
	"unsafe"
)

// benchIdsInC holds copies of a benchmark's ids in C memory, for the pairs
// looped in C: C may keep no pointer into Go memory across calls.
type benchIdsInC struct {
	products, orders *C.sk_bench_id
	count            int
	copies           []unsafe.Pointer
}

func newBenchIdsInC(products, orders []string) *benchIdsInC {
	if len(products) != len(orders) {
		panic("newBenchIdsInC: as many products as orders, one pair each")
	}
	ids := &benchIdsInC{count: len(products)}
	ids.products = ids.table(products)
	ids.orders = ids.table(orders)
	return ids
}

// table copies ids into a C array of sk_bench_id. The array is zeroed: a
// row has a pointer field and is written from Go, and while the collector
// marks, Go's write barrier takes the pointer a row held before the write
// for a live one. Memory fresh from malloc may still hold the address of
// Go memory since freed (C code handed it earlier), and marking that
// crashes the process ("found pointer to free object").
func (ids *benchIdsInC) table(from []string) *C.sk_bench_id {
	table := (*C.sk_bench_id)(C.calloc(C.size_t(len(from)), C.size_t(unsafe.Sizeof(C.sk_bench_id{}))))
	ids.copies = append(ids.copies, unsafe.Pointer(table))
	rows := unsafe.Slice(table, len(from))
	for i, id := range from {
		bytes := C.CBytes([]byte(id))
		ids.copies = append(ids.copies, bytes)
		rows[i] = C.sk_bench_id{bytes: (*C.uint8_t)(bytes), len: C.size_t(len(id))}
	}
	return table
}

func (ids *benchIdsInC) free() {
	for _, copied := range ids.copies {
		C.free(copied)
	}
	ids.copies = nil
}

// benchPairsInC runs every pair in one call into C and returns how many
// went through.
func benchPairsInC(engine *Engine, ids *benchIdsInC) (int, error) {
	lib, err := engine.enter()
	if err != nil {
		return 0, err
	}
	done := C.sk_bench_pairs(lib.engine, ids.products, ids.orders, C.size_t(ids.count))
	engine.leave(lib)
	return int(done), nil
}

// benchBarePair is one pair through cgo, two crossings as through the front
// door, with none of the door's own code: no check that the engine is open, no
// status turned into an error, no deadline turned into Go's. The caller
// keeps the engine open.
func benchBarePair(engine *Engine, product, order string) bool {
	lib := engine.handle
	orderID := C.sk_bench_id{bytes: cBytes(order), len: cLen(order)}
	status := C.sk_bench_block(lib.engine,
		C.sk_bench_id{bytes: cBytes(product), len: cLen(product)}, orderID)
	if status != C.SK_STATUS_OK {
		return false
	}
	confirmed := C.sk_order_confirm(lib.engine, orderID.bytes, orderID.len)
	engine.leave(lib)
	return confirmed == C.SK_STATUS_OK
}

// benchCold makes the cold buffer once, kept for the rest of the process,
// and tells whether there was memory for it. The probes below may run only
// once it said true.
var benchCold = sync.OnceValue(func() bool { return C.sk_bench_cold_init() != 0 })

// benchColdCall crosses into C once to touch four cold cache lines.
func benchColdCall() {
	C.sk_bench_cold()
}

// benchColdLoop touches four cold cache lines calls times, in one crossing.
func benchColdLoop(calls int) {
	C.sk_bench_cold_loop(C.size_t(calls))
}
