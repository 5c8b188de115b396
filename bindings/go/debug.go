//go:build debug

package stockkeeper

import "runtime"

// beforeCall collects garbage before every call into the library when the
// package is built with the debug tag. A method that let the library engine
// it called become unreachable before the call returned would then see the
// finalizer free it under the call and crash at once, instead of once in a
// blue moon.
func beforeCall() {
	runtime.GC()
}
