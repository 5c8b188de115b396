/*
 * Runs the shared behaviour cases (every .case file in tests/cases; the
 * format is in that folder's README) through the C ABI, so that C cannot
 * drift from the other front doors.
 *
 *   run_cases CASES_DIR
 *
 * Each file is one case on a fresh engine. A step whose numbers do not fit the
 * C types (int64_t counts, uint64_t nanoseconds) is skipped and counted as
 * not expressible when it expects an error: a refused step changes nothing,
 * so the rest of the case still holds. One that expects success cannot be
 * left out that way and breaks the case. A case stops at its first mismatch,
 * reported as file:line, expected and got. Closes with "N passed, M failed"
 * (cases) and exits non-zero on any failure, or when there is no case to run.
 */

#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stockkeeper.h"

/* Repetitions (a*257) past this are a typo in a case, not an id to test. */
#define LONGEST_TOKEN ((size_t)1 << 20)

enum step_result { STEP_RAN, STEP_SKIPPED, STEP_BROKEN };

/* A case being run: where it is and the engine it runs on. */
struct run {
  const char *file;
  int line;
  sk_engine *engine;
  bool engine_options_seen;
  int steps;
  int skipped;
};

static void complain(const struct run *run, const char *format, ...) {
  va_list args;
  va_start(args, format);
  printf("%s:%d: ", run->file, run->line);
  vprintf(format, args);
  printf("\n");
  va_end(args);
}

/* ---- Tokens ----------------------------------------------------------- */

/* Splits a line in place at spaces and tabs; returns the token count. */
static int split(char *line, char ***tokens) {
  int count = 0;
  int capacity = 8;
  char **out = malloc(sizeof(char *) * (size_t)capacity);
  if (out == NULL) {
    abort();
  }
  char *save = NULL;
  for (char *token = strtok_r(line, " \t", &save); token != NULL;
       token = strtok_r(NULL, " \t", &save)) {
    if (count == capacity) {
      capacity *= 2;
      out = realloc(out, sizeof(char *) * (size_t)capacity);
      if (out == NULL) {
        abort();
      }
    }
    out[count++] = token;
  }
  *tokens = out;
  return count;
}

enum number { NUMBER_OK, NUMBER_TOO_BIG, NUMBER_MALFORMED };

/* The digits of a decimal number of any length, up to `limit`; TOO_BIG past
 * it, MALFORMED when there are none or one is not a digit. */
static enum number parse_digits(const char *digit, uint64_t limit, uint64_t *out) {
  if (*digit == '\0') {
    return NUMBER_MALFORMED;
  }
  uint64_t value = 0;
  bool too_big = false;
  for (; *digit != '\0'; digit++) {
    if (*digit < '0' || *digit > '9') {
      return NUMBER_MALFORMED;
    }
    unsigned next = (unsigned)(*digit - '0');
    if (too_big || value > (limit - next) / 10) {
      too_big = true;
      continue;
    }
    value = value * 10 + next;
  }
  if (too_big) {
    return NUMBER_TOO_BIG;
  }
  *out = value;
  return NUMBER_OK;
}

/* A decimal number, possibly negative, of any length; TOO_BIG past int64_t. */
static enum number parse_i64(const char *text, int64_t *out) {
  bool negative = *text == '-';
  uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t value = 0;
  enum number parsed = parse_digits(negative ? text + 1 : text, limit, &value);
  if (parsed == NUMBER_OK) {
    /* Negating in unsigned arithmetic reaches INT64_MIN without overflow. */
    *out = negative ? (int64_t)(0 - value) : (int64_t)value;
  }
  return parsed;
}

/* The same, for the unsigned nanoseconds of durations; negative is TOO_BIG. */
static enum number parse_u64(const char *text, uint64_t *out) {
  bool negative = *text == '-';
  uint64_t value = 0;
  enum number parsed = parse_digits(negative ? text + 1 : text, UINT64_MAX, &value);
  if (parsed == NUMBER_OK && negative) {
    return NUMBER_TOO_BIG;
  }
  if (parsed == NUMBER_OK) {
    *out = value;
  }
  return parsed;
}

