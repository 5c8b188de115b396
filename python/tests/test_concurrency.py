"""Many threads on few hot products: the contract's invariants hold at
every moment a reader can observe, and stock is conserved at the end.

The engine runs on the manual clock, which the workers move as they go, so
holds expire (and release passes run) in the middle of the traffic without
any test sleeping."""

from __future__ import annotations

import faulthandler
import random
import threading
from collections import Counter
from dataclasses import dataclass, field

import pytest
from conftest import switch_interval

import stockkeeper
from stockkeeper import Engine

WORKERS = 12
ROUNDS = 600
HOT = {"hot-a": 40, "hot-b": 25, "hot-c": 60}


@dataclass
class Ledger:
    """What one worker saw succeed."""

    held: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    confirmed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    # Units added (restocks) less units taken off (corrections), per product.
    adjusted: Counter[str] = field(default_factory=Counter)


def worker(engine: Engine, index: int, start: threading.Barrier, ledger: Ledger) -> None:
    chance = random.Random(index)
    products = sorted(HOT)
    start.wait()
    for round_ in range(ROUNDS):
        if round_ % 4 == index % 4:
            engine.advance(0.25)
        order = f"w{index}-{round_}"
        change = chance.random()
        if change < 0.1:
            product, units = chance.choice(products), chance.randint(1, 5)
            engine.update_inventory(product, units)
            ledger.adjusted[product] += units
        elif change < 0.15:
            product, units = chance.choice(products), chance.randint(1, 3)
            try:
                engine.update_inventory(product, -units)
                ledger.adjusted[product] -= units
            except stockkeeper.InsufficientStock:
                pass
        # Multi-line orders name their products in any order, so two of them
        # can lock the same products from opposite ends.
        lines = [
            (chance.choice(products), chance.randint(1, 3))
            for _ in range(chance.choice((1, 1, 2, 3)))
        ]
        try:
            if len(lines) == 1:
                engine.block(lines[0][0], lines[0][1], order, hold_time=chance.choice((2, 5, 30)))
            else:
                engine.block_order(order, lines, hold_time=chance.choice((2, 5, 30)))
        except stockkeeper.InsufficientStock:
            continue
        ledger.held[order] = lines
        outcome = chance.random()
        try:
            if outcome < 0.45:
                engine.confirm(order)
                ledger.confirmed.append(order)
            elif outcome < 0.7:
                engine.cancel(order)
                ledger.cancelled.append(order)
        except stockkeeper.Expired:
            pass


def test_invariants_hold_under_concurrent_traffic() -> None:
    engine = Engine(manual_clock=True)
    for product, count in HOT.items():
        engine.add_product(product, product.upper(), count)
    ledgers = [Ledger() for _ in range(WORKERS)]
    start = threading.Barrier(WORKERS + 1)
    done = threading.Event()
    violations: list[str] = []

    def reader() -> None:
        start.wait()
        while not done.is_set():
            for product in HOT:
                stock = engine.stock(product)
                if not 0 <= stock.reserved <= stock.on_hand:
                    violations.append(f"{product}: {stock!r}")
                if stock.available != stock.on_hand - stock.reserved:
                    violations.append(f"{product}: {stock!r}")

    threads = [
        threading.Thread(target=worker, args=(engine, i, start, ledgers[i])) for i in range(WORKERS)
    ]
    watcher = threading.Thread(target=reader)
    for thread in threads + [watcher]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    assert violations == []

    # Every hold still live runs out now.
    engine.advance(31)
    confirmed_units: Counter[str] = Counter()
    held_orders = {order: lines for ledger in ledgers for order, lines in ledger.held.items()}
    confirmed = {order for ledger in ledgers for order in ledger.confirmed}
    cancelled = {order for ledger in ledgers for order in ledger.cancelled}
    assert not confirmed & cancelled
    for order, lines in held_orders.items():
        state = engine.status(order).state
        expected = (
            "confirmed" if order in confirmed else "cancelled" if order in cancelled else "expired"
        )
        assert state == expected, order
        if state == "confirmed":
            for product, quantity in lines:
                confirmed_units[product] += quantity

    for product, initial in HOT.items():
        stock = engine.stock(product)
        adjusted = sum(ledger.adjusted[product] for ledger in ledgers)
        assert stock.reserved == 0
        assert stock.on_hand == initial + adjusted - confirmed_units[product]
    assert sum(confirmed_units.values()) > 0
    assert len(held_orders) > len(confirmed) + len(cancelled)
    engine.close()


