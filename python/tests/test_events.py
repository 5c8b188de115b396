"""Notifications: callbacks learn how each hold ended, and when a product
sold out, on the engine's notifier thread. A failing or slow callback never
harms the engine or the other subscribers, and no wait for the notifier
thread (flush, close, an engine dropped unclosed, the end of the program)
can deadlock with a callback that needs the GIL.

Every wait here is bounded, so a regression fails instead of hanging, and
no test measures time."""

from __future__ import annotations

import copy
import ctypes
import gc
import itertools
import logging
import pickle
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from conftest import switch_interval

import stockkeeper
from stockkeeper import Engine, Event, HoldEnded, SoldOut

WAIT = 30.0


def finish(work: Callable[[], object]) -> None:
    """Runs `work` on a thread of its own and fails unless it returns in
    time: a deadlock shows up as a failure rather than a hung run."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            failures.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), f"{work} did not return: deadlocked"
    if failures:
        raise failures[0]


def until(condition: Callable[[], bool]) -> bool:
    """Whether `condition` came true within the bounded wait."""
    pause = threading.Event()
    for _ in range(int(WAIT * 1000)):
        if condition():
            return True
        pause.wait(0.001)
    return condition()


def test_events_arrive_in_the_order_things_happened(kettle: Engine) -> None:
    kettle.add_product("mug", "Mug", 5)
    events: list[Event] = []
    kettle.subscribe(events.append)

    kettle.block("kettle", 4, "paid")
    kettle.block("kettle", 6, "failed")
    kettle.confirm("paid")
    kettle.cancel("failed")
    kettle.block_order("late", [("mug", 2), ("kettle", 1), ("mug", 3)], hold_time=10)
    kettle.advance(11)
    kettle.update_inventory("kettle", -6)
    kettle.flush_events()

    assert events == [
        SoldOut("kettle"),
        HoldEnded("paid", "confirmed", [("kettle", 4)]),
        HoldEnded("failed", "cancelled", [("kettle", 6)]),
        SoldOut("mug"),
        HoldEnded("late", "expired", [("kettle", 1), ("mug", 5)]),
        SoldOut("kettle"),
    ]


def test_a_late_confirm_reports_the_expiry_it_causes(kettle: Engine) -> None:
    events: list[Event] = []
    kettle.subscribe(events.append)
    kettle.block("kettle", 1, "late", hold_time=1)
    kettle.advance(1.5)
    kettle.release_expired()
    with pytest.raises(stockkeeper.Expired):
        kettle.confirm("late")
    kettle.flush_events()
    assert events == [HoldEnded("late", "expired", [("kettle", 1)])]


def events_of_a_hold(kettle: Engine, end: Callable[[str], object]) -> list[Event]:
    """What a subscriber hears of a hold of every kettle that `end` ends."""
    events: list[Event] = []
    kettle.subscribe(events.append)
    kettle.block("kettle", 10, "o1")
    end("o1")
    kettle.flush_events()
    return events


def test_events_are_frozen_values(kettle: Engine) -> None:
    sold_out, ended = events_of_a_hold(kettle, kettle.cancel)
    assert isinstance(sold_out, SoldOut) and isinstance(ended, HoldEnded)

    assert sold_out.product_id == "kettle"
    assert (ended.order_id, ended.state, ended.lines) == ("o1", "cancelled", [("kettle", 10)])
    assert repr(sold_out) == "SoldOut(product_id='kettle')"
    assert repr(ended) == "HoldEnded(order_id='o1', state='cancelled', lines=[('kettle', 10)])"
    assert HoldEnded.__match_args__ == ("order_id", "state", "lines")
    assert SoldOut.__match_args__ == ("product_id",)
    assert hash(ended) == hash(HoldEnded("o1", "cancelled", [("kettle", 10)]))
    assert ended != HoldEnded("o1", "confirmed", [("kettle", 10)])
    ended.lines.append(("extra", 1))
    assert ended.lines == [("kettle", 10)]
    with pytest.raises(AttributeError):
        ended.state = "confirmed"  # type: ignore[misc]
    with pytest.raises(ValueError):
        HoldEnded("o1", "held", [])


def test_events_can_be_pickled_and_copied(kettle: Engine) -> None:
    # So that a callback can hand them to another process.
    events = events_of_a_hold(kettle, kettle.confirm)
    assert len(events) == 2
    for event in events:
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            again = pickle.loads(pickle.dumps(event, protocol))
            assert type(again) is type(event) and again == event
        assert copy.copy(event) == event and copy.deepcopy(event) == event


def test_callbacks_run_on_the_notifier_thread(kettle: Engine) -> None:
    threads: list[int] = []
    kettle.subscribe(lambda event: threads.append(threading.get_ident()))
    kettle.block("kettle", 1, "o1")
    kettle.confirm("o1")
    kettle.block("kettle", 1, "o2")
    kettle.confirm("o2")
    kettle.flush_events()
    assert len(threads) == 2
    assert len(set(threads)) == 1
    assert threads[0] != threading.get_ident()


def test_callbacks_share_one_python_thread_state(kettle: Engine) -> None:
    # The notifier thread keeps its thread state from one callback to the
    # next, so thread-local data lasts as it does on a Python thread.
    local = threading.local()
    counts: list[int] = []

    def count(event: Event) -> None:
        local.count = getattr(local, "count", 0) + 1
        counts.append(local.count)

    kettle.subscribe(count)
    for order in ("o1", "o2", "o3"):
        kettle.block("kettle", 1, order)
        kettle.cancel(order)
    kettle.flush_events()
    assert counts == [1, 2, 3]


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="reads CPython's thread list")
def test_a_closed_engine_leaves_no_python_thread_state_behind() -> None:
    api = ctypes.pythonapi
    api.PyInterpreterState_Get.restype = ctypes.c_void_p
    api.PyInterpreterState_ThreadHead.argtypes = [ctypes.c_void_p]
    api.PyInterpreterState_ThreadHead.restype = ctypes.c_void_p
    api.PyThreadState_Next.argtypes = [ctypes.c_void_p]
    api.PyThreadState_Next.restype = ctypes.c_void_p

    def thread_states() -> int:
        count, state = 0, api.PyInterpreterState_ThreadHead(api.PyInterpreterState_Get())
        while state:
            count, state = count + 1, api.PyThreadState_Next(state)
        return count

    # Engines dropped by earlier tests may still be closing in the
    # background, so the count can only be bounded, never pinned down.
    before = thread_states()
    for _ in range(10):
        with Engine(manual_clock=True) as engine:
            engine.add_product("p", "P", 1)
            engine.subscribe(lambda event: None)
            engine.block("p", 1, "o1")
            engine.flush_events()
            assert thread_states() <= before + 1
    assert thread_states() <= before


def test_subscribe_takes_only_a_callable(kettle: Engine) -> None:
    with pytest.raises(TypeError):
        kettle.subscribe("not callable")  # type: ignore[arg-type]
    first = kettle.subscribe(print)
    second = kettle.subscribe(print)
    assert isinstance(first, int) and second != first
    kettle.unsubscribe(first)
    kettle.unsubscribe(second)


# Callbacks that fail


def test_a_raising_callback_is_logged_and_the_others_get_every_event(
    kettle: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="stockkeeper")
    calls: list[Event] = []

    def broken(event: Event) -> None:
        calls.append(event)
        raise ValueError(f"cannot handle {event!r}")

    before: list[Event] = []
    after: list[Event] = []
    kettle.subscribe(before.append)
    kettle.subscribe(broken)
    kettle.subscribe(after.append)
    for order in ("o1", "o2", "o3"):
        kettle.block("kettle", 1, order)
        kettle.confirm(order)
    kettle.flush_events()

    assert len(calls) == 3
    assert before == after == calls
    records = [record for record in caplog.records if record.name == "stockkeeper"]
    assert len(records) == 3
    for record, event in zip(records, calls):
        assert record.levelno == logging.ERROR
        assert record.exc_info is not None
        assert isinstance(record.exc_info[1], ValueError)
        assert repr(event) in record.getMessage()
        assert "broken" in record.getMessage()
    assert "in broken" in caplog.text
    assert "Traceback (most recent call last)" in caplog.text
    assert kettle.metrics().confirmed == 3


def test_a_callback_raising_a_base_exception_is_logged_too(
    kettle: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="stockkeeper")
    seen: list[Event] = []

    def leave(event: Event) -> None:
        raise SystemExit(3)

    kettle.subscribe(leave)
    kettle.subscribe(seen.append)
    kettle.block("kettle", 1, "o1")
    kettle.cancel("o1")
    kettle.flush_events()
    assert len(seen) == 1
    assert [type(r.exc_info[1]) for r in caplog.records if r.exc_info] == [SystemExit]


# Subscriptions


def test_unsubscribe_stops_the_callback_at_once(kettle: Engine) -> None:
    kept: list[Event] = []
    dropped: list[Event] = []
    kettle.subscribe(kept.append)
    subscription = kettle.subscribe(dropped.append)
    kettle.block("kettle", 1, "o1")
    kettle.confirm("o1")
    kettle.unsubscribe(subscription)
    kettle.block("kettle", 1, "o2")
    kettle.confirm("o2")
    kettle.flush_events()
    assert [event.order_id for event in kept] == ["o1", "o2"]  # type: ignore[union-attr]
    assert len(dropped) <= 1
    for unknown in (subscription, 10**6, -1, 2**80):
        kettle.unsubscribe(unknown)


def test_a_callback_can_unsubscribe_itself(kettle: Engine) -> None:
    seen: list[Event] = []
    subscription = 0

    def once(event: Event) -> None:
        seen.append(event)
        kettle.unsubscribe(subscription)

    subscription = kettle.subscribe(once)
    for order in ("o1", "o2", "o3"):
        kettle.block("kettle", 1, order)
        kettle.cancel(order)
    kettle.flush_events()
    assert len(seen) == 1


def test_a_callback_can_subscribe_another(kettle: Engine) -> None:
    later: list[Event] = []
    subscribed = threading.Event()

    def first(event: Event) -> None:
        if not subscribed.is_set():
            kettle.subscribe(later.append)
            subscribed.set()

    kettle.subscribe(first)
    kettle.block("kettle", 1, "o1")
    kettle.cancel("o1")
    kettle.flush_events()
    assert subscribed.is_set()
    kettle.block("kettle", 1, "o2")
    kettle.cancel("o2")
    kettle.flush_events()
    assert [event.order_id for event in later] == ["o2"]  # type: ignore[union-attr]


# Waiting for the notifier thread


def test_flush_waits_for_every_event_published_before_it(kettle: Engine) -> None:
    kettle.update_inventory("kettle", 1000)
    delivered: list[Event] = []
    kettle.subscribe(lambda event: delivered.append(event))
    for index in range(500):
        kettle.block("kettle", 1, f"o{index}")
        kettle.confirm(f"o{index}")
    kettle.flush_events()
    assert len(delivered) == 500


def test_flush_from_inside_a_callback_returns_at_once(kettle: Engine) -> None:
    flushed: list[str] = []

    def flush(event: Event) -> None:
        kettle.flush_events()
        flushed.append(event.order_id)  # type: ignore[union-attr]

    kettle.subscribe(flush)

    def work() -> None:
        kettle.block("kettle", 1, "o1")
        kettle.confirm("o1")
        kettle.flush_events()

    finish(work)
    assert flushed == ["o1"]


class Gate:
    """A callback that keeps each event until `release` is set, then keeps
    it in `delivered`; `entered` is set once the first event arrived."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.delivered: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.entered.set()
        assert self.release.wait(WAIT)
        self.delivered.append(event)


