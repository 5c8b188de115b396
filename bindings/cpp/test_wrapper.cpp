// Tests of stockkeeper.hpp: every method, the status each refusal throws,
// move semantics, and the manual clock. Closes with "N passed, M failed";
// exits non-zero on any failure.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <new>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "stockkeeper.hpp"

using namespace std::chrono_literals;
using stockkeeper::Engine;
using stockkeeper::Error;
using stockkeeper::Options;
using stockkeeper::OrderState;
using stockkeeper::Status;
using stockkeeper::Stock;

// Allocations through operator new this thread may still make before the
// next one is refused with bad_alloc; negative refuses none.
thread_local long allocations_left = -1;

// Kept out of line, so that the compiler never sees free() meet memory
// that came from operator new.
__attribute__((noinline)) void *operator new(std::size_t size) {
  if (allocations_left == 0) {
    allocations_left = -1;
    throw std::bad_alloc();
  }
  if (allocations_left > 0) {
    allocations_left--;
  }
  void *memory = std::malloc(size == 0 ? 1 : size);
  if (memory == nullptr) {
    throw std::bad_alloc();
  }
  return memory;
}

__attribute__((noinline)) void operator delete(void *memory) noexcept { std::free(memory); }

__attribute__((noinline)) void operator delete(void *memory, std::size_t) noexcept {
  std::free(memory);
}

namespace {

int passed = 0;
int failed = 0;
const char *current_test = "";

void check(bool ok, const char *what, const char *file, int line) {
  if (ok) {
    passed++;
    return;
  }
  failed++;
  std::fprintf(stderr, "%s:%d: [%s] check failed: %s\n", file, line, current_test, what);
}

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)

// Runs `call` and checks that it throws an Error with status `want`.
template <typename Call>
void check_throws(Call &&call, Status want, const char *what, const char *file, int line) {
  try {
    call();
  } catch (const Error &error) {
    if (error.code() == want) {
      passed++;
      return;
    }
    failed++;
    std::fprintf(stderr, "%s:%d: [%s] %s\n    expected %s, threw %s\n", file, line, current_test,
                 what, stockkeeper::status_name(want), error.what());
    return;
  }
  failed++;
  std::fprintf(stderr, "%s:%d: [%s] %s\n    expected %s, nothing thrown\n", file, line,
               current_test, what, stockkeeper::status_name(want));
}

