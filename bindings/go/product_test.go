package stockkeeper

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// newTestEngine starts an engine on the manual clock with no thread, closed
// when the test ends.
func newTestEngine(t *testing.T, options Options) *Engine {
	t.Helper()
	options.ManualClock = true
	options.ManualRelease = true
	engine, err := New(options)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	return engine
}

// mustAdd adds a product or ends the test.
func mustAdd(t *testing.T, engine *Engine, id string, onHand int64) {
	t.Helper()
	if err := engine.AddProduct(id, id, onHand); err != nil {
		t.Fatalf("AddProduct(%q, %d): %v", id, onHand, err)
	}
}

// wantErr fails the test unless err matches want.
func wantErr(t *testing.T, what string, err error, want *Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %s", what, err, want.Name())
	}
}

// wantBadIDsRefused fails the test unless call refuses every one of badIDs
// with its error.
func wantBadIDsRefused(t *testing.T, what string, call func(id string) error) {
	t.Helper()
	for _, bad := range badIDs {
		wantErr(t, what+" "+bad.label, call(bad.id), bad.want)
	}
}

// wantStock fails the test unless the product has these numbers.
func wantStock(t *testing.T, engine *Engine, id string, want Stock) {
	t.Helper()
	got, err := engine.Stock(id)
	if err != nil {
		t.Fatalf("Stock(%q): %v", id, err)
	}
	if got != want {
		t.Errorf("Stock(%q) = %+v, want %+v", id, got, want)
	}
}

// badIDs are ids the contract refuses, with the error each gets. Go strings
// carry any bytes, so every one of them reaches the library as it is.
var badIDs = []struct {
	label string
	id    string
	want  *Error
}{
	{"empty", "", ErrEmptyID},
	{"257 bytes", strings.Repeat("a", 257), ErrIDTooLong},
	{"129 two-byte runes", strings.Repeat("é", 129), ErrIDTooLong},
	{"two megabytes", strings.Repeat("a", 2<<20), ErrIDTooLong},
	{"NUL byte", "a\x00b", ErrIDContainsNUL},
	{"only a NUL byte", "\x00", ErrIDContainsNUL},
	{"invalid UTF-8", "\xff\xfe", ErrInvalidUTF8},
	{"truncated rune", "caf\xc3", ErrInvalidUTF8},
	{"surrogate half", "\xed\xa0\x80", ErrInvalidUTF8},
}

func TestAddProductAndReadIt(t *testing.T) {
	engine := newTestEngine(t, Options{})
	if err := engine.AddProduct("kettle", "Kettle", 5); err != nil {
		t.Fatal(err)
	}
	if err := engine.AddProduct("empty-shelf", "", 0); err != nil {
		t.Errorf("an empty name and no stock are allowed: %v", err)
	}

	available, err := engine.Available("kettle")
	if err != nil || available != 5 {
		t.Errorf("Available = %d, %v; want 5", available, err)
	}
	wantStock(t, engine, "kettle", Stock{OnHand: 5, Available: 5})
	wantStock(t, engine, "empty-shelf", Stock{})
}

func TestIDsAtTheirBounds(t *testing.T) {
	engine := newTestEngine(t, Options{})
	for _, id := range []string{
		strings.Repeat("a", MaxIDBytes),
		strings.Repeat("é", MaxIDBytes/2),
		"with space",
		"日本語",
		"\U0001F4E6",
	} {
		if err := engine.AddProduct(id, "name", 1); err != nil {
			t.Errorf("AddProduct(%q): %v", id, err)
		}
		if available, err := engine.Available(id); err != nil || available != 1 {
			t.Errorf("Available(%q) = %d, %v", id, available, err)
		}
	}
}

