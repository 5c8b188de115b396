// stockkeeper.hpp: a header-only C++17 wrapper over the C ABI in stockkeeper.h.
//
// An `Engine` owns one engine handle: it cannot be copied, it can be moved, and
// its destructor closes and frees the engine. Every method may be called from
// any number of threads at once, as the C functions may; only moving or
// destroying an Engine must not race other calls on it.
//
// Strings go in as std::string_view (no copy, no NUL needed). A refused call
// throws `stockkeeper::Error`, which carries the status code (`code()`) and
// its stable name (`name()`, the same in every language), and changes nothing
// in the engine. Durations are std::chrono::nanoseconds; instants on the
// engine's clock are nanoseconds since the engine started, as in C.
//
//   stockkeeper::Engine engine(stockkeeper::Options::manual());
//   engine.add_product("sku-1", "Kettle", 3);
//   engine.block("order-1", "sku-1", 2);
//   engine.confirm("order-1");
//
// Link with the library built by `cargo build --release --lib`: the static
// target/release/libstockkeeper.a (with -lpthread -ldl), or the shared
// libstockkeeper.so with -L and an rpath to its folder.

#ifndef STOCKKEEPER_HPP
#define STOCKKEEPER_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stockkeeper.h"

namespace stockkeeper {

/// What a call did: the C ABI's status codes, under the same numbers.
enum class Status : std::uint32_t {
  Ok = SK_STATUS_OK,
  NullArgument = SK_STATUS_NULL_ARGUMENT,
  BufferTooSmall = SK_STATUS_BUFFER_TOO_SMALL,
  OutOfRange = SK_STATUS_OUT_OF_RANGE,
  Internal = SK_STATUS_INTERNAL,
  EmptyId = SK_STATUS_EMPTY_ID,
  IdTooLong = SK_STATUS_ID_TOO_LONG,
  IdContainsNul = SK_STATUS_ID_CONTAINS_NUL,
  InvalidUtf8 = SK_STATUS_INVALID_UTF8,
  InvalidName = SK_STATUS_INVALID_NAME,
  InvalidQuantity = SK_STATUS_INVALID_QUANTITY,
  Overflow = SK_STATUS_OVERFLOW,
  InvalidDuration = SK_STATUS_INVALID_DURATION,
  UnknownProduct = SK_STATUS_UNKNOWN_PRODUCT,
  UnknownOrder = SK_STATUS_UNKNOWN_ORDER,
  ProductExists = SK_STATUS_PRODUCT_EXISTS,
  DuplicateOrder = SK_STATUS_DUPLICATE_ORDER,
  InsufficientStock = SK_STATUS_INSUFFICIENT_STOCK,
  AlreadyConfirmed = SK_STATUS_ALREADY_CONFIRMED,
  AlreadyCancelled = SK_STATUS_ALREADY_CANCELLED,
  Expired = SK_STATUS_EXPIRED,
  ClockNotManual = SK_STATUS_CLOCK_NOT_MANUAL,
  Closed = SK_STATUS_CLOSED,
};

/// The stable snake_case name of a status ("insufficient_stock").
inline const char *status_name(Status status) noexcept {
  return sk_status_name(static_cast<std::uint32_t>(status));
}

/// A one-sentence English description of a status.
inline const char *status_message(Status status) noexcept {
  return sk_status_message(static_cast<std::uint32_t>(status));
}

/// The library's version, as the shared library reports it.
inline const char *version() noexcept { return sk_version(); }

/// A refused call. what() reads "stockkeeper: OPERATION: NAME: MESSAGE".
class Error : public std::runtime_error {
 public:
  /// `line` is the index of the order line at fault, when the call names one.
  Error(Status code, std::string_view operation, std::optional<std::size_t> line = std::nullopt)
      : std::runtime_error(describe(code, operation, line)), code_(code), line_(line) {}

  Status code() const noexcept { return code_; }

