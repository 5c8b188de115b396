"""The manual clock: deadlines to the nanosecond, release on advance, and
how long ended orders are remembered. No test here sleeps or measures time."""

from __future__ import annotations

import pytest

import stockkeeper
from stockkeeper import Engine

NS = 1e-9


def test_a_deadline_is_absolute(kettle: Engine) -> None:
    kettle.block("kettle", 1, "at")
    kettle.block("kettle", 1, "after")
    assert kettle.advance(300) == 0
    kettle.confirm("at")
    assert kettle.now() == 300.0
    assert kettle.advance(NS) == 1
    with pytest.raises(stockkeeper.Expired):
        kettle.confirm("after")
    assert kettle.stock("kettle").on_hand == 9


def test_status_expires_a_hold_past_its_deadline() -> None:
    with Engine(manual_clock=True, hold_time=10) as engine:
        engine.add_product("p", "P", 3)
        engine.block("p", 3, "o1")
        # advance releases what fell due; status alone must notice too.
        engine.advance(10)
        assert engine.status("o1").state == "held"
        engine.advance(NS)
        assert engine.status("o1").state == "expired"
        assert engine.available("p") == 3
        assert engine.release_expired() == 0


def test_a_hold_ends_once_whoever_notices_first(kettle: Engine) -> None:
    kettle.block("kettle", 4, "o1", hold_time=1)
    kettle.advance(2)
    with pytest.raises(stockkeeper.Expired):
        kettle.confirm("o1")
    with pytest.raises(stockkeeper.Expired):
        kettle.cancel("o1")
    assert kettle.release_expired() == 0
    assert kettle.advance(1000) == 0
    stock = kettle.stock("kettle")
    assert (stock.on_hand, stock.reserved, stock.available) == (10, 0, 10)


def test_an_extended_hold_lives_to_its_new_deadline(kettle: Engine) -> None:
    kettle.block("kettle", 2, "o1", hold_time=10)
    kettle.advance(10)
    assert kettle.extend("o1", 5).since_start == 15.0
    assert kettle.advance(5) == 0
    assert kettle.status("o1").state == "held"
    assert kettle.advance(NS) == 1
    assert kettle.available("kettle") == 10


def test_ended_orders_are_remembered_for_the_retention_period() -> None:
    with Engine(manual_clock=True, retention=60) as engine:
        engine.add_product("p", "P", 5)
        engine.block("p", 1, "o1")
        engine.confirm("o1")
        engine.advance(30)
        assert engine.status("o1").state == "confirmed"
        with pytest.raises(stockkeeper.DuplicateOrder):
            engine.block("p", 1, "o1")
        engine.advance(31)
        with pytest.raises(stockkeeper.UnknownOrder):
            engine.status("o1")
        # Forgotten, the id may be used again.
        engine.block("p", 1, "o1")
        assert engine.status("o1").state == "held"


def test_a_late_confirm_within_retention_is_told_expired() -> None:
    with Engine(manual_clock=True, hold_time=60, retention=3600) as engine:
        engine.add_product("p", "P", 5)
        engine.block("p", 1, "o1")
        engine.advance(61 + 1800)
        with pytest.raises(stockkeeper.Expired):
            engine.confirm("o1")


def test_time_only_moves_forward_by_advance(engine: Engine) -> None:
    assert engine.now() == 0.0
    engine.advance(0.25)
    engine.advance(2)
    assert engine.now() == 2.25
    with pytest.raises(stockkeeper.InvalidInput):
        engine.advance(-1)
    assert engine.now() == 2.25