#define CHECK_THROWS(expr, want) \
  check_throws([&] { (void)(expr); }, (want), #expr, __FILE__, __LINE__)

// Runs `call` and checks that it does not throw.
template <typename Call>
void check_ok(Call &&call, const char *what, const char *file, int line) {
  try {
    call();
    passed++;
  } catch (const std::exception &error) {
    failed++;
    std::fprintf(stderr, "%s:%d: [%s] %s\n    threw %s\n", file, line, current_test, what,
                 error.what());
  }
}

#define CHECK_OK(expr) check_ok([&] { (void)(expr); }, #expr, __FILE__, __LINE__)

bool same_stock(const Stock &stock, std::int64_t on_hand, std::int64_t reserved,
                std::int64_t available) {
  return stock == Stock{on_hand, reserved, available};
}

// ---- Types and texts ---------------------------------------------------

static_assert(!std::is_copy_constructible_v<Engine>, "an engine has one owner");
static_assert(!std::is_copy_assignable_v<Engine>, "an engine has one owner");
static_assert(std::is_nothrow_move_constructible_v<Engine>, "moving never throws");
static_assert(std::is_nothrow_move_assignable_v<Engine>, "moving never throws");
static_assert(std::is_base_of_v<std::runtime_error, Error>, "errors are runtime errors");

void test_version_and_texts() {
  CHECK(std::strcmp(stockkeeper::version(), STOCKKEEPER_VERSION) == 0);
  CHECK(std::strcmp(stockkeeper::status_name(Status::InsufficientStock), "insufficient_stock") ==
        0);
  CHECK(std::strcmp(stockkeeper::status_name(Status::Ok), "ok") == 0);
  CHECK(std::strlen(stockkeeper::status_message(Status::Expired)) > 0);
  CHECK(static_cast<std::uint32_t>(Status::Closed) == SK_STATUS_CLOSED);
}

void test_options() {
  Options defaults;
  CHECK(defaults.hold_time == 300s);
  CHECK(defaults.retention == 1h);
  CHECK(defaults.max_remembered == SK_DEFAULT_MAX_REMEMBERED);
  CHECK(!defaults.manual_clock);
  CHECK(defaults.background_release);

  Options manual = Options::manual();
  CHECK(manual.manual_clock);
  CHECK(!manual.background_release);
  CHECK(manual.hold_time == 300s);

  Options bad = Options::manual();
  bad.hold_time = 0s;
  CHECK_THROWS(Engine(bad), Status::InvalidDuration);
  bad.hold_time = -1s;
  CHECK_THROWS(Engine(bad), Status::InvalidDuration);
}

// ---- Errors ------------------------------------------------------------

void test_error() {
  Engine engine(Options::manual());
  engine.add_product("kettle", "Kettle", 5);
  try {
    engine.add_product("kettle", "Again", 1);
    CHECK(false);
  } catch (const std::runtime_error &caught) {
    // Catchable as a plain runtime_error, with the name and the call in what().
    const auto *error = dynamic_cast<const Error *>(&caught);
    CHECK(error != nullptr);
    CHECK(error != nullptr && error->code() == Status::ProductExists);
    CHECK(error != nullptr && std::strcmp(error->name(), "product_exists") == 0);
    CHECK(error != nullptr && !error->line().has_value());
    std::string what = caught.what();
    CHECK(what.find("product_exists") != std::string::npos);
    CHECK(what.find("sk_product_add") != std::string::npos);
  }
}

// ---- Products ----------------------------------------------------------

void test_products() {
  Engine engine(Options::manual());
  CHECK_OK(engine.add_product("kettle", "Kettle", 10));
  CHECK(engine.available("kettle") == 10);
  CHECK(same_stock(engine.stock("kettle"), 10, 0, 10));

  CHECK_THROWS(engine.add_product("kettle", "Again", 1), Status::ProductExists);
  CHECK_THROWS(engine.add_product("", "Empty", 1), Status::EmptyId);
  CHECK_THROWS(engine.add_product(std::string_view(), "Empty", 1), Status::EmptyId);
  CHECK_THROWS(engine.add_product(std::string(257, 'a'), "Long", 1), Status::IdTooLong);
  CHECK_THROWS(engine.add_product(std::string_view("a\0b", 3), "Nul", 1), Status::IdContainsNul);
  CHECK_THROWS(engine.add_product("\xff", "Bad", 1), Status::InvalidUtf8);
  CHECK_THROWS(engine.add_product("x", std::string(1025, 'n'), 1), Status::InvalidName);
  CHECK_THROWS(engine.add_product("x", "X", -1), Status::InvalidQuantity);
  CHECK_THROWS(engine.available("nothing"), Status::UnknownProduct);
  CHECK_THROWS(engine.stock("nothing"), Status::UnknownProduct);
  CHECK_OK(engine.add_product(std::string(256, 'a'), "Longest", 1));
  CHECK_OK(engine.add_product("max", "Max", INT64_MAX));

  CHECK(same_stock(engine.update("kettle", 5), 15, 0, 15));
  CHECK(same_stock(engine.update("kettle", -3), 12, 0, 12));
  CHECK_THROWS(engine.update("kettle", 0), Status::InvalidQuantity);
  CHECK_THROWS(engine.update("kettle", -13), Status::InsufficientStock);
  CHECK_THROWS(engine.update("max", 1), Status::Overflow);
  CHECK_THROWS(engine.update("nothing", 1), Status::UnknownProduct);
  CHECK(same_stock(engine.stock("kettle"), 12, 0, 12));
}

// ---- Orders ------------------------------------------------------------

void test_orders() {
  Engine engine(Options::manual());
  engine.add_product("kettle", "Kettle", 10);
  engine.add_product("cup", "Cup", 10);

  stockkeeper::Deadline deadline = engine.block("o1", "kettle", 2);
  CHECK(deadline.since_start_ns == 300'000'000'000u);
  CHECK(deadline.wall() > std::chrono::system_clock::time_point());
  CHECK(engine.block("o2", "kettle", 1, 10s).since_start_ns == 10'000'000'000u);
  CHECK(same_stock(engine.stock("kettle"), 10, 3, 7));

  CHECK_THROWS(engine.block("o1", "kettle", 1), Status::DuplicateOrder);
  CHECK_THROWS(engine.block("o3", "kettle", 0), Status::InvalidQuantity);
  CHECK_THROWS(engine.block("o3", "kettle", 8), Status::InsufficientStock);
  CHECK_THROWS(engine.block("o3", "nothing", 1), Status::UnknownProduct);
  CHECK_THROWS(engine.block("", "kettle", 1), Status::EmptyId);
  // Zero would mean "the default" to C; the wrapper refuses it as other doors do.
  CHECK_THROWS(engine.block("o3", "kettle", 1, 0s), Status::InvalidDuration);
  CHECK_THROWS(engine.block("o3", "kettle", 1, -5s), Status::InvalidDuration);
  CHECK(same_stock(engine.stock("kettle"), 10, 3, 7));

  // Multi-line: summed per product, all or nothing, the line at fault reported.
  CHECK_OK(engine.block_lines("o4", {{"kettle", 1}, {"cup", 2}, {"kettle", 2}}));
  CHECK(same_stock(engine.stock("kettle"), 10, 6, 4));
  CHECK(same_stock(engine.stock("cup"), 10, 2, 8));
  try {
    engine.block_lines("o5", {{"cup", 1}, {"kettle", 5}});
    CHECK(false);
  } catch (const Error &error) {
    CHECK(error.code() == Status::InsufficientStock);
    CHECK(error.line() == std::optional<std::size_t>(1));
    CHECK(std::string(error.what()).find("line 1") != std::string::npos);
  }
  try {
    engine.block_lines("o5", {{"cup", 0}});
    CHECK(false);
  } catch (const Error &error) {
    CHECK(error.code() == Status::InvalidQuantity);
    CHECK(error.line() == std::optional<std::size_t>(0));
  }
  try {
    engine.block_lines("o4", {{"cup", 1}});
    CHECK(false);
  } catch (const Error &error) {
    CHECK(error.code() == Status::DuplicateOrder);
    CHECK(!error.line().has_value());
  }
  CHECK_THROWS(engine.block_lines("o5", {}), Status::InvalidQuantity);
  CHECK_THROWS(engine.block_lines("o5", {{"cup", 1}}, 0ns), Status::InvalidDuration);
  CHECK(engine.block_lines("o5", {{"cup", 1}}, 1ms).since_start_ns == 1'000'000u);
  CHECK(same_stock(engine.stock("cup"), 10, 3, 7));

  stockkeeper::OrderStatus status = engine.status("o4");
  CHECK(status.state == OrderState::Held);
  CHECK(status.deadline.since_start_ns == 300'000'000'000u);
  CHECK(status.lines.size() == 2);
  if (status.lines.size() == 2) {
    CHECK((status.lines[0] == stockkeeper::OrderLine{"cup", 2}));
    CHECK((status.lines[1] == stockkeeper::OrderLine{"kettle", 3}));
  }
  CHECK_THROWS(engine.status("nobody"), Status::UnknownOrder);

  CHECK_OK(engine.confirm("o1"));
  CHECK_OK(engine.cancel("o4"));
  CHECK(same_stock(engine.stock("kettle"), 8, 1, 7));
  CHECK_THROWS(engine.confirm("o1"), Status::AlreadyConfirmed);
  CHECK_THROWS(engine.cancel("o1"), Status::AlreadyConfirmed);
  CHECK_THROWS(engine.confirm("o4"), Status::AlreadyCancelled);
  CHECK_THROWS(engine.confirm("nobody"), Status::UnknownOrder);
  CHECK_THROWS(engine.cancel("nobody"), Status::UnknownOrder);
  CHECK(engine.status("o1").state == OrderState::Confirmed);
  CHECK(engine.status("o4").state == OrderState::Cancelled);

  CHECK(engine.extend("o2", 5s).since_start_ns == 15'000'000'000u);
  CHECK_THROWS(engine.extend("o2", 0s), Status::InvalidDuration);
  CHECK_THROWS(engine.extend("o2", -1s), Status::InvalidDuration);
  CHECK_THROWS(engine.extend("o1", 5s), Status::AlreadyConfirmed);
  CHECK_THROWS(engine.extend("nobody", 5s), Status::UnknownOrder);
}

// ---- Clock -------------------------------------------------------------

// An order larger than the room status() tries first: six lines whose ids
// take 1,200 bytes come back whole, in product id order.
void test_large_order_status() {
  Engine engine(Options::manual());
  std::vector<stockkeeper::OrderLine> lines;
  for (char letter : std::string("fedcba")) {
    std::string id(200, letter);
    engine.add_product(id, "Long", 10);
    lines.push_back(stockkeeper::OrderLine{id, letter - 'a' + 1});
  }
  std::vector<stockkeeper::Line> order;
  for (const stockkeeper::OrderLine &line : lines) {
    order.push_back({line.product, line.quantity});
  }
  CHECK_OK(engine.block_lines("big", order));
  std::reverse(lines.begin(), lines.end());
  CHECK((engine.status("big").lines == lines));
}

void test_manual_clock() {
  Engine engine(Options::manual());
  engine.add_product("kettle", "Kettle", 5);
  CHECK(engine.now_ns() == 0);
  stockkeeper::Deadline deadline = engine.block("o1", "kettle", 2);
  engine.block("o2", "kettle", 3);

  // Confirm at the deadline succeeds; one nanosecond later it is refused.
  CHECK(engine.advance(std::chrono::nanoseconds(deadline.since_start_ns)) == 0);
  CHECK(engine.now_ns() == deadline.since_start_ns);
  CHECK_OK(engine.confirm("o1"));
  CHECK(engine.advance(1ns) == 1);
  CHECK_THROWS(engine.confirm("o2"), Status::Expired);
  CHECK_THROWS(engine.cancel("o2"), Status::Expired);
  CHECK_THROWS(engine.extend("o2", 1s), Status::Expired);
  CHECK(engine.status("o2").state == OrderState::Expired);
  CHECK(same_stock(engine.stock("kettle"), 3, 0, 3));
  CHECK(engine.release_expired() == 0);
  CHECK_OK(engine.start_releaser());
  CHECK_THROWS(engine.advance(-1ns), Status::InvalidDuration);
}

void test_system_clock() {
  Options options;
  options.background_release = false;
  Engine engine(options);
  engine.add_product("kettle", "Kettle", 5);
  CHECK_THROWS(engine.advance(1s), Status::ClockNotManual);
  engine.block("o1", "kettle", 5, 1us);
  std::this_thread::sleep_for(2ms);
  // No release pass has run, yet the deadline holds.
  CHECK_THROWS(engine.confirm("o1"), Status::Expired);
  CHECK(engine.available("kettle") == 5);
  CHECK(engine.release_expired() == 0);
  CHECK(engine.now_ns() > 0);

  // With the releaser running, the stock comes back on its own.
  CHECK_OK(engine.start_releaser());
  engine.block("o2", "kettle", 5, 1ms);
  for (int waited = 0; waited < 3000 && engine.available("kettle") != 5; waited++) {
    std::this_thread::sleep_for(1ms);
  }
  CHECK(engine.available("kettle") == 5);
}

// ---- Ownership ---------------------------------------------------------

void test_move() {
  Engine first(Options::manual());
  first.add_product("kettle", "Kettle", 5);
  sk_engine *handle = first.handle();
  CHECK(handle != nullptr);

  Engine second(std::move(first));
  CHECK(second.handle() == handle);
  CHECK(first.handle() == nullptr);
  CHECK(second.available("kettle") == 5);
  CHECK_THROWS(first.available("kettle"), Status::NullArgument);
  CHECK_THROWS(first.add_product("cup", "Cup", 1), Status::NullArgument);
  CHECK_THROWS(first.subscribe([](const stockkeeper::Event &) {}), Status::NullArgument);

  // Assigning over a live engine frees that one; assigning into a moved-from one revives it.
  Engine third(Options::manual());
  third = std::move(second);
  CHECK(third.handle() == handle);
  CHECK(third.available("kettle") == 5);
  first = std::move(third);
  CHECK(first.available("kettle") == 5);
  CHECK(third.handle() == nullptr);

  Engine &alias = first;
  first = std::move(alias);
  CHECK(first.handle() == handle);

  std::vector<Engine> engines;
  engines.emplace_back(Options::manual());
  engines.emplace_back(Options::manual());
  engines.emplace_back(std::move(first));
  CHECK(engines[2].available("kettle") == 5);
}

void test_close() {
  Engine engine(Options::manual());
  engine.add_product("kettle", "Kettle", 5);
  engine.block("o1", "kettle", 1);
  CHECK_OK(engine.close());
  CHECK_OK(engine.close());
  CHECK_THROWS(engine.available("kettle"), Status::Closed);
  CHECK_THROWS(engine.stock("kettle"), Status::Closed);
  CHECK_THROWS(engine.add_product("cup", "Cup", 1), Status::Closed);
  CHECK_THROWS(engine.update("kettle", 1), Status::Closed);
  CHECK_THROWS(engine.block("o2", "kettle", 1), Status::Closed);
  CHECK_THROWS(engine.block_lines("o2", {{"kettle", 1}}), Status::Closed);
  CHECK_THROWS(engine.confirm("o1"), Status::Closed);
  CHECK_THROWS(engine.cancel("o1"), Status::Closed);
  CHECK_THROWS(engine.extend("o1", 1s), Status::Closed);
  CHECK_THROWS(engine.status("o1"), Status::Closed);
  CHECK_THROWS(engine.advance(1s), Status::Closed);
  CHECK_THROWS(engine.release_expired(), Status::Closed);
  CHECK_THROWS(engine.start_releaser(), Status::Closed);
  CHECK_THROWS(engine.now_ns(), Status::Closed);
  CHECK_THROWS(engine.metrics(), Status::Closed);
  CHECK_THROWS(engine.outcomes("kettle"), Status::Closed);
  CHECK_THROWS(engine.metrics_text(), Status::Closed);
  CHECK_THROWS(engine.subscribe([](const stockkeeper::Event &) {}), Status::Closed);
  CHECK_THROWS(engine.unsubscribe(1), Status::Closed);
  CHECK_THROWS(engine.flush_events(), Status::Closed);
}

// ---- Metrics and events ------------------------------------------------

void test_metrics() {
  Engine engine(Options::manual());
  engine.add_product("kettle", "Kettle", 10);
  engine.add_product("cup", "Cup", 10);
  engine.block("o1", "kettle", 2);
  engine.confirm("o1");
  engine.block("o2", "kettle", 1);
  engine.cancel("o2");
  engine.block("o3", "kettle", 1, 1s);
  engine.advance(2s);
  engine.block("o4", "cup", 4);
  CHECK_THROWS(engine.block("o5", "kettle", 100), Status::InsufficientStock);

  stockkeeper::Metrics metrics = engine.metrics();
  CHECK(metrics.held == 4);
  CHECK(metrics.confirmed == 1 && metrics.cancelled == 1 && metrics.expired == 1);
  CHECK(metrics.refused_stock == 1);
  CHECK(metrics.live_holds == 1 && metrics.held_units == 4);

  stockkeeper::Outcomes outcomes = engine.outcomes("kettle");
  CHECK(outcomes.confirmed == 1 && outcomes.cancelled == 1 && outcomes.expired == 1);
  CHECK_THROWS(engine.outcomes("nothing"), Status::UnknownProduct);

  std::string text = engine.metrics_text({"kettle", "cup"});
  CHECK(text.find("stockkeeper_live_holds 1\n") != std::string::npos);
  CHECK(text.find("product=\"cup\"") != std::string::npos);
  CHECK(!text.empty() && text.back() == '\n');
  CHECK(engine.metrics_text().find("product=") == std::string::npos);
  CHECK_THROWS(engine.metrics_text({"nothing"}), Status::UnknownProduct);

  // Enough products that the text outgrows the first buffer the wrapper tries.
  std::vector<std::string> ids;
  for (int i = 0; i < 100; i++) {
    ids.push_back("product-" + std::to_string(i));
    engine.add_product(ids.back(), "P", 1);
  }
  std::vector<std::string_view> views(ids.begin(), ids.end());
  std::string long_text = engine.metrics_text(views);
  CHECK(long_text.size() > 4096);
  CHECK(long_text.find("product=\"product-99\",outcome=\"expired\"} 0\n") != std::string::npos);
}

// Collects events from the notifier thread.
struct Collector {
  std::mutex lock;
  std::vector<stockkeeper::Event> events;
  std::thread::id thread;

  void operator()(const stockkeeper::Event &event) {
    std::lock_guard<std::mutex> guard(lock);
    events.push_back(event);
    thread = std::this_thread::get_id();
  }

  std::size_t size() {
    std::lock_guard<std::mutex> guard(lock);
    return events.size();
  }
};

void test_events() {
  Engine engine(Options::manual());
  engine.add_product("kettle", "Kettle", 3);
  engine.add_product("cup", "Cup", 10);

  Collector collector;
  std::atomic<int> thrown{0};
  stockkeeper::SubscriptionId id =
      engine.subscribe([&collector](const stockkeeper::Event &event) { collector(event); });
  // A subscriber that throws must not take the engine down, nor keep others from their events.
  engine.subscribe([&thrown](const stockkeeper::Event &) {
    thrown++;
    throw std::runtime_error("subscriber failed");
  });
  CHECK_THROWS(engine.subscribe(nullptr), Status::NullArgument);

  engine.block_lines("o1", {{"kettle", 3}, {"cup", 1}});
  engine.confirm("o1");
  engine.block("o2", "cup", 2);
  engine.advance(301s);
  CHECK_OK(engine.flush_events());

  CHECK(collector.size() == 3);
  CHECK(thrown.load() == 3);
  if (collector.size() == 3) {
    const stockkeeper::Event &sold_out = collector.events[0];
    CHECK(sold_out.kind == stockkeeper::EventKind::SoldOut);
    CHECK(sold_out.product == "kettle" && sold_out.order.empty() && !sold_out.state);

    const stockkeeper::Event &confirmed = collector.events[1];
    CHECK(confirmed.kind == stockkeeper::EventKind::HoldEnded);
    CHECK(confirmed.state == OrderState::Confirmed);
    CHECK(confirmed.order == "o1");
    CHECK(confirmed.lines.size() == 2);
    if (confirmed.lines.size() == 2) {
      CHECK((confirmed.lines[0] == stockkeeper::OrderLine{"cup", 1}));
      CHECK((confirmed.lines[1] == stockkeeper::OrderLine{"kettle", 3}));
    }
    CHECK(collector.events[2].state == OrderState::Expired);
    CHECK(collector.events[2].order == "o2");
  }
  CHECK(collector.thread != std::this_thread::get_id());

  CHECK_OK(engine.unsubscribe(id));
  CHECK_OK(engine.unsubscribe(id));
  engine.block("o3", "cup", 1);
  engine.cancel("o3");
  CHECK_OK(engine.flush_events());
  CHECK(collector.size() == 3);
  CHECK(thrown.load() == 4);
}

// A subscribe that runs out of memory leaves nothing subscribed: the engine
// never calls a callback the wrapper could not keep.
void test_subscribe_out_of_memory() {
  Engine engine(Options::manual());
  engine.add_product("kettle", "Kettle", 5);
  std::atomic<int> calls{0};
  int refused = 0;
  for (long allowed = 0; allowed < 16; allowed++) {
    std::function<void(const stockkeeper::Event &)> callback =
        [&calls](const stockkeeper::Event &) { calls++; };
    allocations_left = allowed;
    try {
      engine.subscribe(std::move(callback));
      allocations_left = -1;
      break;
    } catch (const std::bad_alloc &) {
      allocations_left = -1;
      refused++;
    }
  }
  // Both allocations of a subscribe were refused once: the callback's and
  // the room to keep it.
  CHECK(refused >= 2);
  engine.block("o1", "kettle", 1);
  engine.cancel("o1");
  CHECK_OK(engine.flush_events());
  CHECK(calls.load() == 1);
}

// A duration C cannot be given is refused through the library: counted as
// its own refusals are, and after a closed or moved-from engine's status.
void test_refused_durations() {
  Engine engine(Options::manual());
  engine.add_product("kettle", "Kettle", 5);
  engine.block("o1", "kettle", 1);
  std::uint64_t before = engine.metrics().refused_invalid;
  CHECK_THROWS(engine.advance(-1ns), Status::InvalidDuration);
  CHECK_THROWS(engine.extend("o1", -1s), Status::InvalidDuration);
  CHECK_THROWS(engine.block("o2", "kettle", 1, 0s), Status::InvalidDuration);
  CHECK_THROWS(engine.block_lines("o2", {{"kettle", 1}}, -1s), Status::InvalidDuration);
  CHECK(engine.metrics().refused_invalid == before + 4);
  CHECK(same_stock(engine.stock("kettle"), 5, 1, 4));
  CHECK(engine.now_ns() == 0);

  Engine moved = std::move(engine);
  CHECK_THROWS(engine.advance(-1ns), Status::NullArgument);
  CHECK_THROWS(engine.block("o2", "kettle", 1, 0s), Status::NullArgument);
  CHECK_OK(moved.close());
  CHECK_THROWS(moved.advance(-1ns), Status::Closed);
  CHECK_THROWS(moved.extend("o1", -1s), Status::Closed);
  CHECK_THROWS(moved.block("o2", "kettle", 1, 0s), Status::Closed);
  CHECK_THROWS(moved.block_lines("o2", {{"kettle", 1}}, 0s), Status::Closed);
}

// A bad extension is judged after the order id, as the other doors judge
// it: the id's fault comes first, and either refusal is counted once.
void test_extend_judges_the_order_id_first() {
  Engine engine(Options::manual());
  engine.add_product("kettle", "Kettle", 5);
  engine.block("o1", "kettle", 1);
  const stockkeeper::Metrics before = engine.metrics();
  CHECK_THROWS(engine.extend("", -1s), Status::EmptyId);
  CHECK_THROWS(engine.extend("\xff", -1s), Status::InvalidUtf8);
  CHECK_THROWS(engine.extend("nobody", -1s), Status::InvalidDuration);
  CHECK_THROWS(engine.extend("o1", 0s), Status::InvalidDuration);
  CHECK(engine.metrics().refused_invalid == before.refused_invalid + 4);
  CHECK(engine.metrics().refused_unknown == before.refused_unknown);
  CHECK(engine.status("o1").deadline.since_start_ns == 300'000'000'000u);
}

// One engine, many threads: the wrapper adds no state that races.
void test_threads() {
  Engine engine(Options::manual());
  engine.add_product("hot", "Hot", 50);
  std::atomic<int> confirmed{0};
  std::atomic<int> unexpected{0};
  std::atomic<int> events{0};
  engine.subscribe([&events](const stockkeeper::Event &event) {
    if (event.kind == stockkeeper::EventKind::HoldEnded) {
      events++;
    }
  });

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; i++) {
        std::string order = "t" + std::to_string(t) + "-" + std::to_string(i);
        try {
          engine.block(order, "hot", 1);
          if (i % 2 == 0) {
            engine.confirm(order);
            confirmed++;
          } else {
            engine.cancel(order);
          }
        } catch (const Error &error) {
          if (error.code() != Status::InsufficientStock) {
            unexpected++;
          }
        }
      }
    });
  }
  for (std::thread &thread : threads) {
    thread.join();
  }
  CHECK(unexpected.load() == 0);
  Stock stock = engine.stock("hot");
  CHECK(same_stock(stock, 50 - confirmed.load(), 0, 50 - confirmed.load()));
  engine.flush_events();
  CHECK(static_cast<std::uint64_t>(events.load()) == engine.metrics().held);
}

void test_batches() {
  Engine single(Options::manual()), batch(Options::manual());
  for (Engine *engine : {&single, &batch}) {
    engine->add_product("kettle", "Kettle", 10);
  }
  std::vector<std::string> orders;
  for (int i = 0; i < 30; i++) {
    orders.push_back("o" + std::to_string(i % 25));
  }
  std::vector<stockkeeper::BlockRequest> requests;
  for (std::size_t i = 0; i < orders.size(); i++) {
    requests.push_back({orders[i], i % 6 == 5 ? "nothing" : "kettle", 1 + std::int64_t(i % 2)});
  }
  requests[3].quantity = 0;
  requests[4].order = "";
  std::vector<stockkeeper::Blocked> blocked = batch.block_many(requests, 60s);
  CHECK(blocked.size() == requests.size());
  int held = 0;
  for (std::size_t i = 0; i < requests.size(); i++) {
    const stockkeeper::BlockRequest &r = requests[i];
    try {
      stockkeeper::Deadline deadline = single.block(r.order, r.product, r.quantity, 60s);
      CHECK(blocked[i].ok() && blocked[i].deadline.since_start_ns == deadline.since_start_ns);
      held++;
    } catch (const Error &error) {
      CHECK(blocked[i].status == error.code());
    }
  }
  CHECK(held > 3 && blocked[3].status == Status::InvalidQuantity);
  CHECK(blocked[4].status == Status::EmptyId && blocked[5].status == Status::UnknownProduct);
  CHECK(batch.stock("kettle") == single.stock("kettle"));

  std::vector<std::string_view> confirms = {"o0", "o0", "o3", "", "o1", "never"};
  std::vector<Status> confirmed = batch.confirm_many(confirms);
  for (std::size_t i = 0; i < confirms.size(); i++) {
    try {
      single.confirm(confirms[i]);
      CHECK(confirmed[i] == Status::Ok);
    } catch (const Error &error) {
      CHECK(confirmed[i] == error.code());
    }
  }
  CHECK(confirmed[0] == Status::Ok && confirmed[1] == Status::AlreadyConfirmed);
  stockkeeper::Metrics batch_metrics = batch.metrics(), single_metrics = single.metrics();
  CHECK(std::memcmp(&batch_metrics, &single_metrics, sizeof batch_metrics) == 0);
  CHECK(batch.block_many({}).empty() && batch.confirm_many({}).empty());

  // Products: each answered as add_product answers it, ids the batch took
  // included.
  std::vector<stockkeeper::NewProduct> products = {
      {"mug", "Mug", 3},   {"kettle", "Taken", 1}, {"", "Nameless", 1},
      {"jug", "Jug", -1},  {"mug", "Again", 1},    {std::string_view("a\0b", 3), "Nul", 1},
      {"bowl", "", 0},
  };
  std::vector<Status> added = batch.add_many(products);
  CHECK(added.size() == products.size());
  for (std::size_t i = 0; i < products.size(); i++) {
    try {
      single.add_product(products[i].id, products[i].name, products[i].on_hand);
      CHECK(added[i] == Status::Ok);
    } catch (const Error &error) {
      CHECK(added[i] == error.code());
    }
  }
  CHECK(added[0] == Status::Ok && added[4] == Status::ProductExists);
  CHECK(added[3] == Status::InvalidQuantity && added[5] == Status::IdContainsNul);
  CHECK(added[6] == Status::Ok);
  batch_metrics = batch.metrics();
  single_metrics = single.metrics();
  CHECK(std::memcmp(&batch_metrics, &single_metrics, sizeof batch_metrics) == 0);
  CHECK(batch.stock("mug") == single.stock("mug") && batch.available("bowl") == 0);
  CHECK(batch.add_many({}).empty());

  // A bad hold time refuses each request, counted as a single block's is.
  std::uint64_t refused_before = batch.metrics().refused_invalid;
  for (auto hold : {-1s, 0s}) {
    std::vector<stockkeeper::Blocked> refused = batch.block_many(requests, hold);
    CHECK(refused.size() == requests.size());
    CHECK(std::all_of(refused.begin(), refused.end(), [](const stockkeeper::Blocked &each) {
      return each.status == Status::InvalidDuration;
    }));
  }
  CHECK(batch.block_many({}, -1s).empty());
  CHECK(batch.metrics().refused_invalid == refused_before + 2 * requests.size());

  batch.close();
  CHECK_THROWS(batch.add_many(products), Status::Closed);
  CHECK_THROWS(batch.block_many(requests), Status::Closed);
  CHECK_THROWS(batch.block_many(requests, -1s), Status::Closed);
  CHECK_THROWS(batch.block_many({}), Status::Closed);
  CHECK_THROWS(batch.block_many({}, -1s), Status::Closed);
  CHECK_THROWS(batch.confirm_many(confirms), Status::Closed);
  Engine moved = std::move(single);
  CHECK_THROWS(single.block_many(requests), Status::NullArgument);
  CHECK_THROWS(single.block_many(requests, -1s), Status::NullArgument);
  CHECK_THROWS(single.add_many(products), Status::NullArgument);
}

}  // namespace

int main() {
  struct {
    const char *name;
    void (*run)();
  } const tests[] = {
      {"version_and_texts", test_version_and_texts},
      {"options", test_options},
      {"error", test_error},
      {"products", test_products},
      {"orders", test_orders},
      {"large_order_status", test_large_order_status},
      {"manual_clock", test_manual_clock},
      {"system_clock", test_system_clock},
      {"move", test_move},
      {"close", test_close},
      {"metrics", test_metrics},
      {"events", test_events},
      {"threads", test_threads},
      {"subscribe_out_of_memory", test_subscribe_out_of_memory},
      {"refused_durations", test_refused_durations},
      {"extend_judges_the_order_id_first", test_extend_judges_the_order_id_first},
      {"batches", test_batches},
  };
  for (const auto &test : tests) {
    current_test = test.name;
    int failed_before = failed;
    try {
      test.run();
    } catch (const std::exception &error) {
      // A throw nobody expected ends that test, not the run.
      failed++;
      std::fprintf(stderr, "[%s] unexpected exception: %s\n", test.name, error.what());
    }
    std::printf("%-24s %s\n", test.name, failed == failed_before ? "ok" : "FAILED");
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