/* A duration such as 300s or 1ns, in nanoseconds. */
static enum number parse_duration(const char *text, uint64_t *out) {
  static const struct {
    const char *unit;
    uint64_t nanos;
  } units[] = {
      /* Two-letter units first, so that "5ms" is not read as 5m and an "s". */
      {"ns", 1},
      {"ms", UINT64_C(1000000)},
      {"s", UINT64_C(1000000000)},
      {"m", UINT64_C(60000000000)},
      {"h", UINT64_C(3600000000000)},
  };
  size_t len = strlen(text);
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    size_t unit_len = strlen(units[i].unit);
    if (len <= unit_len || strcmp(text + len - unit_len, units[i].unit) != 0) {
      continue;
    }
    char number[64];
    if (len - unit_len >= sizeof(number)) {
      /* Only digits fit the format, and this many of them pass 2^64 anyway. */
      bool digits = strspn(text, "-0123456789") == len - unit_len;
      return digits ? NUMBER_TOO_BIG : NUMBER_MALFORMED;
    }
    memcpy(number, text, len - unit_len);
    number[len - unit_len] = '\0';
    uint64_t count;
    enum number parsed = parse_u64(number, &count);
    if (parsed != NUMBER_OK) {
      return parsed;
    }
    if (count > UINT64_MAX / units[i].nanos) {
      return NUMBER_TOO_BIG;
    }
    *out = count * units[i].nanos;
    return NUMBER_OK;
  }
  return NUMBER_MALFORMED;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/* A byte string decoded from an id or name token. */
struct bytes {
  uint8_t *data;
  size_t len;
};

/*
 * Decodes an id or name token: "" is the empty string; TEXT*N is TEXT
 * repeated N times; then %XX stands for the byte XX. Returns false, with a
 * complaint, for a malformed token.
 */
static bool decode(const struct run *run, const char *token, struct bytes *out) {
  out->data = malloc(1);
  out->len = 0;
  if (out->data == NULL) {
    abort();
  }
  if (strcmp(token, "\"\"") == 0) {
    return true;
  }

  size_t text_len = strlen(token);
  uint64_t times = 1;
  const char *star = strrchr(token, '*');
  if (star != NULL && star[1] != '\0' && strspn(star + 1, "0123456789") == strlen(star + 1)) {
    text_len = (size_t)(star - token);
    if (parse_u64(star + 1, &times) != NUMBER_OK ||
        (text_len > 0 && times > LONGEST_TOKEN / text_len)) {
      complain(run, "token %s repeats past %zu bytes", token, LONGEST_TOKEN);
      return false;
    }
  }

  char *repeated = malloc(text_len * (size_t)times + 1);
  if (repeated == NULL) {
    abort();
  }
  for (uint64_t i = 0; i < times; i++) {
    memcpy(repeated + i * text_len, token, text_len);
  }
  size_t repeated_len = text_len * (size_t)times;
  repeated[repeated_len] = '\0';

  /* Escapes only shrink the text, so the repeated length bounds the bytes. */
  free(out->data);
  out->data = malloc(repeated_len + 1);
  if (out->data == NULL) {
    abort();
  }
  for (size_t i = 0; i < repeated_len; i++) {
    if (repeated[i] != '%') {
      out->data[out->len++] = (uint8_t)repeated[i];
      continue;
    }
    int high = i + 1 < repeated_len ? hex_digit(repeated[i + 1]) : -1;
    int low = i + 2 < repeated_len ? hex_digit(repeated[i + 2]) : -1;
    if (high < 0 || low < 0) {
      complain(run, "token %s: %% must be followed by two hex digits", token);
      free(repeated);
      return false;
    }
    out->data[out->len++] = (uint8_t)(high * 16 + low);
    i += 2;
  }
  free(repeated);
  return true;
}

/* ---- Answers ---------------------------------------------------------- */

enum answer_kind { ANSWER_OK, ANSWER_NUMBERS, ANSWER_STATE, ANSWER_EACH };

/* The most requests a batch step may have. */
#define MAX_BATCH 64

/* What a step gives on success, from the library or as a case expects it. */
struct answer {
  enum answer_kind kind;
  int count;
  int64_t numbers[3];
  const char *state;
  bool has_deadline;
  uint64_t deadline_ns;
  /* A batch's answer to each request: "ok" or a status name; `count` of them. */
  const char *each[MAX_BATCH];
};

