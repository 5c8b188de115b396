/*
 * stockkeeper: an in-process inventory reservation engine behind an opaque
 * sk_engine handle. Every function keeps these conventions:
 * - a fallible call returns an sk_status, SK_STATUS_OK (0) on success;
 * - strings go in as pointer + length, UTF-8, borrowed for the call only,
 *   no NUL needed; (NULL, 0) is the empty string;
 * - outputs are written only on success, but for the sizes written with
 *   SK_STATUS_BUFFER_TOO_SMALL, the line sk_order_block_lines blames, and
 *   the statuses (and deadlines) a batch closed while it runs writes; a
 *   required output given as NULL is refused with SK_STATUS_NULL_ARGUMENT
 *   before anything changes;
 * - a call's outputs and buffers must not overlap one another or its
 *   inputs, as if every pointer were restrict;
 * - a handle may be used from many threads at once; sk_engine_free must not
 *   race any other call on it, except those of the engine's own callbacks,
 *   which the close it begins with waits for.
 */

#ifndef STOCKKEEPER_H
#define STOCKKEEPER_H

/*
 * Generated from the Rust sources by cbindgen; do not edit.
 * Regenerate with `make header`.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STOCKKEEPER_VERSION "0.1.0"
#define STOCKKEEPER_VERSION_MAJOR 0
#define STOCKKEEPER_VERSION_MINOR 1
#define STOCKKEEPER_VERSION_PATCH 0

// How many ended orders are remembered at most by default.
#define SK_DEFAULT_MAX_REMEMBERED 1000000

// The longest id accepted, in bytes of UTF-8.
#define SK_MAX_ID_BYTES 256

// The longest product name accepted, in bytes of UTF-8.
#define SK_MAX_NAME_BYTES 1024

// The largest count any product or order may reach: 2^63 - 1, so that every
// count fits a signed 64-bit integer in C, Go and Python alike.
#define SK_MAX_COUNT 9223372036854775807

// What a call did. Numbers are fixed and grouped by cause; a retired number
// is never reused.
enum sk_status
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  SK_STATUS_OK = 0,
  // A required pointer was NULL.
  SK_STATUS_NULL_ARGUMENT = 1,
  // The caller's buffer is too small for the answer.
  SK_STATUS_BUFFER_TOO_SMALL = 2,
  // An index was past the end.
  SK_STATUS_OUT_OF_RANGE = 3,
  // A bug in the library was caught at the boundary; the call may have
  // had no effect or its full effect, never half of one.
  SK_STATUS_INTERNAL = 9,
  SK_STATUS_EMPTY_ID = 101,
  SK_STATUS_ID_TOO_LONG = 102,
  SK_STATUS_ID_CONTAINS_NUL = 103,
  SK_STATUS_INVALID_UTF8 = 104,
  SK_STATUS_INVALID_NAME = 105,
  SK_STATUS_INVALID_QUANTITY = 106,
  SK_STATUS_OVERFLOW = 107,
  SK_STATUS_INVALID_DURATION = 108,
  SK_STATUS_UNKNOWN_PRODUCT = 201,
  SK_STATUS_UNKNOWN_ORDER = 202,
  SK_STATUS_PRODUCT_EXISTS = 301,
  SK_STATUS_DUPLICATE_ORDER = 302,
  SK_STATUS_INSUFFICIENT_STOCK = 303,
  SK_STATUS_ALREADY_CONFIRMED = 304,
  SK_STATUS_ALREADY_CANCELLED = 305,
  SK_STATUS_EXPIRED = 306,
  SK_STATUS_CLOCK_NOT_MANUAL = 401,
  SK_STATUS_CLOSED = 402,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sk_status sk_status;
#else
typedef uint32_t sk_status;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// Where an order stands.
enum sk_order_state
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  SK_ORDER_STATE_HELD = 1,
  SK_ORDER_STATE_CONFIRMED = 2,
  SK_ORDER_STATE_CANCELLED = 3,
  SK_ORDER_STATE_EXPIRED = 4,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sk_order_state sk_order_state;
#else
typedef uint32_t sk_order_state;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// What an event is about.
enum sk_event_kind
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  // A hold ended; `state` says how.
  SK_EVENT_KIND_HOLD_ENDED = 1,
  // A product's available stock reached zero.
  SK_EVENT_KIND_SOLD_OUT = 2,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum sk_event_kind sk_event_kind;
#else
typedef uint32_t sk_event_kind;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// An engine. Opaque: reached only through pointers the library hands out.
typedef struct sk_engine sk_engine;

// How to set up an engine. Fill it with `sk_options_default` first, then
// change what you need.
typedef struct {
  // Hold time when a block gives none, in nanoseconds; must be above zero
  // and at most `INT64_MAX` (`SK_STATUS_OVERFLOW` past it).
  uint64_t hold_time_ns;
  // How long ended orders are remembered, in nanoseconds.
  uint64_t retention_ns;
  // The most ended orders remembered at once.
  uint64_t max_remembered;
  // Run on a clock that only `sk_engine_advance` moves (for tests).
  bool manual_clock;
  // Release expired holds on a background thread. Without it, call
  // `sk_engine_release_expired`; with the manual clock no thread runs.
  bool background_release;
} sk_options;

// A product's three numbers.
typedef struct {
  int64_t on_hand;
  int64_t reserved;
  int64_t available;
} sk_stock;

// When a hold runs out.
typedef struct {
  // On the engine's monotonic clock: nanoseconds since the engine started.
  uint64_t since_start_ns;
  // The same instant as nanoseconds since the Unix epoch on the wall
  // clock, as it stood when the engine started. For display only. An
  // instant past what 64 signed bits of nanoseconds hold (April 2262)
  // reads `INT64_MAX`, as a hold extended by close to `UINT64_MAX` may.
  int64_t wall_unix_ns;
} sk_deadline;

// One line of an order to block.
typedef struct {
  const uint8_t *product;
  size_t product_len;
  int64_t quantity;
} sk_line;

// An order's state, how many lines it has and its deadline. Read the lines
// with `sk_order_line`, or everything at once with `sk_order_read`.
typedef struct {
  sk_order_state state;
  size_t line_count;
  sk_deadline deadline;
} sk_order_info;

// One line of an order read by `sk_order_read`: its product id is
// `product_len` bytes at `product_offset` in the ids buffer of that call.
typedef struct {
  size_t product_offset;
  size_t product_len;
  int64_t quantity;
} sk_line_view;

// One block of a batch for `sk_order_block_many`: the arguments of one
// `sk_order_block`, read as it reads them.
typedef struct {
  const uint8_t *order;
  size_t order_len;
  const uint8_t *product;
  size_t product_len;
  int64_t quantity;
} sk_block_request;

// One product of a batch for `sk_product_add_many`: the arguments of one
// `sk_product_add`, read as it reads them.
typedef struct {
  const uint8_t *id;
  size_t id_len;
  const uint8_t *name;
  size_t name_len;
  int64_t on_hand;
} sk_product_request;

// A borrowed string: pointer + length, UTF-8, no NUL needed.
typedef struct {
  const uint8_t *data;
  size_t len;
} sk_text;

// A snapshot of the engine's counters. The hold figures are read together,
// so `live_holds == held - confirmed - cancelled - expired` always holds in a
// snapshot. Laid out as C lays out a struct, as the C ABI hands it out.
typedef struct {
  // Holds started.
  uint64_t held;
  // Holds that ended confirmed.
  uint64_t confirmed;
  // Holds that ended cancelled.
  uint64_t cancelled;
  // Holds that ended expired.
  uint64_t expired;
  // Blocks, and stock corrections, refused because a product had too
  // little available.
  uint64_t refused_stock;
  // Blocks refused because the order id was in use or remembered.
  uint64_t refused_duplicate;
  // Calls refused because no product or order had the id.
  uint64_t refused_unknown;
  // Confirms, cancels and extensions refused because the hold had ended.
  uint64_t refused_ended;
  // Calls refused for bad input (ids, names, quantities, durations,
  // overflow).
  uint64_t refused_invalid;
  // Holds live now.
  uint64_t live_holds;
  // Units reserved by live holds now, summed over every product; it
  // saturates at `u64::MAX`, which only holds of many products each near
  // the count bound can reach.
  uint64_t held_units;
} sk_metrics;

// How the holds on one product ended. Laid out as C lays out a struct, as
// the C ABI hands it out.
typedef struct {
  uint64_t confirmed;
  uint64_t cancelled;
  uint64_t expired;
} sk_outcomes;

// One line of an ended hold.
typedef struct {
  const uint8_t *product;
  size_t product_len;
  int64_t quantity;
} sk_event_line;

// An event as a callback sees it. Every pointer in it is valid only until
// the callback returns; copy what you keep.
typedef struct {
  sk_event_kind kind;
  // For `SK_EVENT_KIND_HOLD_ENDED`, an `sk_order_state` value; 0 otherwise.
  uint32_t state;
  // The order, for `SK_EVENT_KIND_HOLD_ENDED`; NULL and 0 otherwise.
  const uint8_t *order;
  size_t order_len;
  // The product, for `SK_EVENT_KIND_SOLD_OUT`; NULL and 0 otherwise.
  const uint8_t *product;
  size_t product_len;
  // The ended hold's lines; NULL and 0 for other kinds.
  const sk_event_line *lines;
  size_t line_count;
} sk_event;

// A function the engine calls with each event, on its notifier thread (one
// thread per engine, never the caller's), never while it holds a lock.
// It may call back into the engine, except `sk_engine_free`. It must not
// unwind (no C++ exception or longjmp out of it). A callback that closes or
// flushes another engine waits for that engine's notifier thread: if that
// engine's callbacks may close or flush this one, the two wait for each
// other for ever.
typedef void (*sk_event_callback)(const sk_event *event, void *user_data);



#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// Writes the default options into `*out`.
//
// # Safety
// `out` must be NULL or point to writable memory for an `sk_options`.
sk_status sk_options_default(sk_options *out);

// Starts an engine and writes its handle into `*out`. `options` may be NULL
// for the defaults. Fails with `SK_STATUS_INVALID_DURATION` for a zero hold
// time, and with `SK_STATUS_CLOSED` when the operating system refuses the
// background releaser's thread; no engine is made then.
//
// # Safety
// `options` must be NULL or point to an `sk_options`; `out` must be NULL or
// point to writable memory for a pointer.
sk_status sk_engine_new(const sk_options *options, sk_engine **out);

// Closes an engine: stops and joins its releaser thread, waits for the
// calls in progress on other threads to finish, delivers their events and
// the others already queued, and stops its notifier thread; every later
// call on the handle returns `SK_STATUS_CLOSED`. Last, it frees every
// product and order: the handle then keeps a few kilobytes until
// `sk_engine_free`. It returns once all that is done, also when another
// thread is closing the same engine: from then on no call changes the
// engine. Freeing the handle still needs every other
// thread out of every call on it: a call only just begun may read the
// handle before a close can count it, and a close never waits for
// `sk_engine_flush_events` or `sk_engine_unsubscribe`. Called from inside an
// event
// callback it cannot wait for the thread it runs on: it waits for the calls
// in progress, stops the engine and returns, and queued events are still
// delivered until a close from another thread, or `sk_engine_free`, waits
// for them. Closing twice is fine. The handle stays valid until
// `sk_engine_free`.
//
// # Safety
// `engine` must be NULL or a handle from `sk_engine_new` not yet freed.
sk_status sk_engine_close(sk_engine *engine);

// Closes (if needed) and frees an engine. NULL is ignored. The close comes
// first, as `sk_engine_close`: it waits for the engine's callbacks, which
// may still call the engine meanwhile (and are told `SK_STATUS_CLOSED`).
//
// # Safety
// `engine` must be NULL or a handle from `sk_engine_new` not yet freed. No
// other thread may call it (but the engine's own callbacks, until the close
// has waited for them), nor may any once this returns. It must not be
// called from one of the engine's callbacks.
void sk_engine_free(sk_engine *engine);

// Starts the background releaser if it is not running (nothing on the
// manual clock). Fails with `SK_STATUS_CLOSED` on a closed engine, and also
// when the operating system refuses the thread: the engine stays open then.
//
// # Safety
// `engine` must be NULL or a live handle.
sk_status sk_engine_start_releaser(sk_engine *engine);

// Releases every hold whose deadline has passed; writes how many into
// `*released` when it is not NULL.
//
// # Safety
// `engine` must be NULL or a live handle; `released` NULL or writable.
sk_status sk_engine_release_expired(sk_engine *engine, uint64_t *released);

// Moves the manual clock forward by `by_ns` and releases what fell due;
// writes how many holds it released into `*released` when not NULL. Fails
// with `SK_STATUS_CLOCK_NOT_MANUAL` on the system clock.
//
// # Safety
// `engine` must be NULL or a live handle; `released` NULL or writable.
sk_status sk_engine_advance(sk_engine *engine, uint64_t by_ns, uint64_t *released);

// Writes the engine's time, nanoseconds since it started, into `*out`.
//
// # Safety
// `engine` must be NULL or a live handle; `out` NULL or writable.
sk_status sk_engine_now(const sk_engine *engine, uint64_t *out);

// Adds a product with `on_hand` units.
//
// # Safety
// `engine` must be NULL or a live handle; `id` and `name` NULL or readable
// for their lengths.
sk_status sk_product_add(sk_engine *engine,
                         const uint8_t *id,
                         size_t id_len,
                         const uint8_t *name,
                         size_t name_len,
                         int64_t on_hand);

// Writes the product's available units into `*out`.
//
// # Safety
// `engine` must be NULL or a live handle; `id` NULL or readable for
// `id_len` bytes; `out` NULL or writable.
sk_status sk_product_available(const sk_engine *engine,
                               const uint8_t *id,
                               size_t id_len,
                               int64_t *out);

// Writes the product's on_hand, reserved and available into `*out`.
//
// # Safety
// As `sk_product_available`.
sk_status sk_product_stock(const sk_engine *engine,
                           const uint8_t *id,
                           size_t id_len,
                           sk_stock *out);

// Restocks (`delta > 0`) or corrects (`delta < 0`) a product; writes the
// stock after the change into `*out` when it is not NULL. A correction may
// not take available below zero (`SK_STATUS_INSUFFICIENT_STOCK`); a restock
// past `SK_MAX_COUNT`, or a correction of `INT64_MIN` (more than any count
// can be), is `SK_STATUS_OVERFLOW`.
//
// # Safety
// As `sk_product_available`; `out` NULL or writable.
sk_status sk_product_update(sk_engine *engine,
                            const uint8_t *id,
                            size_t id_len,
                            int64_t delta,
                            sk_stock *out);

// Holds `quantity` units of one product for an order, for `hold_time_ns`
// (zero: the engine's default). Writes the deadline into `*out` when not
// NULL.
//
// # Safety
// `engine` must be NULL or a live handle; `order` and `product` NULL or
// readable for their lengths; `out` NULL or writable.
sk_status sk_order_block(sk_engine *engine,
                         const uint8_t *order,
                         size_t order_len,
                         const uint8_t *product,
                         size_t product_len,
                         int64_t quantity,
                         uint64_t hold_time_ns,
                         sk_deadline *out);

// Holds every line of an order, or none (lines naming one product are
// summed). When a line is at fault and `failed_line` is not NULL, its index
// is written there. The order is checked in steps, and the first step that
// fails gives the status, and the line if it is a line's fault: the order
// id (no line); no lines at all (`SK_STATUS_INVALID_QUANTITY`, no line); a
// bad product id or quantity (the first bad line); a product whose lines
// sum past `SK_MAX_COUNT` (`SK_STATUS_OVERFLOW`); a deadline past the
// clock's range (`SK_STATUS_OVERFLOW`, no line); an unknown product; a
// duplicate order id (no line); too little stock. For the three about a
// product, the line is the first naming the lowest id at fault in that
// step. Otherwise as `sk_order_block`.
//
// # Safety
// `lines` must be NULL (with a `line_count` of 0, no lines) or point to
// `line_count` readable `sk_line`s whose products are readable for their
// lengths; `failed_line` NULL or writable;
// the rest as `sk_order_block`.
sk_status sk_order_block_lines(sk_engine *engine,
                               const uint8_t *order,
                               size_t order_len,
                               const sk_line *lines,
                               size_t line_count,
                               uint64_t hold_time_ns,
                               sk_deadline *out,
                               size_t *failed_line);

// Confirms a held order. Fails with `SK_STATUS_EXPIRED` once its deadline has
// passed, even if no release has run yet.
//
// # Safety
// `engine` must be NULL or a live handle; `order` NULL or readable for
// `order_len` bytes.
sk_status sk_order_confirm(sk_engine *engine, const uint8_t *order, size_t order_len);

// Cancels a held order: its units go back to available.
//
// # Safety
// As `sk_order_confirm`.
sk_status sk_order_cancel(sk_engine *engine, const uint8_t *order, size_t order_len);

// Moves a live hold's deadline `by_ns` later; writes the new deadline into
// `*out` when not NULL.
//
// # Safety
// As `sk_order_confirm`; `out` NULL or writable.
sk_status sk_order_extend(sk_engine *engine,
                          const uint8_t *order,
                          size_t order_len,
                          uint64_t by_ns,
                          sk_deadline *out);

// Writes an order's state, line count and deadline into `*out`. A held
// order found past its deadline is expired by the call, as by a confirm.
//
// # Safety
// As `sk_order_confirm`; `out` NULL or writable.
sk_status sk_order_status(const sk_engine *engine,
                          const uint8_t *order,
                          size_t order_len,
                          sk_order_info *out);

// Copies line `index` of an order (lines are sorted by product id): the
// product id into `product_buf` (`product_cap` bytes, no NUL added), its
// length into `*product_len` and the quantity into `*quantity`. Fails with
// `SK_STATUS_BUFFER_TOO_SMALL` when the id does not fit, writing only the
// length needed into `*product_len` (never more than `SK_MAX_ID_BYTES`), and
// `SK_STATUS_OUT_OF_RANGE` when `index` is past the last line. A NULL
// `product_buf` with a `product_cap` of 0 asks for the length alone, as
// with `sk_engine_metrics_text`. Expires a held order found past its
// deadline, as `sk_order_status` does.
//
// # Safety
// As `sk_order_confirm`; `product_buf` NULL or writable for `product_cap`
// bytes; `product_len` and `quantity` NULL or writable.
sk_status sk_order_line(const sk_engine *engine,
                        const uint8_t *order,
                        size_t order_len,
                        size_t index,
                        uint8_t *product_buf,
                        size_t product_cap,
                        size_t *product_len,
                        int64_t *quantity);

// Reads an order whole, as it stood at one moment: its state, line count
// and deadline into `*info`, its lines (sorted by product id) into `lines`,
// room for `line_cap`, and their product ids one after another into `ids`,
// `ids_cap` bytes, no NUL added; each line gives its id's offset and length
// there. Writes how many lines and id bytes the order has into
// `*line_count` and `*ids_len`. When either does not fit, fails with
// `SK_STATUS_BUFFER_TOO_SMALL` and writes only those two: call again with
// that much room. (NULL, 0) for `lines` or `ids` asks for the sizes alone.
// Expires a held order found past its deadline, as `sk_order_status` does.
//
// Unlike `sk_order_status` then `sk_order_line`, the lines always belong to
// the order the state describes, even when its id is forgotten and used
// again between calls (possible with a short retention or a small bound on
// remembered orders); a second call after `SK_STATUS_BUFFER_TOO_SMALL` may
// find another order, and may ask for more room again.
//
// # Safety
// As `sk_order_confirm`; `info`, `line_count` and `ids_len` NULL or
// writable; `lines` NULL or writable for `line_cap` lines; `ids` NULL or
// writable for `ids_cap` bytes.
sk_status sk_order_read(const sk_engine *engine,
                        const uint8_t *order,
                        size_t order_len,
                        sk_order_info *info,
                        sk_line_view *lines,
                        size_t line_cap,
                        uint8_t *ids,
                        size_t ids_cap,
                        size_t *line_count,
                        size_t *ids_len);

// A NUL-terminated, static English sentence for a status code; an unknown
// code gets a sentence saying so. Never NULL; never free it.
const char *sk_status_message(uint32_t status);

// The stable snake_case name of a status code (`"insufficient_stock"`), the
// same name every front door uses; `"unknown_status"` for an unknown code.
// Never NULL; never free it.
const char *sk_status_name(uint32_t status);

// The library's version, as a static NUL-terminated string.
const char *sk_version(void);

// Runs every request in turn, exactly as `sk_order_block` would run it with
// `hold_time_ns`, and writes what each gave into `statuses[i]`; where it
// succeeds and `deadlines` is not NULL, its deadline into `deadlines[i]`
// (other elements are left as they were). A request that fails leaves the
// others alone.
//
// Returns `SK_STATUS_OK` once every request has run on an open engine,
// whatever each gave. `SK_STATUS_CLOSED` when the engine is closed: before
// the batch, and then nothing is written, or while it runs, and then the
// requests before the close have taken effect and each one after it has
// `SK_STATUS_CLOSED`. `SK_STATUS_NULL_ARGUMENT`, running nothing, when
// `requests` or `statuses` is NULL and `count` is not 0; `SK_STATUS_OVERFLOW`
// for a `count` no array can have.
//
// # Safety
// `engine` must be NULL or a live handle; `requests` NULL or readable for
// `count` requests, each naming ids readable for their lengths; `statuses`
// NULL or writable for `count` statuses; `deadlines` NULL or writable for
// `count` deadlines. The arrays must not overlap one another or the ids.
sk_status sk_order_block_many(sk_engine *engine,
                              const sk_block_request *requests,
                              size_t count,
                              uint64_t hold_time_ns,
                              sk_status *statuses,
                              sk_deadline *deadlines);

// Adds every product in turn, exactly as `sk_product_add` would, and
// writes what each gave into `statuses[i]`: a product refused (its id
// taken, by an earlier product of the same batch too) leaves the others
// alone. Returns as `sk_order_block_many` returns. For a catalogue load:
// the batch is read ahead, and threads each adding a batch of their own
// run side by side.
//
// # Safety
// `engine` must be NULL or a live handle; `products` NULL or readable for
// `count` products, each naming an id and a name readable for their
// lengths; `statuses` NULL or writable for `count` statuses, overlapping
// neither the strings nor `products`.
sk_status sk_product_add_many(sk_engine *engine,
                              const sk_product_request *products,
                              size_t count,
                              sk_status *statuses);

// Confirms every order in turn, exactly as `sk_order_confirm` would, and
// writes what each gave into `statuses[i]`. Returns as
// `sk_order_block_many` returns.
//
// # Safety
// `engine` must be NULL or a live handle; `orders` NULL or readable for
// `count` ids, each readable for its length; `statuses` NULL or writable
// for `count` statuses, overlapping neither the ids nor `orders`.
sk_status sk_order_confirm_many(sk_engine *engine,
                                const sk_text *orders,
                                size_t count,
                                sk_status *statuses);

// Writes a snapshot of the engine's counters into `*out`.
//
// # Safety
// `engine` must be NULL or a live handle; `out` NULL or writable.
sk_status sk_engine_metrics(const sk_engine *engine, sk_metrics *out);

// Counts a call that a front door over this library refused itself, before
// calling in, as the library counts the calls it refuses, and returns the
// status to report: `status`, or `SK_STATUS_CLOSED` on a closed engine,
// which counts nothing (every call on it answers that first). It is for
// wrappers whose own types can say what the C ABI cannot (a negative or an
// explicit zero duration, say), so that the metrics count every refusal
// whichever door it came through. `status` must be a refusal the metrics
// count (an error from 101 to 306 but `SK_STATUS_PRODUCT_EXISTS`); any other
// number is refused with `SK_STATUS_OUT_OF_RANGE` and counts nothing. A
// NULL engine answers `SK_STATUS_NULL_ARGUMENT`, and a NULL or closed
// engine is answered before `status` is looked at.
//
// # Safety
// `engine` must be NULL or a live handle.
sk_status sk_engine_refuse(const sk_engine *engine, uint32_t status);

// Writes how the holds on a product ended into `*out`.
//
// # Safety
// `engine` must be NULL or a live handle; `id` NULL or readable for `id_len`
// bytes; `out` NULL or writable.
sk_status sk_product_outcomes(const sk_engine *engine,
                              const uint8_t *id,
                              size_t id_len,
                              sk_outcomes *out);

// Writes the counters as Prometheus text, with the outcomes of the
// `product_count` products in `products` (may be NULL when 0; a product
// named more than once is listed once), into `buf`
// (no NUL added) and its length into `*len`. When `cap` is too small it
// returns `SK_STATUS_BUFFER_TOO_SMALL` and writes only the length needed
// into `*len`, so the caller can retry; `buf` may be NULL when `cap` is 0,
// to ask for the length.
//
// # Safety
// `engine` must be NULL or a live handle; `products` NULL or readable for
// `product_count` texts; `buf` writable for `cap` bytes (NULL if 0); `len` NULL
// or writable.
sk_status sk_engine_metrics_text(const sk_engine *engine,
                                 const sk_text *products,
                                 size_t product_count,
                                 uint8_t *buf,
                                 size_t cap,
                                 size_t *len);

// Calls `callback(event, user_data)` for every event from now on, on the
// engine's notifier thread; writes the subscription's id into `*id` when not
// NULL. A slow callback delays later events, never the engine's callers.
// A callback that forks returns in the child too, on the notifier thread,
// the child's only thread: that thread then ends, and a child that started
// no thread of its own exits with it, as a process whose last thread ends
// (status 0, `atexit` handlers run, stdio buffers flushed); a child meant
// for other work should call `exec` or `_exit`. Fails with
// `SK_STATUS_CLOSED` on a closed engine, and also when the operating system
// refuses the notifier thread that the first subscription starts: the engine
// stays open then.
//
// # Safety
// `engine` must be NULL or a live handle; `callback` must be safe to call
// from another thread with `user_data` until `sk_engine_unsubscribe` of its
// id followed by `sk_engine_flush_events` returns, or until
// `sk_engine_unsubscribe` of its id returns inside a callback of the same
// engine (whatever the status), or until `sk_engine_close` returns on a
// thread other than the notifier's, or `sk_engine_free` returns.
sk_status sk_engine_subscribe(sk_engine *engine,
                              sk_event_callback callback,
                              void *user_data,
                              uint64_t *id);

// Ends a subscription; unknown ids are ignored. Once it returns no delivery
// to the callback begins, not even of an event queued before; one already
// under way on the notifier thread (the callback may not have been entered
// yet) goes on, which `sk_engine_flush_events` from another thread waits
// for. Inside a callback of the same engine no other delivery is under way,
// so from there, once it returns, the callback is never called again. On a
// closed engine it ends the subscription all the same and returns
// `SK_STATUS_CLOSED`. It never waits.
//
// # Safety
// `engine` must be NULL or a live handle.
sk_status sk_engine_unsubscribe(sk_engine *engine, uint64_t id);

// Waits until every event published before the call reached its callbacks.
// From inside a callback it returns at once. On a closed engine it waits all
// the same, for what the close may still be delivering, then returns
// `SK_STATUS_CLOSED`.
//
// # Safety
// `engine` must be NULL or a live handle.
sk_status sk_engine_flush_events(sk_engine *engine);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* STOCKKEEPER_H */