def test_confirm_racing_expiry_has_exactly_one_winner() -> None:
    engine = Engine(manual_clock=True, hold_time=1)
    engine.add_product("hot", "Hot", 5000)
    orders = [f"o{i}" for i in range(3000)]
    for order in orders:
        engine.block("hot", 1, order)
    start = threading.Barrier(5)
    won: list[list[str]] = [[] for _ in range(4)]

    def confirm_all(index: int) -> None:
        start.wait()
        for order in orders[index::2]:
            try:
                engine.confirm(order)
                won[index].append(order)
            except (stockkeeper.Expired, stockkeeper.AlreadyConfirmed):
                pass

    def run_out() -> None:
        start.wait()
        for _ in range(2):
            engine.advance(0.5 + 1e-9)

    threads = [threading.Thread(target=confirm_all, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=run_out))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [order for orders_won in won for order in orders_won]
    assert len(winners) == len(set(winners))
    for order in orders:
        state = engine.status(order).state
        assert state == ("confirmed" if order in set(winners) else "expired")
    stock = engine.stock("hot")
    assert (stock.on_hand, stock.reserved) == (5000 - len(winners), 0)
    engine.close()


@pytest.mark.parametrize("subscribed", [False, True])
def test_calls_that_keep_the_gil_and_batches_that_let_it_go_never_wait_on_each_other(
    capfd: pytest.CaptureFixture[str], subscribed: bool
) -> None:
    """Single-order calls keep the GIL while the batches and the clock's
    release passes let it go, all at once on the same products; then the
    same with a callback subscribed, which the notifier thread runs with the
    GIL and which calls back into the engine, while the single-order calls
    let the GIL go when it waits. Every thread finishes, and the stock adds
    up. A call that held the GIL while it waited for a thread that needs it
    would hang every thread, this one too: the watchdog then ends the run,
    with every thread's stack, instead of letting it hang."""
    engine = Engine(manual_clock=True, hold_time=2)
    # Enough that the products sell out only towards the end.
    stock = {product: count * 20 for product, count in HOT.items()}
    for product, count in stock.items():
        engine.add_product(product, product.upper(), count)
    products = sorted(HOT)
    seen: list[int] = []
    ended: list[str] = []

    def callback(event: object) -> None:
        if isinstance(event, stockkeeper.HoldEnded):
            ended.append(event.order_id)
            # A call of its own, which needs the GIL this thread waited for.
            seen.append(engine.available(event.lines[0][0]))

    if subscribed:
        engine.subscribe(callback)
    start = threading.Barrier(7)
    confirmed: list[Counter[str]] = [Counter() for _ in range(6)]
    held: list[list[str]] = [[] for _ in range(6)]

    def single(index: int) -> None:
        chance = random.Random(index)
        start.wait()
        for round_ in range(ROUNDS):
            order, product = f"s{index}-{round_}", chance.choice(products)
            try:
                engine.block(product, 1, order)
            except stockkeeper.InsufficientStock:
                continue
            held[index].append(order)
            try:
                if chance.random() < 0.5:
                    engine.confirm(order)
                    confirmed[index][product] += 1
                else:
                    engine.cancel(order)
            except stockkeeper.Expired:
                pass

    def batches(index: int) -> None:
        chance = random.Random(index)
        start.wait()
        for round_ in range(ROUNDS // 20):
            requests = [(chance.choice(products), 1, f"b{index}-{round_}-{i}") for i in range(20)]
            made = engine.block_many(requests)
            held[index].extend(order for (_, _, order), ok in zip(requests, made) if ok)
            paid = [request for request, ok in zip(requests, made) if ok][::2]
            for (product, _, _), ok in zip(paid, engine.confirm_many([o for *_, o in paid])):
                confirmed[index][product] += ok

    def clock() -> None:
        start.wait()
        for _ in range(ROUNDS // 10):
            engine.advance(0.5)

    workers = [threading.Thread(target=single, args=(i,), daemon=True) for i in range(3)]
    workers += [threading.Thread(target=batches, args=(i,), daemon=True) for i in range(3, 6)]
    workers.append(threading.Thread(target=clock, daemon=True))
    # The GIL changes hands every 100 µs rather than every 5 ms, so that the
    # threads' calls interleave however fast each one runs.
    # The watchdog writes to the terminal, not to the output pytest captures,
    # which is lost when the watchdog ends the process.
    with switch_interval(1e-4), capfd.disabled():
        faulthandler.dump_traceback_later(120, exit=True)
        try:
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(60)
            alive = [worker for worker in workers if worker.is_alive()]
            # Every hold still live runs out now, and its event is delivered.
            engine.advance(3)
            engine.flush_events()
        finally:
            faulthandler.cancel_dump_traceback_later()
    assert alive == []
    orders = [order for orders in held for order in orders]
    assert sorted(ended) == (sorted(orders) if subscribed else [])
    assert len(seen) == len(ended)
    units = sum(confirmed, Counter())
    for product, initial in stock.items():
        now = engine.stock(product)
        assert (now.on_hand, now.reserved) == (initial - units[product], 0)
    assert sum(units.values()) > 0
    engine.close()
