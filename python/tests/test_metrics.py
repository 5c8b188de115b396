"""Metrics: counters per outcome and per refusal reason, read as a frozen
snapshot, per product, and as Prometheus text. A refusal counts the same
whether the engine made it or the conversion of a Python argument did."""

from __future__ import annotations

import math
import random
import threading
from typing import Any, Callable

import pytest

import stockkeeper
from stockkeeper import Engine, InventoryService

FIELDS = (
    "held",
    "confirmed",
    "cancelled",
    "expired",
    "refused_stock",
    "refused_duplicate",
    "refused_unknown",
    "refused_ended",
    "refused_invalid",
    "live_holds",
    "held_units",
)


def counts(engine: Engine) -> dict[str, int]:
    metrics = engine.metrics()
    return {name: getattr(metrics, name) for name in FIELDS}


def attempt(call: Callable[[], object]) -> None:
    """Runs a call the engine is expected to refuse."""
    with pytest.raises(stockkeeper.StockkeeperError):
        call()


def test_a_new_engine_counts_nothing(engine: Engine) -> None:
    assert counts(engine) == dict.fromkeys(FIELDS, 0)


def test_metrics_after_a_known_sequence(kettle: Engine) -> None:
    kettle.add_product("mug", "Mug", 2)
    kettle.block("kettle", 3, "paid")
    kettle.confirm("paid")
    kettle.block("kettle", 2, "failed")
    kettle.cancel("failed")
    kettle.block_order("late", [("kettle", 1), ("mug", 1)], hold_time=10)
    kettle.block("kettle", 4, "live")
    kettle.advance(11)
    attempt(lambda: kettle.block("mug", 5, "greedy"))  # stock
    attempt(lambda: kettle.block("kettle", 1, "paid"))  # duplicate
    attempt(lambda: kettle.block("ghost", 1, "o"))  # unknown
    attempt(lambda: kettle.confirm("nobody"))  # unknown
    attempt(lambda: kettle.confirm("paid"))  # ended
    attempt(lambda: kettle.cancel("late"))  # ended
    attempt(lambda: kettle.block("kettle", 0, "zero"))  # invalid, from the engine
    attempt(lambda: kettle.block("kettle", -1, "minus"))  # invalid, from the conversion
    attempt(lambda: kettle.add_product("kettle", "Again", 1))  # not a refusal reason

    assert counts(kettle) == {
        "held": 4,
        "confirmed": 1,
        "cancelled": 1,
        "expired": 1,
        "refused_stock": 1,
        "refused_duplicate": 1,
        "refused_unknown": 2,
        "refused_ended": 2,
        "refused_invalid": 2,
        "live_holds": 1,
        "held_units": 4,
    }


def test_metrics_is_a_frozen_value(kettle: Engine) -> None:
    first = kettle.metrics()
    assert first == kettle.metrics()
    assert hash(first) == hash(kettle.metrics())
    assert repr(first).startswith("Metrics(held=0, confirmed=0, ")
    assert repr(first).endswith("live_holds=0, held_units=0)")
    with pytest.raises(AttributeError):
        first.held = 3  # type: ignore[misc]
    kettle.block("kettle", 2, "o1")
    assert kettle.metrics() != first
    assert first.held == 0


# Refusals made before the engine saw the input


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda e: e.block("kettle", -1, "o1"), "invalid_quantity"),
        (lambda e: e.block("kettle", -(2**100), "o1"), "invalid_quantity"),
        (lambda e: e.block("kettle", 2**64, "o1"), "overflow"),
        (lambda e: e.block("kettle\udcff", 1, "o1"), "invalid_utf8"),
        (lambda e: e.block("kettle", 1, "o\ud800"), "invalid_utf8"),
        (lambda e: e.block("kettle", 1, "o1", -1), "invalid_duration"),
        (lambda e: e.block("kettle", 1, "o1", math.nan), "invalid_duration"),
        (lambda e: e.block("kettle", 1, "o1", math.inf), "overflow"),
        (lambda e: e.block_order("o1", [("kettle", 1), ("kettle", -2)]), "invalid_quantity"),
        (lambda e: e.block_order("o1", {"kettle\udcff": 1}), "invalid_utf8"),
        (lambda e: e.block_order("o1", [("kettle", 1)], -0.5), "invalid_duration"),
        (lambda e: e.add_product("p", "P", -1), "invalid_quantity"),
        (lambda e: e.add_product("p", "P", 2**63), "overflow"),
        (lambda e: e.add_product("p", "bad\udcff", 1), "invalid_utf8"),
        (lambda e: e.add_products([("p", "P", 1), ("q", "Q", -1)]), "invalid_quantity"),
        (lambda e: e.update_inventory("kettle", -(2**64)), "overflow"),
        (lambda e: e.extend("o1", -5), "invalid_duration"),
        (lambda e: e.confirm("\udcff"), "invalid_utf8"),
        (lambda e: e.cancel("\udcff"), "invalid_utf8"),
        (lambda e: e.status("\udcff"), "invalid_utf8"),
        (lambda e: e.stock("\udcff"), "invalid_utf8"),
        (lambda e: e.product_outcomes("\udcff"), "invalid_utf8"),
        (lambda e: e.metrics_text(["kettle", "\udcff"]), "invalid_utf8"),
    ],
)
def test_a_refused_argument_counts_once_as_invalid(
    kettle: Engine, call: Callable[[Engine], Any], code: str
) -> None:
    before = counts(kettle)
    with pytest.raises(stockkeeper.InvalidInput) as info:
        call(kettle)
    assert info.value.code == code
    assert counts(kettle) == {**before, "refused_invalid": before["refused_invalid"] + 1}


