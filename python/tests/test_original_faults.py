"""The earlier pure-Python service had seven faults; each test here shows
that one of them does not come back (the release fault has two: promptness
and the background thread). They drive `InventoryService`, the API that
service had, and use threads where the fault was a race."""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import Callable

import pytest

import stockkeeper
from stockkeeper import InventoryService

THREADS = 16


def run_together(count: int, work: Callable[[int], None]) -> None:
    """Runs `work(i)` on `count` threads released at the same moment, and
    re-raises the first exception any of them met."""
    start = threading.Barrier(count)
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as failure:  # noqa: BLE001 - handed to the test
            failures.append(failure)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def add_hot(service: InventoryService, index: int) -> None:
    service.addProduct("hot", f"Hot {index}", 100 + index)


def test_a_second_hold_never_overwrites_a_live_order() -> None:
    """The earlier service let a second hold replace a live one, whose stock
    then never came back."""
    service = InventoryService(manual_clock=True)
    service.addProduct("kettle", "Kettle", 10)
    assert service.blockInventory("kettle", 3, "o1")
    assert not service.blockInventory("kettle", 4, "o1")
    assert service.getInventory("kettle") == 7

    # Many threads racing for one order id: exactly one hold.
    answers: list[bool] = []
    run_together(THREADS, lambda i: answers.append(service.blockInventory("kettle", 1, "o2")))
    assert sorted(answers) == [False] * (THREADS - 1) + [True]
    assert service.getInventory("kettle") == 6

    # Every hold comes back: nothing leaked.
    assert service.engine.advance(301) == 2
    assert service.getInventory("kettle") == 10


def test_negative_counts_neither_add_stock_nor_go_below_zero() -> None:
    """The earlier service added stock for a negative hold and let a
    correction take stock below zero."""
    service = InventoryService(manual_clock=True)
    service.addProduct("kettle", "Kettle", 10)
    assert not service.blockInventory("kettle", -5, "o1")
    assert not service.blockInventory("kettle", 0, "o1")
    assert not service.blockInventory("kettle", -(2**70), "o1")
    assert service.getInventory("kettle") == 10
    assert service.getOrderStatus("o1") is None

    assert not service.updateInventory("kettle", -11)
    assert service.getInventory("kettle") == 10
    assert service.blockInventory("kettle", 4, "o2")
    assert not service.updateInventory("kettle", -7)
    assert service.updateInventory("kettle", -6)
    assert service.getInventory("kettle") == 0
    assert not service.updateInventory("kettle", -1)
    stock = service.engine.stock("kettle")
    assert (stock.on_hand, stock.reserved, stock.available) == (4, 4, 0)

    with pytest.raises(stockkeeper.InvalidInput):
        service.addProduct("minus", "Minus", -3)
    assert service.getInventory("minus") is None


def test_an_order_past_its_deadline_cannot_be_confirmed() -> None:
    """The earlier service confirmed a late order if its cleanup had not run
    yet."""
    # No releaser runs and nothing else touches the order: only confirm
    # itself can notice that the deadline passed.
    with InventoryService(hold_time=0.01) as service:
        service.addProduct("kettle", "Kettle", 5)
        assert service.blockInventory("kettle", 2, "late")
        while service.engine.now() <= 0.01:
            time.sleep(0.002)
        assert not service.confirmOrder("late")
        assert service.getOrderStatus("late") == "expired"
        assert service.getInventory("kettle") == 5
        assert service.engine.stock("kettle").on_hand == 5

    # On the manual clock: at the deadline it succeeds, a nanosecond later not.
    service = InventoryService(manual_clock=True)
    service.addProduct("kettle", "Kettle", 5)
    assert service.blockInventory("kettle", 1, "on-time")
    assert service.blockInventory("kettle", 1, "too-late")
    service.engine.advance(300)
    assert service.confirmOrder("on-time")
    service.engine.advance(1e-9)
    assert not service.confirmOrder("too-late")
    assert service.getInventory("kettle") == 4


