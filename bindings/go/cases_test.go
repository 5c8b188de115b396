package stockkeeper_test

import (
	"bufio"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	stockkeeper "github.com/stockkeeper/stockkeeper/bindings/go"
)

// The behaviour cases shared by every front door; tests/cases/README.md
// gives their format.
const casesGlob = "../../tests/cases/*.case"

// TestCases runs every behaviour case through the Go API, one subtest per
// file, stopping a file at its first mismatch. Steps Go cannot express
// (numbers outside int64, durations past time.Duration) are skipped and
// counted, as the format allows for steps that expect an error.
func TestCases(t *testing.T) {
	files, err := filepath.Glob(casesGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no behaviour cases match %s", casesGlob)
	}
	var ran, skipped int
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			c := &caseRun{t: t, file: filepath.Base(path)}
			defer func() {
				ran += c.ran
				skipped += c.skipped
				t.Logf("%s: %d steps run, %d skipped as not expressible in Go",
					c.file, c.ran, c.skipped)
			}()
			c.run(path)
		})
	}
	t.Logf("%d case files: %d steps run, %d skipped as not expressible in Go",
		len(files), ran, skipped)
}

// notExpressible marks a step whose arguments Go's types cannot carry.
var notExpressible = errors.New("not expressible in Go")

// caseRun is one case file on its way through an engine.
type caseRun struct {
	t       *testing.T
	file    string
	line    int
	options stockkeeper.Options
	engine  *stockkeeper.Engine
	ran     int
	skipped int
}

// run runs the steps of one file against an engine of its own.
func (c *caseRun) run(path string) {
	f, err := os.Open(path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	c.options = stockkeeper.Options{ManualClock: true, ManualRelease: true}
	defer func() {
		if c.engine != nil {
			_ = c.engine.Close()
		}
	}()

	scanner := bufio.NewScanner(f)
	scanner.Buffer(nil, 1<<20)
	first := true
	for scanner.Scan() {
		c.line++
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if fields[0] == "engine" {
			if !first {
				c.fatalf("the engine line must be the first step")
			}
			c.configure(fields[1:])
		} else {
			c.step(fields)
		}
		first = false
	}
	if err := scanner.Err(); err != nil {
		c.fatalf("%v", err)
	}
}

// fatalf stops the file, naming it and the line.
func (c *caseRun) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("%s:%d: %s", c.file, c.line, fmt.Sprintf(format, args...))
}

// configure applies an engine line. In Options zero means the library's
// default, so a zero hold time, retention or memory cannot be asked for;
// like any setting Go cannot express, it makes the case broken for Go.
func (c *caseRun) configure(settings []string) {
	for _, setting := range settings {
		key, value, ok := strings.Cut(setting, "=")
		if !ok {
			c.fatalf("engine setting %q is not key=value", setting)
		}
		var err error
		var zero bool
		switch key {
		case "hold":
			c.options.HoldTime, err = c.duration(value)
			zero = c.options.HoldTime == 0
		case "retention":
			c.options.Retention, err = c.duration(value)
			zero = c.options.Retention == 0
		case "remember":
			var n int64
			n, err = c.number(value)
			c.options.MaxRemembered = int(n)
			zero = n == 0
		default:
			c.fatalf("unknown engine setting %q", key)
		}
		if errors.Is(err, notExpressible) || zero {
			c.fatalf("broken case for Go: engine %s cannot be set through Options", setting)
		}
	}
}

// step runs one step and compares what it gave with what the file expects.
func (c *caseRun) step(fields []string) {
	c.t.Helper()
	arrow := -1
	for i, field := range fields {
		if field == "=>" {
			arrow = i
			break
		}
	}
	if arrow < 1 || arrow == len(fields)-1 {
		c.fatalf("a step is OPERATION ARG... => EXPECTED")
	}
	op, args, expected := fields[0], fields[1:arrow], fields[arrow+1:]
	expectsError := expected[0] == "error"
	if expectsError && len(expected) != 2 {
		c.fatalf("a failing step expects `error CODE`")
	}

	if c.engine == nil {
		engine, err := stockkeeper.New(c.options)
		if err != nil {
			c.fatalf("New(%+v): %v", c.options, err)
		}
		c.engine = engine
	}
	got, err := c.do(op, args)
	if errors.Is(err, notExpressible) {
		if !expectsError {
			c.fatalf("broken case for Go: %s expects success but is not expressible in Go", op)
		}
		c.skipped++
		return
	}
	c.ran++

	want := strings.Join(expected, " ")
	if err != nil {
		var failure *stockkeeper.Error
		if !errors.As(err, &failure) {
			c.fatalf("%s: error %v is not a *stockkeeper.Error", op, err)
		}
		got = "error " + failure.Name()
	} else if !expectsError {
		want = c.canonical(op, expected)
		if op == "status" && len(expected) == 1 {
			// No deadline expected: the state alone is compared.
			got, _, _ = strings.Cut(got, " ")
		}
	}
	if got != want {
		c.fatalf("%s %s\n\texpected: %s\n\tgot:      %s", op, strings.Join(args, " "), want, got)
	}
}