  /// The stable name of the code, the same in every language's binding.
  const char *name() const noexcept { return status_name(code_); }

  /// For Engine::block_lines: the index of the line at fault, when the
  /// refusal is about one line (a bad product id or quantity, lines of one
  /// product summing past INT64_MAX, an unknown product, not enough stock);
  /// sk_order_block_lines in the C header says which line and in what order
  /// the checks run. A zero or negative hold time is refused before them.
  std::optional<std::size_t> line() const noexcept { return line_; }

 private:
  static std::string describe(Status code, std::string_view operation,
                              std::optional<std::size_t> line) {
    std::string text = "stockkeeper: ";
    text.append(operation);
    text += ": ";
    text += status_name(code);
    text += ": ";
    text += status_message(code);
    if (line) {
      text += " (line " + std::to_string(*line) + ")";
    }
    return text;
  }

  Status code_;
  std::optional<std::size_t> line_;
};

/// A product's three numbers: on_hand includes held units; available is what
/// a new order can still hold.
struct Stock {
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t available = 0;

  friend bool operator==(const Stock &a, const Stock &b) {
    return a.on_hand == b.on_hand && a.reserved == b.reserved && a.available == b.available;
  }
  friend bool operator!=(const Stock &a, const Stock &b) { return !(a == b); }
};

/// When a hold runs out. A hold may be confirmed up to and including it.
struct Deadline {
  /// On the engine's monotonic clock: nanoseconds since the engine started.
  std::uint64_t since_start_ns = 0;
  /// The same instant on the wall clock as it stood when the engine started,
  /// as nanoseconds since the Unix epoch. For display only.
  std::int64_t wall_unix_ns = 0;

  std::chrono::system_clock::time_point wall() const {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(wall_unix_ns)));
  }
};

enum class OrderState : std::uint32_t {
  Held = SK_ORDER_STATE_HELD,
  Confirmed = SK_ORDER_STATE_CONFIRMED,
  Cancelled = SK_ORDER_STATE_CANCELLED,
  Expired = SK_ORDER_STATE_EXPIRED,
};

/// One line of an order to hold. The product id is borrowed for the call.
struct Line {
  std::string_view product;
  std::int64_t quantity = 0;
};

/// One block of a batch for Engine::block_many: the arguments of Engine::block.
struct BlockRequest {
  std::string_view order;
  std::string_view product;
  std::int64_t quantity = 0;
};

/// One product of a batch for Engine::add_many: the arguments of
/// Engine::add_product.
struct NewProduct {
  std::string_view id;
  std::string_view name;
  std::int64_t on_hand = 0;
};

/// What one block of a batch gave: its deadline, or the status it failed with.
struct Blocked {
  Status status = Status::Ok;
  Deadline deadline;

  bool ok() const noexcept { return status == Status::Ok; }
};

/// One line of an order as the engine keeps it: one per product, summed.
struct OrderLine {
  std::string product;
  std::int64_t quantity = 0;

  friend bool operator==(const OrderLine &a, const OrderLine &b) {
    return a.product == b.product && a.quantity == b.quantity;
  }
};

/// Where an order stands, what it holds (sorted by product id) and its deadline.
struct OrderStatus {
  OrderState state = OrderState::Held;
  std::vector<OrderLine> lines;
  Deadline deadline;
};

/// Counters of what an engine did; see sk_metrics in stockkeeper.h.
using Metrics = sk_metrics;

/// How the holds on one product ended.
using Outcomes = sk_outcomes;

enum class EventKind : std::uint32_t {
  HoldEnded = SK_EVENT_KIND_HOLD_ENDED,
  SoldOut = SK_EVENT_KIND_SOLD_OUT,
};

