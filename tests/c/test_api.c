/*
 * Tests of the C ABI in include/stockkeeper.h: every function, every bad input
 * the contract names, and the rule that a refused call changes nothing. A
 * refusal is checked twice: the stock it would have touched is read back, and
 * the outputs it must not write were filled with a sentinel pattern first.
 *
 * Prints one line per failed check and closes with "N passed, M failed";
 * exits non-zero on any failure.
 */

#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stockkeeper.h"

/* ---- A small check harness ------------------------------------------- */

static int passed;
static int failed;
static const char *current_test = "";

static void check(bool ok, const char *what, const char *file, int line) {
  if (ok) {
    passed++;
    return;
  }
  failed++;
  fprintf(stderr, "%s:%d: [%s] check failed: %s\n", file, line, current_test, what);
}

static void check_status(sk_status got, sk_status want, const char *call, const char *file,
                         int line) {
  if (got == want) {
    passed++;
    return;
  }
  failed++;
  fprintf(stderr, "%s:%d: [%s] %s\n    expected %s, got %s (%u)\n", file, line, current_test, call,
          sk_status_name(want), sk_status_name(got), (unsigned)got);
}

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)
#define CHECK_STATUS(call, want) check_status((call), (want), #call, __FILE__, __LINE__)

/* The library takes bytes; string literals are char. */
#define B(s) ((const uint8_t *)(s))
/* A NUL-terminated string as the pointer + length pair every call takes. */
#define S(s) B(s), strlen(s)

/*
 * Outputs a refused call must leave alone are filled with this byte first, so
 * that any write shows.
 */
#define POISON 0xA5

static void poison(void *out, size_t size) { memset(out, POISON, size); }

static bool untouched(const void *out, size_t size) {
  const unsigned char *bytes = out;
  for (size_t i = 0; i < size; i++) {
    if (bytes[i] != POISON) {
      return false;
    }
  }
  return true;
}

#define POISON_OUT(var) poison(&(var), sizeof(var))
#define CHECK_UNTOUCHED(var) CHECK(untouched(&(var), sizeof(var)))

static void check_stock(const sk_engine *engine, const char *id, int64_t on_hand, int64_t reserved,
                        int64_t available, const char *file, int line) {
  sk_stock stock;
  sk_status status = sk_product_stock(engine, S(id), &stock);
  if (status != SK_STATUS_OK) {
    check_status(status, SK_STATUS_OK, "sk_product_stock", file, line);
    return;
  }
  bool ok = stock.on_hand == on_hand && stock.reserved == reserved && stock.available == available;
  if (!ok) {
    fprintf(stderr,
            "%s:%d: [%s] stock of %s: expected %" PRId64 " %" PRId64 " %" PRId64 ", got %" PRId64
            " %" PRId64 " %" PRId64 "\n",
            file, line, current_test, id, on_hand, reserved, available, stock.on_hand,
            stock.reserved, stock.available);
  }
  check(ok, "stock matches", file, line);
}

/* Reads back a product's stock: the way every refusal is shown to change nothing. */
#define CHECK_STOCK(engine, id, on_hand, reserved, available) \
  check_stock((engine), (id), (on_hand), (reserved), (available), __FILE__, __LINE__)

static void check_state(const sk_engine *engine, const char *order, sk_order_state want,
                        const char *file, int line) {
  sk_order_info info;
  sk_status status = sk_order_status(engine, S(order), &info);
  check_status(status, SK_STATUS_OK, "sk_order_status", file, line);
  if (status == SK_STATUS_OK) {
    check(info.state == want, "order state matches", file, line);
  }
}

#define CHECK_STATE(engine, order, want) check_state((engine), (order), (want), __FILE__, __LINE__)

/* An order id no call has accepted is still unknown. */
#define CHECK_NO_ORDER(engine, order)                                                   \
  do {                                                                                  \
    sk_order_info info_;                                                                \
    CHECK_STATUS(sk_order_status((engine), S(order), &info_), SK_STATUS_UNKNOWN_ORDER); \
  } while (0)

#define SECONDS(n) ((uint64_t)(n) * UINT64_C(1000000000))

/* The engine most tests want: manual clock, no thread, default hold time. */
static sk_engine *manual_engine(void) {
  sk_options options;
  if (sk_options_default(&options) != SK_STATUS_OK) {
    return NULL;
  }
  options.manual_clock = true;
  options.background_release = false;
  sk_engine *engine = NULL;
  if (sk_engine_new(&options, &engine) != SK_STATUS_OK) {
    return NULL;
  }
  return engine;
}

static char *repeat(const char *text, size_t times) {
  size_t len = strlen(text);
  char *out = malloc(len * times + 1);
  if (out == NULL) {
    abort();
  }
  for (size_t i = 0; i < times; i++) {
    memcpy(out + i * len, text, len);
  }
  out[len * times] = '\0';
  return out;
}

static int64_t wall_now_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void sleep_ms(long ms) {
  struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&pause, NULL);
}

/* ---- Static texts ---------------------------------------------------- */

static const struct {
  sk_status code;
  const char *name;
} known_statuses[] = {
    {SK_STATUS_OK, "ok"},
    {SK_STATUS_NULL_ARGUMENT, "null_argument"},
    {SK_STATUS_BUFFER_TOO_SMALL, "buffer_too_small"},
    {SK_STATUS_OUT_OF_RANGE, "out_of_range"},
    {SK_STATUS_INTERNAL, "internal"},
    {SK_STATUS_EMPTY_ID, "empty_id"},
    {SK_STATUS_ID_TOO_LONG, "id_too_long"},
    {SK_STATUS_ID_CONTAINS_NUL, "id_contains_nul"},
    {SK_STATUS_INVALID_UTF8, "invalid_utf8"},
    {SK_STATUS_INVALID_NAME, "invalid_name"},
    {SK_STATUS_INVALID_QUANTITY, "invalid_quantity"},
    {SK_STATUS_OVERFLOW, "overflow"},
    {SK_STATUS_INVALID_DURATION, "invalid_duration"},
    {SK_STATUS_UNKNOWN_PRODUCT, "unknown_product"},
    {SK_STATUS_UNKNOWN_ORDER, "unknown_order"},
    {SK_STATUS_PRODUCT_EXISTS, "product_exists"},
    {SK_STATUS_DUPLICATE_ORDER, "duplicate_order"},
    {SK_STATUS_INSUFFICIENT_STOCK, "insufficient_stock"},
    {SK_STATUS_ALREADY_CONFIRMED, "already_confirmed"},
    {SK_STATUS_ALREADY_CANCELLED, "already_cancelled"},
    {SK_STATUS_EXPIRED, "expired"},
    {SK_STATUS_CLOCK_NOT_MANUAL, "clock_not_manual"},
    {SK_STATUS_CLOSED, "closed"},
};

#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

static void test_version(void) {
  CHECK(sk_version() != NULL);
  CHECK(strcmp(sk_version(), STOCKKEEPER_VERSION) == 0);

  char parts[64];
  snprintf(parts, sizeof(parts), "%d.%d.%d", STOCKKEEPER_VERSION_MAJOR, STOCKKEEPER_VERSION_MINOR,
           STOCKKEEPER_VERSION_PATCH);
  CHECK(strcmp(parts, STOCKKEEPER_VERSION) == 0);
}

static void test_status_texts(void) {
  const char *unknown_message = sk_status_message(12345);
  CHECK(unknown_message != NULL && unknown_message[0] != '\0');
  CHECK(strcmp(sk_status_name(12345), "unknown_status") == 0);

  for (size_t i = 0; i < COUNT_OF(known_statuses); i++) {
    const char *name = sk_status_name(known_statuses[i].code);
    const char *message = sk_status_message(known_statuses[i].code);
    CHECK(name != NULL && strcmp(name, known_statuses[i].name) == 0);
    CHECK(message != NULL && message[0] != '\0');
    CHECK(message != NULL && strcmp(message, unknown_message) != 0);
    /* A name is how callers branch on errors, so no two codes may share one. */
    for (size_t j = 0; j < i; j++) {
      CHECK(strcmp(name, sk_status_name(known_statuses[j].code)) != 0);
    }
  }

  /* Numbers between and just past the groups are not codes. */
  const uint32_t unknown[] = {4, 8, 10, 100, 109, 200, 203, 300, 307, 400, 403, UINT32_MAX};
  for (size_t i = 0; i < COUNT_OF(unknown); i++) {
    CHECK(strcmp(sk_status_name(unknown[i]), "unknown_status") == 0);
    CHECK(strcmp(sk_status_message(unknown[i]), unknown_message) == 0);
  }

  /* Static strings: asking twice gives the same pointer, nothing to free. */
  CHECK(sk_status_name(SK_STATUS_EXPIRED) == sk_status_name(SK_STATUS_EXPIRED));
}

/* ---- Engine life cycle ---------------------------------------------- */

static void test_options_default(void) {
  CHECK_STATUS(sk_options_default(NULL), SK_STATUS_NULL_ARGUMENT);

  sk_options options;
  POISON_OUT(options);
  CHECK_STATUS(sk_options_default(&options), SK_STATUS_OK);
  CHECK(options.hold_time_ns == SECONDS(300));
  CHECK(options.retention_ns == SECONDS(3600));
  CHECK(options.max_remembered == SK_DEFAULT_MAX_REMEMBERED);
  CHECK(!options.manual_clock);
  CHECK(options.background_release);
}