static const char *state_name(sk_order_state state) {
  switch (state) {
    case SK_ORDER_STATE_HELD:
      return "held";
    case SK_ORDER_STATE_CONFIRMED:
      return "confirmed";
    case SK_ORDER_STATE_CANCELLED:
      return "cancelled";
    case SK_ORDER_STATE_EXPIRED:
      return "expired";
    default:
      return "(unknown state)";
  }
}

static void format_answer(const struct answer *answer, char *out, size_t size) {
  switch (answer->kind) {
    case ANSWER_OK:
      snprintf(out, size, "ok");
      break;
    case ANSWER_NUMBERS: {
      size_t used = 0;
      for (int i = 0; i < answer->count && used < size; i++) {
        used += (size_t)snprintf(out + used, size - used, "%s%" PRId64, i > 0 ? " " : "",
                                 answer->numbers[i]);
      }
      break;
    }
    case ANSWER_EACH: {
      size_t used = 0;
      for (int i = 0; i < answer->count && used < size; i++) {
        used += (size_t)snprintf(out + used, size - used, "%s%s", i > 0 ? " " : "",
                                 answer->each[i]);
      }
      break;
    }
    case ANSWER_STATE:
      if (answer->has_deadline) {
        snprintf(out, size, "%s deadline=%" PRIu64 "ns", answer->state, answer->deadline_ns);
      } else {
        snprintf(out, size, "%s", answer->state);
      }
      break;
  }
}

/* Whether the library's answer is what the case expects. */
static bool answers_match(const struct answer *want, const struct answer *got) {
  if (want->kind != got->kind) {
    return false;
  }
  switch (want->kind) {
    case ANSWER_OK:
      return true;
    case ANSWER_NUMBERS:
      if (want->count != got->count) {
        return false;
      }
      for (int i = 0; i < want->count; i++) {
        if (want->numbers[i] != got->numbers[i]) {
          return false;
        }
      }
      return true;
    case ANSWER_EACH:
      if (want->count != got->count) {
        return false;
      }
      for (int i = 0; i < want->count; i++) {
        if (strcmp(want->each[i], got->each[i]) != 0) {
          return false;
        }
      }
      return true;
    case ANSWER_STATE:
      /* A case that names no deadline does not check it. */
      return strcmp(want->state, got->state) == 0 &&
             (!want->has_deadline || want->deadline_ns == got->deadline_ns);
  }
  return false;
}

/* What one step expects: an error name, or an answer. */
struct expected {
  const char *error;
  struct answer answer;
};

/*
 * Reads the tokens after "=>" as the given kind of answer. Returns STEP_RAN
 * when understood. Numbers appear only in answers to steps that succeed, so a
 * number the C types cannot carry breaks the case rather than skipping.
 */
static enum step_result parse_expected(const struct run *run, char **tokens, int count,
                                       enum answer_kind kind, int numbers, struct expected *out) {
  memset(out, 0, sizeof(*out));
  out->answer.kind = kind;
  if (count == 2 && strcmp(tokens[0], "error") == 0) {
    out->error = tokens[1];
    return STEP_RAN;
  }
  switch (kind) {
    case ANSWER_OK:
      if (count == 1 && strcmp(tokens[0], "ok") == 0) {
        return STEP_RAN;
      }
      complain(run, "expected `ok` or `error CODE`");
      return STEP_BROKEN;
    case ANSWER_NUMBERS:
      if (count != numbers) {
        complain(run, "expected %d number(s) or `error CODE`", numbers);
        return STEP_BROKEN;
      }
      out->answer.count = numbers;
      for (int i = 0; i < numbers; i++) {
        enum number parsed = parse_i64(tokens[i], &out->answer.numbers[i]);
        if (parsed != NUMBER_OK) {
          complain(run, "%s is not a number that fits int64_t", tokens[i]);
          return STEP_BROKEN;
        }
      }
      return STEP_RAN;
    case ANSWER_EACH:
      if (count > MAX_BATCH) {
        complain(run, "a batch step may have at most %d requests", MAX_BATCH);
        return STEP_BROKEN;
      }
      out->answer.count = count;
      for (int i = 0; i < count; i++) {
        out->answer.each[i] = tokens[i];
      }
      return STEP_RAN;
    case ANSWER_STATE: {
      static const char *const states[] = {"held", "confirmed", "cancelled", "expired"};
      bool known = false;
      for (size_t i = 0; count >= 1 && i < sizeof(states) / sizeof(states[0]); i++) {
        known = known || strcmp(tokens[0], states[i]) == 0;
      }
      bool deadline = count == 2 && strncmp(tokens[1], "deadline=", 9) == 0;
      if (!known || !(count == 1 || deadline)) {
        complain(run, "expected a state, optionally with deadline=DURATION, or `error CODE`");
        return STEP_BROKEN;
      }
      out->answer.state = tokens[0];
      if (deadline) {
        enum number parsed = parse_duration(tokens[1] + 9, &out->answer.deadline_ns);
        if (parsed != NUMBER_OK) {
          complain(run, "%s is not a duration that fits uint64_t nanoseconds", tokens[1] + 9);
          return STEP_BROKEN;
        }
        out->answer.has_deadline = true;
      }
      return STEP_RAN;
    }
  }
  return STEP_BROKEN;
}

