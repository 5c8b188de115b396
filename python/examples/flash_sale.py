"""A flash sale on stockkeeper: a large catalogue, a handful of hot products
with little stock, and many buyers at once.

Buyers hold stock, then pay at once, fail to pay (the order is cancelled),
walk away (the hold expires), or pay late (before or after their hold ran
out). The engine runs on its manual clock, which a clock thread moves
forward in step with the buyers' progress, so half an hour of sale takes a
few seconds. A subscriber hears how every hold ended. At the end the script
checks the contract's invariants, and that the engine's metrics and the
events heard agree with what the buyers saw, and exits with status 1 if any
of that failed.

    python examples/flash_sale.py [--products N] [--buyers N] [--attempts N] ...
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Callable

import stockkeeper

HOT_STOCK = (50, 120, 200, 350, 500)
SHOWN_FAILURES = 20

# Records a failure when its condition is false.
Check = Callable[[bool, str], None]


@dataclass
class Sale:
    """The sale's setup, and the late payments waiting for their time."""

    engine: stockkeeper.Engine
    hot: dict[str, int]
    cold_count: int
    attempts: int
    seconds: float
    hold_time: float
    seed: int
    restock: tuple[str, int]
    # (when the payment comes through, order), a heap.
    payments: list[tuple[float, str]] = field(default_factory=list)
    payments_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Tally:
    """What one buyer did and saw; merged once every buyer has finished."""

    tried: int = 0
    refused_for_stock: int = 0
    calls: int = 0
    held: dict[str, tuple[str, int]] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    walked_away: set[str] = field(default_factory=set)
    paid_late: set[str] = field(default_factory=set)
    too_late: set[str] = field(default_factory=set)
    released_by_clock: int = 0
    restocked: Counter[str] = field(default_factory=Counter)


@dataclass
class Feed:
    """What a subscriber heard: how each hold ended and what it held, and
    the products that sold out. Filled on the engine's notifier thread, one
    event at a time; read once the events were flushed."""

    ended: dict[str, tuple[str, list[tuple[str, int]]]] = field(default_factory=dict)
    ended_again: list[str] = field(default_factory=list)
    sold_out: Counter[str] = field(default_factory=Counter)

    def __call__(self, event: stockkeeper.Event) -> None:
        if isinstance(event, stockkeeper.HoldEnded):
            if event.order_id in self.ended:
                self.ended_again.append(event.order_id)
            self.ended[event.order_id] = (event.state, event.lines)
        else:
            self.sold_out[event.product_id] += 1


def cold_id(index: int) -> str:
    return f"sku-{index:07d}"


def cold_stock(index: int) -> int:
    """A cold product's starting stock, computed rather than stored."""
    return index % 40 + 1


def catalogue(cold_count: int, hot: dict[str, int]) -> Iterator[tuple[str, str, int]]:
    for product, count in hot.items():
        yield product, f"Hot item {product}", count
    for index in range(cold_count):
        yield cold_id(index), f"Catalogue item {index}", cold_stock(index)


def guarded(work: Callable[..., None], failures: list[str]) -> Callable[..., None]:
    """Runs a thread's work, recording an exception as a failure of the run
    rather than losing it in the thread."""

    def run(*args: object) -> None:
        try:
            work(*args)
        except Exception as error:  # noqa: BLE001 - reported, and fails the run
            failures.append(f"{work.__name__} raised {error!r}")

    return run


def pay(sale: Sale, tally: Tally, order: str) -> None:
    """A confirm that may come too late: then the engine says Expired."""
    tally.calls += 1
    try:
        sale.engine.confirm(order)
    except stockkeeper.Expired:
        tally.too_late.add(order)
        return
    tally.confirmed.add(order)


def buyer(
    sale: Sale, index: int, start: threading.Barrier, tally: Tally, progress: list[int]
) -> None:
    chance = random.Random(sale.seed * 1000 + index)
    start.wait()
    for attempt in range(sale.attempts):
        progress[index] = attempt
        if index == 0 and attempt == sale.attempts // 2:
            restock(sale, tally)
        order = f"b{index}-{attempt}"
        if hold(sale, chance, tally, order):
            settle(sale, chance, tally, order)
    progress[index] = sale.attempts


def restock(sale: Sale, tally: Tally) -> None:
    """The warehouse finds more units of a hot product in mid-sale."""
    product, units = sale.restock
    sale.engine.update_inventory(product, units)
    tally.restocked[product] += units
    tally.calls += 1