def queue_behind(gate: Gate, engine: Engine, pairs: int, quantity: int = 1) -> None:
    """Has `gate` (subscribed to `engine`) hold the event of an order
    "first" on the notifier thread, then queues the events of `pairs`
    block+confirm pairs of `quantity` kettles behind it."""
    engine.block("kettle", 1, "first")
    engine.confirm("first")
    assert gate.entered.wait(WAIT)
    for index in range(pairs):
        engine.block("kettle", quantity, f"o{index}")
        engine.confirm(f"o{index}")


def test_a_slow_subscriber_does_not_stall_the_engine(kettle: Engine) -> None:
    kettle.update_inventory("kettle", 10_000)
    slow = Gate()
    delivered = slow.delivered
    kettle.subscribe(slow)
    queue_behind(slow, kettle, 2000, quantity=2)
    assert kettle.metrics().confirmed == 2001
    assert delivered == []

    slow.release.set()
    finish(kettle.flush_events)
    assert len(delivered) == 2001


@pytest.fixture
def stocked_service() -> Iterator[stockkeeper.InventoryService]:
    """A service on the manual clock whose engine sells "kettle", a million
    units: enough for every call of the tests below to be held."""
    service = stockkeeper.InventoryService(manual_clock=True)
    service.engine.add_product("kettle", "Kettle", 1_000_000)
    yield service
    service.close()