/* ---- Operations ------------------------------------------------------- */

/* The arguments of one step, decoded; freed by free_args. */
struct args {
  int count;
  char **raw;
  /* Room for every argument, each decoded at most once. */
  struct bytes *ids;
  int decoded;
};

static struct args new_args(char **raw, int count) {
  struct args args = {.count = count, .raw = raw, .decoded = 0};
  args.ids = calloc((size_t)count + 1, sizeof(struct bytes));
  if (args.ids == NULL) {
    abort();
  }
  return args;
}

static void free_args(struct args *args) {
  for (int i = 0; i < args->decoded; i++) {
    free(args->ids[i].data);
  }
  free(args->ids);
}

/* Decodes argument `index` as an id or name. */
static const struct bytes *id_arg(const struct run *run, struct args *args, int index) {
  struct bytes *slot = &args->ids[args->decoded];
  if (!decode(run, args->raw[index], slot)) {
    free(slot->data);
    return NULL;
  }
  args->decoded++;
  return slot;
}

/* Reads argument `index` as an int64_t; sets *result on a skip or a malformed number. */
static bool int_arg(const struct run *run, const struct args *args, int index, int64_t *out,
                    enum step_result *result) {
  enum number parsed = parse_i64(args->raw[index], out);
  if (parsed == NUMBER_OK) {
    return true;
  }
  if (parsed == NUMBER_MALFORMED) {
    complain(run, "%s is not a number", args->raw[index]);
  }
  *result = parsed == NUMBER_TOO_BIG ? STEP_SKIPPED : STEP_BROKEN;
  return false;
}

static bool duration_arg(const struct run *run, const struct args *args, int index, uint64_t *out,
                         enum step_result *result) {
  enum number parsed = parse_duration(args->raw[index], out);
  if (parsed == NUMBER_OK) {
    return true;
  }
  if (parsed == NUMBER_MALFORMED) {
    complain(run, "%s is not a duration", args->raw[index]);
  }
  *result = parsed == NUMBER_TOO_BIG ? STEP_SKIPPED : STEP_BROKEN;
  return false;
}

/* What the library said: a status, and on success the answer. */
struct outcome {
  sk_status status;
  struct answer answer;
};

/*
 * Holds an order: args[first] is the order, then product/quantity pairs. One
 * pair goes through sk_order_block, more through sk_order_block_lines.
 */
static enum step_result block(const struct run *run, struct args *args, int first, uint64_t hold_ns,
                              struct outcome *out) {
  int pairs = (args->count - first - 1) / 2;
  if (pairs < 1 || (args->count - first - 1) % 2 != 0) {
    complain(run, "expected an order and product/quantity pairs");
    return STEP_BROKEN;
  }
  const struct bytes *order = id_arg(run, args, first);
  if (order == NULL) {
    return STEP_BROKEN;
  }
  sk_line *lines = calloc((size_t)pairs, sizeof(sk_line));
  if (lines == NULL) {
    abort();
  }
  enum step_result result = STEP_RAN;
  for (int i = 0; i < pairs && result == STEP_RAN; i++) {
    const struct bytes *product = id_arg(run, args, first + 1 + 2 * i);
    if (product == NULL) {
      result = STEP_BROKEN;
      break;
    }
    lines[i].product = product->data;
    lines[i].product_len = product->len;
    int_arg(run, args, first + 2 + 2 * i, &lines[i].quantity, &result);
  }
  if (result == STEP_RAN) {
    out->status = pairs == 1
                      ? sk_order_block(run->engine, order->data, order->len, lines[0].product,
                                       lines[0].product_len, lines[0].quantity, hold_ns, NULL)
                      : sk_order_block_lines(run->engine, order->data, order->len, lines,
                                             (size_t)pairs, hold_ns, NULL, NULL);
  }
  free(lines);
  return result;
}