/// Something that happened in the engine, copied out of the C event so that
/// a callback may keep it.
struct Event {
  EventKind kind = EventKind::HoldEnded;
  /// How the hold ended, for HoldEnded.
  std::optional<OrderState> state;
  /// The order, for HoldEnded; empty otherwise.
  std::string order;
  /// The product, for SoldOut; empty otherwise.
  std::string product;
  /// The ended hold's lines, for HoldEnded.
  std::vector<OrderLine> lines;
};

/// Identifies a subscription, to end it with Engine::unsubscribe.
using SubscriptionId = std::uint64_t;

/// How to set up an engine.
struct Options {
  /// Hold time of a block that gives none; must be above zero.
  std::chrono::nanoseconds hold_time;
  /// How long ended orders are remembered, so that a late confirm is told
  /// "expired" and an order id is never reused meanwhile.
  std::chrono::nanoseconds retention;
  /// The most ended orders remembered at once.
  std::uint64_t max_remembered;
  /// Run on a clock that only Engine::advance moves.
  bool manual_clock;
  /// Release expired holds on a background thread.
  bool background_release;

  /// The library's defaults: the system clock and a releaser thread.
  Options() {
    sk_options defaults;
    sk_options_default(&defaults);
    hold_time = std::chrono::nanoseconds(static_cast<std::int64_t>(defaults.hold_time_ns));
    retention = std::chrono::nanoseconds(static_cast<std::int64_t>(defaults.retention_ns));
    max_remembered = defaults.max_remembered;
    manual_clock = defaults.manual_clock;
    background_release = defaults.background_release;
  }

  /// The defaults on the manual clock with no thread, for deterministic tests.
  static Options manual() {
    Options options;
    options.manual_clock = true;
    options.background_release = false;
    return options;
  }
};

namespace detail {

inline void check(sk_status status, std::string_view operation) {
  if (status != SK_STATUS_OK) {
    throw Error(static_cast<Status>(status), operation);
  }
}

// A default-constructed string_view has no data pointer, which C reads as a
// missing argument; an empty string is what the caller meant.
inline const std::uint8_t *bytes(std::string_view text) noexcept {
  return reinterpret_cast<const std::uint8_t *>(text.data() != nullptr ? text.data() : "");
}

inline std::string text(const std::uint8_t *data, std::size_t len) {
  return data == nullptr ? std::string() : std::string(reinterpret_cast<const char *>(data), len);
}

// The C ABI takes unsigned nanoseconds; a negative duration is refused here
// rather than wrapped into a huge one.
inline std::uint64_t nanos(std::chrono::nanoseconds duration, std::string_view operation) {
  if (duration.count() < 0) {
    throw Error(Status::InvalidDuration, operation);
  }
  return static_cast<std::uint64_t>(duration.count());
}

inline Deadline deadline(const sk_deadline &raw) {
  return Deadline{raw.since_start_ns, raw.wall_unix_ns};
}

inline Stock stock(const sk_stock &raw) { return Stock{raw.on_hand, raw.reserved, raw.available}; }

using Callback = std::function<void(const Event &)>;

// The callbacks of an engine's subscriptions. They live as long as the
// engine, so that unsubscribe may be called from inside the very callback
// it ends.
struct Subscriptions {
  std::mutex lock;
  std::vector<std::unique_ptr<Callback>> callbacks;
};

inline Event copy_event(const sk_event &raw) {
  Event event;
  event.kind = static_cast<EventKind>(raw.kind);
  if (raw.kind == SK_EVENT_KIND_HOLD_ENDED) {
    event.state = static_cast<OrderState>(raw.state);
  }
  event.order = text(raw.order, raw.order_len);
  event.product = text(raw.product, raw.product_len);
  event.lines.reserve(raw.line_count);
  for (std::size_t i = 0; i < raw.line_count; i++) {
    event.lines.push_back(
        OrderLine{text(raw.lines[i].product, raw.lines[i].product_len), raw.lines[i].quantity});
  }
  return event;
}

// Runs on the engine's notifier thread. Nothing may unwind into C, so an
// exception from the callback (or from copying the event) is dropped: a
// failing subscriber must not take the engine or the process down.
inline void deliver(const sk_event *raw, void *user_data) noexcept {
  try {
    (*static_cast<Callback *>(user_data))(copy_event(*raw));
  } catch (...) {
  }
}

}  // namespace detail