static void test_engine_new_and_free(void) {
  sk_options options;
  sk_options_default(&options);

  CHECK_STATUS(sk_engine_new(&options, NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_new(NULL, NULL), SK_STATUS_NULL_ARGUMENT);

  sk_engine *engine;
  options.hold_time_ns = 0;
  POISON_OUT(engine);
  CHECK_STATUS(sk_engine_new(&options, &engine), SK_STATUS_INVALID_DURATION);
  CHECK_UNTOUCHED(engine);

  /* A default hold time past INT64_MAX would leave no deadline to give. */
  options.hold_time_ns = UINT64_MAX;
  POISON_OUT(engine);
  CHECK_STATUS(sk_engine_new(&options, &engine), SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(engine);
  options.hold_time_ns = (uint64_t)INT64_MAX + 1;
  CHECK_STATUS(sk_engine_new(&options, &engine), SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(engine);
  options.hold_time_ns = (uint64_t)INT64_MAX;
  options.manual_clock = true;
  CHECK_STATUS(sk_engine_new(&options, &engine), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("p"), S("P"), 1), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_advance(engine, SECONDS(60), NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("p"), 1, 0, NULL), SK_STATUS_OK);
  sk_engine_free(engine);
  options.manual_clock = false;

  /* NULL options: the defaults, so the system clock and a releaser thread. */
  engine = NULL;
  CHECK_STATUS(sk_engine_new(NULL, &engine), SK_STATUS_OK);
  CHECK(engine != NULL);
  CHECK_STATUS(sk_engine_advance(engine, 1, NULL), SK_STATUS_CLOCK_NOT_MANUAL);
  CHECK_STATUS(sk_engine_start_releaser(engine), SK_STATUS_OK);
  sk_engine_free(engine);

  /* Freeing an engine nobody closed must stop its thread (ASan sees leaks). */
  sk_engine_free(NULL);
}

static void test_engine_clock(void) {
  sk_engine *engine = manual_engine();
  CHECK(engine != NULL);
  uint64_t now;
  uint64_t released;

  POISON_OUT(now);
  CHECK_STATUS(sk_engine_now(NULL, &now), SK_STATUS_NULL_ARGUMENT);
  CHECK_UNTOUCHED(now);
  CHECK_STATUS(sk_engine_now(engine, NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_now(engine, &now), SK_STATUS_OK);
  CHECK(now == 0);

  POISON_OUT(released);
  CHECK_STATUS(sk_engine_advance(NULL, 5, &released), SK_STATUS_NULL_ARGUMENT);
  CHECK_UNTOUCHED(released);
  CHECK_STATUS(sk_engine_advance(engine, 5, &released), SK_STATUS_OK);
  CHECK(released == 0);
  CHECK_STATUS(sk_engine_advance(engine, 7, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_now(engine, &now), SK_STATUS_OK);
  CHECK(now == 12);

  POISON_OUT(released);
  CHECK_STATUS(sk_engine_release_expired(NULL, &released), SK_STATUS_NULL_ARGUMENT);
  CHECK_UNTOUCHED(released);
  CHECK_STATUS(sk_engine_release_expired(engine, &released), SK_STATUS_OK);
  CHECK(released == 0);
  CHECK_STATUS(sk_engine_release_expired(engine, NULL), SK_STATUS_OK);

  /* On the manual clock there is no thread to start, and asking is harmless. */
  CHECK_STATUS(sk_engine_start_releaser(NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_start_releaser(engine), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_advance(engine, 1, NULL), SK_STATUS_OK);
  sk_engine_free(engine);

  /* Time that would pass 2^64 ns is refused and the clock stays put. */
  engine = manual_engine();
  CHECK_STATUS(sk_engine_advance(engine, UINT64_MAX - 10, NULL), SK_STATUS_OK);
  POISON_OUT(released);
  CHECK_STATUS(sk_engine_advance(engine, 11, &released), SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(released);
  CHECK_STATUS(sk_engine_now(engine, &now), SK_STATUS_OK);
  CHECK(now == UINT64_MAX - 10);
  CHECK_STATUS(sk_product_add(engine, S("p"), S("P"), 5), SK_STATUS_OK);
  sk_deadline deadline;
  POISON_OUT(deadline);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("p"), 1, 0, &deadline), SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(deadline);
  CHECK_STOCK(engine, "p", 5, 0, 5);
  CHECK_NO_ORDER(engine, "o");
  CHECK_STATUS(sk_order_block(engine, S("o"), S("p"), 1, 10, &deadline), SK_STATUS_OK);
  CHECK(deadline.since_start_ns == UINT64_MAX);
  sk_engine_free(engine);
}

/* ---- Products --------------------------------------------------------- */

static void test_product_add(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 5), SK_STATUS_OK);

  CHECK_STATUS(sk_product_add(NULL, S("x"), S("X"), 1), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_add(engine, NULL, 1, S("X"), 1), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_add(engine, S("x"), NULL, 1, 1), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_add(engine, B(""), 0, S("X"), 1), SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_product_add(engine, B("a\0b"), 3, S("X"), 1), SK_STATUS_ID_CONTAINS_NUL);
  CHECK_STATUS(sk_product_add(engine, B("\xff\xfe"), 2, S("X"), 1), SK_STATUS_INVALID_UTF8);
  /* A multi-byte sequence cut short and an encoded surrogate are not UTF-8. */
  CHECK_STATUS(sk_product_add(engine, B("ab\xc3"), 3, S("X"), 1), SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_product_add(engine, B("\xed\xa0\x80"), 3, S("X"), 1), SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_product_add(engine, S("x"), B("\xff"), 1, 1), SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_product_add(engine, S("x"), B("a\0"), 2, 1), SK_STATUS_INVALID_NAME);
  CHECK_STATUS(sk_product_add(engine, S("x"), S("X"), -1), SK_STATUS_INVALID_QUANTITY);
  CHECK_STATUS(sk_product_add(engine, S("x"), S("X"), INT64_MIN), SK_STATUS_INVALID_QUANTITY);
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Again"), 9), SK_STATUS_PRODUCT_EXISTS);
  CHECK_STOCK(engine, "kettle", 5, 0, 5);
  sk_stock stock;
  CHECK_STATUS(sk_product_stock(engine, S("x"), &stock), SK_STATUS_UNKNOWN_PRODUCT);

  /* Ids are bounded in bytes: 256 is the last length accepted. */
  char *longest = repeat("a", SK_MAX_ID_BYTES);
  char *too_long = repeat("a", SK_MAX_ID_BYTES + 1);
  CHECK_STATUS(sk_product_add(engine, S(too_long), S("X"), 1), SK_STATUS_ID_TOO_LONG);
  CHECK_STATUS(sk_product_add(engine, S(longest), S("X"), 1), SK_STATUS_OK);
  CHECK_STOCK(engine, longest, 1, 0, 1);
  CHECK_STATUS(sk_product_stock(engine, S(too_long), &stock), SK_STATUS_ID_TOO_LONG);
  free(longest);
  free(too_long);

  /* Bytes, not characters: 128 two-byte characters fit, 129 do not. */
  char *accents = repeat("\xc3\xa9", 129);
  CHECK_STATUS(sk_product_add(engine, S(accents), S("X"), 1), SK_STATUS_ID_TOO_LONG);
  accents[256] = '\0';
  CHECK_STATUS(sk_product_add(engine, S(accents), S("X"), 1), SK_STATUS_OK);
  free(accents);

  /* A length far past any id must be refused, not read as a string. */
  size_t huge_len = ((size_t)1 << 20) + 1;
  char *huge = repeat("a", huge_len);
  CHECK_STATUS(sk_product_add(engine, B(huge), huge_len, S("X"), 1), SK_STATUS_ID_TOO_LONG);
  /* So is a name that long, as a bad name. */
  CHECK_STATUS(sk_product_add(engine, S("huge-name"), B(huge), huge_len, 1),
               SK_STATUS_INVALID_NAME);
  CHECK_STATUS(sk_product_stock(engine, S("huge-name"), &stock), SK_STATUS_UNKNOWN_PRODUCT);
  free(huge);

  /* Bytes that are not UTF-8 are told so up to 1 MiB; past it, unread. */
  char *not_utf8 = repeat("\xff", huge_len);
  CHECK_STATUS(sk_product_add(engine, B(not_utf8), SK_MAX_ID_BYTES + 1, S("X"), 1),
               SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_product_add(engine, B(not_utf8), huge_len - 1, S("X"), 1),
               SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_product_add(engine, B(not_utf8), huge_len, S("X"), 1),
               SK_STATUS_ID_TOO_LONG);
  free(not_utf8);

  /* Names may be empty and up to 1024 bytes. */
  char *longest_name = repeat("n", SK_MAX_NAME_BYTES);
  char *too_long_name = repeat("n", SK_MAX_NAME_BYTES + 1);
  CHECK_STATUS(sk_product_add(engine, S("named"), S(too_long_name), 1), SK_STATUS_INVALID_NAME);
  CHECK_STATUS(sk_product_stock(engine, S("named"), &stock), SK_STATUS_UNKNOWN_PRODUCT);
  CHECK_STATUS(sk_product_add(engine, S("named"), S(longest_name), 1), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("nameless"), B(""), 0, 1), SK_STATUS_OK);
  free(longest_name);
  free(too_long_name);

  /* Counts run from 0 to INT64_MAX. */
  CHECK_STATUS(sk_product_add(engine, S("none"), S("None"), 0), SK_STATUS_OK);
  CHECK_STOCK(engine, "none", 0, 0, 0);
  CHECK_STATUS(sk_product_add(engine, S("max"), S("Max"), INT64_MAX), SK_STATUS_OK);
  CHECK_STOCK(engine, "max", INT64_MAX, 0, INT64_MAX);

  /* Ids are compared byte for byte: no trimming, no case folding. */
  CHECK_STATUS(sk_product_add(engine, S("Kettle"), S("K"), 1), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S(" kettle"), S("K"), 2), SK_STATUS_OK);
  CHECK_STOCK(engine, "kettle", 5, 0, 5);

  /* Only the given length is read: the rest of the buffer is not the id. */
  CHECK_STATUS(sk_product_add(engine, B("kettlebell"), 6, S("K"), 1), SK_STATUS_PRODUCT_EXISTS);
  CHECK_STOCK(engine, "kettle", 5, 0, 5);
  sk_engine_free(engine);
}

static void test_product_reads(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 5), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o1"), S("kettle"), 2, 0, NULL), SK_STATUS_OK);

  int64_t available;
  POISON_OUT(available);
  CHECK_STATUS(sk_product_available(NULL, S("kettle"), &available), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_available(engine, NULL, 3, &available), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_available(engine, S("kettle"), NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_available(engine, B(""), 0, &available), SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_product_available(engine, B("\xff"), 1, &available), SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_product_available(engine, B("k\0"), 2, &available), SK_STATUS_ID_CONTAINS_NUL);
  CHECK_STATUS(sk_product_available(engine, S("nothing"), &available), SK_STATUS_UNKNOWN_PRODUCT);
  CHECK_UNTOUCHED(available);
  CHECK_STATUS(sk_product_available(engine, S("kettle"), &available), SK_STATUS_OK);
  CHECK(available == 3);

  sk_stock stock;
  POISON_OUT(stock);
  CHECK_STATUS(sk_product_stock(NULL, S("kettle"), &stock), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_stock(engine, NULL, 6, &stock), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_stock(engine, S("kettle"), NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_stock(engine, B(""), 0, &stock), SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_product_stock(engine, B("\xc3"), 1, &stock), SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_product_stock(engine, S("nothing"), &stock), SK_STATUS_UNKNOWN_PRODUCT);
  CHECK_UNTOUCHED(stock);
  CHECK_STATUS(sk_product_stock(engine, S("kettle"), &stock), SK_STATUS_OK);
  CHECK(stock.on_hand == 5 && stock.reserved == 2 && stock.available == 3);
  sk_engine_free(engine);
}

static void test_product_update(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 10), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o1"), S("kettle"), 4, 0, NULL), SK_STATUS_OK);

  sk_stock out;
  POISON_OUT(out);
  CHECK_STATUS(sk_product_update(NULL, S("kettle"), 1, &out), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_update(engine, NULL, 6, 1, &out), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_update(engine, B(""), 0, 1, &out), SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_product_update(engine, B("\xff"), 1, 1, &out), SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_product_update(engine, S("nothing"), 1, &out), SK_STATUS_UNKNOWN_PRODUCT);
  CHECK_STATUS(sk_product_update(engine, S("kettle"), 0, &out), SK_STATUS_INVALID_QUANTITY);
  /* A correction may take only what is available, not what is held. */
  CHECK_STATUS(sk_product_update(engine, S("kettle"), -7, &out), SK_STATUS_INSUFFICIENT_STOCK);
  CHECK_STATUS(sk_product_update(engine, S("kettle"), INT64_MIN, &out), SK_STATUS_OVERFLOW);
  CHECK_STATUS(sk_product_update(engine, S("kettle"), -INT64_MAX, &out),
               SK_STATUS_INSUFFICIENT_STOCK);
  CHECK_UNTOUCHED(out);
  CHECK_STOCK(engine, "kettle", 10, 4, 6);

  CHECK_STATUS(sk_product_update(engine, S("kettle"), 5, &out), SK_STATUS_OK);
  CHECK(out.on_hand == 15 && out.reserved == 4 && out.available == 11);
  CHECK_STATUS(sk_product_update(engine, S("kettle"), -11, &out), SK_STATUS_OK);
  CHECK(out.on_hand == 4 && out.reserved == 4 && out.available == 0);
  CHECK_STATUS(sk_product_update(engine, S("kettle"), -1, NULL), SK_STATUS_INSUFFICIENT_STOCK);
  CHECK_STATUS(sk_product_update(engine, S("kettle"), 3, NULL), SK_STATUS_OK);
  CHECK_STOCK(engine, "kettle", 7, 4, 3);

  /* Restocks stop exactly at INT64_MAX. */
  CHECK_STATUS(sk_product_update(engine, S("kettle"), INT64_MAX - 7, &out), SK_STATUS_OK);
  CHECK(out.on_hand == INT64_MAX && out.available == INT64_MAX - 4);
  POISON_OUT(out);
  CHECK_STATUS(sk_product_update(engine, S("kettle"), 1, &out), SK_STATUS_OVERFLOW);
  CHECK_STATUS(sk_product_update(engine, S("kettle"), INT64_MAX, &out), SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(out);
  CHECK_STOCK(engine, "kettle", INT64_MAX, 4, INT64_MAX - 4);
  CHECK_STATUS(sk_product_update(engine, S("kettle"), -(INT64_MAX - 4), &out), SK_STATUS_OK);
  CHECK(out.on_hand == 4 && out.reserved == 4 && out.available == 0);
  sk_engine_free(engine);
}

/* ---- Orders ----------------------------------------------------------- */

static void test_block(void) {
  int64_t wall_before = wall_now_ns();
  sk_engine *engine = manual_engine();
  int64_t wall_after = wall_now_ns();
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 5), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_advance(engine, 1000, NULL), SK_STATUS_OK);

  sk_deadline deadline;
  POISON_OUT(deadline);
  CHECK_STATUS(sk_order_block(NULL, S("o"), S("kettle"), 1, 0, &deadline), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_block(engine, NULL, 1, S("kettle"), 1, 0, &deadline),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_block(engine, S("o"), NULL, 6, 1, 0, &deadline), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_block(engine, B(""), 0, S("kettle"), 1, 0, &deadline), SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_order_block(engine, S("o"), B(""), 0, 1, 0, &deadline), SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_order_block(engine, B("o\0"), 2, S("kettle"), 1, 0, &deadline),
               SK_STATUS_ID_CONTAINS_NUL);
  CHECK_STATUS(sk_order_block(engine, B("\xff"), 1, S("kettle"), 1, 0, &deadline),
               SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_order_block(engine, S("o"), B("kettle\x80"), 7, 1, 0, &deadline),
               SK_STATUS_INVALID_UTF8);
  char *too_long = repeat("o", SK_MAX_ID_BYTES + 1);
  CHECK_STATUS(sk_order_block(engine, S(too_long), S("kettle"), 1, 0, &deadline),
               SK_STATUS_ID_TOO_LONG);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), 0, 0, &deadline),
               SK_STATUS_INVALID_QUANTITY);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), -1, 0, &deadline),
               SK_STATUS_INVALID_QUANTITY);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), INT64_MIN, 0, &deadline),
               SK_STATUS_INVALID_QUANTITY);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), 6, 0, &deadline),
               SK_STATUS_INSUFFICIENT_STOCK);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), INT64_MAX, 0, &deadline),
               SK_STATUS_INSUFFICIENT_STOCK);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("nothing"), 1, 0, &deadline),
               SK_STATUS_UNKNOWN_PRODUCT);
  /* A hold time that would end past 2^64 ns is an overflow, not a wrap. */
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), 1, UINT64_MAX, &deadline),
               SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(deadline);
  CHECK_STOCK(engine, "kettle", 5, 0, 5);
  CHECK_NO_ORDER(engine, "o");

  /* Zero hold time: the engine's default of 300 s. */
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), 2, 0, &deadline), SK_STATUS_OK);
  CHECK(deadline.since_start_ns == 1000 + SECONDS(300));
  /* The wall time is the same instant, on the wall clock as the engine started. */
  int64_t wall_origin = deadline.wall_unix_ns - (int64_t)deadline.since_start_ns;
  CHECK(wall_origin >= wall_before && wall_origin <= wall_after);
  CHECK_STOCK(engine, "kettle", 5, 2, 3);
  CHECK_STATE(engine, "o", SK_ORDER_STATE_HELD);

  CHECK_STATUS(sk_order_block(engine, S("o2"), S("kettle"), 1, 42, &deadline), SK_STATUS_OK);
  CHECK(deadline.since_start_ns == 1042);
  CHECK_STATUS(sk_order_block(engine, S("o3"), S("kettle"), 1, 0, NULL), SK_STATUS_OK);
  CHECK_STOCK(engine, "kettle", 5, 4, 1);

  /* An order id is never reused: not while held, nor after it ended. */
  POISON_OUT(deadline);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), 1, 0, &deadline),
               SK_STATUS_DUPLICATE_ORDER);
  CHECK_STATUS(sk_order_confirm(engine, S("o")), SK_STATUS_OK);
  CHECK_STATUS(sk_order_cancel(engine, S("o3")), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_advance(engine, 43, NULL), SK_STATUS_OK);
  CHECK_STATE(engine, "o2", SK_ORDER_STATE_EXPIRED);
  CHECK_STOCK(engine, "kettle", 3, 0, 3);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), 1, 0, &deadline),
               SK_STATUS_DUPLICATE_ORDER);
  CHECK_STATUS(sk_order_block(engine, S("o2"), S("kettle"), 1, 0, &deadline),
               SK_STATUS_DUPLICATE_ORDER);
  CHECK_STATUS(sk_order_block(engine, S("o3"), S("kettle"), 1, 0, &deadline),
               SK_STATUS_DUPLICATE_ORDER);
  CHECK_UNTOUCHED(deadline);
  CHECK_STOCK(engine, "kettle", 3, 0, 3);

  /* Exactly all that is available, and the longest id, may be held. */
  char *longest = repeat("o", SK_MAX_ID_BYTES);
  CHECK_STATUS(sk_order_block(engine, S(longest), S("kettle"), 3, 0, NULL), SK_STATUS_OK);
  CHECK_STOCK(engine, "kettle", 3, 3, 0);
  CHECK_STATUS(sk_order_block(engine, S("o4"), S("kettle"), 1, 0, NULL),
               SK_STATUS_INSUFFICIENT_STOCK);
  free(longest);
  free(too_long);

  CHECK_STATUS(sk_product_add(engine, S("max"), S("Max"), INT64_MAX), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("all"), S("max"), INT64_MAX, 0, NULL), SK_STATUS_OK);
  CHECK_STOCK(engine, "max", INT64_MAX, INT64_MAX, 0);
  CHECK_STATUS(sk_order_confirm(engine, S("all")), SK_STATUS_OK);
  CHECK_STOCK(engine, "max", 0, 0, 0);
  sk_engine_free(engine);
}