/* A batch's statuses as a step's answer: "ok" or each status's name. */
static void batch_answer(const sk_status *statuses, int count, struct outcome *out) {
  out->answer.count = count;
  for (int i = 0; i < count; i++) {
    out->answer.each[i] = statuses[i] == SK_STATUS_OK ? "ok" : sk_status_name(statuses[i]);
  }
}

/* `order product quantity` triples through sk_order_block_many. */
static enum step_result block_many(const struct run *run, struct args *args,
                                   struct outcome *out) {
  int count = args->count / 3;
  if (args->count % 3 != 0 || count > MAX_BATCH) {
    complain(run, "expected at most %d `order product quantity` triples", MAX_BATCH);
    return STEP_BROKEN;
  }
  sk_block_request requests[MAX_BATCH];
  enum step_result result = STEP_RAN;
  for (int i = 0; i < count && result == STEP_RAN; i++) {
    const struct bytes *order = id_arg(run, args, 3 * i);
    const struct bytes *product = order == NULL ? NULL : id_arg(run, args, 3 * i + 1);
    if (product == NULL) {
      return STEP_BROKEN;
    }
    requests[i] = (sk_block_request){order->data, order->len, product->data, product->len, 0};
    int_arg(run, args, 3 * i + 2, &requests[i].quantity, &result);
  }
  if (result == STEP_RAN) {
    sk_status statuses[MAX_BATCH];
    out->status =
        sk_order_block_many(run->engine, requests, (size_t)count, 0, statuses, NULL);
    if (out->status == SK_STATUS_OK) {
      batch_answer(statuses, count, out);
    }
  }
  return result;
}

/* `product name count` triples through sk_product_add_many. */
static enum step_result add_many(const struct run *run, struct args *args,
                                 struct outcome *out) {
  int count = args->count / 3;
  if (args->count % 3 != 0 || count > MAX_BATCH) {
    complain(run, "expected at most %d `product name count` triples", MAX_BATCH);
    return STEP_BROKEN;
  }
  sk_product_request products[MAX_BATCH];
  enum step_result result = STEP_RAN;
  for (int i = 0; i < count && result == STEP_RAN; i++) {
    const struct bytes *id = id_arg(run, args, 3 * i);
    const struct bytes *name = id == NULL ? NULL : id_arg(run, args, 3 * i + 1);
    if (name == NULL) {
      return STEP_BROKEN;
    }
    products[i] = (sk_product_request){id->data, id->len, name->data, name->len, 0};
    int_arg(run, args, 3 * i + 2, &products[i].on_hand, &result);
  }
  if (result == STEP_RAN) {
    sk_status statuses[MAX_BATCH];
    out->status = sk_product_add_many(run->engine, products, (size_t)count, statuses);
    if (out->status == SK_STATUS_OK) {
      batch_answer(statuses, count, out);
    }
  }
  return result;
}

/* Order ids through sk_order_confirm_many. */
static enum step_result confirm_many(const struct run *run, struct args *args,
                                     struct outcome *out) {
  if (args->count > MAX_BATCH) {
    complain(run, "expected at most %d orders", MAX_BATCH);
    return STEP_BROKEN;
  }
  sk_text orders[MAX_BATCH];
  for (int i = 0; i < args->count; i++) {
    const struct bytes *order = id_arg(run, args, i);
    if (order == NULL) {
      return STEP_BROKEN;
    }
    orders[i] = (sk_text){order->data, order->len};
  }
  sk_status statuses[MAX_BATCH];
  out->status = sk_order_confirm_many(run->engine, orders, (size_t)args->count, statuses);
  if (out->status == SK_STATUS_OK) {
    batch_answer(statuses, args->count, out);
  }
  return STEP_RAN;
}

/* An operation of the case format: its arguments and what it answers on success. */
struct op {
  const char *name;
  /* How many arguments; negative for "at least that many". */
  int args;
  /* Whether the first argument is an id (or name) to decode. */
  bool id_first;
  enum answer_kind kind;
  int numbers;
};