@pytest.mark.parametrize("api", ["engine", "service"])
def test_callbacks_run_between_the_calls_of_a_thread_that_never_stops(
    api: str, stocked_service: stockkeeper.InventoryService
) -> None:
    """A call keeps the GIL, but lets it go once the notifier thread, which
    needs the GIL to run a callback, has waited for it a while: so the
    notifier gets it between the calls of a thread that makes them without
    pause. Here the interpreter never hands the GIL over on its own (a
    switch interval of 1,000 s): the calls' own release is the callback's
    only way in."""
    service = stocked_service
    engine = service.engine
    block: Callable[[str, int, str], object] = engine.block
    confirm: Callable[[str], object] = engine.confirm
    if api == "service":
        block, confirm = service.blockInventory, service.confirmOrder
    delivered = threading.Event()
    engine.subscribe(lambda event: delivered.set())
    with switch_interval(1000):
        for index in range(100_000):
            block("kettle", 1, f"o{index}")
            confirm(f"o{index}")
            if delivered.is_set():
                break
    assert delivered.is_set()


@pytest.mark.parametrize("inside", ["flush_events", "sleep", "log"])
def test_callbacks_that_let_the_gil_go_keep_up_with_a_thread_that_never_stops(
    inside: str, stocked_service: stockkeeper.InventoryService, tmp_path: Path
) -> None:
    """A callback may let the GIL go inside itself (a flush, a sleep, a
    write), and another thread's calls may then take it, in the middle of
    the notifier's run: their next call hands it back. Here the interpreter
    never hands the GIL over on its own (a switch interval of 1,000 s), so
    without that the notifier would wait for ever, and the events queue."""
    engine = stocked_service.engine
    heard: list[Event] = []
    with open(tmp_path / "events.log", "w") as log:

        def callback(event: Event) -> None:
            heard.append(event)
            if inside == "flush_events":
                engine.flush_events()
            elif inside == "sleep":
                time.sleep(0)
            else:
                log.write(f"{event!r}\n")
                log.flush()

        subscription = engine.subscribe(callback)
        with switch_interval(1000):
            for index in range(100_000):
                engine.block("kettle", 1, f"o{index}")
                engine.confirm(f"o{index}")
                if len(heard) >= 1000:
                    break
            count = len(heard)
        engine.unsubscribe(subscription)
        engine.flush_events()
    assert count >= 1000