static sk_line line(const char *product, int64_t quantity) {
  sk_line line = {B(product), strlen(product), quantity};
  return line;
}

static void test_block_lines(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("a"), S("A"), 10), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("b"), S("B"), 3), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("c"), S("C"), 1), SK_STATUS_OK);
  /* Off zero, so that the longest hold time runs past 2^64 ns. */
  CHECK_STATUS(sk_engine_advance(engine, 1, NULL), SK_STATUS_OK);

  sk_deadline deadline;
  size_t failed_line;
  sk_line ok_lines[] = {line("b", 1), line("a", 2), line("a", 3)};

  /* Refusals for the order as a whole leave failed_line alone. */
  POISON_OUT(deadline);
  POISON_OUT(failed_line);
  CHECK_STATUS(sk_order_block_lines(NULL, S("o"), ok_lines, 3, 0, &deadline, &failed_line),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_block_lines(engine, NULL, 1, ok_lines, 3, 0, &deadline, &failed_line),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), NULL, 3, 0, &deadline, &failed_line),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_block_lines(engine, B(""), 0, ok_lines, 3, 0, &deadline, &failed_line),
               SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_order_block_lines(engine, B("\xff"), 1, ok_lines, 3, 0, &deadline, &failed_line),
               SK_STATUS_INVALID_UTF8);
  /* An order of no lines holds nothing, which the contract treats as a zero quantity. */
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), ok_lines, 0, 0, &deadline, &failed_line),
               SK_STATUS_INVALID_QUANTITY);
  CHECK_STATUS(
      sk_order_block_lines(engine, S("o"), ok_lines, 3, UINT64_MAX, &deadline, &failed_line),
      SK_STATUS_OVERFLOW);
  CHECK_STATUS(
      sk_order_block_lines(engine, S("o"), ok_lines, SIZE_MAX, 0, &deadline, &failed_line),
      SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(failed_line);
  CHECK_UNTOUCHED(deadline);

  /* Each kind of bad line, placed second, is reported as line 1. */
  struct {
    sk_line bad;
    sk_status want;
  } bad_lines[] = {
      {line("b", 0), SK_STATUS_INVALID_QUANTITY},
      {line("b", -2), SK_STATUS_INVALID_QUANTITY},
      {line("", 1), SK_STATUS_EMPTY_ID},
      {{B("b\0"), 2, 1}, SK_STATUS_ID_CONTAINS_NUL},
      {{B("\xfe"), 1, 1}, SK_STATUS_INVALID_UTF8},
      {{NULL, 1, 1}, SK_STATUS_NULL_ARGUMENT},
      {line("nothing", 1), SK_STATUS_UNKNOWN_PRODUCT},
      {line("b", 4), SK_STATUS_INSUFFICIENT_STOCK},
      {line("b", INT64_MAX), SK_STATUS_INSUFFICIENT_STOCK},
  };
  for (size_t i = 0; i < COUNT_OF(bad_lines); i++) {
    sk_line lines[] = {line("a", 1), bad_lines[i].bad, line("c", 1)};
    POISON_OUT(deadline);
    POISON_OUT(failed_line);
    CHECK_STATUS(sk_order_block_lines(engine, S("o"), lines, 3, 0, &deadline, &failed_line),
                 bad_lines[i].want);
    CHECK(failed_line == 1);
    CHECK_UNTOUCHED(deadline);
    /* failed_line is optional. */
    CHECK_STATUS(sk_order_block_lines(engine, S("o"), lines, 3, 0, &deadline, NULL),
                 bad_lines[i].want);
  }

  /* A bad line in first place is line 0. */
  sk_line first_bad[] = {line("a", 0), line("b", 1)};
  POISON_OUT(failed_line);
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), first_bad, 2, 0, NULL, &failed_line),
               SK_STATUS_INVALID_QUANTITY);
  CHECK(failed_line == 0);

  /* Lines of one product are summed before the check: 2 + 2 of 3 fails. */
  sk_line summed[] = {line("b", 2), line("a", 1), line("b", 2)};
  POISON_OUT(failed_line);
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), summed, 3, 0, NULL, &failed_line),
               SK_STATUS_INSUFFICIENT_STOCK);
  CHECK(failed_line == 0 || failed_line == 2);

  /* Two lines whose sum passes INT64_MAX. */
  sk_line too_many[] = {line("a", INT64_MAX), line("a", 1)};
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), too_many, 2, 0, NULL, NULL),
               SK_STATUS_OVERFLOW);

  /* None of the refusals above held anything. */
  CHECK_STOCK(engine, "a", 10, 0, 10);
  CHECK_STOCK(engine, "b", 3, 0, 3);
  CHECK_STOCK(engine, "c", 1, 0, 1);
  CHECK_NO_ORDER(engine, "o");

  POISON_OUT(failed_line);
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), ok_lines, 3, 0, &deadline, &failed_line),
               SK_STATUS_OK);
  CHECK_UNTOUCHED(failed_line);
  CHECK(deadline.since_start_ns == 1 + SECONDS(300));
  CHECK_STOCK(engine, "a", 10, 5, 5);
  CHECK_STOCK(engine, "b", 3, 1, 2);

  sk_order_info info;
  CHECK_STATUS(sk_order_status(engine, S("o"), &info), SK_STATUS_OK);
  CHECK(info.state == SK_ORDER_STATE_HELD && info.line_count == 2);

  POISON_OUT(failed_line);
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), ok_lines, 3, 0, &deadline, &failed_line),
               SK_STATUS_DUPLICATE_ORDER);
  CHECK_UNTOUCHED(failed_line);
  CHECK_STOCK(engine, "a", 10, 5, 5);

  CHECK_STATUS(sk_order_block_lines(engine, S("short"), ok_lines, 1, 7, &deadline, NULL),
               SK_STATUS_OK);
  CHECK(deadline.since_start_ns == 8);
  CHECK_STOCK(engine, "b", 3, 2, 1);

  /* Confirming ends every line of the order at once. */
  CHECK_STATUS(sk_order_confirm(engine, S("o")), SK_STATUS_OK);
  CHECK_STOCK(engine, "a", 5, 0, 5);
  CHECK_STOCK(engine, "b", 2, 1, 1);

  /* No count of lines is too many, only too much stock: a million and one
   * lines of one unit each sum to one line, as in every other language. */
  size_t many = ((size_t)1 << 20) + 1;
  sk_line *lines = malloc(many * sizeof *lines);
  CHECK(lines != NULL);
  for (size_t i = 0; lines != NULL && i < many; i++) lines[i] = line("many", 1);
  CHECK_STATUS(sk_product_add(engine, S("many"), S("Many"), (int64_t)many), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block_lines(engine, S("many-lines"), lines, many, 0, NULL, NULL),
               SK_STATUS_OK);
  CHECK_STOCK(engine, "many", (int64_t)many, (int64_t)many, 0);
  free(lines);
  sk_engine_free(engine);
}

/*
 * When several lines are at fault for the same reason, failed_line must name
 * one of them; which one is checked by test_block_lines for the plain cases.
 */
static void test_block_lines_several_faults(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("a"), S("A"), 1), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("z"), S("Z"), 1), SK_STATUS_OK);

  size_t failed_line;
  sk_line unknown[] = {line("zz", 1), line("a", 1), line("aa", 1)};
  POISON_OUT(failed_line);
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), unknown, 3, 0, NULL, &failed_line),
               SK_STATUS_UNKNOWN_PRODUCT);
  CHECK(failed_line == 0 || failed_line == 2);

  sk_line short_of[] = {line("z", 2), line("a", 2)};
  POISON_OUT(failed_line);
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), short_of, 2, 0, NULL, &failed_line),
               SK_STATUS_INSUFFICIENT_STOCK);
  CHECK(failed_line == 0 || failed_line == 1);
  CHECK_STOCK(engine, "a", 1, 0, 1);
  CHECK_STOCK(engine, "z", 1, 0, 1);
  sk_engine_free(engine);
}

/*
 * sk_order_block_lines checks in steps, each blaming the first line that
 * names the lowest id at fault in it: a sum past SK_MAX_COUNT comes before
 * an unknown product, which comes before too little stock.
 */
static void test_block_lines_steps(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("a"), S("A"), 1), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("c"), S("C"), 1), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_advance(engine, 1, NULL), SK_STATUS_OK);
  sk_deadline deadline;
  size_t failed_line;
  POISON_OUT(deadline);

  /* No lines, as (NULL, 0) like any other empty array. */
  POISON_OUT(failed_line);
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), NULL, 0, 0, &deadline, &failed_line),
               SK_STATUS_INVALID_QUANTITY);
  CHECK_UNTOUCHED(failed_line);

  /* A sum past the bound, before an unknown product of a lower id. */
  sk_line summed[] = {line("c", INT64_MAX), line("b", 1), line("c", 1)};
  POISON_OUT(failed_line);
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), summed, 3, 0, &deadline, &failed_line),
               SK_STATUS_OVERFLOW);
  CHECK(failed_line == 0);

  /* Of two products summed past it, the lower id. */
  sk_line two[] = {line("c", INT64_MAX), line("a", 1), line("c", 1), line("a", INT64_MAX)};
  POISON_OUT(failed_line);
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), two, 4, 0, &deadline, &failed_line),
               SK_STATUS_OVERFLOW);
  CHECK(failed_line == 1);

  /* An unknown product, before too little stock of a lower id. */
  sk_line unknown[] = {line("b", 1), line("a", 5)};
  POISON_OUT(failed_line);
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), unknown, 2, 0, &deadline, &failed_line),
               SK_STATUS_UNKNOWN_PRODUCT);
  CHECK(failed_line == 0);

  /* A deadline past the clock's range overflows too, and blames no line. */
  sk_line fine[] = {line("a", 1), line("c", 1)};
  POISON_OUT(failed_line);
  CHECK_STATUS(
      sk_order_block_lines(engine, S("o"), fine, 2, UINT64_MAX, &deadline, &failed_line),
      SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(failed_line);

  CHECK_UNTOUCHED(deadline);
  CHECK_STOCK(engine, "a", 1, 0, 1);
  CHECK_STOCK(engine, "c", 1, 0, 1);
  CHECK_NO_ORDER(engine, "o");
  sk_engine_free(engine);
}

static void test_confirm_and_cancel(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 10), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("paid"), S("kettle"), 3, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("unpaid"), S("kettle"), 2, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("late"), S("kettle"), 1, 10, NULL), SK_STATUS_OK);
  CHECK_STOCK(engine, "kettle", 10, 6, 4);

  sk_status (*const calls[])(sk_engine *, const uint8_t *, size_t) = {sk_order_confirm,
                                                                      sk_order_cancel};
  for (size_t i = 0; i < COUNT_OF(calls); i++) {
    CHECK_STATUS(calls[i](NULL, S("paid")), SK_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(calls[i](engine, NULL, 4), SK_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(calls[i](engine, B(""), 0), SK_STATUS_EMPTY_ID);
    CHECK_STATUS(calls[i](engine, B("paid\0"), 5), SK_STATUS_ID_CONTAINS_NUL);
    CHECK_STATUS(calls[i](engine, B("p\xe0"), 2), SK_STATUS_INVALID_UTF8);
    char *too_long = repeat("p", SK_MAX_ID_BYTES + 1);
    CHECK_STATUS(calls[i](engine, S(too_long)), SK_STATUS_ID_TOO_LONG);
    free(too_long);
    CHECK_STATUS(calls[i](engine, S("nobody")), SK_STATUS_UNKNOWN_ORDER);
    /* The id is exact: a prefix of a held order's id is another order. */
    CHECK_STATUS(calls[i](engine, B("paid"), 3), SK_STATUS_UNKNOWN_ORDER);
  }
  CHECK_STOCK(engine, "kettle", 10, 6, 4);
  CHECK_STATE(engine, "paid", SK_ORDER_STATE_HELD);

  CHECK_STATUS(sk_order_confirm(engine, S("paid")), SK_STATUS_OK);
  CHECK_STOCK(engine, "kettle", 7, 3, 4);
  CHECK_STATUS(sk_order_cancel(engine, S("unpaid")), SK_STATUS_OK);
  CHECK_STOCK(engine, "kettle", 7, 1, 6);
  CHECK_STATUS(sk_engine_advance(engine, 11, NULL), SK_STATUS_OK);
  CHECK_STOCK(engine, "kettle", 7, 0, 7);

  /* A hold ends once: every second ending is refused and changes nothing. */
  CHECK_STATUS(sk_order_confirm(engine, S("paid")), SK_STATUS_ALREADY_CONFIRMED);
  CHECK_STATUS(sk_order_cancel(engine, S("paid")), SK_STATUS_ALREADY_CONFIRMED);
  CHECK_STATUS(sk_order_confirm(engine, S("unpaid")), SK_STATUS_ALREADY_CANCELLED);
  CHECK_STATUS(sk_order_cancel(engine, S("unpaid")), SK_STATUS_ALREADY_CANCELLED);
  CHECK_STATUS(sk_order_confirm(engine, S("late")), SK_STATUS_EXPIRED);
  CHECK_STATUS(sk_order_cancel(engine, S("late")), SK_STATUS_EXPIRED);
  CHECK_STOCK(engine, "kettle", 7, 0, 7);
  CHECK_STATE(engine, "paid", SK_ORDER_STATE_CONFIRMED);
  CHECK_STATE(engine, "unpaid", SK_ORDER_STATE_CANCELLED);
  CHECK_STATE(engine, "late", SK_ORDER_STATE_EXPIRED);
  sk_engine_free(engine);
}

static void test_deadline_rule(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 5), SK_STATUS_OK);
  sk_deadline deadline;
  CHECK_STATUS(sk_order_block(engine, S("o1"), S("kettle"), 2, 0, &deadline), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o2"), S("kettle"), 3, 0, NULL), SK_STATUS_OK);

  /* At the deadline the hold is still live. */
  uint64_t released;
  CHECK_STATUS(sk_engine_advance(engine, deadline.since_start_ns, &released), SK_STATUS_OK);
  CHECK(released == 0);
  CHECK_STATE(engine, "o2", SK_ORDER_STATE_HELD);
  CHECK_STATUS(sk_order_confirm(engine, S("o1")), SK_STATUS_OK);

  /* One nanosecond later it is gone, and its stock with it. */
  CHECK_STATUS(sk_engine_advance(engine, 1, &released), SK_STATUS_OK);
  CHECK(released == 1);
  CHECK_STATUS(sk_order_confirm(engine, S("o2")), SK_STATUS_EXPIRED);
  CHECK_STOCK(engine, "kettle", 3, 0, 3);
  sk_order_info info;
  CHECK_STATUS(sk_order_status(engine, S("o2"), &info), SK_STATUS_OK);
  CHECK(info.state == SK_ORDER_STATE_EXPIRED);
  CHECK(info.deadline.since_start_ns == SECONDS(300));
  CHECK_STATUS(sk_order_block(engine, S("o2"), S("kettle"), 1, 0, NULL), SK_STATUS_DUPLICATE_ORDER);
  CHECK_STATUS(sk_engine_advance(engine, SECONDS(1), &released), SK_STATUS_OK);
  CHECK(released == 0);
  sk_engine_free(engine);
}