// do runs one operation and renders its result as the file writes results.
func (c *caseRun) do(op string, args []string) (string, error) {
	e := c.engine
	switch op {
	case "add":
		c.arity(op, args, 3)
		count, err := c.number(args[2])
		if err != nil {
			return "", err
		}
		return "ok", e.AddProduct(c.id(args[0]), c.id(args[1]), count)
	case "available":
		c.arity(op, args, 1)
		available, err := e.Available(c.id(args[0]))
		return strconv.FormatInt(available, 10), err
	case "stock":
		c.arity(op, args, 1)
		s, err := e.Stock(c.id(args[0]))
		return fmt.Sprintf("%d %d %d", s.OnHand, s.Reserved, s.Available), err
	case "update":
		c.arity(op, args, 2)
		delta, err := c.number(args[1])
		if err != nil {
			return "", err
		}
		_, err = e.UpdateInventory(c.id(args[0]), delta)
		return "ok", err
	case "block":
		return c.block(args, 0, false)
	case "block_for":
		if len(args) < 1 {
			c.fatalf("block_for takes a duration first")
		}
		hold, err := c.duration(args[0])
		if err != nil {
			return "", err
		}
		return c.block(args[1:], hold, true)
	case "confirm":
		c.arity(op, args, 1)
		return "ok", e.Confirm(c.id(args[0]))
	case "cancel":
		c.arity(op, args, 1)
		return "ok", e.Cancel(c.id(args[0]))
	case "extend":
		c.arity(op, args, 2)
		by, err := c.duration(args[1])
		if err != nil {
			return "", err
		}
		_, err = e.Extend(c.id(args[0]), by)
		return "ok", err
	case "status":
		c.arity(op, args, 1)
		status, err := e.Status(c.id(args[0]))
		return status.State.String() + " deadline=" + status.Deadline.SinceStart.String(), err
	case "advance":
		c.arity(op, args, 1)
		by, err := c.duration(args[0])
		if err != nil {
			return "", err
		}
		released, err := e.Advance(by)
		return strconv.Itoa(released), err
	case "release":
		c.arity(op, args, 0)
		released, err := e.ReleaseExpired()
		return strconv.Itoa(released), err
	case "close":
		c.arity(op, args, 0)
		return "ok", e.Close()
	case "add_many":
		return c.addMany(args)
	case "block_many":
		return c.blockMany(args)
	case "confirm_many":
		if len(args) == 0 || len(args) > maxBatch {
			c.fatalf("confirm_many takes 1 to %d order ids", maxBatch)
		}
		orders := make([]string, len(args))
		for i, arg := range args {
			orders[i] = c.id(arg)
		}
		results, err := e.ConfirmMany(orders)
		return answers(len(results), func(i int) error { return results[i] }), err
	}
	c.fatalf("unknown operation %q", op)
	return "", nil
}

// block runs a block step: ORDER PRODUCT QUANTITY [PRODUCT QUANTITY ...].
// One pair goes through Block (BlockFor with a hold time of its own), more
// through BlockOrder.
func (c *caseRun) block(args []string, hold time.Duration, ownHold bool) (string, error) {
	if len(args) < 3 || len(args)%2 == 0 {
		c.fatalf("block takes an order and product/quantity pairs")
	}
	order := c.id(args[0])
	var lines []stockkeeper.Line
	for i := 1; i < len(args); i += 2 {
		quantity, err := c.number(args[i+1])
		if err != nil {
			return "", err
		}
		lines = append(lines, stockkeeper.Line{Product: c.id(args[i]), Quantity: quantity})
	}

	e := c.engine
	if !ownHold {
		hold = e.HoldTime()
	}
	var err error
	switch {
	case len(lines) > 1:
		_, err = e.BlockOrder(order, lines, hold)
	case ownHold:
		_, err = e.BlockFor(lines[0].Product, lines[0].Quantity, order, hold)
	default:
		_, err = e.Block(lines[0].Product, lines[0].Quantity, order)
	}
	return "ok", err
}

// maxBatch is the most requests a batch step may have (tests/cases/README.md).
const maxBatch = 64

// triples reads the arguments of batch step op as 1 to maxBatch triples
// of two ids and a number (names says what they are), handing each to add;
// it fails as c.number does on a number that cannot be given.
func (c *caseRun) triples(op, names string, args []string,
	add func(first, second string, n int64)) error {
	if len(args) == 0 || len(args)%3 != 0 || len(args) > 3*maxBatch {
		c.fatalf("%s takes 1 to %d %s triples", op, maxBatch, names)
	}
	for i := 0; i < len(args); i += 3 {
		n, err := c.number(args[i+2])
		if err != nil {
			return err
		}
		add(c.id(args[i]), c.id(args[i+1]), n)
	}
	return nil
}

// blockMany runs a block_many step, ORDER PRODUCT QUANTITY triples, as
// one BlockMany.
func (c *caseRun) blockMany(args []string) (string, error) {
	var requests []stockkeeper.BlockRequest
	add := func(order, product string, n int64) {
		request := stockkeeper.BlockRequest{Product: product, Quantity: n, Order: order}
		requests = append(requests, request)
	}
	err := c.triples("block_many", "order/product/quantity", args, add)
	if err != nil {
		return "", err
	}
	results, err := c.engine.BlockMany(requests)
	return answers(len(results), func(i int) error { return results[i].Err }), err
}

