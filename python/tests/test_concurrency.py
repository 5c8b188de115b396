"""Many threads on few hot products: the contract's invariants hold at
every moment a reader can observe, and stock is conserved at the end.

The engine runs on the manual clock, which the workers move as they go, so
holds expire (and release passes run) in the middle of the traffic without
any test sleeping."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field

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