/*
 * On the system clock with no releaser, nothing releases a hold but the
 * caller: a confirm after the deadline must still be refused, and must itself
 * give the stock back.
 */
static void test_deadline_without_release_pass(void) {
  sk_options options;
  sk_options_default(&options);
  options.background_release = false;
  sk_engine *engine = NULL;
  CHECK_STATUS(sk_engine_new(&options, &engine), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 5), SK_STATUS_OK);

  uint64_t before;
  uint64_t after;
  CHECK_STATUS(sk_engine_now(engine, &before), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o1"), S("kettle"), 2, 1000, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o2"), S("kettle"), 3, 1000, NULL), SK_STATUS_OK);
  sleep_ms(2);
  CHECK_STATUS(sk_engine_now(engine, &after), SK_STATUS_OK);
  CHECK(after > before);

  CHECK_STOCK(engine, "kettle", 5, 5, 0);
  CHECK_STATUS(sk_order_confirm(engine, S("o1")), SK_STATUS_EXPIRED);
  CHECK_STOCK(engine, "kettle", 5, 3, 2);
  uint64_t released;
  CHECK_STATUS(sk_engine_release_expired(engine, &released), SK_STATUS_OK);
  CHECK(released == 1);
  CHECK_STOCK(engine, "kettle", 5, 0, 5);
  CHECK_STATE(engine, "o1", SK_ORDER_STATE_EXPIRED);
  CHECK_STATE(engine, "o2", SK_ORDER_STATE_EXPIRED);

  /* Starting the releaser later is allowed, twice too. */
  CHECK_STATUS(sk_engine_start_releaser(engine), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_start_releaser(engine), SK_STATUS_OK);
  sk_engine_free(engine);
}

/* The background releaser gives an expired hold's stock back on its own. */
static void test_background_release(void) {
  sk_engine *engine = NULL;
  CHECK_STATUS(sk_engine_new(NULL, &engine), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 5), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o1"), S("kettle"), 5, 1000000, NULL), SK_STATUS_OK);

  /* The contract says 100 ms; the bound here is loose for slow sanitizer runs. */
  int64_t available = 0;
  sk_status status = SK_STATUS_OK;
  for (int waited = 0; waited < 3000 && available != 5 && status == SK_STATUS_OK; waited++) {
    sleep_ms(1);
    status = sk_product_available(engine, S("kettle"), &available);
  }
  CHECK_STATUS(status, SK_STATUS_OK);
  CHECK(available == 5);
  CHECK_STATE(engine, "o1", SK_ORDER_STATE_EXPIRED);
  CHECK_STATUS(sk_engine_close(engine), SK_STATUS_OK);
  sk_engine_free(engine);
}

static void test_extend(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 10), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), 2, 100, NULL), SK_STATUS_OK);

  sk_deadline deadline;
  POISON_OUT(deadline);
  CHECK_STATUS(sk_order_extend(NULL, S("o"), 10, &deadline), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_extend(engine, NULL, 1, 10, &deadline), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_extend(engine, B(""), 0, 10, &deadline), SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_order_extend(engine, B("\xff"), 1, 10, &deadline), SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_order_extend(engine, S("nobody"), 10, &deadline), SK_STATUS_UNKNOWN_ORDER);
  CHECK_STATUS(sk_order_extend(engine, S("o"), 0, &deadline), SK_STATUS_INVALID_DURATION);
  CHECK_STATUS(sk_order_extend(engine, S("o"), UINT64_MAX, &deadline), SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(deadline);
  sk_order_info info;
  CHECK_STATUS(sk_order_status(engine, S("o"), &info), SK_STATUS_OK);
  CHECK(info.deadline.since_start_ns == 100);

  CHECK_STATUS(sk_order_extend(engine, S("o"), 50, &deadline), SK_STATUS_OK);
  CHECK(deadline.since_start_ns == 150);
  CHECK_STATUS(sk_order_extend(engine, S("o"), 50, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_status(engine, S("o"), &info), SK_STATUS_OK);
  CHECK(info.deadline.since_start_ns == 200);

  /* Past the first deadline the hold lives on; at the new one it still may be confirmed. */
  CHECK_STATUS(sk_engine_advance(engine, 150, NULL), SK_STATUS_OK);
  CHECK_STATE(engine, "o", SK_ORDER_STATE_HELD);
  CHECK_STOCK(engine, "kettle", 10, 2, 8);
  CHECK_STATUS(sk_engine_advance(engine, 50, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_confirm(engine, S("o")), SK_STATUS_OK);

  /* Ended holds cannot be given more time. */
  CHECK_STATUS(sk_order_block(engine, S("cancelled"), S("kettle"), 1, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_cancel(engine, S("cancelled")), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("expired"), S("kettle"), 1, 5, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_advance(engine, 6, NULL), SK_STATUS_OK);
  POISON_OUT(deadline);
  CHECK_STATUS(sk_order_extend(engine, S("o"), 10, &deadline), SK_STATUS_ALREADY_CONFIRMED);
  CHECK_STATUS(sk_order_extend(engine, S("cancelled"), 10, &deadline), SK_STATUS_ALREADY_CANCELLED);
  CHECK_STATUS(sk_order_extend(engine, S("expired"), 10, &deadline), SK_STATUS_EXPIRED);
  CHECK_UNTOUCHED(deadline);
  CHECK_STOCK(engine, "kettle", 8, 0, 8);

  /* A hold past its deadline that no release has reached cannot be extended either. */
  CHECK_STATUS(sk_order_block(engine, S("due"), S("kettle"), 1, 5, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_advance(engine, 6, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_extend(engine, S("due"), 10, &deadline), SK_STATUS_EXPIRED);
  CHECK_STOCK(engine, "kettle", 8, 0, 8);
  sk_engine_free(engine);
}

static void test_status(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 10), SK_STATUS_OK);
  sk_deadline deadline;
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), 2, 0, &deadline), SK_STATUS_OK);

  sk_order_info info;
  POISON_OUT(info);
  CHECK_STATUS(sk_order_status(NULL, S("o"), &info), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_status(engine, NULL, 1, &info), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_status(engine, S("o"), NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_status(engine, B(""), 0, &info), SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_order_status(engine, B("\xc0\x80"), 2, &info), SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_order_status(engine, S("nobody"), &info), SK_STATUS_UNKNOWN_ORDER);
  CHECK_UNTOUCHED(info);

  CHECK_STATUS(sk_order_status(engine, S("o"), &info), SK_STATUS_OK);
  CHECK(info.state == SK_ORDER_STATE_HELD);
  CHECK(info.line_count == 1);
  CHECK(info.deadline.since_start_ns == deadline.since_start_ns);
  CHECK(info.deadline.wall_unix_ns == deadline.wall_unix_ns);

  CHECK_STATUS(sk_order_cancel(engine, S("o")), SK_STATUS_OK);
  CHECK_STATUS(sk_order_status(engine, S("o"), &info), SK_STATUS_OK);
  CHECK(info.state == SK_ORDER_STATE_CANCELLED);
  CHECK(info.line_count == 1);
  CHECK(info.deadline.since_start_ns == deadline.since_start_ns);
  sk_engine_free(engine);
}

/* Ended orders are remembered for the retention time and up to the count bound. */
static void test_retention(void) {
  sk_options options;
  sk_options_default(&options);
  options.manual_clock = true;
  options.background_release = false;
  options.retention_ns = SECONDS(10);
  sk_engine *engine = NULL;
  CHECK_STATUS(sk_engine_new(&options, &engine), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 10), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), 1, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_confirm(engine, S("o")), SK_STATUS_OK);

  CHECK_STATUS(sk_engine_advance(engine, SECONDS(5), NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_confirm(engine, S("o")), SK_STATUS_ALREADY_CONFIRMED);
  CHECK_STATUS(sk_engine_advance(engine, SECONDS(10), NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_confirm(engine, S("o")), SK_STATUS_UNKNOWN_ORDER);
  CHECK_STOCK(engine, "kettle", 9, 0, 9);
  sk_engine_free(engine);
}

/* ---- Order lines ------------------------------------------------------ */

static void test_order_line(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("pan"), S("Pan"), 10), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("bowl"), S("Bowl"), 10), SK_STATUS_OK);
  sk_line lines[] = {line("pan", 2), line("bowl", 1), line("pan", 4)};
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), lines, 3, 0, NULL, NULL), SK_STATUS_OK);

  uint8_t buf[SK_MAX_ID_BYTES];
  size_t len;
  int64_t quantity;

  /* Lines come sorted by product id, one per product. */
  CHECK_STATUS(sk_order_line(engine, S("o"), 0, buf, sizeof(buf), &len, &quantity), SK_STATUS_OK);
  CHECK(len == 4 && memcmp(buf, "bowl", 4) == 0 && quantity == 1);
  CHECK_STATUS(sk_order_line(engine, S("o"), 1, buf, sizeof(buf), &len, &quantity), SK_STATUS_OK);
  CHECK(len == 3 && memcmp(buf, "pan", 3) == 0 && quantity == 6);

  /* A buffer of exactly the id's length is enough; no NUL is added after it. */
  uint8_t exact[4];
  CHECK_STATUS(sk_order_line(engine, S("o"), 0, exact, 4, &len, &quantity), SK_STATUS_OK);
  CHECK(memcmp(exact, "bowl", 4) == 0);
  uint8_t wide[8];
  POISON_OUT(wide);
  CHECK_STATUS(sk_order_line(engine, S("o"), 1, wide, sizeof(wide), &len, &quantity), SK_STATUS_OK);
  CHECK(memcmp(wide, "pan", 3) == 0 && untouched(wide + 3, 5));

  /* A buffer too small gets only the length it would need. */
  POISON_OUT(buf);
  POISON_OUT(quantity);
  len = 0;
  CHECK_STATUS(sk_order_line(engine, S("o"), 0, buf, 3, &len, &quantity),
               SK_STATUS_BUFFER_TOO_SMALL);
  CHECK(len == 4);
  len = 0;
  CHECK_STATUS(sk_order_line(engine, S("o"), 0, buf, 0, &len, &quantity),
               SK_STATUS_BUFFER_TOO_SMALL);
  CHECK(len == 4);
  len = 0;
  CHECK_STATUS(sk_order_line(engine, S("o"), 0, NULL, 0, &len, &quantity),
               SK_STATUS_BUFFER_TOO_SMALL);
  CHECK(len == 4);
  CHECK_UNTOUCHED(buf);
  CHECK_UNTOUCHED(quantity);

  /* Every other refusal writes nothing at all. */
  POISON_OUT(len);
  CHECK_STATUS(sk_order_line(engine, S("o"), 2, buf, sizeof(buf), &len, &quantity),
               SK_STATUS_OUT_OF_RANGE);
  CHECK_STATUS(sk_order_line(engine, S("o"), SIZE_MAX, buf, sizeof(buf), &len, &quantity),
               SK_STATUS_OUT_OF_RANGE);
  CHECK_STATUS(sk_order_line(NULL, S("o"), 0, buf, sizeof(buf), &len, &quantity),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_line(engine, NULL, 1, 0, buf, sizeof(buf), &len, &quantity),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_line(engine, S("o"), 0, NULL, sizeof(buf), &len, &quantity),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_line(engine, S("o"), 0, buf, sizeof(buf), NULL, &quantity),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_line(engine, S("o"), 0, buf, sizeof(buf), &len, NULL),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_line(engine, B(""), 0, 0, buf, sizeof(buf), &len, &quantity),
               SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_order_line(engine, B("\xff"), 1, 0, buf, sizeof(buf), &len, &quantity),
               SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_order_line(engine, S("nobody"), 0, buf, sizeof(buf), &len, &quantity),
               SK_STATUS_UNKNOWN_ORDER);
  CHECK_UNTOUCHED(buf);
  CHECK_UNTOUCHED(len);
  CHECK_UNTOUCHED(quantity);

  /* An ended order keeps its lines. */
  CHECK_STATUS(sk_order_confirm(engine, S("o")), SK_STATUS_OK);
  CHECK_STATUS(sk_order_line(engine, S("o"), 1, buf, sizeof(buf), &len, &quantity), SK_STATUS_OK);
  CHECK(len == 3 && memcmp(buf, "pan", 3) == 0 && quantity == 6);

  /* The longest id fits a buffer of SK_MAX_ID_BYTES. */
  char *longest = repeat("p", SK_MAX_ID_BYTES);
  CHECK_STATUS(sk_product_add(engine, S(longest), S("Long"), 1), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("long"), S(longest), 1, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_line(engine, S("long"), 0, buf, sizeof(buf), &len, &quantity),
               SK_STATUS_OK);
  CHECK(len == SK_MAX_ID_BYTES && memcmp(buf, longest, len) == 0 && quantity == 1);
  free(longest);
  sk_engine_free(engine);
}

