//go:build !debug

package stockkeeper

// beforeCall does nothing outside the debug build; see debug.go.
func beforeCall() {}