/// An inventory reservation engine. See the top of this file.
class Engine {
 public:
  /// An engine with the library's defaults (system clock, releaser thread).
  Engine() : Engine(Options()) {}

  /// Throws Error(InvalidDuration) for a zero or negative hold time, and
  /// Error(Closed) when the operating system refuses the releaser's thread.
  explicit Engine(const Options &options) : subscriptions_(new detail::Subscriptions) {
    if (options.hold_time.count() <= 0) {
      throw Error(Status::InvalidDuration, "sk_engine_new");
    }
    sk_options raw;
    sk_options_default(&raw);
    raw.hold_time_ns = detail::nanos(options.hold_time, "sk_engine_new");
    raw.retention_ns = detail::nanos(options.retention, "sk_engine_new");
    raw.max_remembered = options.max_remembered;
    raw.manual_clock = options.manual_clock;
    raw.background_release = options.background_release;
    detail::check(sk_engine_new(&raw, &engine_), "sk_engine_new");
  }

  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  /// Takes over the other engine; the moved-from Engine holds none, and every
  /// call on it throws Error(NullArgument).
  Engine(Engine &&other) noexcept
      : engine_(std::exchange(other.engine_, nullptr)),
        subscriptions_(std::move(other.subscriptions_)) {}

  Engine &operator=(Engine &&other) noexcept {
    if (this != &other) {
      sk_engine_free(engine_);
      engine_ = std::exchange(other.engine_, nullptr);
      subscriptions_ = std::move(other.subscriptions_);
    }
    return *this;
  }

  /// Closes and frees the engine: joins its threads, after which no callback runs.
  ~Engine() { sk_engine_free(engine_); }

  /// The C handle, for calls this wrapper does not cover. Owned by the Engine.
  sk_engine *handle() const noexcept { return engine_; }

  /// Stops the engine: every later call throws Error(Closed). Closing twice is fine.
  void close() { detail::check(sk_engine_close(engine_), "sk_engine_close"); }

  /// Starts the background releaser if it is not running (nothing on the manual clock).
  /// Throws Error(Closed) on a closed engine, and also when the operating
  /// system refuses the thread: the engine stays open then.
  void start_releaser() {
    detail::check(sk_engine_start_releaser(engine_), "sk_engine_start_releaser");
  }

  /// Releases every hold whose deadline has passed; returns how many.
  std::uint64_t release_expired() {
    std::uint64_t released = 0;
    detail::check(sk_engine_release_expired(engine_, &released), "sk_engine_release_expired");
    return released;
  }

  /// Moves the manual clock forward and releases what fell due; returns how
  /// many holds it released. Throws Error(ClockNotManual) on the system clock.
  std::uint64_t advance(std::chrono::nanoseconds by) {
    std::uint64_t released = 0;
    detail::check(
        sk_engine_advance(engine_, duration_ns(by, true, "sk_engine_advance"), &released),
        "sk_engine_advance");
    return released;
  }

  /// The engine's time: nanoseconds since it started.
  std::uint64_t now_ns() const {
    std::uint64_t now = 0;
    detail::check(sk_engine_now(engine_, &now), "sk_engine_now");
    return now;
  }

  /// Adds a product with `on_hand` units (0 to INT64_MAX).
  void add_product(std::string_view id, std::string_view name, std::int64_t on_hand) {
    detail::check(sk_product_add(engine_, detail::bytes(id), id.size(), detail::bytes(name),
                                 name.size(), on_hand),
                  "sk_product_add");
  }