// addMany runs an add_many step, PRODUCT NAME COUNT triples, as one
// AddProducts.
func (c *caseRun) addMany(args []string) (string, error) {
	var products []stockkeeper.NewProduct
	add := func(id, name string, n int64) {
		products = append(products, stockkeeper.NewProduct{ID: id, Name: name, OnHand: n})
	}
	err := c.triples("add_many", "product/name/count", args, add)
	if err != nil {
		return "", err
	}
	results, err := c.engine.AddProducts(products)
	return answers(len(results), func(i int) error { return results[i] }), err
}

// answers renders a batch's results as the file writes them: ok, or the
// name of the error each request met.
func answers(n int, result func(int) error) string {
	tokens := make([]string, n)
	for i := range tokens {
		var failure *stockkeeper.Error
		switch err := result(i); {
		case err == nil:
			tokens[i] = "ok"
		case errors.As(err, &failure):
			tokens[i] = failure.Name()
		default:
			tokens[i] = err.Error()
		}
	}
	return strings.Join(tokens, " ")
}

func (c *caseRun) arity(op string, args []string, n int) {
	c.t.Helper()
	if len(args) != n {
		c.fatalf("%s takes %d arguments, got %d", op, n, len(args))
	}
}

// canonical renders what a succeeding step expects the way do renders what
// it got: numbers in plain decimal, durations as time.Duration prints them.
func (c *caseRun) canonical(op string, expected []string) string {
	switch op {
	case "available", "stock", "advance", "release":
		numbers := make([]string, len(expected))
		for i, token := range expected {
			n, ok := new(big.Int).SetString(token, 10)
			if !ok {
				c.fatalf("expected %q is not a number", token)
			}
			numbers[i] = n.String()
		}
		return strings.Join(numbers, " ")
	case "status":
		if len(expected) > 2 {
			c.fatalf("status expects a state and at most a deadline")
		}
		if len(expected) == 1 {
			return expected[0]
		}
		value, ok := strings.CutPrefix(expected[1], "deadline=")
		if !ok {
			c.fatalf("status expects deadline=DURATION, got %q", expected[1])
		}
		deadline, err := c.duration(value)
		if err != nil {
			c.fatalf("expected deadline %q: %v", value, err)
		}
		return expected[0] + " deadline=" + deadline.String()
	}
	return strings.Join(expected, " ")
}

// id decodes an id or name token: `""` is the empty string; TEXT*N is TEXT
// repeated N times; then %XX stands for the byte XX, which may leave the
// string without valid UTF-8, as Go strings allow.
func (c *caseRun) id(token string) string {
	c.t.Helper()
	if token == `""` {
		return ""
	}
	if star := strings.LastIndexByte(token, '*'); star >= 0 && isDigits(token[star+1:]) {
		n, err := strconv.Atoi(token[star+1:])
		if err != nil || n > 1<<26 {
			c.fatalf("repeat count in %q is too large to build", token)
		}
		token = strings.Repeat(token[:star], n)
	}
	if !strings.Contains(token, "%") {
		return token
	}
	var decoded strings.Builder
	for i := 0; i < len(token); i++ {
		if token[i] != '%' {
			decoded.WriteByte(token[i])
			continue
		}
		if i+3 > len(token) {
			c.fatalf("%% needs two hex digits in %q", token)
		}
		value, err := strconv.ParseUint(token[i+1:i+3], 16, 8)
		if err != nil {
			c.fatalf("%% needs two hex digits in %q", token)
		}
		decoded.WriteByte(byte(value))
		i += 2
	}
	return decoded.String()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// number reads a decimal integer; one outside int64 is not expressible.
func (c *caseRun) number(token string) (int64, error) {
	c.t.Helper()
	n, err := strconv.ParseInt(token, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, notExpressible
	}
	if err != nil {
		c.fatalf("%q is not a decimal number", token)
	}
	return n, nil
}

var units = map[string]int64{
	"ns": int64(time.Nanosecond),
	"ms": int64(time.Millisecond),
	"s":  int64(time.Second),
	"m":  int64(time.Minute),
	"h":  int64(time.Hour),
}

// duration reads a number and a unit (300s, 1ns); one that time.Duration
// cannot hold is not expressible.
func (c *caseRun) duration(token string) (time.Duration, error) {
	c.t.Helper()
	split := strings.IndexFunc(token, func(r rune) bool { return r >= 'a' && r <= 'z' })
	if split < 1 {
		c.fatalf("%q is not a duration", token)
	}
	unit, ok := units[token[split:]]
	if !ok {
		c.fatalf("%q has an unknown unit", token)
	}
	n, ok := new(big.Int).SetString(token[:split], 10)
	if !ok {
		c.fatalf("%q is not a duration", token)
	}
	n.Mul(n, big.NewInt(unit))
	if !n.IsInt64() {
		return 0, notExpressible
	}
	return time.Duration(n.Int64()), nil
}