static void test_order_read(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("pan"), S("Pan"), 10), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("bowl"), S("Bowl"), 10), SK_STATUS_OK);
  sk_line lines[] = {line("pan", 2), line("bowl", 1), line("pan", 4)};
  CHECK_STATUS(sk_order_block_lines(engine, S("o"), lines, 3, SECONDS(30), NULL, NULL),
               SK_STATUS_OK);

  sk_order_info info;
  sk_line_view read[2];
  uint8_t ids[7];
  size_t count, ids_len;

  /* The whole order at once: lines sorted by product id, ids end to end. */
  POISON_OUT(ids);
  CHECK_STATUS(sk_order_read(engine, S("o"), &info, read, 2, ids, 7, &count, &ids_len),
               SK_STATUS_OK);
  CHECK(info.state == SK_ORDER_STATE_HELD && info.line_count == 2);
  CHECK(info.deadline.since_start_ns == SECONDS(30));
  CHECK(count == 2 && ids_len == 7 && memcmp(ids, "bowlpan", 7) == 0);
  CHECK(read[0].product_offset == 0 && read[0].product_len == 4 && read[0].quantity == 1);
  CHECK(read[1].product_offset == 4 && read[1].product_len == 3 && read[1].quantity == 6);

  /* Too little room for the lines or the ids: only the sizes are written. */
  POISON_OUT(info);
  POISON_OUT(read);
  POISON_OUT(ids);
  count = ids_len = 0;
  CHECK_STATUS(sk_order_read(engine, S("o"), &info, read, 1, ids, 7, &count, &ids_len),
               SK_STATUS_BUFFER_TOO_SMALL);
  CHECK(count == 2 && ids_len == 7);
  count = ids_len = 0;
  CHECK_STATUS(sk_order_read(engine, S("o"), &info, read, 2, ids, 6, &count, &ids_len),
               SK_STATUS_BUFFER_TOO_SMALL);
  CHECK(count == 2 && ids_len == 7);
  count = ids_len = 0;
  CHECK_STATUS(sk_order_read(engine, S("o"), &info, NULL, 0, NULL, 0, &count, &ids_len),
               SK_STATUS_BUFFER_TOO_SMALL);
  CHECK(count == 2 && ids_len == 7);
  CHECK_UNTOUCHED(info);
  CHECK_UNTOUCHED(read);
  CHECK_UNTOUCHED(ids);

  /* Every other refusal writes nothing at all. */
  POISON_OUT(count);
  POISON_OUT(ids_len);
  CHECK_STATUS(sk_order_read(NULL, S("o"), &info, read, 2, ids, 7, &count, &ids_len),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_read(engine, S("o"), NULL, read, 2, ids, 7, &count, &ids_len),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_read(engine, S("o"), &info, NULL, 2, ids, 7, &count, &ids_len),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_read(engine, S("o"), &info, read, 2, NULL, 7, &count, &ids_len),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_read(engine, S("o"), &info, read, 2, ids, 7, NULL, &ids_len),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_read(engine, S("o"), &info, read, 2, ids, 7, &count, NULL),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_read(engine, NULL, 1, &info, read, 2, ids, 7, &count, &ids_len),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_read(engine, B(""), 0, &info, read, 2, ids, 7, &count, &ids_len),
               SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_order_read(engine, B("\xff"), 1, &info, read, 2, ids, 7, &count, &ids_len),
               SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_order_read(engine, S("nobody"), &info, read, 2, ids, 7, &count, &ids_len),
               SK_STATUS_UNKNOWN_ORDER);
  CHECK_UNTOUCHED(info);
  CHECK_UNTOUCHED(read);
  CHECK_UNTOUCHED(ids);
  CHECK_UNTOUCHED(count);
  CHECK_UNTOUCHED(ids_len);

  /* An ended order reads whole too, past its deadline as expired. */
  CHECK_STATUS(sk_engine_advance(engine, SECONDS(31), NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_read(engine, S("o"), &info, read, 2, ids, 7, &count, &ids_len),
               SK_STATUS_OK);
  CHECK(info.state == SK_ORDER_STATE_EXPIRED && count == 2 && read[1].quantity == 6);
  sk_engine_close(engine);
  CHECK_STATUS(sk_order_read(engine, S("o"), NULL, NULL, 1, NULL, 1, NULL, NULL),
               SK_STATUS_CLOSED);
  sk_engine_free(engine);
}

/* ---- Metrics ---------------------------------------------------------- */

static void test_metrics(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("a"), S("A"), 10), SK_STATUS_OK);

  sk_metrics metrics;
  POISON_OUT(metrics);
  CHECK_STATUS(sk_engine_metrics(NULL, &metrics), SK_STATUS_NULL_ARGUMENT);
  CHECK_UNTOUCHED(metrics);
  CHECK_STATUS(sk_engine_metrics(engine, NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_metrics(engine, &metrics), SK_STATUS_OK);
  CHECK(metrics.held == 0 && metrics.live_holds == 0 && metrics.held_units == 0);

  /* One hold of each ending, then one refusal of each reason. */
  CHECK_STATUS(sk_order_block(engine, S("paid"), S("a"), 2, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_confirm(engine, S("paid")), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("unpaid"), S("a"), 1, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_cancel(engine, S("unpaid")), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("late"), S("a"), 1, 10, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_advance(engine, 11, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("greedy"), S("a"), 100, 0, NULL),
               SK_STATUS_INSUFFICIENT_STOCK);
  CHECK_STATUS(sk_order_block(engine, S("paid"), S("a"), 1, 0, NULL), SK_STATUS_DUPLICATE_ORDER);
  CHECK_STATUS(sk_order_confirm(engine, S("nobody")), SK_STATUS_UNKNOWN_ORDER);
  CHECK_STATUS(sk_order_confirm(engine, S("paid")), SK_STATUS_ALREADY_CONFIRMED);
  CHECK_STATUS(sk_order_extend(engine, S("paid"), 0, NULL), SK_STATUS_INVALID_DURATION);
  CHECK_STATUS(sk_order_block(engine, S("live"), S("a"), 3, 0, NULL), SK_STATUS_OK);

  CHECK_STATUS(sk_engine_metrics(engine, &metrics), SK_STATUS_OK);
  CHECK(metrics.held == 4);
  CHECK(metrics.confirmed == 1);
  CHECK(metrics.cancelled == 1);
  CHECK(metrics.expired == 1);
  CHECK(metrics.refused_stock == 1);
  CHECK(metrics.refused_duplicate == 1);
  CHECK(metrics.refused_unknown == 1);
  CHECK(metrics.refused_ended == 1);
  CHECK(metrics.refused_invalid == 1);
  CHECK(metrics.live_holds == 1);
  CHECK(metrics.held_units == 3);

  /*
   * Bad input the C boundary refuses before the engine sees it is bad input
   * all the same: a front door must not change what the counters say.
   */
  CHECK_STATUS(sk_product_add(engine, B(""), 0, S("E"), 1), SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_engine_metrics(engine, &metrics), SK_STATUS_OK);
  CHECK(metrics.refused_invalid == 2);
  CHECK_STATUS(sk_order_block(engine, S("zero"), S("a"), 0, 0, NULL), SK_STATUS_INVALID_QUANTITY);
  CHECK_STATUS(sk_engine_metrics(engine, &metrics), SK_STATUS_OK);
  CHECK(metrics.refused_invalid == 3);
  sk_line zero_line[] = {line("a", 0)};
  CHECK_STATUS(sk_order_block_lines(engine, S("zero"), zero_line, 1, 0, NULL, NULL),
               SK_STATUS_INVALID_QUANTITY);
  CHECK_STATUS(sk_engine_metrics(engine, &metrics), SK_STATUS_OK);
  CHECK(metrics.refused_invalid == 4);
  sk_engine_free(engine);
}

/* A wrapper's own refusal, counted through the library as its own are. */
static void test_refuse(void) {
  sk_engine *engine = manual_engine();
  sk_metrics before, after;
  CHECK_STATUS(sk_engine_metrics(engine, &before), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_refuse(engine, SK_STATUS_INVALID_DURATION), SK_STATUS_INVALID_DURATION);
  CHECK_STATUS(sk_engine_refuse(engine, SK_STATUS_UNKNOWN_ORDER), SK_STATUS_UNKNOWN_ORDER);
  CHECK_STATUS(sk_engine_metrics(engine, &after), SK_STATUS_OK);
  CHECK(after.refused_invalid == before.refused_invalid + 1);
  CHECK(after.refused_unknown == before.refused_unknown + 1);

  /* What is not a refusal the metrics count is refused and counts nothing:
   * an open engine is never refused as closed. */
  CHECK_STATUS(sk_engine_refuse(engine, SK_STATUS_CLOSED), SK_STATUS_OUT_OF_RANGE);
  CHECK_STATUS(sk_engine_refuse(engine, SK_STATUS_PRODUCT_EXISTS), SK_STATUS_OUT_OF_RANGE);
  CHECK_STATUS(sk_engine_refuse(engine, SK_STATUS_CLOCK_NOT_MANUAL), SK_STATUS_OUT_OF_RANGE);
  CHECK_STATUS(sk_engine_refuse(engine, SK_STATUS_OK), SK_STATUS_OUT_OF_RANGE);
  CHECK_STATUS(sk_engine_refuse(engine, SK_STATUS_NULL_ARGUMENT), SK_STATUS_OUT_OF_RANGE);
  CHECK_STATUS(sk_engine_refuse(engine, 12345), SK_STATUS_OUT_OF_RANGE);
  CHECK_STATUS(sk_engine_refuse(NULL, SK_STATUS_INVALID_DURATION), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_metrics(engine, &before), SK_STATUS_OK);
  CHECK(memcmp(&before, &after, sizeof before) == 0);

  /* A closed engine answers closed first, and counts nothing. */
  CHECK_STATUS(sk_engine_close(engine), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_refuse(engine, SK_STATUS_INVALID_DURATION), SK_STATUS_CLOSED);
  sk_engine_free(engine);
}

static void test_product_outcomes(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("a"), S("A"), 10), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("b"), S("B"), 10), SK_STATUS_OK);

  sk_outcomes outcomes;
  POISON_OUT(outcomes);
  CHECK_STATUS(sk_product_outcomes(NULL, S("a"), &outcomes), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_outcomes(engine, NULL, 1, &outcomes), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_outcomes(engine, S("a"), NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_outcomes(engine, B(""), 0, &outcomes), SK_STATUS_EMPTY_ID);
  CHECK_STATUS(sk_product_outcomes(engine, B("\xff"), 1, &outcomes), SK_STATUS_INVALID_UTF8);
  CHECK_STATUS(sk_product_outcomes(engine, S("nothing"), &outcomes), SK_STATUS_UNKNOWN_PRODUCT);
  CHECK_UNTOUCHED(outcomes);
  CHECK_STATUS(sk_product_outcomes(engine, S("a"), &outcomes), SK_STATUS_OK);
  CHECK(outcomes.confirmed == 0 && outcomes.cancelled == 0 && outcomes.expired == 0);

  /* A multi-line order counts once for each of its products. */
  sk_line both[] = {line("a", 1), line("b", 2)};
  CHECK_STATUS(sk_order_block_lines(engine, S("o1"), both, 2, 0, NULL, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_confirm(engine, S("o1")), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o2"), S("a"), 1, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_cancel(engine, S("o2")), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o3"), S("a"), 1, 5, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o4"), S("a"), 1, 5, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_advance(engine, 6, NULL), SK_STATUS_OK);

  CHECK_STATUS(sk_product_outcomes(engine, S("a"), &outcomes), SK_STATUS_OK);
  CHECK(outcomes.confirmed == 1 && outcomes.cancelled == 1 && outcomes.expired == 2);
  CHECK_STATUS(sk_product_outcomes(engine, S("b"), &outcomes), SK_STATUS_OK);
  CHECK(outcomes.confirmed == 1 && outcomes.cancelled == 0 && outcomes.expired == 0);
  sk_engine_free(engine);
}

static bool contains(const uint8_t *text, size_t len, const char *part) {
  size_t part_len = strlen(part);
  for (size_t i = 0; i + part_len <= len; i++) {
    if (memcmp(text + i, part, part_len) == 0) {
      return true;
    }
  }
  return false;
}

static void test_metrics_text(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 10), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("a\"b"), S("Quote"), 10), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o1"), S("kettle"), 2, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_confirm(engine, S("o1")), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o2"), S("kettle"), 3, 0, NULL), SK_STATUS_OK);

  static uint8_t buf[8192];
  size_t len;
  sk_text products[] = {{B("kettle"), 6}, {B("a\"b"), 3}};
  sk_text unknown[] = {{B("nothing"), 7}};
  sk_text bad[] = {{B("\xff"), 1}};

  POISON_OUT(buf);
  POISON_OUT(len);
  CHECK_STATUS(sk_engine_metrics_text(NULL, products, 1, buf, sizeof(buf), &len),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_metrics_text(engine, products, 1, NULL, sizeof(buf), &len),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_metrics_text(engine, products, 1, buf, sizeof(buf), NULL),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_metrics_text(engine, NULL, 1, buf, sizeof(buf), &len),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_metrics_text(engine, unknown, 1, buf, sizeof(buf), &len),
               SK_STATUS_UNKNOWN_PRODUCT);
  CHECK_STATUS(sk_engine_metrics_text(engine, bad, 1, buf, sizeof(buf), &len),
               SK_STATUS_INVALID_UTF8);
  /* A count no array can have is refused before anything is read. */
  CHECK_STATUS(sk_engine_metrics_text(engine, products, SIZE_MAX, buf, sizeof(buf), &len),
               SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(buf);
  CHECK_UNTOUCHED(len);

  /* Too small a buffer: only the length needed is written, so the caller can retry. */
  size_t needed;
  CHECK_STATUS(sk_engine_metrics_text(engine, products, 2, buf, 0, &needed),
               SK_STATUS_BUFFER_TOO_SMALL);
  CHECK(needed > 0 && needed < sizeof(buf));
  CHECK_STATUS(sk_engine_metrics_text(engine, products, 2, buf, needed - 1, &len),
               SK_STATUS_BUFFER_TOO_SMALL);
  CHECK(len == needed);
  CHECK_UNTOUCHED(buf);

  CHECK_STATUS(sk_engine_metrics_text(engine, products, 2, buf, needed, &len), SK_STATUS_OK);
  CHECK(len == needed);
  CHECK(contains(buf, len, "\nstockkeeper_live_holds 1\n"));
  CHECK(contains(buf, len, "\nstockkeeper_held_units 3\n"));
  CHECK(contains(buf, len, "stockkeeper_holds_total{outcome=\"confirmed\"} 1\n"));
  CHECK(contains(buf, len,
                 "stockkeeper_product_holds_ended_total{product=\"kettle\","
                 "outcome=\"confirmed\"} 1\n"));
  /* Label values are escaped, so an id cannot break the exposition format. */
  CHECK(contains(buf, len, "product=\"a\\\"b\""));
  CHECK(buf[len - 1] == '\n');

  /* No products: NULL is fine when the count is zero. */
  CHECK_STATUS(sk_engine_metrics_text(engine, NULL, 0, buf, sizeof(buf), &len), SK_STATUS_OK);
  CHECK(!contains(buf, len, "product_holds_ended_total"));
  sk_engine_free(engine);
}