static const struct op ops[] = {
    {"add", 3, true, ANSWER_OK, 0},           {"available", 1, true, ANSWER_NUMBERS, 1},
    {"stock", 1, true, ANSWER_NUMBERS, 3},    {"update", 2, true, ANSWER_OK, 0},
    {"block", -3, false, ANSWER_OK, 0},       {"block_for", -4, false, ANSWER_OK, 0},
    {"confirm", 1, true, ANSWER_OK, 0},       {"cancel", 1, true, ANSWER_OK, 0},
    {"extend", 2, true, ANSWER_OK, 0},        {"status", 1, true, ANSWER_STATE, 0},
    {"advance", 1, false, ANSWER_NUMBERS, 1}, {"release", 0, false, ANSWER_NUMBERS, 1},
    {"close", 0, false, ANSWER_OK, 0},        {"block_many", -3, false, ANSWER_EACH, 0},
    {"confirm_many", -1, false, ANSWER_EACH, 0}, {"add_many", -3, false, ANSWER_EACH, 0},
};

/* The operation a step names, with its argument count checked; NULL otherwise. */
static const struct op *find_op(const struct run *run, const char *name, int args) {
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    if (strcmp(name, ops[i].name) != 0) {
      continue;
    }
    int want = ops[i].args;
    if (want >= 0 ? args != want : args < -want) {
      complain(run, "%s takes %s%d argument(s), got %d", name, want < 0 ? "at least " : "",
               want < 0 ? -want : want, args);
      return NULL;
    }
    return &ops[i];
  }
  complain(run, "unknown operation %s", name);
  return NULL;
}

/*
 * Runs one operation. Returns STEP_SKIPPED when an argument cannot be given
 * through the C ABI, STEP_BROKEN when the step is malformed.
 */
static enum step_result perform(const struct run *run, const struct op *op, struct args *args,
                                struct outcome *out) {
  memset(out, 0, sizeof(*out));
  out->answer.kind = op->kind;
  out->answer.count = op->numbers;

  enum step_result result = STEP_RAN;
  const struct bytes *first = NULL;
  if (op->id_first && (first = id_arg(run, args, 0)) == NULL) {
    return STEP_BROKEN;
  }

  if (strcmp(op->name, "add") == 0) {
    const struct bytes *name = id_arg(run, args, 1);
    int64_t count;
    if (name == NULL) {
      return STEP_BROKEN;
    }
    if (!int_arg(run, args, 2, &count, &result)) {
      return result;
    }
    out->status =
        sk_product_add(run->engine, first->data, first->len, name->data, name->len, count);
  } else if (strcmp(op->name, "available") == 0) {
    out->status =
        sk_product_available(run->engine, first->data, first->len, &out->answer.numbers[0]);
  } else if (strcmp(op->name, "stock") == 0) {
    sk_stock stock = {0, 0, 0};
    out->status = sk_product_stock(run->engine, first->data, first->len, &stock);
    out->answer.numbers[0] = stock.on_hand;
    out->answer.numbers[1] = stock.reserved;
    out->answer.numbers[2] = stock.available;
  } else if (strcmp(op->name, "update") == 0) {
    int64_t delta;
    if (!int_arg(run, args, 1, &delta, &result)) {
      return result;
    }
    out->status = sk_product_update(run->engine, first->data, first->len, delta, NULL);
  } else if (strcmp(op->name, "block") == 0) {
    return block(run, args, 0, 0, out);
  } else if (strcmp(op->name, "block_for") == 0) {
    uint64_t hold_ns;
    if (!duration_arg(run, args, 0, &hold_ns, &result)) {
      return result;
    }
    /* The C ABI reads a hold time of zero as "the engine's default". */
    if (hold_ns == 0) {
      return STEP_SKIPPED;
    }
    return block(run, args, 1, hold_ns, out);
  } else if (strcmp(op->name, "confirm") == 0) {
    out->status = sk_order_confirm(run->engine, first->data, first->len);
  } else if (strcmp(op->name, "cancel") == 0) {
    out->status = sk_order_cancel(run->engine, first->data, first->len);
  } else if (strcmp(op->name, "extend") == 0) {
    uint64_t by_ns;
    if (!duration_arg(run, args, 1, &by_ns, &result)) {
      return result;
    }
    out->status = sk_order_extend(run->engine, first->data, first->len, by_ns, NULL);
  } else if (strcmp(op->name, "status") == 0) {
    sk_order_info info;
    out->status = sk_order_status(run->engine, first->data, first->len, &info);
    if (out->status == SK_STATUS_OK) {
      out->answer.state = state_name(info.state);
      out->answer.has_deadline = true;
      out->answer.deadline_ns = info.deadline.since_start_ns;
    }
  } else if (strcmp(op->name, "advance") == 0) {
    uint64_t by_ns;
    uint64_t released = 0;
    if (!duration_arg(run, args, 0, &by_ns, &result)) {
      return result;
    }
    out->status = sk_engine_advance(run->engine, by_ns, &released);
    out->answer.numbers[0] = (int64_t)released;
  } else if (strcmp(op->name, "release") == 0) {
    uint64_t released = 0;
    out->status = sk_engine_release_expired(run->engine, &released);
    out->answer.numbers[0] = (int64_t)released;
  } else if (strcmp(op->name, "close") == 0) {
    out->status = sk_engine_close(run->engine);
  } else if (strcmp(op->name, "block_many") == 0) {
    return block_many(run, args, out);
  } else if (strcmp(op->name, "confirm_many") == 0) {
    return confirm_many(run, args, out);
  } else if (strcmp(op->name, "add_many") == 0) {
    return add_many(run, args, out);
  }
  return STEP_RAN;
}

