package stockkeeper

// #include "stockkeeper.h"
import "C"

import "runtime/cgo"

// skGoDeliverEvent is the one function the library calls back, on an
// engine's notifier thread, for every event and every Go subscriber of the
// engine. handle is the subscriber's cgo.Handle: the library never holds a
// Go pointer. The handle stays valid while the library may call with it;
// see Subscription.release and Engine.shutdown.
//
//export skGoDeliverEvent
func skGoDeliverEvent(event *C.sk_event, handle C.uintptr_t) {
	cgo.Handle(handle).Value().(*subscriber).deliver(event)
}