def test_concurrent_adds_of_one_product_keep_exactly_one() -> None:
    """The earlier service checked, then set, without a lock: two threads
    could both add a product, one losing its lock object."""
    for _ in range(20):
        service = InventoryService(manual_clock=True)
        run_together(THREADS, partial(add_hot, service))
        count = service.getInventory("hot")
        assert count is not None and 100 <= count < 100 + THREADS
        winner = count - 100
        assert service.engine.product_name("hot") == f"Hot {winner}"

    # The product that stayed serves concurrent holds correctly.
    service = InventoryService(manual_clock=True)
    run_together(THREADS, lambda i: service.addProduct("hot", "Hot", 8))
    answers: list[bool] = []
    run_together(THREADS, lambda i: answers.append(service.blockInventory("hot", 1, f"o{i}")))
    assert answers.count(True) == 8
    assert service.getInventory("hot") == 0

    # Through the engine: every loser is told the product exists.
    engine = stockkeeper.Engine(manual_clock=True)
    refusals: list[str] = []

    def add(i: int) -> None:
        try:
            engine.add_product("hot", f"Hot {i}", 1)
        except stockkeeper.ProductExists as refusal:
            refusals.append(refusal.code)

    run_together(THREADS, add)
    assert refusals == ["product_exists"] * (THREADS - 1)


def test_orders_race_safely_with_confirms_and_release() -> None:
    """The earlier service changed its orders from several threads without a
    lock and read them outside it."""
    service = InventoryService(manual_clock=True, hold_time=5)
    engine = service.engine
    service.addProduct("hot", "Hot", 10_000)
    orders = [f"o{i}" for i in range(2000)]
    for order in orders[:1000]:
        assert service.blockInventory("hot", 1, order)
    confirmed: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        # Half the threads hold the second half of the orders while the
        # others confirm every order (several at once), and one thread keeps
        # running release passes.
        if index == 0:
            for _ in range(200):
                engine.release_expired()
            return
        if index % 2:
            for order in orders[1000 + index :: THREADS]:
                service.blockInventory("hot", 1, order)
        for order in orders[index % 7 :: 3]:
            if service.confirmOrder(order):
                with lock:
                    confirmed.append(order)

    run_together(THREADS, work)
    assert len(confirmed) == len(set(confirmed)), "an order was confirmed twice"
    engine.advance(6)
    assert engine.release_expired() == 0
    stock = engine.stock("hot")
    assert stock.reserved == 0
    assert stock.on_hand == 10_000 - len(confirmed)
    for order in confirmed:
        assert service.getOrderStatus(order) == "confirmed"


def test_release_is_prompt_and_touches_only_what_expired() -> None:
    """The earlier service scanned every live order each second, and stock
    came back up to a second late."""
    service = InventoryService(manual_clock=True)
    engine = service.engine
    service.addProduct("hot", "Hot", 60_000)
    # Many live holds far from their deadline, and one about to run out.
    for i in range(50_000):
        engine.block("hot", 1, f"live-{i}", hold_time=3600)
    engine.block("hot", 5, "due", hold_time=10)
    assert engine.advance(10) == 0
    assert service.getInventory("hot") == 60_000 - 50_005
    # One nanosecond past the deadline the units are back, not a second on.
    assert engine.advance(1e-9) == 1
    assert service.getInventory("hot") == 60_000 - 50_000
    assert engine.release_expired() == 0
    assert service.getOrderStatus("live-0") == "held"


def test_the_background_releaser_brings_stock_back_on_its_own() -> None:
    """Release needs no caller: the releaser thread does it."""
    with InventoryService(hold_time=0.05) as service:
        service.addProduct("hot", "Hot", 3)
        service.start_cleanup()
        service.start_cleanup()
        assert service.blockInventory("hot", 3, "o1")
        # Nobody calls into the order: the releaser alone must bring the
        # stock back. The bound only keeps a broken build from hanging.
        give_up = time.monotonic() + 10
        while service.getInventory("hot") != 3 and time.monotonic() < give_up:
            time.sleep(0.005)
        assert service.getInventory("hot") == 3
        assert service.engine.stock("hot").reserved == 0
        assert service.getOrderStatus("o1") == "expired"


def test_orders_can_be_cancelled_and_their_state_read() -> None:
    """The earlier service could neither cancel a hold nor say where an order
    stood."""
    service = InventoryService(manual_clock=True)
    service.addProduct("kettle", "Kettle", 5)
    assert service.getOrderStatus("o1") is None
    assert service.blockInventory("kettle", 2, "o1")
    assert service.getOrderStatus("o1") == "held"
    assert service.cancelOrder("o1")
    assert service.getOrderStatus("o1") == "cancelled"
    assert service.getInventory("kettle") == 5
    assert not service.cancelOrder("o1")
    assert not service.confirmOrder("o1")
    assert not service.cancelOrder("ghost")

    assert service.blockInventory("kettle", 1, "o2")
    assert service.confirmOrder("o2")
    assert service.getOrderStatus("o2") == "confirmed"
    assert not service.cancelOrder("o2")
    assert service.blockInventory("kettle", 1, "o3")
    service.engine.advance(301)
    assert service.getOrderStatus("o3") == "expired"
    assert not service.cancelOrder("o3")