  /// Adds every product in turn, exactly as add_product would, and returns
  /// the status each gave instead of throwing it: a product refused (its id
  /// taken, by an earlier product of the batch too) leaves the others alone.
  /// One call into the library for the whole batch, which it reads ahead:
  /// for a catalogue load. Answers a closed engine as block_many does.
  std::vector<Status> add_many(const std::vector<NewProduct> &products) {
    std::vector<sk_product_request> raw;
    raw.reserve(products.size());
    for (const NewProduct &product : products) {
      raw.push_back(sk_product_request{detail::bytes(product.id), product.id.size(),
                                       detail::bytes(product.name), product.name.size(),
                                       product.on_hand});
    }
    std::vector<sk_status> statuses(products.size(), SK_STATUS_CLOSED);
    sk_status status = sk_product_add_many(engine_, raw.data(), raw.size(), statuses.data());
    return batch_statuses(status, statuses, "sk_product_add_many");
  }

  /// The units a new order can still hold.
  std::int64_t available(std::string_view id) const {
    std::int64_t available = 0;
    detail::check(sk_product_available(engine_, detail::bytes(id), id.size(), &available),
                  "sk_product_available");
    return available;
  }

  /// on_hand, reserved and available, read together.
  Stock stock(std::string_view id) const {
    sk_stock raw;
    detail::check(sk_product_stock(engine_, detail::bytes(id), id.size(), &raw),
                  "sk_product_stock");
    return detail::stock(raw);
  }

  /// Restocks (delta > 0) or corrects (delta < 0); returns the stock after.
  /// A correction may not take available below zero (InsufficientStock).
  Stock update(std::string_view id, std::int64_t delta) {
    sk_stock raw;
    detail::check(sk_product_update(engine_, detail::bytes(id), id.size(), delta, &raw),
                  "sk_product_update");
    return detail::stock(raw);
  }

  /// Holds `quantity` units of one product for `order`, for `hold_time` or the
  /// engine's default. A zero or negative hold time throws InvalidDuration.
  Deadline block(std::string_view order, std::string_view product, std::int64_t quantity,
                 std::optional<std::chrono::nanoseconds> hold_time = std::nullopt) {
    sk_deadline raw;
    detail::check(
        sk_order_block(engine_, detail::bytes(order), order.size(), detail::bytes(product),
                       product.size(), quantity, hold_ns(hold_time, "sk_order_block"), &raw),
        "sk_order_block");
    return detail::deadline(raw);
  }

  /// Holds every line for `order`, or none; lines naming one product are
  /// summed. When a line is at fault, the Error's line() says which.
  Deadline block_lines(std::string_view order, const std::vector<Line> &lines,
                       std::optional<std::chrono::nanoseconds> hold_time = std::nullopt) {
    std::vector<sk_line> raw_lines;
    raw_lines.reserve(lines.size());
    for (const Line &line : lines) {
      raw_lines.push_back(sk_line{detail::bytes(line.product), line.product.size(), line.quantity});
    }
    sk_deadline raw;
    std::size_t failed_line = SIZE_MAX;
    // An empty vector may have no storage: C reads (NULL, 0) as no lines.
    sk_status status = sk_order_block_lines(
        engine_, detail::bytes(order), order.size(), raw_lines.data(), raw_lines.size(),
        hold_ns(hold_time, "sk_order_block_lines"), &raw, &failed_line);
    if (status != SK_STATUS_OK) {
      std::optional<std::size_t> line;
      if (failed_line != SIZE_MAX) {
        line = failed_line;
      }
      throw Error(static_cast<Status>(status), "sk_order_block_lines", line);
    }
    return detail::deadline(raw);
  }