class Ticker:
    """A thread that counts while it holds the GIL, and lets it go after
    each count: with the interpreter never taking the GIL away on its own,
    the count moves only while other threads let the GIL go."""

    def __init__(self) -> None:
        self.ticks = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            self.ticks += 1
            time.sleep(0)

    def __enter__(self) -> Ticker:
        self.thread.start()
        assert until(lambda: self.ticks > 0)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(WAIT)


@pytest.mark.parametrize("api", ["engine", "service"])
def test_with_a_callback_subscribed_calls_keep_the_gil_while_no_event_waits(
    api: str, stocked_service: stockkeeper.InventoryService
) -> None:
    """A subscribed callback alone changes nothing for the calls: a call
    keeps the GIL unless the notifier waits for it, reads and blocks alike.
    Were some calls to let it go and others not, a thread whose calls let
    it go would wait for every call behind one whose calls keep it."""
    service = stocked_service
    engine = service.engine
    read: Callable[[str], object] = engine.available
    if api == "service":
        read = service.getInventory
    engine.subscribe(lambda event: None)
    engine.block("kettle", 1, "held")
    with switch_interval(1000), Ticker() as ticker:
        before = ticker.ticks
        for _ in range(2000):
            read("kettle")
        engine.status("held")
        engine.extend("held", 10)
        after = ticker.ticks
    assert after == before


