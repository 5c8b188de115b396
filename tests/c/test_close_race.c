/*
 * Closing an engine while other threads are in the middle of calls on it.
 *
 * sk_engine_close may race any call on the same handle (only sk_engine_free
 * may not). A racing call either runs in full, with its ordinary status
 * (success or a refusal such as insufficient stock), or returns
 * SK_STATUS_CLOSED and changes nothing; after sk_engine_close returns, every
 * call returns SK_STATUS_CLOSED. Run under AddressSanitizer and under
 * Valgrind, it also shows that closing while a subscriber and the releaser
 * are busy frees nothing still in use.
 *
 * Exits non-zero on any failure.
 */

#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "stockkeeper.h"

#define CALLERS 4
#define ROUNDS 20

/* A string literal as pointer + length. */
#define S(literal) (const uint8_t *)(literal), (sizeof(literal) - 1)

static atomic_int failures;

static void fail(const char *what, sk_status status) {
  atomic_fetch_add(&failures, 1);
  fprintf(stderr, "close race: %s returned %s\n", what, sk_status_name(status));
}

struct caller {
  sk_engine *engine;
  int index;
  atomic_int *started;
};

/* The statuses a call may return while the engine closes under it. */
static bool expected(sk_status status) {
  switch (status) {
  case SK_STATUS_OK:
  case SK_STATUS_CLOSED:
  case SK_STATUS_INSUFFICIENT_STOCK:
  case SK_STATUS_UNKNOWN_ORDER:
  case SK_STATUS_ALREADY_CONFIRMED:
  case SK_STATUS_ALREADY_CANCELLED:
  case SK_STATUS_EXPIRED:
    return true;
  default:
    return false;
  }
}

static void *call_until_closed(void *arg) {
  struct caller *caller = arg;
  atomic_fetch_add(caller->started, 1);
  for (unsigned i = 0;; i++) {
    char order[32];
    int len = snprintf(order, sizeof order, "c%d-%u", caller->index, i);
    const uint8_t *id = (const uint8_t *)order;
    sk_stock stock;
    sk_status statuses[4] = {
        sk_order_block(caller->engine, id, (size_t)len, S("hot"), 1, 1000, NULL),
        i % 2 ? sk_order_confirm(caller->engine, id, (size_t)len)
              : sk_order_cancel(caller->engine, id, (size_t)len),
        sk_product_stock(caller->engine, S("hot"), &stock),
        sk_product_update(caller->engine, S("hot"), 1, NULL),
    };
    if (statuses[2] == SK_STATUS_OK &&
        (stock.reserved < 0 || stock.reserved > stock.on_hand ||
         stock.available != stock.on_hand - stock.reserved))
      fail("sk_product_stock (broken invariant)", SK_STATUS_OK);
    for (int k = 0; k < 4; k++) {
      if (!expected(statuses[k]))
        fail("a racing call", statuses[k]);
      if (statuses[k] == SK_STATUS_CLOSED)
        return NULL;
    }
  }
}

static void count_event(const sk_event *event, void *user_data) {
  (void)event;
  atomic_fetch_add((atomic_long *)user_data, 1);
}

static void round_of_close(void) {
  sk_options options;
  sk_options_default(&options);
  options.hold_time_ns = 100000; /* 0.1 ms: the releaser stays busy */
  sk_engine *engine = NULL;
  if (sk_engine_new(&options, &engine) != SK_STATUS_OK) {
    fail("sk_engine_new", SK_STATUS_INTERNAL);
    return;
  }
  sk_product_add(engine, S("hot"), S("Hot"), 5);
  atomic_long events = 0;
  sk_engine_subscribe(engine, count_event, &events, NULL);

  atomic_int started = 0;
  pthread_t threads[CALLERS];
  struct caller callers[CALLERS];
  for (int i = 0; i < CALLERS; i++) {
    callers[i] = (struct caller){engine, i, &started};
    pthread_create(&threads[i], NULL, call_until_closed, &callers[i]);
  }
  while (atomic_load(&started) < CALLERS)
    sched_yield();

  sk_status status = sk_engine_close(engine);
  if (status != SK_STATUS_OK)
    fail("sk_engine_close", status);
  /* Closed for good, from every thread. */
  status = sk_order_block(engine, S("late"), S("hot"), 1, 0, NULL);
  if (status != SK_STATUS_CLOSED)
    fail("sk_order_block after close", status);
  for (int i = 0; i < CALLERS; i++)
    pthread_join(threads[i], NULL);
  status = sk_product_stock(engine, S("hot"), &(sk_stock){0});
  if (status != SK_STATUS_CLOSED)
    fail("sk_product_stock after close", status);
  sk_engine_free(engine);
}

int main(void) {
  for (int round = 0; round < ROUNDS; round++)
    round_of_close();
  int failed = atomic_load(&failures);
  printf("close race: %d rounds, %d failures\n", ROUNDS, failed);
  return failed == 0 ? 0 : 1;
}