def hold(sale: Sale, chance: random.Random, tally: Tally, order: str) -> bool:
    """Tries to hold a hot product (mostly) or a catalogue one; False when
    there is not enough stock left."""
    if chance.random() < 0.85:
        product, quantity = chance.choice(tuple(sale.hot)), chance.randint(1, 2)
    else:
        product, quantity = cold_id(chance.randrange(sale.cold_count)), chance.randint(1, 3)
    tally.tried += 1
    tally.calls += 1
    try:
        sale.engine.block(product, quantity, order)
    except stockkeeper.InsufficientStock:
        tally.refused_for_stock += 1
        return False
    tally.held[order] = (product, quantity)
    return True


def settle(sale: Sale, chance: random.Random, tally: Tally, order: str) -> None:
    """What a buyer does with a hold: pays now, fails to pay (cancels),
    walks away, or pays after a delay that may outlast the hold."""
    fate = chance.random()
    if fate < 0.55:
        pay(sale, tally, order)
    elif fate < 0.70:
        tally.calls += 1
        try:
            sale.engine.cancel(order)
        except stockkeeper.Expired:
            # This buyer's thread was kept waiting long enough for the clock
            # to pass the deadline: the hold ran out first.
            tally.too_late.add(order)
            return
        tally.cancelled.add(order)
    elif fate < 0.85:
        tally.walked_away.add(order)
    else:
        delay = chance.uniform(0.2, 1.6) * sale.hold_time
        with sale.payments_lock:
            heapq.heappush(sale.payments, (sale.engine.now() + delay, order))
        tally.paid_late.add(order)


def move_clock(sale: Sale, tally: Tally, until: float) -> None:
    """Moves the clock to `until`, stopping at each late payment on the way
    to make it at its own moment."""
    engine = sale.engine
    while True:
        with sale.payments_lock:
            due = sale.payments[0][0] if sale.payments else None
            if due is None or due > until:
                break
            _, order = heapq.heappop(sale.payments)
        if due > engine.now():
            tally.released_by_clock += engine.advance(due - engine.now())
            tally.calls += 1
        pay(sale, tally, order)
    if until > engine.now():
        tally.released_by_clock += engine.advance(until - engine.now())
        tally.calls += 1


def run_clock(sale: Sale, tally: Tally, progress: list[int], rush_over: threading.Event) -> None:
    """Keeps the sale's clock in step with the buyers: when a share of the
    attempts is done, the same share of the sale's time has passed. After
    the rush the late payers still pay, then every unpaid hold runs out."""
    total = sale.attempts * len(progress)
    while not rush_over.is_set():
        move_clock(sale, tally, sale.seconds * sum(progress) / total)
        time.sleep(0.0005)
    move_clock(sale, tally, sale.seconds)
    with sale.payments_lock:
        last = max((due for due, _ in sale.payments), default=0.0)
    move_clock(sale, tally, max(last, sale.engine.now()) + sale.hold_time + 1)


