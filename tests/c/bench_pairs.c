/*
 * Block+confirm pairs through include/stockkeeper.h, on one thread, with
 * every id prepared before the clock starts: the same workload the Rust
 * benchmark runs as "ffi-pairs", so the difference between the two figures
 * is what the C boundary costs per call. Then the same single read of one
 * product, over and over, as the Rust benchmark's "ffi-reads": with nothing
 * out of cache and nothing allocated, the difference is the boundary alone.
 *
 *   bench_pairs [pairs] [products]
 *
 * Prints one JSON line for tests/bench/report.py.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stockkeeper.h"

#define PRODUCT_LEN 14 /* "sku-" and ten digits */
#define ORDER_LEN 16   /* "ord-" and twelve digits */
#define READS_PER_PAIR 5

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes prefix and value as `width` zero-padded digits (the lowest ones, if
 * value has more), so every id has a fixed length. */
static void fixed_id(char *out, const char *prefix, unsigned long long value, int width) {
    size_t len = strlen(prefix);
    memcpy(out, prefix, len);
    for (int i = width - 1; i >= 0; i--) {
        out[len + (size_t)i] = (char)('0' + value % 10);
        value /= 10;
    }
    out[len + (size_t)width] = '\0';
}

static void must(sk_status status, const char *what) {
    if (status != SK_STATUS_OK) {
        fprintf(stderr, "bench_pairs: %s: %s\n", what, sk_status_name(status));
        exit(1);
    }
}

int main(int argc, char **argv) {
    long pairs = argc > 1 ? atol(argv[1]) : 1000000;
    long products = argc > 2 ? atol(argv[2]) : 100000;
    if (pairs < 1 || products < 1) {
        fprintf(stderr, "usage: bench_pairs [pairs] [products]\n");
        return 2;
    }

    sk_engine *engine = NULL;
    must(sk_engine_new(NULL, &engine), "engine");
    char id[PRODUCT_LEN + 1];
    for (long i = 0; i < products; i++) {
        fixed_id(id, "sku-", (unsigned long long)i, 10);
        must(sk_product_add(engine, (const uint8_t *)id, PRODUCT_LEN,
                            (const uint8_t *)"Product", 7, 1000000000),
             "add");
    }

    /* Ids are fixed-width, so one flat buffer each holds them all. */
    char *product_ids = malloc((size_t)pairs * (PRODUCT_LEN + 1));
    char *order_ids = malloc((size_t)pairs * (ORDER_LEN + 1));
    if (product_ids == NULL || order_ids == NULL) {
        fprintf(stderr, "bench_pairs: out of memory\n");
        return 1;
    }
    for (long i = 0; i < pairs; i++) {
        fixed_id(product_ids + i * (PRODUCT_LEN + 1), "sku-",
                 (unsigned long long)((i * 7919) % products), 10);
        fixed_id(order_ids + i * (ORDER_LEN + 1), "ord-", (unsigned long long)i, 12);
    }

    sk_deadline deadline;
    double start = seconds_now();
    for (long i = 0; i < pairs; i++) {
        const uint8_t *product = (const uint8_t *)(product_ids + i * (PRODUCT_LEN + 1));
        const uint8_t *order = (const uint8_t *)(order_ids + i * (ORDER_LEN + 1));
        must(sk_order_block(engine, order, ORDER_LEN, product, PRODUCT_LEN, 1, 0, &deadline),
             "block");
        must(sk_order_confirm(engine, order, ORDER_LEN), "confirm");
    }
    double elapsed = seconds_now() - start;

    printf("{\"workload\": \"ffi-pairs\", \"subject\": \"c\", \"ops\": %ld, \"secs\": %.9f, "
           "\"ops_per_sec\": %.1f}\n",
           pairs, elapsed, (double)pairs / elapsed);

    long reads = pairs * READS_PER_PAIR;
    int64_t available = 0, seen = 0;
    start = seconds_now();
    for (long i = 0; i < reads; i++) {
        must(sk_product_available(engine, (const uint8_t *)product_ids, PRODUCT_LEN, &available),
             "available");
        seen += available;
    }
    elapsed = seconds_now() - start;
    if (seen <= 0) {
        fprintf(stderr, "bench_pairs: the read product has no stock\n");
        return 1;
    }
    printf("{\"workload\": \"ffi-reads\", \"subject\": \"c\", \"ops\": %ld, \"secs\": %.9f, "
           "\"ops_per_sec\": %.1f}\n",
           reads, elapsed, (double)reads / elapsed);
    free(product_ids);
    free(order_ids);
    sk_engine_free(engine);
    return 0;
}