def test_the_first_refused_argument_is_the_one_raised_and_counted(kettle: Engine) -> None:
    with pytest.raises(stockkeeper.InvalidInput) as info:
        kettle.block("kettle\udcff", -1, "o1", -1)
    assert info.value.code == "invalid_utf8"
    assert kettle.metrics().refused_invalid == 1


def test_a_value_of_the_wrong_type_is_not_a_refusal(kettle: Engine) -> None:
    before = counts(kettle)
    wrong: list[Callable[[], object]] = [
        lambda: kettle.block("kettle", 1.5, "o1"),  # type: ignore[arg-type]
        lambda: kettle.block(b"kettle", 1, "o1"),  # type: ignore[arg-type]
        lambda: kettle.block_order("o1", [("kettle",)]),  # type: ignore[list-item]
        lambda: kettle.add_products([("p", "P")]),  # type: ignore[list-item]
        lambda: kettle.metrics_text("kettle"),
        lambda: kettle.metrics_text([7]),  # type: ignore[list-item]
    ]
    for call in wrong:
        with pytest.raises(TypeError):
            call()
    assert counts(kettle) == before


def test_clock_controls_count_no_refusal(engine: Engine) -> None:
    # The engine does not count `advance` refused on the system clock, and a
    # step refused here, before the engine sees it, is not counted either.
    attempt(lambda: engine.advance(-1))
    attempt(lambda: engine.advance(math.inf))
    assert counts(engine) == dict.fromkeys(FIELDS, 0)


def test_refusals_through_the_compat_service_are_counted() -> None:
    with InventoryService(manual_clock=True) as service:
        service.addProduct("kettle", "Kettle", 2)
        assert not service.blockInventory("kettle", -1, "o1")
        assert not service.blockInventory("kettle", 3, "o1")
        assert not service.confirmOrder("ghost")
        assert service.getInventory("ghost") is None
        metrics = service.engine.metrics()
        assert metrics.refused_invalid == 1
        assert metrics.refused_stock == 1
        assert metrics.refused_unknown == 2


# Per product


def test_product_outcomes_and_their_shares(kettle: Engine) -> None:
    outcomes = kettle.product_outcomes("kettle")
    assert (outcomes.confirmed, outcomes.cancelled, outcomes.expired) == (0, 0, 0)
    assert outcomes.confirmed_share is None
    assert outcomes.expired_share is None

    for order in ("a", "b", "c"):
        kettle.block("kettle", 1, order)
        kettle.confirm(order)
    kettle.block("kettle", 1, "d")
    kettle.cancel("d")
    kettle.block("kettle", 1, "e", hold_time=1)
    kettle.block("kettle", 1, "live")
    kettle.advance(2)

    outcomes = kettle.product_outcomes("kettle")
    assert (outcomes.confirmed, outcomes.cancelled, outcomes.expired) == (3, 1, 1)
    assert outcomes.confirmed_share == pytest.approx(0.6)
    assert outcomes.expired_share == pytest.approx(0.2)
    assert outcomes == kettle.product_outcomes("kettle")
    assert hash(outcomes) == hash(kettle.product_outcomes("kettle"))
    assert repr(outcomes) == "ProductOutcomes(confirmed=3, cancelled=1, expired=1)"