def watch(sale: Sale, stop: threading.Event, seen: list[int], failures: list[str]) -> None:
    """Reads the hot products' stock throughout the sale, as a dashboard
    would, a millisecond apart, and records any moment the invariants did
    not hold. A thread that read without pause would be busy as a loop of
    arithmetic is: the engine's calls keep the GIL, so the other threads
    would get it only as the interpreter hands it round (every 5 ms)."""
    while not stop.wait(0.001):
        for product in sale.hot:
            stock = sale.engine.stock(product)
            seen[0] += 1
            if not 0 <= stock.reserved <= stock.on_hand:
                failures.append(f"{product} observed with {stock!r}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--products",
        type=int,
        default=1_000_000,
        help="catalogue size, hot products included (default 1,000,000)",
    )
    parser.add_argument(
        "--hot",
        type=int,
        default=len(HOT_STOCK),
        help=f"hot products, at most {len(HOT_STOCK)} (default all)",
    )
    parser.add_argument("--buyers", type=int, default=24, help="buyer threads (default 24)")
    parser.add_argument(
        "--attempts", type=int, default=10_000, help="orders each buyer tries (default 10,000)"
    )
    parser.add_argument(
        "--hold-time", type=float, default=300.0, help="seconds a hold lasts (default 300)"
    )
    parser.add_argument(
        "--minutes", type=float, default=30.0, help="simulated length of the sale (default 30)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    args = parser.parse_args()
    if not 1 <= args.hot <= len(HOT_STOCK) or args.products <= args.hot:
        parser.error(f"need 1 to {len(HOT_STOCK)} hot products and more products than hot ones")
    if args.buyers < 1 or args.attempts < 1 or args.hold_time <= 0 or args.minutes <= 0:
        parser.error("buyers, attempts, hold time and minutes must be positive")
    return args


def run_sale(sale: Sale, buyers: int) -> tuple[list[Tally], float, int, list[str]]:
    """Runs the buyers, the clock and the dashboard to the end of the sale.
    Returns the tallies (the clock's last), the seconds it took, how many
    stock samples the dashboard read, and the failures met on the way."""
    tallies = [Tally() for _ in range(buyers + 1)]
    progress = [0] * buyers
    start = threading.Barrier(buyers + 1)
    rush_over = threading.Event()
    stop_watching = threading.Event()
    seen = [0]
    failures: list[str] = []
    shoppers = [
        threading.Thread(
            target=guarded(buyer, failures), args=(sale, i, start, tallies[i], progress)
        )
        for i in range(buyers)
    ]
    clock = threading.Thread(
        target=guarded(run_clock, failures), args=(sale, tallies[-1], progress, rush_over)
    )
    dashboard = threading.Thread(
        target=guarded(watch, failures), args=(sale, stop_watching, seen, failures)
    )
    for thread in [*shoppers, clock, dashboard]:
        thread.start()
    started = time.perf_counter()
    start.wait()
    for thread in shoppers:
        thread.join()
    rush_over.set()
    clock.join()
    seconds = time.perf_counter() - started
    stop_watching.set()
    dashboard.join()
    return tallies, seconds, seen[0], failures


@dataclass
class Totals:
    """Every tally merged, and what the engine says became of each hold."""

    tallies: list[Tally]
    held: dict[str, tuple[str, int]] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    too_late: set[str] = field(default_factory=set)
    restocked: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    sold: Counter[str] = field(default_factory=Counter)
    # How each order ended, and each product's holds, as the engine says;
    # and the products left with nothing.
    ends: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    emptied: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for tally in self.tallies:
            self.held.update(tally.held)
            self.confirmed |= tally.confirmed
            self.cancelled |= tally.cancelled
            self.too_late |= tally.too_late
            self.restocked += tally.restocked

    def total(self, count: Callable[[Tally], int]) -> int:
        return sum(count(tally) for tally in self.tallies)

    def union(self, orders: Callable[[Tally], set[str]]) -> set[str]:
        return set().union(*(orders(tally) for tally in self.tallies))


def check_holds(engine: stockkeeper.Engine, totals: Totals, check: Check) -> None:
    """Every hold ended exactly once, as its buyer was told; counts what the
    engine says became of each and the units sold."""
    for order, (product, quantity) in totals.held.items():
        state = engine.status(order).state
        totals.states[state] += 1
        told = (
            "confirmed"
            if order in totals.confirmed
            else "cancelled"
            if order in totals.cancelled
            else "expired"
        )
        check(state == told, f"order {order} is {state}, its buyer was told {told}")
        totals.ends[order] = state
        totals.outcomes.setdefault(product, Counter())[state] += 1
        if state == "confirmed":
            totals.sold[product] += quantity
    check(not totals.confirmed & totals.cancelled, "an order was confirmed and cancelled")
    check(not totals.confirmed & totals.too_late, "an order was confirmed and expired")
    check(totals.states["held"] == 0, f"{totals.states['held']} holds live after the sale")
    released = totals.total(lambda tally: tally.released_by_clock)
    check(released <= totals.states["expired"], "more holds released than expired")
    tried = totals.total(lambda tally: tally.tried)
    refused = totals.total(lambda tally: tally.refused_for_stock)
    check(tried == len(totals.held) + refused, "an order was neither held nor refused")


def check_stock(sale: Sale, totals: Totals, check: Check) -> int:
    """No product sold more than it had, nothing is left reserved, and stock
    is conserved: on_hand = initial + restocked - sold. Returns how many
    products it checked."""
    touched = {product for product, _ in totals.held.values()} | set(sale.hot)
    for product in touched:
        if product in sale.hot:
            initial = sale.hot[product]
        else:
            initial = cold_stock(int(product.split("-")[1]))
        offered = initial + totals.restocked[product]
        sold = totals.sold[product]
        stock = sale.engine.stock(product)
        check(stock.reserved == 0, f"{product} still has {stock.reserved} reserved")
        check(0 <= stock.reserved <= stock.on_hand, f"{product}: {stock!r}")
        check(sold <= offered, f"{product} sold {sold} of {offered}")
        check(
            stock.on_hand == offered - sold,
            f"{product}: on_hand {stock.on_hand} != "
            f"{initial} + {totals.restocked[product]} - {sold}",
        )
        if stock.on_hand == 0:
            totals.emptied.add(product)
    return len(touched)


def check_metrics(engine: stockkeeper.Engine, totals: Totals, check: Check) -> stockkeeper.Metrics:
    """The engine's own counters agree with what the buyers saw; returns
    them for the report."""
    metrics = engine.metrics()
    expected = {
        "held": len(totals.held),
        "confirmed": totals.states["confirmed"],
        "cancelled": totals.states["cancelled"],
        "expired": totals.states["expired"],
        "refused_stock": totals.total(lambda tally: tally.refused_for_stock),
        # Every late confirm or cancel, and nothing else, met an ended hold.
        "refused_ended": len(totals.too_late),
        "refused_duplicate": 0,
        "refused_unknown": 0,
        "refused_invalid": 0,
        "live_holds": 0,
        "held_units": 0,
    }
    for name, value in expected.items():
        counted = getattr(metrics, name)
        check(counted == value, f"metrics say {name} {counted}, the buyers' tallies {value}")
    for product, ended in totals.outcomes.items():
        outcomes = engine.product_outcomes(product)
        counted = Counter(
            confirmed=outcomes.confirmed, cancelled=outcomes.cancelled, expired=outcomes.expired
        )
        check(+counted == ended, f"{product}: outcomes {outcomes!r}, the holds say {dict(ended)}")
    return metrics


def check_events(totals: Totals, feed: Feed, check: Check) -> None:
    """The subscriber heard every hold end once, as it ended and with what it
    held; and of every product left empty, a sold-out event."""
    check(not feed.ended_again, f"holds ended twice: {feed.ended_again[:5]}")
    check(feed.ended.keys() == totals.held.keys(), "the holds heard of are not the holds made")
    for order, (product, quantity) in totals.held.items():
        state, lines = feed.ended.get(order, ("unheard", []))
        ended = totals.ends[order]
        check(state == ended, f"order {order} was heard to end {state}, but it is {ended}")
        check(lines == [(product, quantity)], f"order {order} was heard to hold {lines}")
    silent = totals.emptied - feed.sold_out.keys()
    check(not silent, f"sold out without an event: {sorted(silent)[:5]}")
    touched = {product for product, _ in totals.held.values()}
    check(feed.sold_out.keys() <= touched, "a product never held was heard to sell out")


def prometheus_lines(
    engine: stockkeeper.Engine, metrics: stockkeeper.Metrics, hot: list[str], check: Check
) -> list[str]:
    """The Prometheus text for the hot products, checked against the
    snapshot; returns its lines."""
    lines = engine.metrics_text(hot).splitlines()
    for outcome in ("held", "confirmed", "cancelled", "expired"):
        line = f'stockkeeper_holds_total{{outcome="{outcome}"}} {getattr(metrics, outcome)}'
        check(line in lines, f"the Prometheus text lacks {line!r}")
    return lines


@dataclass
class Timing:
    loaded: int
    load_seconds: float
    sale_seconds: float
    samples: int


@dataclass
class Observed:
    """What the engine itself reported: its counters, the events a
    subscriber heard, and the Prometheus text."""

    metrics: stockkeeper.Metrics
    feed: Feed
    prometheus: list[str]


def report(
    sale: Sale, totals: Totals, timing: Timing, seen: Observed, products: int, failures: int
) -> None:
    metrics, held = seen.metrics, len(totals.held)
    tried = totals.total(lambda tally: tally.tried)
    calls = totals.total(lambda tally: tally.calls)
    late_in_time = totals.union(lambda tally: tally.paid_late) & totals.confirmed
    walked = totals.union(lambda tally: tally.walked_away)
    print("stockkeeper flash sale")
    print(
        f"  catalogue    {timing.loaded:,} products loaded in {timing.load_seconds:.2f} s "
        f"({timing.loaded / timing.load_seconds:,.0f} products/s)"
    )
    print(
        f"  sale         {len(totals.tallies) - 1} buyers x {sale.attempts:,} attempts, "
        f"hold time {sale.hold_time:g} s, {sale.seconds / 60:g} simulated minutes in "
        f"{timing.sale_seconds:.2f} s"
    )
    print(
        f"  orders       tried {tried:,} | held {metrics.held:,} | "
        f"refused for stock {metrics.refused_stock:,}"
    )
    print(
        f"  holds ended  confirmed {metrics.confirmed:,} "
        f"({len(late_in_time):,} of them paid late, in time) | "
        f"cancelled {metrics.cancelled:,}"
    )
    print(
        f"               expired {metrics.expired:,} (walked away {len(walked):,}, "
        f"too late to pay or cancel {metrics.refused_ended:,})"
    )
    heard = Counter(state for state, _ in seen.feed.ended.values())
    print(
        f"  events       {len(seen.feed.ended):,} holds heard ending (confirmed "
        f"{heard['confirmed']:,}, cancelled {heard['cancelled']:,}, expired "
        f"{heard['expired']:,}) | {sum(seen.feed.sold_out.values()):,} sold-out events"
    )
    print("  hot products units sold / units offered, share of ended holds confirmed")
    for product in sorted(sale.hot):
        restocked = totals.restocked[product]
        extra = f" (incl. {restocked} restocked mid-sale)" if restocked else ""
        offered = sale.hot[product] + restocked
        share = sale.engine.product_outcomes(product).confirmed_share
        shown = "-" if share is None else f"{share:.0%}"
        print(f"    {product:<10} {totals.sold[product]:>5} / {offered:<5} {shown:>4}{extra}")
    first = sorted(sale.hot)[0]
    excerpt = [line for line in seen.prometheus if f'product="{first}"' in line]
    print(
        f"  prometheus   {len(seen.prometheus)} lines for {len(sale.hot)} hot products; "
        "they count holds, not units, e.g."
    )
    for line in excerpt:
        print(f"               {line}")
    verdict = "all hold" if not failures else f"{failures} FAILED"
    print(f"  invariants   {verdict}")
    print(
        f"               0 <= reserved <= on_hand: {timing.samples:,} live samples, "
        f"then {products:,} products the sale touched, at the end"
    )
    print(
        f"               sold <= stock, on_hand == initial + restocked - sold: "
        f"{products:,} products"
    )
    print(f"               every hold ended exactly once: {held:,} holds")
    print(f"               metrics and events agree with the buyers: {held:,} holds")
    print(
        f"  throughput   {calls:,} engine calls in {timing.sale_seconds:.2f} s: "
        f"{calls / timing.sale_seconds:,.0f} calls/s"
    )


def main() -> int:
    args = parse_args()
    hot = {f"hot-{i + 1}": HOT_STOCK[i] for i in range(args.hot)}
    cold_count = args.products - len(hot)
    # Ended orders are remembered well past the sale, so that every order's
    # final state can be read back at the end.
    engine = stockkeeper.Engine(args.hold_time, manual_clock=True, retention=86_400 * 365)

    started = time.perf_counter()
    loaded = engine.add_products(catalogue(cold_count, hot))
    load_seconds = time.perf_counter() - started

    feed = Feed()
    engine.subscribe(feed)

    restock = (sorted(hot)[0], 25)
    sale = Sale(
        engine,
        hot,
        cold_count,
        args.attempts,
        args.minutes * 60,
        args.hold_time,
        args.seed,
        restock,
    )
    tallies, sale_seconds, samples, failures = run_sale(sale, args.buyers)

    def check(condition: bool, failure: str) -> None:
        if not condition:
            failures.append(failure)

    totals = Totals(tallies)
    check_holds(engine, totals, check)
    products = check_stock(sale, totals, check)
    metrics = check_metrics(engine, totals, check)
    engine.flush_events()
    check_events(totals, feed, check)
    seen = Observed(metrics, feed, prometheus_lines(engine, metrics, sorted(hot), check))
    timing = Timing(loaded, load_seconds, sale_seconds, samples)
    report(sale, totals, timing, seen, products, len(failures))
    engine.close()
    for failure in failures[:SHOWN_FAILURES]:
        print(f"INVARIANT FAILED: {failure}", file=sys.stderr)
    if len(failures) > SHOWN_FAILURES:
        print(f"... and {len(failures) - SHOWN_FAILURES} more", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