  /// Runs every request in turn, exactly as block would, and returns what
  /// each gave instead of throwing it: a request that fails leaves the others
  /// alone. A zero or negative hold time refuses every request as block
  /// would, with Status::InvalidDuration, each counted. One call into the
  /// library for the whole batch, which it reads ahead. Throws only what
  /// stops a batch whole: Error with Status::Closed on an engine closed
  /// before the batch, Status::NullArgument on a moved-from Engine. One
  /// closed while it runs gives Status::Closed for every request from the
  /// close on, those before it having taken effect.
  std::vector<Blocked> block_many(
      const std::vector<BlockRequest> &requests,
      std::optional<std::chrono::nanoseconds> hold_time = std::nullopt) {
    std::vector<sk_status> statuses(requests.size(), SK_STATUS_CLOSED);
    std::vector<sk_deadline> deadlines(requests.size());
    sk_status status;
    if (hold_time && hold_time->count() <= 0 && !requests.empty()) {
      // C cannot carry such a hold time: each request is refused through
      // the library, which answers closed, or NULL_ARGUMENT when moved from.
      for (sk_status &each : statuses) {
        each = sk_engine_refuse(engine_, SK_STATUS_INVALID_DURATION);
      }
      status = statuses.front() == SK_STATUS_NULL_ARGUMENT ? SK_STATUS_NULL_ARGUMENT
               : statuses.back() == SK_STATUS_CLOSED      ? SK_STATUS_CLOSED
                                                          : SK_STATUS_OK;
    } else {
      std::vector<sk_block_request> raw;
      raw.reserve(requests.size());
      for (const BlockRequest &request : requests) {
        raw.push_back(sk_block_request{detail::bytes(request.order), request.order.size(),
                                       detail::bytes(request.product), request.product.size(),
                                       request.quantity});
      }
      // Positive, or none (the default); an empty batch refuses no hold time.
      std::uint64_t hold = hold_time && hold_time->count() > 0
                               ? static_cast<std::uint64_t>(hold_time->count())
                               : 0;
      status = sk_order_block_many(engine_, raw.data(), raw.size(), hold, statuses.data(),
                                   deadlines.data());
    }
    batch_check(status, statuses, "sk_order_block_many");
    std::vector<Blocked> blocked(requests.size());
    for (std::size_t i = 0; i < requests.size(); i++) {
      blocked[i].status = static_cast<Status>(statuses[i]);
      if (statuses[i] == SK_STATUS_OK) {
        blocked[i].deadline = detail::deadline(deadlines[i]);
      }
    }
    return blocked;
  }

  /// Confirms every order in turn, exactly as confirm would, and returns the
  /// status each gave instead of throwing it. Answers a closed engine as
  /// block_many does.
  std::vector<Status> confirm_many(const std::vector<std::string_view> &orders) {
    std::vector<sk_text> raw;
    raw.reserve(orders.size());
    for (std::string_view order : orders) {
      raw.push_back(sk_text{detail::bytes(order), order.size()});
    }
    std::vector<sk_status> statuses(orders.size(), SK_STATUS_CLOSED);
    sk_status status = sk_order_confirm_many(engine_, raw.data(), raw.size(), statuses.data());
    return batch_statuses(status, statuses, "sk_order_confirm_many");
  }

  /// Confirms a held order; throws Expired once its deadline has passed.
  void confirm(std::string_view order) {
    detail::check(sk_order_confirm(engine_, detail::bytes(order), order.size()),
                  "sk_order_confirm");
  }

  /// Cancels a held order: its units go back to available.
  void cancel(std::string_view order) {
    detail::check(sk_order_cancel(engine_, detail::bytes(order), order.size()), "sk_order_cancel");
  }

  /// Moves a live hold's deadline `by` later; returns the new deadline.
  /// A zero or negative `by` throws InvalidDuration, after a fault of the
  /// order id, as Python and Go judge an extension.
  Deadline extend(std::string_view order, std::chrono::nanoseconds by) {
    sk_deadline raw;
    // A negative extension goes to the library as zero, which it refuses
    // (and counts) once the order id has passed.
    const auto ns = static_cast<std::uint64_t>(std::max(by.count(), std::int64_t{0}));
    detail::check(sk_order_extend(engine_, detail::bytes(order), order.size(), ns, &raw),
                  "sk_order_extend");
    return detail::deadline(raw);
  }