/* ---- Cases ------------------------------------------------------------ */

/* `engine KEY=VALUE...`: options for the case's engine, always on the manual clock. */
static bool start_engine(struct run *run, char **tokens, int count) {
  sk_options options;
  sk_options_default(&options);
  options.manual_clock = true;
  options.background_release = false;

  for (int i = 1; i < count; i++) {
    char *value = strchr(tokens[i], '=');
    if (value == NULL) {
      complain(run, "engine option %s is not KEY=VALUE", tokens[i]);
      return false;
    }
    *value++ = '\0';
    enum number parsed;
    if (strcmp(tokens[i], "hold") == 0) {
      parsed = parse_duration(value, &options.hold_time_ns);
    } else if (strcmp(tokens[i], "retention") == 0) {
      parsed = parse_duration(value, &options.retention_ns);
    } else if (strcmp(tokens[i], "remember") == 0) {
      parsed = parse_u64(value, &options.max_remembered);
    } else {
      complain(run, "unknown engine option %s", tokens[i]);
      return false;
    }
    /* Without its engine a case cannot run at all, so nothing is skipped here. */
    if (parsed != NUMBER_OK) {
      complain(run, "engine option %s=%s does not fit the C ABI", tokens[i], value);
      return false;
    }
  }

  sk_engine_free(run->engine);
  run->engine = NULL;
  sk_status status = sk_engine_new(&options, &run->engine);
  if (status != SK_STATUS_OK) {
    complain(run, "sk_engine_new: %s", sk_status_name(status));
    return false;
  }
  return true;
}

