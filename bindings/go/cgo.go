package stockkeeper

// Every cgo directive of the package lives here. The Rust library is linked
// statically, by the path of its archive so that the shared library built
// next to it is never picked instead, and a program built with this package
// needs no stockkeeper library at run time. Build the archive first with
// `cargo build --release --lib` at the root of the repository. The system
// libraries after it are those the Rust standard library needs on Linux, as
// `cargo rustc --release --lib -- --print native-static-libs` lists them.

// #cgo CFLAGS: -I${SRCDIR}/../../include
// #cgo LDFLAGS: ${SRCDIR}/../../target/release/libstockkeeper.a
// #cgo LDFLAGS: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
// #include "stockkeeper.h"
import "C"

import "unsafe"

// cBytes returns the address of s's bytes for a pointer + length argument,
// or NULL for the empty string, which the C ABI reads as "" (and refuses as
// empty_id wherever an id is asked for).
//
// The bytes are not copied. cgo allows this because the memory holds no Go
// pointers, and the library borrows it for the call only: it never writes
// through the pointer and keeps no copy of it once the call returns.
func cBytes(s string) *C.uint8_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s)))
}

// cLen is s's length in bytes, as the C ABI takes it.
func cLen(s string) C.size_t {
	return C.size_t(len(s))
}

// cgoFloor makes the cheapest call into the library there is, one that
// reads a static string: the benchmarks time it as what any cgo call costs
// on the machine, the floor under every call of the package.
func cgoFloor() {
	C.sk_version()
}