  /// Where an order stands, its lines and its deadline, all as they stood at
  /// one moment.
  OrderStatus status(std::string_view order) const {
    sk_order_info info;
    // Room for most orders at once; a larger one is read again with the
    // room it asks for (the id may have been taken by another order since,
    // which may ask again).
    std::vector<sk_line_view> views(4);
    std::vector<std::uint8_t> ids(128);
    for (;;) {
      std::size_t count = 0;
      std::size_t ids_len = 0;
      sk_status read = sk_order_read(engine_, detail::bytes(order), order.size(), &info,
                                     views.data(), views.size(), ids.data(), ids.size(), &count,
                                     &ids_len);
      if (read == SK_STATUS_BUFFER_TOO_SMALL) {
        views.resize(std::max(count, views.size()));
        ids.resize(std::max(ids_len, ids.size()));
        continue;
      }
      detail::check(read, "sk_order_read");
      OrderStatus status;
      status.state = static_cast<OrderState>(info.state);
      status.deadline = detail::deadline(info.deadline);
      status.lines.reserve(count);
      for (std::size_t i = 0; i < count; i++) {
        const sk_line_view &line = views[i];
        status.lines.push_back(
            OrderLine{detail::text(ids.data() + line.product_offset, line.product_len),
                      line.quantity});
      }
      return status;
    }
  }

  /// A snapshot of the engine's counters.
  Metrics metrics() const {
    Metrics metrics;
    detail::check(sk_engine_metrics(engine_, &metrics), "sk_engine_metrics");
    return metrics;
  }

  /// How the holds on a product ended.
  Outcomes outcomes(std::string_view product) const {
    Outcomes outcomes;
    detail::check(sk_product_outcomes(engine_, detail::bytes(product), product.size(), &outcomes),
                  "sk_product_outcomes");
    return outcomes;
  }

  /// The counters in the Prometheus text format, with the outcomes of the
  /// products named. Throws UnknownProduct if one is unknown.
  std::string metrics_text(const std::vector<std::string_view> &products = {}) const {
    std::vector<sk_text> ids;
    ids.reserve(products.size());
    for (std::string_view product : products) {
      ids.push_back(sk_text{detail::bytes(product), product.size()});
    }
    std::string text(4096, '\0');
    // The text may grow between two calls, so retry until it fits.
    for (;;) {
      std::size_t len = 0;
      sk_status status =
          sk_engine_metrics_text(engine_, ids.empty() ? nullptr : ids.data(), ids.size(),
                                 reinterpret_cast<std::uint8_t *>(&text[0]), text.size(), &len);
      if (status == SK_STATUS_BUFFER_TOO_SMALL) {
        text.resize(len);
        continue;
      }
      detail::check(status, "sk_engine_metrics_text");
      text.resize(len);
      return text;
    }
  }

  /// Calls `callback` with every event from now on, on the engine's notifier
  /// thread, never while the engine holds a lock. The callback may call back
  /// into the engine, but must not destroy the Engine or move from it: its
  /// callbacks are destroyed with it, the running one included. Closing or
  /// flushing another Engine from it waits for that Engine's notifier: if
  /// that Engine's callbacks may close or flush this one, the two wait for
  /// each other for ever. An exception
  /// it throws is dropped. The callback is kept until the Engine is destroyed.
  /// Throws Error(Closed) on a closed engine, and also when the operating
  /// system refuses the notifier thread that the first subscription starts:
  /// the engine stays open then.
  SubscriptionId subscribe(std::function<void(const Event &)> callback) {
    if (engine_ == nullptr) {
      throw Error(Status::NullArgument, "sk_engine_subscribe");
    }
    if (!callback) {
      throw Error(Status::NullArgument, "sk_engine_subscribe");
    }
    auto owned = std::make_unique<detail::Callback>(std::move(callback));
    SubscriptionId id = 0;
    std::lock_guard<std::mutex> guard(subscriptions_->lock);
    // Its place is made first: once C holds the callback, keeping it must
    // not throw.
    auto &callbacks = subscriptions_->callbacks;
    callbacks.push_back(nullptr);
    sk_status status = sk_engine_subscribe(engine_, detail::deliver, owned.get(), &id);
    if (status != SK_STATUS_OK) {
      callbacks.pop_back();
      detail::check(status, "sk_engine_subscribe");
    }
    callbacks.back() = std::move(owned);
    return id;
  }