def test_a_run_of_queued_events_is_delivered_in_one_hold_of_the_gil(kettle: Engine) -> None:
    """Events queued while the notifier thread was busy reach the callback
    in one run, for which the notifier takes the GIL once: no other thread
    runs between them, where taking it for each event would let one in."""
    kettle.update_inventory("kettle", 10_000)
    gate = Gate()
    kettle.subscribe(gate)
    ticker = Ticker()
    seen: list[int] = []
    kettle.subscribe(lambda event: seen.append(ticker.ticks))
    queue_behind(gate, kettle, 1000)
    with switch_interval(1000), ticker:
        gate.release.set()
        finish(kettle.flush_events)
    assert len(gate.delivered) == 1001
    # The gate's first event ran alone; the 1,000 queued behind it went in
    # one run, which no count of the ticker's interrupted.
    assert len(seen) == 1001
    assert len(set(seen[1:])) == 1


def test_close_while_a_callback_is_blocked_does_not_deadlock(kettle: Engine) -> None:
    blocked = Gate()
    delivered = blocked.delivered
    kettle.subscribe(blocked)
    kettle.block("kettle", 1, "o1")
    kettle.cancel("o1")
    kettle.block("kettle", 1, "o2")
    kettle.cancel("o2")
    assert blocked.entered.wait(WAIT)

    closer = threading.Thread(target=kettle.close, daemon=True)
    closer.start()
    # close marks the engine closed, then waits for the queued events with
    # the GIL released, so this thread can still run and let the callback go.
    assert until(lambda: kettle.closed)
    blocked.release.set()
    closer.join(WAIT)
    assert not closer.is_alive()
    assert kettle.closed
    assert [event.order_id for event in delivered] == ["o1", "o2"]  # type: ignore[union-attr]


def test_close_from_inside_a_callback(kettle: Engine) -> None:
    seen: list[Event] = []
    closed = threading.Event()

    def close_on_cancel(event: Event) -> None:
        seen.append(event)
        if isinstance(event, HoldEnded) and event.state == "cancelled":
            kettle.close()
            closed.set()

    kettle.subscribe(close_on_cancel)
    kettle.block("kettle", 1, "o1")
    kettle.confirm("o1")
    kettle.block("kettle", 1, "o2")
    kettle.cancel("o2")
    assert closed.wait(WAIT)
    assert kettle.closed
    assert [event.order_id for event in seen] == ["o1", "o2"]  # type: ignore[union-attr]
    with pytest.raises(stockkeeper.EngineClosed):
        kettle.flush_events()


def test_a_close_lets_go_of_every_callback(kettle: Engine) -> None:
    class Listener:
        def __init__(self) -> None:
            self.heard = 0

        def __call__(self, event: Event) -> None:
            self.heard += 1

    listeners = [Listener() for _ in range(3)]
    for listener in listeners:
        kettle.subscribe(listener)
    kettle.block("kettle", 1, "o1")
    kettle.cancel("o1")
    kettle.close()
    assert [listener.heard for listener in listeners] == [1, 1, 1]
    alive = [weakref.ref(listener) for listener in listeners]
    del listener, listeners
    assert [ref() for ref in alive] == [None, None, None]


def test_close_delivers_what_is_queued(kettle: Engine) -> None:
    delivered: list[Event] = []
    kettle.subscribe(delivered.append)
    for index in range(5):
        kettle.block("kettle", 1, f"o{index}")
        kettle.confirm(f"o{index}")
    kettle.close()
    assert len(delivered) == 5


def test_a_close_racing_calls_loses_none_of_their_events() -> None:
    """Every hold a call ended before the close (the call returned) is
    announced, wherever the close lands among the calls: it waits for the
    calls already past its check. Many short rounds, each closing once a few
    holds have ended."""
    for round_ in range(150):
        engine = Engine(manual_clock=True)
        engine.add_product("kettle", "Kettle", 1_000_000)
        announced: list[Event] = []
        engine.subscribe(announced.append)
        ended = [0, 0, 0]
        enough = threading.Event()
        unexpected: list[BaseException] = []

        def work(worker: int) -> None:
            for n in itertools.count():
                order = f"{worker}-{n}"
                try:
                    engine.block("kettle", 1, order)
                    (engine.confirm if n % 2 else engine.cancel)(order)
                except stockkeeper.EngineClosed:
                    return
                except BaseException as error:  # noqa: BLE001 - reported below
                    unexpected.append(error)
                    return
                ended[worker] += 1
                if sum(ended) >= 2 + round_ % 20:
                    enough.set()

        workers = [threading.Thread(target=work, args=(w,)) for w in range(3)]
        for worker in workers:
            worker.start()
        assert enough.wait(WAIT)
        engine.close()
        for worker in workers:
            worker.join(WAIT)
        assert not unexpected, unexpected
        assert len(announced) == sum(ended), f"round {round_}"