def test_product_outcomes_of_an_unknown_product(kettle: Engine) -> None:
    with pytest.raises(stockkeeper.UnknownProduct):
        kettle.product_outcomes("ghost")
    assert kettle.metrics().refused_unknown == 1


# Prometheus text


def test_metrics_text_has_every_counter(kettle: Engine) -> None:
    kettle.add_product('say "hi"', "Quoted", 3)
    kettle.block("kettle", 2, "paid")
    kettle.confirm("paid")
    kettle.block('say "hi"', 3, "gone", hold_time=1)
    kettle.block("kettle", 1, "live")
    kettle.advance(2)
    attempt(lambda: kettle.block("kettle", -1, "bad"))

    text = kettle.metrics_text(["kettle", 'say "hi"'])
    lines = text.splitlines()
    for expected in [
        "# TYPE stockkeeper_holds_total counter",
        'stockkeeper_holds_total{outcome="held"} 3',
        'stockkeeper_holds_total{outcome="confirmed"} 1',
        'stockkeeper_holds_total{outcome="cancelled"} 0',
        'stockkeeper_holds_total{outcome="expired"} 1',
        'stockkeeper_refusals_total{reason="invalid"} 1',
        'stockkeeper_refusals_total{reason="stock"} 0',
        "# TYPE stockkeeper_live_holds gauge",
        "stockkeeper_live_holds 1",
        "stockkeeper_held_units 1",
        'stockkeeper_product_holds_ended_total{product="kettle",outcome="confirmed"} 1',
        'stockkeeper_product_holds_ended_total{product="say \\"hi\\"",outcome="expired"} 1',
    ]:
        assert expected in lines, expected
    assert text.endswith("\n")
    for line in lines:
        assert line.startswith("# ") or int(line.rsplit(" ", 1)[1]) >= 0, line


def test_metrics_text_names_products_only_when_asked(kettle: Engine) -> None:
    for text in (kettle.metrics_text(), kettle.metrics_text(()), kettle.metrics_text([])):
        assert "stockkeeper_holds_total" in text
        assert "product_holds_ended_total" not in text
    assert "product=" in kettle.metrics_text(iter(["kettle"]))
    with pytest.raises(stockkeeper.UnknownProduct):
        kettle.metrics_text(["kettle", "ghost"])


def test_metrics_calls_on_a_closed_engine_raise(kettle: Engine) -> None:
    kettle.close()
    for call in (
        kettle.metrics,
        kettle.metrics_text,
        lambda: kettle.product_outcomes("kettle"),
    ):
        with pytest.raises(stockkeeper.EngineClosed):
            call()


# Under threads


def test_every_snapshot_is_consistent_under_concurrent_traffic() -> None:
    engine = Engine(manual_clock=True)
    engine.add_product("hot", "Hot", 50)
    workers, rounds = 8, 400
    start = threading.Barrier(workers + 1)
    done = threading.Event()
    problems: list[str] = []
    snapshots = [0]

    def work(index: int) -> None:
        chance = random.Random(index)
        start.wait()
        for round_ in range(rounds):
            order = f"w{index}-{round_}"
            try:
                engine.block("hot", chance.randint(1, 3), order, hold_time=chance.choice((1, 30)))
            except stockkeeper.InsufficientStock:
                engine.advance(0.5)
                continue
            try:
                if chance.random() < 0.5:
                    engine.confirm(order)
                    engine.update_inventory("hot", 1)
                elif chance.random() < 0.5:
                    engine.cancel(order)
            except stockkeeper.Expired:
                pass

    def read() -> None:
        start.wait()
        previous = engine.metrics()
        while not done.is_set():
            now = engine.metrics()
            snapshots[0] += 1
            ended = now.confirmed + now.cancelled + now.expired
            if not ended <= now.held or now.live_holds != now.held - ended:
                problems.append(repr(now))
            if now.held_units < now.live_holds:
                problems.append(f"fewer units than holds: {now!r}")
            for name in FIELDS[:9]:
                if getattr(now, name) < getattr(previous, name):
                    problems.append(f"{name} went down: {previous!r} then {now!r}")
            previous = now

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    reader = threading.Thread(target=read)
    for thread in [*threads, reader]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()

    assert problems == []
    assert snapshots[0] > 0
    engine.advance(31)
    final = engine.metrics()
    assert final.held == final.confirmed + final.cancelled + final.expired
    assert (final.live_holds, final.held_units) == (0, 0)
    assert final.held + final.refused_stock == workers * rounds
    engine.close()