func TestAddProductRefusesBadInput(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)

	wantBadIDsRefused(t, "AddProduct id", func(id string) error {
		return engine.AddProduct(id, "name", 1)
	})
	wantErr(t, "name too long",
		engine.AddProduct("a", strings.Repeat("n", MaxNameBytes+1), 1), ErrInvalidName)
	wantErr(t, "name too long to read",
		engine.AddProduct("a", strings.Repeat("n", 1<<20+1), 1), ErrInvalidName)
	wantErr(t, "name with NUL", engine.AddProduct("a", "na\x00me", 1), ErrInvalidName)
	wantErr(t, "name not UTF-8", engine.AddProduct("a", "\xff", 1), ErrInvalidUTF8)
	wantErr(t, "negative count", engine.AddProduct("a", "name", -1), ErrInvalidQuantity)
	wantErr(t, "most negative count",
		engine.AddProduct("a", "name", math.MinInt64), ErrInvalidQuantity)
	wantErr(t, "existing id", engine.AddProduct("kettle", "Again", 1), ErrProductExists)

	// Nothing above was added, and the existing product is untouched.
	_, err := engine.Available("a")
	wantErr(t, "product of refused adds", err, ErrUnknownProduct)
	wantStock(t, engine, "kettle", Stock{OnHand: 5, Available: 5})

	if err := engine.AddProduct("a", strings.Repeat("n", MaxNameBytes), MaxCount); err != nil {
		t.Errorf("longest name and largest count: %v", err)
	}
}

func TestReadsRefuseBadAndUnknownIDs(t *testing.T) {
	engine := newTestEngine(t, Options{})
	reads := map[string]func(id string) error{
		"Available": func(id string) error { _, err := engine.Available(id); return err },
		"Stock":     func(id string) error { _, err := engine.Stock(id); return err },
		"UpdateInventory": func(id string) error {
			_, err := engine.UpdateInventory(id, 1)
			return err
		},
	}
	for name, read := range reads {
		wantBadIDsRefused(t, name, read)
		wantErr(t, name+" unknown", read("nothing"), ErrUnknownProduct)
		// Ids are bytes: case and normalization are not folded.
		mustAddOnce(t, engine, "Kettle")
		wantErr(t, name+" other case", read("kettle"), ErrUnknownProduct)
	}
}

func mustAddOnce(t *testing.T, engine *Engine, id string) {
	t.Helper()
	if err := engine.AddProduct(id, id, 1); err != nil && !errors.Is(err, ErrProductExists) {
		t.Fatal(err)
	}
}

func TestUpdateInventoryRestocksAndCorrects(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", 5)
	if _, err := engine.Block("kettle", 2, "o1"); err != nil {
		t.Fatal(err)
	}

	stock, err := engine.UpdateInventory("kettle", 4)
	if want := (Stock{OnHand: 9, Reserved: 2, Available: 7}); err != nil || stock != want {
		t.Errorf("restock: %+v, %v; want %+v", stock, err, want)
	}
	stock, err = engine.UpdateInventory("kettle", -7)
	if want := (Stock{OnHand: 2, Reserved: 2, Available: 0}); err != nil || stock != want {
		t.Errorf("correction: %+v, %v; want %+v", stock, err, want)
	}

	// Held units cannot be corrected away.
	_, err = engine.UpdateInventory("kettle", -1)
	wantErr(t, "correction below available", err, ErrInsufficientStock)
	// 2^63 units is itself past the largest count.
	_, err = engine.UpdateInventory("kettle", math.MinInt64)
	wantErr(t, "most negative correction", err, ErrOverflow)
	_, err = engine.UpdateInventory("kettle", 0)
	wantErr(t, "zero delta", err, ErrInvalidQuantity)
	wantStock(t, engine, "kettle", Stock{OnHand: 2, Reserved: 2, Available: 0})
}

// on_hand can reach 2^63-1 and not one unit more, whatever mix of restocks
// gets it there.
func TestRestockPastMaxCountOverflows(t *testing.T) {
	engine := newTestEngine(t, Options{})
	mustAdd(t, engine, "kettle", MaxCount-1)

	if _, err := engine.UpdateInventory("kettle", 1); err != nil {
		t.Fatalf("restock to MaxCount: %v", err)
	}
	_, err := engine.UpdateInventory("kettle", 1)
	wantErr(t, "restock past MaxCount", err, ErrOverflow)
	_, err = engine.UpdateInventory("kettle", math.MaxInt64)
	wantErr(t, "largest restock past MaxCount", err, ErrOverflow)
	wantStock(t, engine, "kettle", Stock{OnHand: MaxCount, Available: MaxCount})

	// Held units count towards the bound too.
	mustAdd(t, engine, "mug", 10)
	if _, err := engine.Block("mug", 10, "o1"); err != nil {
		t.Fatal(err)
	}
	_, err = engine.UpdateInventory("mug", MaxCount-9)
	wantErr(t, "restock of a held product past MaxCount", err, ErrOverflow)
	wantStock(t, engine, "mug", Stock{OnHand: 10, Reserved: 10})
}