def test_dropping_an_engine_mid_callback_does_not_deadlock() -> None:
    lock = threading.Lock()
    entered = threading.Event()
    both = threading.Event()
    delivered: list[Event] = []

    def needs_the_lock(event: Event) -> None:
        entered.set()
        with lock:
            delivered.append(event)
        if len(delivered) == 2:
            both.set()

    engine = Engine(manual_clock=True)
    engine.add_product("p", "P", 5)
    engine.subscribe(needs_the_lock)
    with lock:
        engine.block("p", 1, "o1")
        engine.cancel("o1")
        engine.block("p", 1, "o2")
        engine.cancel("o2")
        assert entered.wait(WAIT)
        # The callback waits for `lock`, held here; dropping the engine must
        # not wait for the callback.
        del engine
        gc.collect()
    assert both.wait(WAIT)
    assert [event.order_id for event in delivered] == ["o1", "o2"]  # type: ignore[union-attr]


def test_dropping_an_engine_closed_by_its_callback_does_not_deadlock() -> None:
    # Closed from a callback, the engine still has events queued for it, so
    # closed is not the same as done with Python code.
    lock = threading.Lock()
    # Set once both orders ended: the callback closes the engine only then,
    # or a close between the calls below would refuse the later ones.
    published = threading.Event()
    closed = threading.Event()
    both = threading.Event()
    delivered: list[Event] = []
    # The only reference, so that emptying the list drops the engine.
    engines = [Engine(manual_clock=True)]

    def close_then_wait(event: Event) -> None:
        if not closed.is_set():
            published.wait(WAIT)
            engines[0].close()
            closed.set()
        with lock:
            delivered.append(event)
        if len(delivered) == 2:
            both.set()

    engine = engines[0]
    engine.add_product("p", "P", 5)
    engine.subscribe(close_then_wait)
    with lock:
        engine.block("p", 1, "o1")
        engine.cancel("o1")
        engine.block("p", 1, "o2")
        engine.cancel("o2")
        published.set()
        assert closed.wait(WAIT)
        del engine
        engines.clear()
        gc.collect()
    assert both.wait(WAIT)
    assert [event.order_id for event in delivered] == ["o1", "o2"]  # type: ignore[union-attr]


def test_an_engine_its_callback_refers_to_is_collected() -> None:
    class Shop:
        def __init__(self) -> None:
            self.engine = Engine(manual_clock=True)
            self.engine.add_product("p", "P", 1)
            self.engine.subscribe(self.on_event)
            self.seen: list[Event] = []

        def on_event(self, event: Event) -> None:
            self.seen.append(event)

    shop = Shop()
    shop.engine.block("p", 1, "o1")
    shop.engine.flush_events()
    assert len(shop.seen) == 1
    collected = threading.Event()
    weakref.finalize(shop, collected.set)
    del shop
    gc.collect()
    assert collected.is_set()


def test_calls_on_a_closed_engine_raise(kettle: Engine) -> None:
    subscription = kettle.subscribe(print)
    kettle.close()
    for call in (
        lambda: kettle.subscribe(print),
        lambda: kettle.unsubscribe(subscription),
        lambda: kettle.unsubscribe(-1),
        kettle.flush_events,
    ):
        with pytest.raises(stockkeeper.EngineClosed):
            call()


def test_a_closed_engine_raises_closed_whatever_else_is_wrong(kettle: Engine) -> None:
    kettle.close()
    for call in (
        lambda: kettle.block("kettle", -1, "o1"),
        lambda: kettle.add_product("cup", "Cup", -1),
        lambda: kettle.confirm("\ud800"),
        lambda: kettle.block_many([("kettle", 0, "o2")]),
    ):
        with pytest.raises(stockkeeper.EngineClosed):
            call()