/* Runs one step line; false on a mismatch or a malformed step. */
static bool run_step(struct run *run, char *text) {
  char **tokens;
  int count = split(text, &tokens);
  bool ok = false;

  if (strcmp(tokens[0], "engine") == 0) {
    if (run->steps > 0 || run->engine_options_seen) {
      complain(run, "`engine` may only be the first step");
    } else {
      run->engine_options_seen = true;
      ok = start_engine(run, tokens, count);
    }
    free(tokens);
    return ok;
  }

  int arrow = -1;
  for (int i = 0; i < count && arrow < 0; i++) {
    if (strcmp(tokens[i], "=>") == 0) {
      arrow = i;
    }
  }
  if (arrow < 1 || arrow == count - 1) {
    complain(run, "a step is OPERATION ARG... => EXPECTED");
    free(tokens);
    return false;
  }
  run->steps++;

  struct args args = new_args(tokens + 1, arrow - 1);
  struct outcome got;
  struct expected want;
  const struct op *op = find_op(run, tokens[0], args.count);
  /* The expectation is read first, so that a malformed one fails even on a skipped step. */
  enum step_result result = op == NULL ? STEP_BROKEN
                                       : parse_expected(run, tokens + arrow + 1, count - arrow - 1,
                                                        op->kind, op->numbers, &want);
  if (result == STEP_RAN) {
    result = perform(run, op, &args, &got);
  }
  free_args(&args);

  if (result == STEP_SKIPPED && want.error == NULL) {
    complain(run, "%s: the C ABI cannot express this step, and it expects success", tokens[0]);
  } else if (result == STEP_SKIPPED) {
    run->skipped++;
    ok = true;
  } else if (result == STEP_RAN) {
    char want_text[160];
    char got_text[160];
    if (want.error != NULL) {
      snprintf(want_text, sizeof(want_text), "error %s", want.error);
      ok = got.status != SK_STATUS_OK && strcmp(sk_status_name(got.status), want.error) == 0;
    } else {
      format_answer(&want.answer, want_text, sizeof(want_text));
      ok = got.status == SK_STATUS_OK && answers_match(&want.answer, &got.answer);
    }
    if (got.status == SK_STATUS_OK) {
      format_answer(&got.answer, got_text, sizeof(got_text));
    } else {
      snprintf(got_text, sizeof(got_text), "error %s", sk_status_name(got.status));
    }
    if (!ok) {
      complain(run, "%s: expected %s, got %s", tokens[0], want_text, got_text);
    }
  }
  free(tokens);
  return ok;
}

/* Runs one case file; prints its result line. */
static bool run_case(const char *dir, const char *name, int *ran_total, int *skipped_total) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  struct run run = {.file = path, .line = 0, .engine = NULL};
  FILE *file = fopen(path, "r");
  if (file == NULL) {
    printf("FAIL %s: cannot open %s\n", name, path);
    return false;
  }

  /* Without an `engine` line the case runs on the defaults, manual clock. */
  bool ok = start_engine(&run, NULL, 0);
  char *line = NULL;
  size_t capacity = 0;
  while (ok && getline(&line, &capacity, file) >= 0) {
    run.line++;
    line[strcspn(line, "\r\n")] = '\0';
    const char *start = line + strspn(line, " \t");
    if (*start == '\0' || *start == '#') {
      continue;
    }
    ok = run_step(&run, line);
  }
  free(line);
  fclose(file);
  sk_engine_free(run.engine);

  if (ok && run.steps == 0) {
    printf("%s: no steps\n", path);
    ok = false;
  }
  *ran_total += run.steps - run.skipped;
  *skipped_total += run.skipped;
  printf("%-4s %s (%d run, %d skipped)\n", ok ? "ok" : "FAIL", name, run.steps - run.skipped,
         run.skipped);
  return ok;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .case files of a folder, sorted by name. */
static int list_cases(const char *dir, char ***names) {
  DIR *folder = opendir(dir);
  if (folder == NULL) {
    return -1;
  }
  int count = 0;
  int capacity = 16;
  char **out = malloc(sizeof(char *) * (size_t)capacity);
  if (out == NULL) {
    abort();
  }
  for (struct dirent *entry = readdir(folder); entry != NULL; entry = readdir(folder)) {
    size_t len = strlen(entry->d_name);
    if (len <= 5 || strcmp(entry->d_name + len - 5, ".case") != 0) {
      continue;
    }
    if (count == capacity) {
      capacity *= 2;
      out = realloc(out, sizeof(char *) * (size_t)capacity);
      if (out == NULL) {
        abort();
      }
    }
    out[count] = strdup(entry->d_name);
    if (out[count] == NULL) {
      abort();
    }
    count++;
  }
  closedir(folder);
  qsort(out, (size_t)count, sizeof(char *), compare_names);
  *names = out;
  return count;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CASES_DIR\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);

  char **names;
  int count = list_cases(argv[1], &names);
  if (count < 0) {
    printf("cannot open %s\n", argv[1]);
    return 1;
  }
  if (count == 0) {
    printf("no *.case files in %s\n", argv[1]);
    free(names);
    return 1;
  }

  int passed = 0;
  int ran = 0;
  int skipped = 0;
  for (int i = 0; i < count; i++) {
    passed += run_case(argv[1], names[i], &ran, &skipped);
    free(names[i]);
  }
  free(names);
  printf("%d steps run, %d skipped as not expressible through the C ABI\n", ran, skipped);
  printf("%d passed, %d failed\n", passed, count - passed);
  return passed == count ? 0 : 1;
}