/* ---- Events ----------------------------------------------------------- */

struct seen_event {
  sk_event_kind kind;
  uint32_t state;
  char order[32];
  char product[32];
  size_t line_count;
  char first_line_product[32];
  int64_t first_line_quantity;
  bool on_caller_thread;
};

/* What a callback saw, copied out, since event pointers die with the call. */
struct recorder {
  pthread_mutex_t lock;
  pthread_t caller;
  sk_engine *engine;
  int count;
  struct seen_event events[16];
  /* What calling back into the engine from the callback gave. */
  sk_status reentrant_stock;
  sk_status reentrant_flush;
};

static void copy_text(char *out, size_t size, const uint8_t *text, size_t len) {
  size_t n = len < size - 1 ? len : size - 1;
  if (text != NULL) {
    memcpy(out, text, n);
  }
  out[text != NULL ? n : 0] = '\0';
}

static void record_event(const sk_event *event, void *user_data) {
  struct recorder *recorder = user_data;
  sk_stock stock;
  sk_status stock_status = sk_product_stock(recorder->engine, S("a"), &stock);
  sk_status flush_status = sk_engine_flush_events(recorder->engine);

  pthread_mutex_lock(&recorder->lock);
  recorder->reentrant_stock = stock_status;
  recorder->reentrant_flush = flush_status;
  if (recorder->count < (int)COUNT_OF(recorder->events)) {
    struct seen_event *seen = &recorder->events[recorder->count];
    seen->kind = event->kind;
    seen->state = event->state;
    copy_text(seen->order, sizeof(seen->order), event->order, event->order_len);
    copy_text(seen->product, sizeof(seen->product), event->product, event->product_len);
    seen->line_count = event->line_count;
    seen->first_line_product[0] = '\0';
    seen->first_line_quantity = 0;
    if (event->line_count > 0) {
      copy_text(seen->first_line_product, sizeof(seen->first_line_product), event->lines[0].product,
                event->lines[0].product_len);
      seen->first_line_quantity = event->lines[0].quantity;
    }
    seen->on_caller_thread = pthread_equal(pthread_self(), recorder->caller);
  }
  recorder->count++;
  pthread_mutex_unlock(&recorder->lock);
}

static void recorder_init(struct recorder *recorder, sk_engine *engine) {
  memset(recorder, 0, sizeof(*recorder));
  pthread_mutex_init(&recorder->lock, NULL);
  recorder->caller = pthread_self();
  recorder->engine = engine;
  recorder->reentrant_stock = SK_STATUS_OK;
  recorder->reentrant_flush = SK_STATUS_OK;
}

static int recorded(struct recorder *recorder) {
  pthread_mutex_lock(&recorder->lock);
  int count = recorder->count;
  pthread_mutex_unlock(&recorder->lock);
  return count;
}

static void check_hold_ended(const struct seen_event *seen, const char *order, sk_order_state state,
                             size_t line_count, const char *product, int64_t quantity,
                             const char *file, int line) {
  check(seen->kind == SK_EVENT_KIND_HOLD_ENDED, "event is hold_ended", file, line);
  check(seen->state == state, "event state", file, line);
  check(strcmp(seen->order, order) == 0, "event order", file, line);
  check(seen->product[0] == '\0', "no product on hold_ended", file, line);
  check(seen->line_count == line_count, "event line count", file, line);
  check(strcmp(seen->first_line_product, product) == 0, "event first line product", file, line);
  check(seen->first_line_quantity == quantity, "event first line quantity", file, line);
  check(!seen->on_caller_thread, "callback off the caller's thread", file, line);
}

#define CHECK_HOLD_ENDED(seen, order, state, line_count, product, quantity)                 \
  check_hold_ended((seen), (order), (state), (line_count), (product), (quantity), __FILE__, \
                   __LINE__)