  /// Ends a subscription: once it returns no delivery to its callback
  /// begins, not even of an event queued before. One already under way (the
  /// callback may not have been entered yet) goes on: call flush_events
  /// (from outside the callbacks) before destroying what the callback uses.
  /// From inside a callback of this engine, once it returns the callback is
  /// never called again. Unknown ids are ignored. On a closed engine it
  /// still ends the subscription, then throws Error with Status::Closed:
  /// flush_events (which also throws, once it has waited) is still needed.
  void unsubscribe(SubscriptionId id) {
    detail::check(sk_engine_unsubscribe(engine_, id), "sk_engine_unsubscribe");
  }

  /// Waits until every event published before the call reached its callbacks.
  /// On a closed engine it waits all the same, for what the close may still
  /// be delivering, then throws Error with Status::Closed.
  void flush_events() { detail::check(sk_engine_flush_events(engine_), "sk_engine_flush_events"); }

 private:
  // A batch throws only what stopped it whole: an engine closed before any
  // request ran (the statuses, set to closed beforehand, all stay so), a
  // moved-from Engine, a failure inside the library. An engine closed while
  // it ran leaves each request's status to say so.
  static void batch_check(sk_status status, const std::vector<sk_status> &statuses,
                          std::string_view operation) {
    bool some_ran = std::any_of(statuses.begin(), statuses.end(),
                                [](sk_status each) { return each != SK_STATUS_CLOSED; });
    if (status != SK_STATUS_OK && !(status == SK_STATUS_CLOSED && some_ran)) {
      detail::check(status, operation);
    }
  }

  // The statuses of a batch that answers each request with a status alone,
  // once batch_check has passed its return.
  static std::vector<Status> batch_statuses(sk_status status,
                                            const std::vector<sk_status> &statuses,
                                            std::string_view operation) {
    batch_check(status, statuses, operation);
    std::vector<Status> each(statuses.size());
    std::transform(statuses.begin(), statuses.end(), each.begin(),
                   [](sk_status one) { return static_cast<Status>(one); });
    return each;
  }

  // Zero means "the engine's default" to C; an explicit zero is refused instead.
  std::uint64_t hold_ns(std::optional<std::chrono::nanoseconds> hold_time,
                        std::string_view operation) const {
    return hold_time ? duration_ns(*hold_time, false, operation) : 0;
  }

  // C takes durations as unsigned nanoseconds. One it cannot be given (a
  // negative one, or a zero where C reads zero as a default) is refused
  // through the library, which counts the refusal as it counts its own and
  // answers Closed, or NullArgument on a moved-from Engine, before it.
  std::uint64_t duration_ns(std::chrono::nanoseconds duration, bool zero_allowed,
                            std::string_view operation) const {
    if (duration.count() > 0 || (zero_allowed && duration.count() == 0)) {
      return static_cast<std::uint64_t>(duration.count());
    }
    detail::check(sk_engine_refuse(engine_, SK_STATUS_INVALID_DURATION), operation);
    // sk_engine_refuse never answers OK.
    throw Error(Status::Internal, operation);
  }

  sk_engine *engine_ = nullptr;
  std::unique_ptr<detail::Subscriptions> subscriptions_;
};

}  // namespace stockkeeper

#endif  // STOCKKEEPER_HPP