def run_script(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Runs `script` in an interpreter of its own, in `cwd`: away from the
    sources, where the source package would shadow the installed one. A
    hang fails the test at the timeout."""
    return subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_queued_events_reach_their_callbacks_when_the_program_ends(tmp_path: Path) -> None:
    # The script never closes its engine; the events still queued when it
    # ends must reach the callback before the interpreter shuts down.
    script = textwrap.dedent(
        """
        import sys, threading, time
        import stockkeeper

        started = threading.Event()
        def slow(event):
            started.set()
            time.sleep(0.001)
            sys.stdout.write(event.state + "\\n")

        engine = stockkeeper.Engine(manual_clock=True)
        engine.add_product("p", "P", 1000)
        engine.subscribe(slow)
        for index in range(200):
            engine.block("p", 1, f"o{index}")
            engine.confirm(f"o{index}")
        assert started.wait(30)
        """
    )
    done = run_script(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["confirmed"] * 200


def test_a_script_whose_callback_raised_exits_without_closing_the_engine(
    tmp_path: Path,
) -> None:
    # The callback's exception is logged from the notifier thread; that must
    # not make the notifier thread the one interpreter shutdown waits for.
    script = textwrap.dedent(
        """
        import stockkeeper
        engine = stockkeeper.Engine()
        engine.add_product("k", "K", 5)
        def fail(event):
            raise RuntimeError("subscriber bug")
        engine.subscribe(fail)
        engine.block("k", 1, "o")
        engine.cancel("o")
        engine.flush_events()
        print("done")
        """
    )
    result = run_script(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert "subscriber bug" in result.stderr


# For the scripts below: an engine with `count` events queued for a slow
# subscriber (or another), and a daemon thread making and dropping such engines for as
# long as the process lasts, so that some are always delivering at exit.
BUSY_ENGINE = textwrap.dedent(
    """
    def busy_engine(count, callback=lambda event: time.sleep(0.0005)):
        engine = stockkeeper.Engine(manual_clock=True)
        engine.add_product("p", "P", count)
        engine.subscribe(callback)
        for index in range(count):
            engine.block("p", 1, f"o{index}")
            engine.cancel(f"o{index}")
        return engine
    """
)
CHURNING_DAEMON = BUSY_ENGINE + textwrap.dedent(
    """
    def churn():
        while True:
            busy_engine(200)

    threading.Thread(target=churn, daemon=True).start()
    """
)


def exits_cleanly(script: str, cwd: Path, printed: str) -> None:
    """Runs `script` three times; each must exit cleanly having printed
    `printed`: no abort, no crash."""
    for _ in range(3):
        result = run_script(script, cwd)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == printed
        assert "Fatal Python error" not in result.stderr


def test_a_daemon_thread_still_delivering_events_at_exit_does_not_abort_the_process(
    tmp_path: Path,
) -> None:
    # Its engines are made after the exit hook closed those it knew of.
    script = "import threading, time\nimport stockkeeper\n" + CHURNING_DAEMON
    exits_cleanly(script + "time.sleep(0.3)\nprint('done')\n", tmp_path, "done")


def test_an_engine_collected_in_a_cycle_with_its_callback_calls_it_no_more(
    tmp_path: Path,
) -> None:
    # The collector may clear the callback (a function so cleared crashes
    # the interpreter when called) before the engine, which it then
    # destroys with events still queued for that callback.
    script = textwrap.dedent(
        """
        import gc, time
        import stockkeeper

        def make():
            engine = stockkeeper.Engine(manual_clock=True)
            engine.add_product("p", "P", 1000)

            def callback(event):
                engine
                time.sleep(0.0002)

            engine.subscribe(callback)
            for index in range(50):
                engine.block("p", 1, f"o{index}")
                engine.cancel(f"o{index}")

        make()
        gc.collect()
        time.sleep(0.5)
        print("done")
        """
    )
    exits_cleanly(script, tmp_path, "done")


def test_a_child_forked_by_an_exit_handler_after_the_hook_delivers_nothing(
    tmp_path: Path,
) -> None:
    # The handler, registered before the import, runs after the module's
    # exit hook, and its child goes on exiting with an engine delivering to
    # a slow callback: the door the hook shut must stay shut in the child.
    script = BUSY_ENGINE + textwrap.dedent(
        """
        import atexit, os, time

        def fork_and_deliver():
            pid = os.fork()
            if pid == 0:
                engine = busy_engine(2000)
                return
            _, status = os.waitpid(pid, 0)
            print("child", os.waitstatus_to_exitcode(status), flush=True)

        atexit.register(fork_and_deliver)
        import stockkeeper
        """
    )
    exits_cleanly(script, tmp_path, "child 0")


def test_an_engine_dropped_while_another_thread_collects_still_delivers(
    tmp_path: Path,
) -> None:
    # Another thread's collection runs a finalizer that lets this thread
    # run: the engine this thread drops meanwhile is none of its garbage.
    script = BUSY_ENGINE + textwrap.dedent(
        """
        import gc, threading, time
        import stockkeeper

        class Slow:
            def __del__(self):
                time.sleep(0.3)

        def collect():
            junk = Slow()
            junk.me = junk
            del junk
            gc.collect()

        collecting = threading.Thread(target=collect)
        collecting.start()
        time.sleep(0.05)
        seen = []
        all_seen = threading.Event()

        def on_event(event):
            seen.append(event)
            if len(seen) == 100:
                all_seen.set()

        engine = busy_engine(100, on_event)
        del engine
        all_seen.wait(30)
        collecting.join()
        print(len(seen))
        """
    )
    exits_cleanly(script, tmp_path, "100")


def test_a_callback_of_a_daemon_thread_that_never_returns_does_not_hold_up_exit(
    tmp_path: Path,
) -> None:
    # The daemon thread's engine is made once the exit handlers run; its
    # callback waits for what will never come. The exit hook waits for it a
    # while, not for ever (a hang fails at run_script's timeout).
    script = textwrap.dedent(
        """
        import atexit, threading
        import stockkeeper

        exiting = threading.Event()

        def late_engine():
            exiting.wait()
            engine = stockkeeper.Engine(manual_clock=True)
            engine.add_product("p", "P", 5)
            engine.subscribe(lambda event: threading.Event().wait())
            engine.block("p", 1, "o1")
            engine.cancel("o1")
            threading.Event().wait()

        threading.Thread(target=late_engine, daemon=True).start()
        slow = stockkeeper.Engine(manual_clock=True)
        slow.add_product("m", "M", 100)
        slow.subscribe(lambda event: threading.Event().wait(0.01))
        for index in range(50):
            slow.block("m", 1, f"o{index}")
            slow.cancel(f"o{index}")
        atexit.register(exiting.set)
        print("done")
        """
    )
    result = run_script(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"


def test_a_close_from_a_callback_leaves_no_releaser_running() -> None:
    with Engine() as engine:
        engine.add_product("p", "P", 5)
        seen: list[bool] = []

        def close_from_here(event: Event) -> None:
            engine.close()
            seen.append(engine.releaser_running)

        engine.subscribe(close_from_here)
        engine.block("p", 1, "o1")
        engine.cancel("o1")
        assert until(lambda: bool(seen))
        assert seen == [False]
        assert engine.closed
        assert not engine.releaser_running


def test_unsubscribe_refuses_a_bool(kettle: Engine) -> None:
    heard: list[Event] = []
    kettle.subscribe(heard.append)
    with pytest.raises(TypeError):
        kettle.unsubscribe(True)  # type: ignore[arg-type]
    kettle.block("kettle", 1, "o1")
    kettle.cancel("o1")
    kettle.flush_events()
    assert len(heard) == 1


def test_a_close_from_another_engines_callback_lets_go_of_its_callbacks(
    kettle: Engine,
) -> None:
    class Listener:
        def __call__(self, event: Event) -> None:
            pass

    other = Engine(manual_clock=True)
    listener = Listener()
    other.subscribe(listener)
    alive = weakref.ref(listener)
    del listener
    kettle.subscribe(lambda event: other.close())
    kettle.block("kettle", 1, "o1")
    kettle.cancel("o1")
    finish(kettle.flush_events)
    assert other.closed
    assert alive() is None


def test_engines_take_weak_references(kettle: Engine) -> None:
    ref = weakref.ref(kettle)
    assert ref() is kettle