static void test_events(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("a"), S("A"), 5), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("b"), S("B"), 5), SK_STATUS_OK);

  static struct recorder first;
  static struct recorder second;
  recorder_init(&first, engine);
  recorder_init(&second, engine);

  uint64_t id;
  POISON_OUT(id);
  CHECK_STATUS(sk_engine_subscribe(NULL, record_event, &first, &id), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_subscribe(engine, NULL, &first, &id), SK_STATUS_NULL_ARGUMENT);
  CHECK_UNTOUCHED(id);
  CHECK_STATUS(sk_engine_unsubscribe(NULL, 1), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_flush_events(NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_subscribe(engine, record_event, &first, &id), SK_STATUS_OK);

  sk_line both[] = {line("a", 2), line("b", 1)};
  CHECK_STATUS(sk_order_block_lines(engine, S("o1"), both, 2, 0, NULL, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_confirm(engine, S("o1")), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o2"), S("a"), 1, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_cancel(engine, S("o2")), SK_STATUS_OK);
  /* b has 4 left: holding them all sells it out. */
  CHECK_STATUS(sk_order_block(engine, S("o3"), S("b"), 4, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_advance(engine, SECONDS(301), NULL), SK_STATUS_OK);
  /* Refusals end no hold and publish nothing. */
  CHECK_STATUS(sk_order_confirm(engine, S("o3")), SK_STATUS_EXPIRED);
  CHECK_STATUS(sk_engine_flush_events(engine), SK_STATUS_OK);

  CHECK(recorded(&first) == 4);
  if (recorded(&first) == 4) {
    CHECK_HOLD_ENDED(&first.events[0], "o1", SK_ORDER_STATE_CONFIRMED, 2, "a", 2);
    CHECK_HOLD_ENDED(&first.events[1], "o2", SK_ORDER_STATE_CANCELLED, 1, "a", 1);
    CHECK(first.events[2].kind == SK_EVENT_KIND_SOLD_OUT);
    CHECK(first.events[2].state == 0 && first.events[2].line_count == 0);
    CHECK(strcmp(first.events[2].product, "b") == 0 && first.events[2].order[0] == '\0');
    CHECK_HOLD_ENDED(&first.events[3], "o3", SK_ORDER_STATE_EXPIRED, 1, "b", 4);
  }
  /* A callback may call back into the engine, flush included. */
  CHECK(first.reentrant_stock == SK_STATUS_OK);
  CHECK(first.reentrant_flush == SK_STATUS_OK);

  /* Two subscribers each get every event; an unsubscribed one gets no more. */
  CHECK_STATUS(sk_engine_subscribe(engine, record_event, &second, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_unsubscribe(engine, id), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_unsubscribe(engine, id), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_unsubscribe(engine, UINT64_MAX), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o4"), S("a"), 1, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_cancel(engine, S("o4")), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_flush_events(engine), SK_STATUS_OK);
  CHECK(recorded(&first) == 4);
  CHECK(recorded(&second) == 1);

  /* Closing delivers what was queued before the notifier stops. */
  CHECK_STATUS(sk_order_block(engine, S("o5"), S("a"), 1, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_cancel(engine, S("o5")), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_close(engine), SK_STATUS_OK);
  CHECK(recorded(&second) == 2);
  sk_engine_free(engine);
  pthread_mutex_destroy(&first.lock);
  pthread_mutex_destroy(&second.lock);
}

/* A callback ends another subscription and frees that one's data at once:
 * the other callback is not called again, not even for the events queued
 * with the one running, so its data is never read after the free. */
struct unsubscriber {
  sk_engine *engine;
  uint64_t other;
  int *other_data;
};

static int other_calls;

static void count_other(const sk_event *event, void *user_data) {
  (void)event;
  (*(int *)user_data)++;
  other_calls++;
}

static void unsubscribe_other(const sk_event *event, void *user_data) {
  (void)event;
  struct unsubscriber *self = user_data;
  if (self->other_data != NULL) {
    CHECK_STATUS(sk_engine_unsubscribe(self->engine, self->other), SK_STATUS_OK);
    free(self->other_data);
    self->other_data = NULL;
  }
}

static void test_unsubscribe_inside_callback(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("a"), S("A"), 5), SK_STATUS_OK);
  static struct unsubscriber first;
  first.engine = engine;
  first.other_data = calloc(1, sizeof(int));
  CHECK(first.other_data != NULL);
  CHECK_STATUS(sk_engine_subscribe(engine, unsubscribe_other, &first, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_subscribe(engine, count_other, first.other_data, &first.other),
               SK_STATUS_OK);
  other_calls = 0;
  /* Five holds expiring in one release pass: their events come in one batch. */
  const char *orders[] = {"o1", "o2", "o3", "o4", "o5"};
  for (size_t i = 0; i < COUNT_OF(orders); i++) {
    CHECK_STATUS(sk_order_block(engine, S(orders[i]), S("a"), 1, 0, NULL), SK_STATUS_OK);
  }
  uint64_t released = 0;
  CHECK_STATUS(sk_engine_advance(engine, SECONDS(301), &released), SK_STATUS_OK);
  CHECK(released == 5);
  CHECK_STATUS(sk_engine_flush_events(engine), SK_STATUS_OK);
  CHECK(first.other_data == NULL);
  CHECK(other_calls == 0);
  sk_engine_free(engine);
}

/* ---- Closing ---------------------------------------------------------- */

static void test_closed(void) {
  /* The default engine runs a releaser thread, which closing must stop. */
  sk_engine *engine = NULL;
  CHECK_STATUS(sk_engine_new(NULL, &engine), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 5), SK_STATUS_OK);
  CHECK_STATUS(sk_order_block(engine, S("o"), S("kettle"), 2, 0, NULL), SK_STATUS_OK);

  CHECK_STATUS(sk_engine_close(NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_engine_close(engine), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_close(engine), SK_STATUS_OK);

  uint64_t u64;
  int64_t i64;
  sk_stock stock;
  sk_deadline deadline;
  sk_order_info info;
  size_t failed_line;
  uint8_t buf[16];
  size_t len;
  sk_line lines[] = {line("kettle", 1)};
  POISON_OUT(u64);
  POISON_OUT(i64);
  POISON_OUT(stock);
  POISON_OUT(deadline);
  POISON_OUT(info);
  POISON_OUT(failed_line);
  POISON_OUT(buf);
  POISON_OUT(len);

  CHECK_STATUS(sk_engine_start_releaser(engine), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_engine_release_expired(engine, &u64), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_engine_advance(engine, 1, &u64), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_engine_now(engine, &u64), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_product_add(engine, S("new"), S("New"), 1), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_product_available(engine, S("kettle"), &i64), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_product_stock(engine, S("kettle"), &stock), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_product_update(engine, S("kettle"), 1, &stock), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_order_block(engine, S("o2"), S("kettle"), 1, 0, &deadline), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_order_block_lines(engine, S("o3"), lines, 1, 0, &deadline, &failed_line),
               SK_STATUS_CLOSED);
  CHECK_STATUS(sk_order_extend(engine, S("o"), 1, &deadline), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_order_status(engine, S("o"), &info), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_order_line(engine, S("o"), 0, buf, sizeof(buf), &len, &i64), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_order_confirm(engine, S("o")), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_order_cancel(engine, S("o")), SK_STATUS_CLOSED);
  sk_metrics metrics;
  sk_outcomes outcomes;
  POISON_OUT(metrics);
  POISON_OUT(outcomes);
  CHECK_STATUS(sk_engine_metrics(engine, &metrics), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_product_outcomes(engine, S("kettle"), &outcomes), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_engine_metrics_text(engine, NULL, 0, buf, sizeof(buf), &len), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_engine_subscribe(engine, record_event, NULL, &u64), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_engine_unsubscribe(engine, 1), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_engine_flush_events(engine), SK_STATUS_CLOSED);
  /* Closed comes first, before a missing output. */
  CHECK_STATUS(sk_engine_now(engine, NULL), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_product_available(engine, S("kettle"), NULL), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_product_stock(engine, S("kettle"), NULL), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_order_status(engine, S("o"), NULL), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_order_line(engine, S("o"), 0, NULL, 1, NULL, NULL), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_engine_metrics(engine, NULL), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_product_outcomes(engine, S("kettle"), NULL), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_engine_metrics_text(engine, NULL, 0, NULL, 1, NULL), SK_STATUS_CLOSED);
  CHECK_UNTOUCHED(metrics);
  CHECK_UNTOUCHED(outcomes);
  CHECK_UNTOUCHED(u64);
  CHECK_UNTOUCHED(i64);
  CHECK_UNTOUCHED(stock);
  CHECK_UNTOUCHED(deadline);
  CHECK_UNTOUCHED(info);
  CHECK_UNTOUCHED(failed_line);
  CHECK_UNTOUCHED(buf);
  CHECK_UNTOUCHED(len);

  /* What needs no engine still works. */
  sk_options options;
  CHECK_STATUS(sk_options_default(&options), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_close(engine), SK_STATUS_OK);
  sk_engine_free(engine);

  /* A manual engine closes the same way. */
  engine = manual_engine();
  CHECK_STATUS(sk_engine_close(engine), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_advance(engine, 1, NULL), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_engine_release_expired(engine, NULL), SK_STATUS_CLOSED);
  sk_engine_free(engine);
}

/* ---- Many threads at once --------------------------------------------- */

enum {
  RACE_WORKERS = 5,
  RACE_ORDERS_PER_WORKER = 1500,
  RACE_ORDERS = RACE_WORKERS * RACE_ORDERS_PER_WORKER,
  RACE_PRODUCTS = 3,
  RACE_STOCK = 20,
  /* How far back a worker reaches for an order to end: far enough that several
   * workers go for the same one. */
  RACE_WINDOW = 40,
  /* Worker iterations per clock step, and how far either side may run ahead of the
   * other: the scheduler alone would let the clock starve or race off. */
  RACE_ITERATIONS_PER_STEP = 2,
  RACE_SLACK = 8,
};

/* The hold time, and the clock thread's step, on the manual clock. */
#define RACE_HOLD_NS UINT64_C(6000000)
#define RACE_STEP_NS UINT64_C(1000000)

static const char *const race_products[RACE_PRODUCTS] = {"hot-a", "hot-b", "hot-c"};

struct race {
  sk_engine *engine;
  atomic_bool workers_done;
  /* Clock steps taken, and iterations each worker finished. */
  atomic_int steps;
  atomic_int progress[RACE_WORKERS];
  /* Per order: held at all, and how many confirms and cancels succeeded. */
  atomic_int held[RACE_ORDERS];
  atomic_int confirmed[RACE_ORDERS];
  atomic_int cancelled[RACE_ORDERS];
  atomic_llong restocked[RACE_PRODUCTS];
  atomic_llong corrected[RACE_PRODUCTS];
  /* Statuses the contract does not allow for the call, and broken invariants. */
  atomic_int unexpected;
  atomic_int broken_invariants;
  atomic_llong snapshots;
  /* Hold endings as the event callback saw them, by sk_order_state. */
  atomic_int ended_events[5];
};

struct worker {
  struct race *race;
  int index;
};

static uint32_t next_random(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x;
}

static void race_order_id(int order, char *out, size_t size) {
  snprintf(out, size, "race-%d", order);
}

/*
 * The lines of order k, fixed by k so the final tally can recompute them. One
 * order in four holds two products, given in both orders, to race the lock
 * order of multi-line holds.
 */
static size_t race_lines(int k, sk_line lines[2]) {
  int first = k % RACE_PRODUCTS;
  int second = (k + 1) % RACE_PRODUCTS;
  lines[0] = line(race_products[first], 1 + k % 3);
  if (k % 4 != 0) {
    return 1;
  }
  lines[1] = line(race_products[second], 1);
  if (k % 8 == 0) {
    sk_line swap = lines[0];
    lines[0] = lines[1];
    lines[1] = swap;
  }
  return 2;
}

static void race_note(struct race *race, bool allowed, const char *what, sk_status status) {
  if (!allowed) {
    atomic_fetch_add(&race->unexpected, 1);
    fprintf(stderr, "race: %s gave %s\n", what, sk_status_name(status));
  }
}

static bool ends_allowed(sk_status s) {
  return s == SK_STATUS_OK || s == SK_STATUS_UNKNOWN_ORDER || s == SK_STATUS_EXPIRED ||
         s == SK_STATUS_ALREADY_CONFIRMED || s == SK_STATUS_ALREADY_CANCELLED;
}

static void *race_worker(void *arg) {
  struct worker *worker = arg;
  struct race *race = worker->race;
  uint32_t random = 0x9E3779B9u * (uint32_t)(worker->index + 1);
  char id[32];

  for (int i = 0; i < RACE_ORDERS_PER_WORKER; i++) {
    atomic_store(&race->progress[worker->index], i);
    while (i > atomic_load(&race->steps) * RACE_ITERATIONS_PER_STEP + RACE_SLACK) {
      sched_yield();
    }
    int k = i * RACE_WORKERS + worker->index;
    sk_line lines[2];
    size_t count = race_lines(k, lines);
    race_order_id(k, id, sizeof(id));
    sk_status status = count == 1
                           ? sk_order_block(race->engine, S(id), lines[0].product,
                                            lines[0].product_len, lines[0].quantity, 0, NULL)
                           : sk_order_block_lines(race->engine, S(id), lines, count, 0, NULL, NULL);
    if (status == SK_STATUS_OK) {
      atomic_store(&race->held[k], 1);
    }
    race_note(race, status == SK_STATUS_OK || status == SK_STATUS_INSUFFICIENT_STOCK, "block",
              status);

    /* End a recent order, possibly one another worker is ending right now. */
    uint32_t r = next_random(&random);
    int target = k - (int)(r % RACE_WINDOW);
    if (target < 0) {
      continue;
    }
    race_order_id(target, id, sizeof(id));
    switch ((r >> 8) % 10) {
      case 0:
      case 1:
      case 2:
      case 3:
        status = sk_order_confirm(race->engine, S(id));
        if (status == SK_STATUS_OK) {
          atomic_fetch_add(&race->confirmed[target], 1);
        }
        race_note(race, ends_allowed(status), "confirm", status);
        break;
      case 4:
      case 5:
      case 6:
        status = sk_order_cancel(race->engine, S(id));
        if (status == SK_STATUS_OK) {
          atomic_fetch_add(&race->cancelled[target], 1);
        }
        race_note(race, ends_allowed(status), "cancel", status);
        break;
      case 7:
        status = sk_order_extend(race->engine, S(id), RACE_STEP_NS, NULL);
        race_note(race, ends_allowed(status), "extend", status);
        break;
      default:
        /* Left alone: the clock thread will expire it. */
        break;
    }
  }
  atomic_store(&race->progress[worker->index], RACE_ORDERS_PER_WORKER + RACE_SLACK);
  return NULL;
}

static void *race_clock(void *arg) {
  struct race *race = arg;
  while (!atomic_load(&race->workers_done)) {
    int slowest = INT32_MAX;
    for (int w = 0; w < RACE_WORKERS; w++) {
      int progress = atomic_load(&race->progress[w]);
      slowest = progress < slowest ? progress : slowest;
    }
    if (atomic_load(&race->steps) * RACE_ITERATIONS_PER_STEP > slowest + RACE_SLACK) {
      sched_yield();
      continue;
    }
    sk_status status = sk_engine_advance(race->engine, RACE_STEP_NS, NULL);
    race_note(race, status == SK_STATUS_OK, "advance", status);
    atomic_fetch_add(&race->steps, 1);
  }
  return NULL;
}

/*
 * Restocks and corrections while orders race, once per clock step: confirmed
 * orders drain the shelves, so a product running low is restocked, and one
 * with plenty is corrected down, keeping stock scarce enough to be fought over.
 */
static void *race_stocker(void *arg) {
  struct race *race = arg;
  int last_step = -1;
  while (!atomic_load(&race->workers_done)) {
    int step = atomic_load(&race->steps);
    if (step == last_step) {
      sched_yield();
      continue;
    }
    last_step = step;
    for (int p = 0; p < RACE_PRODUCTS; p++) {
      int64_t available = 0;
      sk_status status = sk_product_available(race->engine, S(race_products[p]), &available);
      race_note(race, status == SK_STATUS_OK, "available", status);
      int64_t delta = available < RACE_STOCK / 4 ? 3 : -1;
      status = sk_product_update(race->engine, S(race_products[p]), delta, NULL);
      if (status == SK_STATUS_OK) {
        atomic_fetch_add(delta > 0 ? &race->restocked[p] : &race->corrected[p],
                         delta > 0 ? delta : -delta);
      }
      race_note(race, status == SK_STATUS_OK || status == SK_STATUS_INSUFFICIENT_STOCK, "update",
                status);
    }
  }
  return NULL;
}

/* Every snapshot any reader sees must satisfy 0 <= reserved <= on_hand. */
static void *race_reader(void *arg) {
  struct race *race = arg;
  while (!atomic_load(&race->workers_done)) {
    for (int p = 0; p < RACE_PRODUCTS; p++) {
      sk_stock stock = {0, 0, 0};
      sk_status status = sk_product_stock(race->engine, S(race_products[p]), &stock);
      race_note(race, status == SK_STATUS_OK, "stock", status);
      if (stock.reserved < 0 || stock.reserved > stock.on_hand ||
          stock.available != stock.on_hand - stock.reserved) {
        atomic_fetch_add(&race->broken_invariants, 1);
      }
      atomic_fetch_add(&race->snapshots, 1);
    }
  }
  return NULL;
}

static void count_ending(const sk_event *event, void *user_data) {
  struct race *race = user_data;
  if (event->kind == SK_EVENT_KIND_HOLD_ENDED && event->state < 5) {
    atomic_fetch_add(&race->ended_events[event->state], 1);
  }
}

static void test_threads(void) {
  sk_options options;
  sk_options_default(&options);
  options.manual_clock = true;
  options.background_release = false;
  options.hold_time_ns = RACE_HOLD_NS;
  /* Long enough that no ended order is forgotten before the final tally. */
  options.retention_ns = UINT64_MAX / 2;

  static struct race race;
  memset(&race, 0, sizeof(race));
  CHECK_STATUS(sk_engine_new(&options, &race.engine), SK_STATUS_OK);
  for (int p = 0; p < RACE_PRODUCTS; p++) {
    CHECK_STATUS(sk_product_add(race.engine, S(race_products[p]), S("Hot"), RACE_STOCK),
                 SK_STATUS_OK);
  }

  CHECK_STATUS(sk_engine_subscribe(race.engine, count_ending, &race, NULL), SK_STATUS_OK);

  pthread_t workers[RACE_WORKERS];
  struct worker args[RACE_WORKERS];
  pthread_t clock_thread;
  pthread_t stocker_thread;
  pthread_t reader_thread;
  CHECK(pthread_create(&clock_thread, NULL, race_clock, &race) == 0);
  CHECK(pthread_create(&stocker_thread, NULL, race_stocker, &race) == 0);
  CHECK(pthread_create(&reader_thread, NULL, race_reader, &race) == 0);
  for (int w = 0; w < RACE_WORKERS; w++) {
    args[w].race = &race;
    args[w].index = w;
    CHECK(pthread_create(&workers[w], NULL, race_worker, &args[w]) == 0);
  }
  for (int w = 0; w < RACE_WORKERS; w++) {
    pthread_join(workers[w], NULL);
  }
  atomic_store(&race.workers_done, true);
  pthread_join(clock_thread, NULL);
  pthread_join(stocker_thread, NULL);
  pthread_join(reader_thread, NULL);

  CHECK(atomic_load(&race.unexpected) == 0);
  CHECK(atomic_load(&race.broken_invariants) == 0);
  CHECK(atomic_load(&race.snapshots) > 0);

  /* Let every hold still live run out, then tally. */
  CHECK_STATUS(sk_engine_advance(race.engine, RACE_HOLD_NS * 1000, NULL), SK_STATUS_OK);

  int64_t confirmed_units[RACE_PRODUCTS] = {0};
  int held = 0;
  int ended_twice = 0;
  int wrong_state = 0;
  int outcomes[5] = {0};
  for (int k = 0; k < RACE_ORDERS; k++) {
    char id[32];
    race_order_id(k, id, sizeof(id));
    int confirms = atomic_load(&race.confirmed[k]);
    int cancels = atomic_load(&race.cancelled[k]);
    sk_order_info info;
    sk_status status = sk_order_status(race.engine, S(id), &info);
    if (!atomic_load(&race.held[k])) {
      wrong_state += status != SK_STATUS_UNKNOWN_ORDER || confirms + cancels != 0;
      continue;
    }
    held++;
    if (status != SK_STATUS_OK) {
      wrong_state++;
      continue;
    }
    /* Exactly one ending per hold, and the state says which one won. */
    ended_twice += confirms + cancels > 1;
    sk_order_state want = confirms  ? SK_ORDER_STATE_CONFIRMED
                          : cancels ? SK_ORDER_STATE_CANCELLED
                                    : SK_ORDER_STATE_EXPIRED;
    wrong_state += info.state != want;
    outcomes[info.state <= 4 ? info.state : 0]++;
    if (info.state == SK_ORDER_STATE_CONFIRMED) {
      sk_line lines[2];
      size_t count = race_lines(k, lines);
      for (size_t i = 0; i < count; i++) {
        for (int p = 0; p < RACE_PRODUCTS; p++) {
          if (strcmp((const char *)lines[i].product, race_products[p]) == 0) {
            confirmed_units[p] += lines[i].quantity;
          }
        }
      }
    }
  }
  CHECK(ended_twice == 0);
  CHECK(wrong_state == 0);
  /* The mix must really have raced: some of each ending, and some refused holds. */
  CHECK(held > 0 && held < RACE_ORDERS);
  CHECK(outcomes[SK_ORDER_STATE_CONFIRMED] > 0);
  CHECK(outcomes[SK_ORDER_STATE_CANCELLED] > 0);
  CHECK(outcomes[SK_ORDER_STATE_EXPIRED] > 0);

  /* Every hold ended once, seen alike by the counters and by the event feed. */
  sk_metrics metrics;
  CHECK_STATUS(sk_engine_metrics(race.engine, &metrics), SK_STATUS_OK);
  CHECK(metrics.held == (uint64_t)held);
  CHECK(metrics.confirmed == (uint64_t)outcomes[SK_ORDER_STATE_CONFIRMED]);
  CHECK(metrics.cancelled == (uint64_t)outcomes[SK_ORDER_STATE_CANCELLED]);
  CHECK(metrics.expired == (uint64_t)outcomes[SK_ORDER_STATE_EXPIRED]);
  CHECK(metrics.live_holds == 0 && metrics.held_units == 0);
  CHECK_STATUS(sk_engine_flush_events(race.engine), SK_STATUS_OK);
  for (int state = SK_ORDER_STATE_CONFIRMED; state <= SK_ORDER_STATE_EXPIRED; state++) {
    CHECK(atomic_load(&race.ended_events[state]) == outcomes[state]);
  }
  CHECK(atomic_load(&race.ended_events[SK_ORDER_STATE_HELD]) == 0);

  /* Stock is conserved: on_hand = initial + restocks - corrections - confirmed. */
  for (int p = 0; p < RACE_PRODUCTS; p++) {
    int64_t want = RACE_STOCK + atomic_load(&race.restocked[p]) - atomic_load(&race.corrected[p]) -
                   confirmed_units[p];
    CHECK_STOCK(race.engine, race_products[p], want, 0, want);
  }
  printf("threads: %d orders held of %d; %d confirmed, %d cancelled, %d expired\n", held,
         RACE_ORDERS, outcomes[SK_ORDER_STATE_CONFIRMED], outcomes[SK_ORDER_STATE_CANCELLED],
         outcomes[SK_ORDER_STATE_EXPIRED]);
  sk_engine_free(race.engine);
}


/* ---- Batches ----------------------------------------------------------- */

static sk_block_request request(const char *order, const char *product, int64_t quantity) {
  sk_block_request request = {B(order), strlen(order), B(product), strlen(product), quantity};
  return request;
}

/* Two engines alike: one takes single calls, the other the same in batches. */
static sk_engine *batch_engine(void) {
  sk_engine *engine = manual_engine();
  CHECK_STATUS(sk_product_add(engine, S("kettle"), S("Kettle"), 20), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add(engine, S("mug"), S("Mug"), 3), SK_STATUS_OK);
  return engine;
}

static void test_batches(void) {
  /* Every kind of request, long enough for the batch to be read ahead. */
  sk_block_request requests[40];
  char orders[40][8];
  for (size_t i = 0; i < COUNT_OF(requests); i++) {
    snprintf(orders[i], sizeof orders[i], "o%zu", i % 30);
    requests[i] = request(orders[i], i % 3 ? "kettle" : "mug", 1 + (int64_t)(i % 2));
  }
  requests[3] = request("o3", "ghost", 1);
  requests[5] = request("", "kettle", 1);
  requests[7].order = NULL;
  requests[9] = request("o9", "kettle\x80", 1);
  requests[11].quantity = 0;
  requests[13].quantity = INT64_MIN;
  requests[15].product = NULL;
  requests[17] = request("o17\0", "kettle", 1);
  requests[17].order_len = 4;

  sk_engine *single = batch_engine(), *batch = batch_engine();
  sk_status want[40], got[40];
  sk_deadline want_deadlines[40], got_deadlines[40];
  POISON_OUT(got);
  POISON_OUT(want_deadlines);
  POISON_OUT(got_deadlines);
  for (size_t i = 0; i < COUNT_OF(requests); i++) {
    const sk_block_request *r = &requests[i];
    want[i] = sk_order_block(single, r->order, r->order_len, r->product, r->product_len,
                             r->quantity, 0, &want_deadlines[i]);
  }
  CHECK_STATUS(sk_order_block_many(batch, requests, COUNT_OF(requests), 0, got, got_deadlines),
               SK_STATUS_OK);
  CHECK(memcmp(want, got, sizeof want) == 0);
  size_t held = 0, refusals = 0;
  for (size_t i = 0; i < COUNT_OF(requests); i++) {
    held += got[i] == SK_STATUS_OK;
    refusals += got[i] != SK_STATUS_OK;
    /* Each engine has a wall clock origin of its own. */
    if (got[i] == SK_STATUS_OK) {
      CHECK(got_deadlines[i].since_start_ns == want_deadlines[i].since_start_ns);
    } else {
      CHECK_UNTOUCHED(got_deadlines[i]);
    }
  }
  CHECK(held > 10 && refusals > 10);
  CHECK(got[3] == SK_STATUS_UNKNOWN_PRODUCT && got[7] == SK_STATUS_NULL_ARGUMENT);
  CHECK(got[30] == SK_STATUS_DUPLICATE_ORDER && got[11] == SK_STATUS_INVALID_QUANTITY);

  /* Confirms: held, twice, refused and bad ids. */
  sk_text confirms[36];
  for (size_t i = 0; i < COUNT_OF(confirms); i++) {
    confirms[i] = (sk_text){B(orders[i % 32]), strlen(orders[i % 32])};
  }
  confirms[4] = (sk_text){B("\xff"), 1};
  confirms[6] = (sk_text){NULL, 3};
  confirms[8] = (sk_text){NULL, 0};
  sk_status want_confirms[36], got_confirms[36];
  for (size_t i = 0; i < COUNT_OF(confirms); i++) {
    want_confirms[i] = sk_order_confirm(single, confirms[i].data, confirms[i].len);
  }
  CHECK_STATUS(sk_order_confirm_many(batch, confirms, COUNT_OF(confirms), got_confirms),
               SK_STATUS_OK);
  CHECK(memcmp(want_confirms, got_confirms, sizeof want_confirms) == 0);
  CHECK(got_confirms[0] == SK_STATUS_OK && got_confirms[32] == SK_STATUS_ALREADY_CONFIRMED);

  sk_metrics single_metrics, batch_metrics;
  CHECK_STATUS(sk_engine_metrics(single, &single_metrics), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_metrics(batch, &batch_metrics), SK_STATUS_OK);
  CHECK(memcmp(&single_metrics, &batch_metrics, sizeof single_metrics) == 0);
  sk_stock single_stock, batch_stock;
  CHECK_STATUS(sk_product_stock(single, S("kettle"), &single_stock), SK_STATUS_OK);
  CHECK_STATUS(sk_product_stock(batch, S("kettle"), &batch_stock), SK_STATUS_OK);
  CHECK(memcmp(&single_stock, &batch_stock, sizeof single_stock) == 0);

  /* Bad batches run nothing and write nothing. */
  CHECK_STATUS(sk_product_add(batch, S("spare"), S("Spare"), 5), SK_STATUS_OK);
  sk_block_request more = request("new", "spare", 1);
  POISON_OUT(got);
  POISON_OUT(got_deadlines);
  CHECK_STATUS(sk_order_block_many(NULL, &more, 1, 0, got, NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_block_many(batch, NULL, 1, 0, got, NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_block_many(batch, &more, 1, 0, NULL, got_deadlines),
               SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_block_many(batch, &more, SIZE_MAX, 0, got, got_deadlines),
               SK_STATUS_OVERFLOW);
  CHECK_STATUS(sk_order_confirm_many(batch, NULL, 1, got), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_confirm_many(batch, confirms, 1, NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_order_confirm_many(batch, confirms, SIZE_MAX / 2, got), SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(got);
  CHECK_UNTOUCHED(got_deadlines);
  CHECK_NO_ORDER(batch, "new");
  /* No requests is a batch that runs nothing, whatever the pointers. */
  CHECK_STATUS(sk_order_block_many(batch, NULL, 0, 0, NULL, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_order_confirm_many(batch, NULL, 0, NULL), SK_STATUS_OK);
  /* Deadlines are optional. */
  CHECK_STATUS(sk_order_block_many(batch, &more, 1, 42, got, NULL), SK_STATUS_OK);
  CHECK(got[0] == SK_STATUS_OK);
  CHECK_STATE(batch, "new", SK_ORDER_STATE_HELD);

  /* A closed engine refuses the batch whole, before its arguments. */
  sk_engine_close(batch);
  POISON_OUT(got);
  CHECK_STATUS(sk_order_block_many(batch, &more, 1, 0, got, got_deadlines), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_order_block_many(batch, NULL, 1, 0, NULL, NULL), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_order_confirm_many(batch, confirms, 1, got), SK_STATUS_CLOSED);
  CHECK_UNTOUCHED(got);
  sk_engine_free(single);
  sk_engine_free(batch);
}

static void test_product_batches(void) {
  /* Products of every kind, long enough for the batch to be read ahead. */
  sk_product_request products[40];
  char ids[40][8];
  static char long_name[1026];
  memset(long_name, 'n', sizeof long_name - 1);
  for (size_t i = 0; i < COUNT_OF(products); i++) {
    snprintf(ids[i], sizeof ids[i], "p%zu", i % 30);
    products[i] = (sk_product_request){B(ids[i]), strlen(ids[i]), S("Product"), (int64_t)i};
  }
  products[2].id_len = 0;
  products[4].id = NULL;
  products[6] = (sk_product_request){S("p\x80"), S("Bad id"), 1};
  products[8] = (sk_product_request){B("p8\0"), 3, S("Nul in id"), 1};
  products[10].name = B("Bad\0name");
  products[10].name_len = 8;
  products[12].name = B(long_name);
  products[12].name_len = 1025;
  products[14].on_hand = -1;
  products[16].on_hand = INT64_MIN;
  products[18].name = NULL;
  products[18].name_len = 0;
  products[20] = (sk_product_request){S("kettle"), S("Taken"), 1};

  sk_engine *single = batch_engine(), *batch = batch_engine();
  sk_status want[40], got[40];
  POISON_OUT(got);
  for (size_t i = 0; i < COUNT_OF(products); i++) {
    const sk_product_request *p = &products[i];
    want[i] = sk_product_add(single, p->id, p->id_len, p->name, p->name_len, p->on_hand);
  }
  CHECK_STATUS(sk_product_add_many(batch, products, COUNT_OF(products), got), SK_STATUS_OK);
  CHECK(memcmp(want, got, sizeof want) == 0);
  CHECK(got[0] == SK_STATUS_OK && got[18] == SK_STATUS_OK && got[30] == SK_STATUS_PRODUCT_EXISTS);
  CHECK(got[2] == SK_STATUS_EMPTY_ID && got[4] == SK_STATUS_NULL_ARGUMENT);
  CHECK(got[6] == SK_STATUS_INVALID_UTF8 && got[8] == SK_STATUS_ID_CONTAINS_NUL);
  CHECK(got[10] == SK_STATUS_INVALID_NAME && got[12] == SK_STATUS_INVALID_NAME);
  CHECK(got[14] == SK_STATUS_INVALID_QUANTITY && got[16] == SK_STATUS_INVALID_QUANTITY);
  CHECK(got[20] == SK_STATUS_PRODUCT_EXISTS);
  sk_metrics single_metrics, batch_metrics;
  CHECK_STATUS(sk_engine_metrics(single, &single_metrics), SK_STATUS_OK);
  CHECK_STATUS(sk_engine_metrics(batch, &batch_metrics), SK_STATUS_OK);
  CHECK(memcmp(&single_metrics, &batch_metrics, sizeof single_metrics) == 0);
  sk_stock stock;
  CHECK_STATUS(sk_product_stock(batch, S("p5"), &stock), SK_STATUS_OK);
  CHECK(stock.on_hand == 5 && stock.available == 5);
  CHECK_STATUS(sk_product_stock(batch, S("kettle"), &stock), SK_STATUS_OK);
  CHECK(stock.on_hand == 20);

  /* Bad batches add nothing and write nothing. */
  sk_product_request more = {S("spare"), S("Spare"), 5};
  int64_t available = 0;
  POISON_OUT(got);
  CHECK_STATUS(sk_product_add_many(NULL, &more, 1, got), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_add_many(batch, NULL, 1, got), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_add_many(batch, &more, 1, NULL), SK_STATUS_NULL_ARGUMENT);
  CHECK_STATUS(sk_product_add_many(batch, &more, SIZE_MAX, got), SK_STATUS_OVERFLOW);
  CHECK_UNTOUCHED(got);
  CHECK_STATUS(sk_product_available(batch, S("spare"), &available),
               SK_STATUS_UNKNOWN_PRODUCT);
  CHECK_STATUS(sk_product_add_many(batch, NULL, 0, NULL), SK_STATUS_OK);
  CHECK_STATUS(sk_product_add_many(batch, &more, 1, got), SK_STATUS_OK);
  CHECK(got[0] == SK_STATUS_OK);
  CHECK_STATUS(sk_product_available(batch, S("spare"), &available), SK_STATUS_OK);
  CHECK(available == 5);

  /* A closed engine refuses the batch whole. */
  sk_engine_close(batch);
  POISON_OUT(got);
  CHECK_STATUS(sk_product_add_many(batch, &more, 1, got), SK_STATUS_CLOSED);
  CHECK_STATUS(sk_product_add_many(batch, NULL, 1, NULL), SK_STATUS_CLOSED);
  CHECK_UNTOUCHED(got);
  sk_engine_free(single);
  sk_engine_free(batch);
}

/* ---- Runner ----------------------------------------------------------- */

static const struct {
  const char *name;
  void (*run)(void);
} tests[] = {
    {"version", test_version},
    {"status_texts", test_status_texts},
    {"options_default", test_options_default},
    {"engine_new_and_free", test_engine_new_and_free},
    {"engine_clock", test_engine_clock},
    {"product_add", test_product_add},
    {"product_batches", test_product_batches},
    {"product_reads", test_product_reads},
    {"product_update", test_product_update},
    {"block", test_block},
    {"block_lines", test_block_lines},
    {"block_lines_several_faults", test_block_lines_several_faults},
    {"block_lines_steps", test_block_lines_steps},
    {"confirm_and_cancel", test_confirm_and_cancel},
    {"batches", test_batches},
    {"deadline_rule", test_deadline_rule},
    {"deadline_without_release_pass", test_deadline_without_release_pass},
    {"background_release", test_background_release},
    {"extend", test_extend},
    {"status", test_status},
    {"retention", test_retention},
    {"order_line", test_order_line},
    {"order_read", test_order_read},
    {"metrics", test_metrics},
    {"refuse", test_refuse},
    {"product_outcomes", test_product_outcomes},
    {"metrics_text", test_metrics_text},
    {"events", test_events},
    {"unsubscribe_inside_callback", test_unsubscribe_inside_callback},
    {"closed", test_closed},
    {"threads", test_threads},
};

int main(void) {
  for (size_t i = 0; i < COUNT_OF(tests); i++) {
    current_test = tests[i].name;
    int failed_before = failed;
    tests[i].run();
    printf("%-32s %s\n", tests[i].name, failed == failed_before ? "ok" : "FAILED");
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
