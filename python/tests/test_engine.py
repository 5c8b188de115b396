"""Every operation of the idiomatic API, and every way it refuses a call."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Callable

import pytest

import stockkeeper
from stockkeeper import Engine

MAX = stockkeeper.MAX_COUNT


def refused(code: str, call: Callable[..., Any], *args: Any) -> Any:
    """Runs `call(*args)`, which must fail with `code`; returns the exception."""
    with pytest.raises(stockkeeper.StockkeeperError) as info:
        call(*args)
    assert info.value.code == code, f"{info.value!r} has code {info.value.code}"
    return info.value


# Products


def test_add_product_then_read_it(engine: Engine) -> None:
    engine.add_product("kettle", "Kettle", 5)
    assert engine.available("kettle") == 5
    assert engine.product_name("kettle") == "Kettle"
    stock = engine.stock("kettle")
    assert (stock.on_hand, stock.reserved, stock.available) == (5, 0, 5)


def test_add_product_accepts_zero_and_the_largest_count(engine: Engine) -> None:
    engine.add_product("none", "Nothing yet", 0)
    engine.add_product("most", "Most", MAX)
    assert engine.available("none") == 0
    assert engine.available("most") == 2**63 - 1


def test_add_product_refuses_a_taken_id(kettle: Engine) -> None:
    error = refused("product_exists", lambda: kettle.add_product("kettle", "Other", 1))
    assert isinstance(error, stockkeeper.ProductExists)
    assert kettle.product_name("kettle") == "Kettle"
    assert kettle.available("kettle") == 10


@pytest.mark.parametrize(
    ("product_id", "code"),
    [
        ("", "empty_id"),
        ("a" * 257, "id_too_long"),
        ("é" * 129, "id_too_long"),
        ("a\x00b", "id_contains_nul"),
        ("bad\udcff", "invalid_utf8"),
        (b"\xff\xfe".decode("utf-8", "surrogateescape"), "invalid_utf8"),
    ],
)
def test_add_product_refuses_bad_ids(engine: Engine, product_id: str, code: str) -> None:
    error = refused(code, lambda: engine.add_product(product_id, "Name", 1))
    assert isinstance(error, stockkeeper.InvalidInput)
    assert isinstance(error, ValueError)


def test_ids_at_the_bounds_are_accepted(engine: Engine) -> None:
    engine.add_product("a" * 256, "Longest", 1)
    engine.add_product("é" * 128, "Longest in two-byte letters", 1)
    engine.add_product("snow ☃ man", "", 1)
    assert engine.available("a" * 256) == 1
    assert engine.product_name("snow ☃ man") == ""


@pytest.mark.parametrize("name", ["x" * 1025, "a\x00b", "bad\udcff"])
def test_add_product_refuses_bad_names(engine: Engine, name: str) -> None:
    code = "invalid_utf8" if "\udcff" in name else "invalid_name"
    refused(code, lambda: engine.add_product("p", name, 1))
    refused("unknown_product", lambda: engine.available("p"))


@pytest.mark.parametrize(
    ("count", "code"),
    [
        (-1, "invalid_quantity"),
        (-(2**200), "invalid_quantity"),
        (2**63, "overflow"),
        (2**64, "overflow"),
        (10**40, "overflow"),
    ],
)
def test_add_product_refuses_counts_out_of_range(engine: Engine, count: int, code: str) -> None:
    error = refused(code, lambda: engine.add_product("p", "P", count))
    assert not isinstance(error, TypeError)
    if code == "overflow":
        assert isinstance(error, stockkeeper.Overflow)
        assert isinstance(error, OverflowError)
    refused("unknown_product", lambda: engine.available("p"))


def test_wrong_types_raise_type_error(kettle: Engine) -> None:
    with pytest.raises(TypeError):
        kettle.add_product(7, "Seven", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kettle.add_product("p", None, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kettle.add_product("p", "P", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kettle.add_product("p", "P", "3")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kettle.available(b"kettle")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kettle.block("kettle", 1.0, "o1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kettle.block("kettle", 1, "o1", hold_time="5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        kettle.update_inventory("kettle", None)  # type: ignore[arg-type]
    assert kettle.stock("kettle").reserved == 0


def test_ints_from_index_are_accepted(kettle: Engine) -> None:
    class Three:
        def __index__(self) -> int:
            return 3

    kettle.block("kettle", Three(), "o1")
    assert kettle.available("kettle") == 7


def test_reading_an_unknown_product(engine: Engine) -> None:
    for read in (engine.available, engine.stock, engine.product_name):
        error = refused("unknown_product", read, "ghost")
        assert isinstance(error, stockkeeper.UnknownProduct)
        assert isinstance(error, KeyError)
        assert error.product == "ghost"


# Stock values


def test_stock_is_a_frozen_value(kettle: Engine) -> None:
    first = kettle.stock("kettle")
    assert first == kettle.stock("kettle")
    assert hash(first) == hash(kettle.stock("kettle"))
    assert repr(first) == "Stock(on_hand=10, reserved=0, available=10)"
    with pytest.raises(AttributeError):
        first.on_hand = 3  # type: ignore[misc]
    kettle.block("kettle", 4, "o1")
    assert kettle.stock("kettle") != first
    assert first.available == 10


# update_inventory


def test_restock_and_correction(kettle: Engine) -> None:
    after = kettle.update_inventory("kettle", 5)
    assert (after.on_hand, after.reserved, after.available) == (15, 0, 15)
    kettle.block("kettle", 10, "o1")
    after = kettle.update_inventory("kettle", -5)
    assert (after.on_hand, after.reserved, after.available) == (10, 10, 0)


def test_a_correction_cannot_take_held_units(kettle: Engine) -> None:
    kettle.block("kettle", 4, "o1")
    error = refused("insufficient_stock", lambda: kettle.update_inventory("kettle", -7))
    assert isinstance(error, stockkeeper.InsufficientStock)
    assert (error.product, error.requested, error.available) == ("kettle", 7, 6)
    after = kettle.update_inventory("kettle", -6)
    assert (after.on_hand, after.reserved, after.available) == (4, 4, 0)
    assert kettle.stock("kettle") == after


@pytest.mark.parametrize(
    ("delta", "code"),
    [
        (0, "invalid_quantity"),
        (MAX, "overflow"),
        (2**63, "overflow"),
        (-(2**63), "overflow"),
        (2**64, "overflow"),
        (-(2**64), "overflow"),
    ],
)
def test_update_inventory_refusals(kettle: Engine, delta: int, code: str) -> None:
    refused(code, lambda: kettle.update_inventory("kettle", delta))
    assert kettle.stock("kettle").on_hand == 10


def test_restock_up_to_the_bound(engine: Engine) -> None:
    engine.add_product("p", "P", MAX - 1)
    assert engine.update_inventory("p", 1).on_hand == MAX
    refused("overflow", lambda: engine.update_inventory("p", 1))


def test_update_of_an_unknown_product(engine: Engine) -> None:
    refused("unknown_product", lambda: engine.update_inventory("ghost", 1))


# block


def test_block_holds_stock_until_the_deadline(kettle: Engine) -> None:
    deadline = kettle.block("kettle", 3, "o1")
    assert deadline.since_start == 300.0
    assert deadline.since_start_ns == 300 * 10**9
    stock = kettle.stock("kettle")
    assert (stock.on_hand, stock.reserved, stock.available) == (10, 3, 7)


def test_block_with_a_hold_time_of_its_own(kettle: Engine) -> None:
    kettle.advance(10)
    assert kettle.block("kettle", 1, "o1", 2.5).since_start == 12.5
    assert kettle.block("kettle", 1, "o2", hold_time=60).since_start == 70.0


def test_block_the_whole_stock_then_no_more(kettle: Engine) -> None:
    kettle.block("kettle", 10, "o1")
    error = refused("insufficient_stock", lambda: kettle.block("kettle", 1, "o2"))
    assert (error.product, error.requested, error.available) == ("kettle", 1, 0)


@pytest.mark.parametrize(
    ("quantity", "code"),
    [
        (0, "invalid_quantity"),
        (-1, "invalid_quantity"),
        (-(2**100), "invalid_quantity"),
        (11, "insufficient_stock"),
        (MAX, "insufficient_stock"),
        (2**63, "overflow"),
        (2**100, "overflow"),
    ],
)
def test_block_refusals_change_nothing(kettle: Engine, quantity: int, code: str) -> None:
    refused(code, lambda: kettle.block("kettle", quantity, "o1"))
    assert kettle.stock("kettle").reserved == 0
    refused("unknown_order", lambda: kettle.status("o1"))


class Index:
    """Not an int, but taken for one through `__index__`."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


class Liar(int):
    """An int that says it is below everything."""

    def __lt__(self, other: object) -> bool:
        return True


@pytest.mark.parametrize(
    ("quantity", "code"),
    [
        (Index(2**100), "overflow"),
        (Index(-(2**100)), "invalid_quantity"),
        (Liar(2**100), "overflow"),
        (Liar(-(2**100)), "invalid_quantity"),
    ],
)
def test_block_judges_a_quantity_out_of_range_by_its_value(
    kettle: Engine, quantity: int, code: str
) -> None:
    refused(code, lambda: kettle.block("kettle", quantity, "o1"))
    assert kettle.block_many([("kettle", quantity, "o1"), ("kettle", 1, "o2")]) == [False, True]
    kettle.block("kettle", Index(3), "o3")  # type: ignore[arg-type]
    assert kettle.stock("kettle").reserved == 4


@pytest.mark.parametrize(
    ("hold_time", "code"),
    [
        (0, "invalid_duration"),
        (0.0, "invalid_duration"),
        (-1, "invalid_duration"),
        (-0.5, "invalid_duration"),
        (math.nan, "invalid_duration"),
        (math.inf, "overflow"),
        (2**64, "overflow"),
        (2**200, "overflow"),
        (1e30, "overflow"),
        (2**63, "overflow"),
    ],
)
def test_block_refuses_bad_hold_times(kettle: Engine, hold_time: float, code: str) -> None:
    refused(code, lambda: kettle.block("kettle", 1, "o1", hold_time))
    assert kettle.available("kettle") == 10


@pytest.mark.parametrize(
    ("value", "code"),
    [(10**400, "overflow"), (-(10**400), "invalid_duration"), (2**63, "overflow")],
    ids=["above", "below", "past_i64"],
)
def test_a_time_given_through_index_is_judged_as_an_int_of_its_value(
    kettle: Engine, value: int, code: str
) -> None:
    # Refused and counted as the int itself is: a block's hold time is
    # counted, a step of the clock the package refuses is not.
    for seconds in (value, Index(value)):
        before = kettle.metrics().refused_invalid
        refused(code, lambda: kettle.block("kettle", 1, "o1", seconds))  # type: ignore[arg-type]
        assert kettle.metrics().refused_invalid == before + 1
        refused(code, lambda: kettle.advance(seconds))  # type: ignore[arg-type]
        assert kettle.metrics().refused_invalid == before + 1
    assert kettle.available("kettle") == 10
    assert kettle.now() == 0.0
    kettle.block("kettle", 1, "o1", Index(30))  # type: ignore[arg-type]
    assert kettle.status("o1").deadline.since_start == 30.0


@pytest.mark.parametrize(
    ("value", "code"),
    [(10**400, "overflow"), (-(10**400), "invalid_duration")],
    ids=["above", "below"],
)
def test_a_time_past_every_float_is_refused_by_its_sign(
    kettle: Engine, value: int, code: str
) -> None:
    before = kettle.metrics().refused_invalid
    refused(code, lambda: kettle.block("kettle", 1, "o1", Fraction(value)))
    assert kettle.metrics().refused_invalid == before + 1
    refused(code, lambda: kettle.advance(Fraction(value)))
    assert kettle.metrics().refused_invalid == before + 1
    assert kettle.available("kettle") == 10


class FloatRefusingIndex:
    """Read as a float of 2 s, where `__index__` raises `error` first."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __index__(self) -> int:
        raise self.error

    def __float__(self) -> float:
        return 2.0


def test_a_time_whose_index_refuses_it_is_read_as_a_float(kettle: Engine) -> None:
    # As a 0-d numpy array of floats is: its __index__ raises TypeError.
    hold_time = FloatRefusingIndex(TypeError("not an integer"))
    kettle.block("kettle", 1, "o1", hold_time)  # type: ignore[arg-type]
    assert kettle.status("o1").deadline.since_start == 2.0


@pytest.mark.parametrize("error", [KeyboardInterrupt(), ValueError("no index")])
def test_any_other_exception_of_a_times_index_passes_through(
    kettle: Engine, error: BaseException
) -> None:
    hold_time = FloatRefusingIndex(error)
    with pytest.raises(type(error)):
        kettle.block("kettle", 1, "o1", hold_time)  # type: ignore[arg-type]
    with pytest.raises(type(error)):
        kettle.advance(hold_time)  # type: ignore[arg-type]
    assert kettle.available("kettle") == 10
    assert kettle.now() == 0.0


def test_block_refuses_an_unknown_product_and_bad_order_ids(kettle: Engine) -> None:
    refused("unknown_product", lambda: kettle.block("ghost", 1, "o1"))
    refused("empty_id", lambda: kettle.block("kettle", 1, ""))
    refused("id_too_long", lambda: kettle.block("kettle", 1, "o" * 257))
    refused("id_contains_nul", lambda: kettle.block("kettle", 1, "o\x001"))
    refused("invalid_utf8", lambda: kettle.block("kettle", 1, "o\ud800"))
    assert kettle.available("kettle") == 10


def test_an_order_id_is_never_reused(kettle: Engine) -> None:
    kettle.block("kettle", 1, "held")
    kettle.block("kettle", 1, "paid")
    kettle.confirm("paid")
    kettle.block("kettle", 1, "failed")
    kettle.cancel("failed")
    kettle.block("kettle", 1, "gone", hold_time=1)
    kettle.advance(2)
    for order_id in ("held", "paid", "failed", "gone"):
        error = refused("duplicate_order", kettle.block, "kettle", 1, order_id)
        assert isinstance(error, stockkeeper.DuplicateOrder)
    stock = kettle.stock("kettle")
    assert (stock.on_hand, stock.reserved) == (9, 1)


# block_order


def test_block_order_holds_every_line(engine: Engine) -> None:
    engine.add_product("kettle", "Kettle", 5)
    engine.add_product("mug", "Mug", 5)
    engine.block_order("o1", [("mug", 2), ("kettle", 1), ("mug", 1)])
    assert engine.available("kettle") == 4
    assert engine.available("mug") == 2
    assert engine.status("o1").lines == [("kettle", 1), ("mug", 3)]


def test_block_order_takes_a_mapping_and_lists(engine: Engine) -> None:
    engine.add_product("kettle", "Kettle", 5)
    engine.add_product("mug", "Mug", 5)
    engine.block_order("o1", {"kettle": 2, "mug": 1}, hold_time=10)
    engine.block_order("o2", [["kettle", 1]])  # type: ignore[list-item]
    engine.block_order("o3", iter([("mug", 1)]))
    engine.block_order("o4", MappingProxyType({"mug": 1}))
    assert engine.status("o1").deadline.since_start == 10.0
    assert engine.available("kettle") == 2
    assert engine.available("mug") == 2


def test_block_order_is_all_or_nothing(engine: Engine) -> None:
    engine.add_product("kettle", "Kettle", 5)
    engine.add_product("mug", "Mug", 1)
    error = refused(
        "insufficient_stock", lambda: engine.block_order("o1", [("kettle", 2), ("mug", 2)])
    )
    assert error.product == "mug"
    refused("unknown_product", lambda: engine.block_order("o1", [("kettle", 1), ("zz", 1)]))
    refused("insufficient_stock", lambda: engine.block_order("o1", [("mug", 1), ("mug", 1)]))
    assert engine.available("kettle") == 5
    assert engine.available("mug") == 1
    refused("unknown_order", lambda: engine.status("o1"))


def test_block_order_refusals(engine: Engine) -> None:
    engine.add_product("kettle", "Kettle", 5)
    refused("invalid_quantity", lambda: engine.block_order("o1", []))
    refused("invalid_quantity", lambda: engine.block_order("o1", {}))
    refused("invalid_quantity", lambda: engine.block_order("o1", [("kettle", 0)]))
    refused("overflow", lambda: engine.block_order("o1", [("kettle", 2**63)]))
    refused("overflow", lambda: engine.block_order("o1", [("kettle", MAX), ("kettle", 1)]))
    refused("empty_id", lambda: engine.block_order("o1", [("", 1)]))
    refused("invalid_duration", lambda: engine.block_order("o1", [("kettle", 1)], 0))
    with pytest.raises(TypeError):
        engine.block_order("o1", "kettle")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        engine.block_order("o1", [("kettle",)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        engine.block_order("o1", [("kettle", 1, 2)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        engine.block_order("o1", 5)  # type: ignore[arg-type]
    assert engine.available("kettle") == 5


# confirm and cancel


def test_confirm_takes_units_out_of_stock(kettle: Engine) -> None:
    kettle.block("kettle", 3, "o1")
    kettle.confirm("o1")
    stock = kettle.stock("kettle")
    assert (stock.on_hand, stock.reserved, stock.available) == (7, 0, 7)
    assert kettle.status("o1").state == "confirmed"


def test_cancel_gives_units_back(kettle: Engine) -> None:
    kettle.block("kettle", 3, "o1")
    kettle.cancel("o1")
    stock = kettle.stock("kettle")
    assert (stock.on_hand, stock.reserved, stock.available) == (10, 0, 10)
    assert kettle.status("o1").state == "cancelled"


def test_an_ended_order_cannot_end_again(kettle: Engine) -> None:
    kettle.block("kettle", 1, "paid")
    kettle.confirm("paid")
    kettle.block("kettle", 1, "failed")
    kettle.cancel("failed")
    for end in (kettle.confirm, kettle.cancel):
        assert isinstance(refused("already_confirmed", end, "paid"), stockkeeper.AlreadyConfirmed)
        assert isinstance(refused("already_cancelled", end, "failed"), stockkeeper.AlreadyCancelled)
    assert kettle.stock("kettle").on_hand == 9


def test_confirm_and_cancel_of_an_unknown_order(kettle: Engine) -> None:
    for end in (kettle.confirm, kettle.cancel, kettle.status):
        error = refused("unknown_order", end, "ghost")
        assert isinstance(error, stockkeeper.UnknownOrder)
        assert isinstance(error, KeyError)
        assert str(error) == "no order has this id"
    refused("empty_id", lambda: kettle.confirm(""))


def test_past_its_deadline_an_order_is_expired(kettle: Engine) -> None:
    kettle.block("kettle", 2, "late")
    kettle.block("kettle", 2, "later")
    kettle.advance(301)
    assert isinstance(refused("expired", lambda: kettle.confirm("late")), stockkeeper.Expired)
    refused("expired", lambda: kettle.cancel("later"))
    stock = kettle.stock("kettle")
    assert (stock.on_hand, stock.reserved, stock.available) == (10, 0, 10)


# extend


def test_extend_moves_the_deadline_later(kettle: Engine) -> None:
    kettle.block("kettle", 1, "o1")
    kettle.advance(200)
    assert kettle.extend("o1", 60).since_start == 360.0
    kettle.advance(150)
    kettle.confirm("o1")
    assert kettle.status("o1").deadline.since_start == 360.0


def test_a_positive_time_under_half_a_nanosecond_counts_as_one(kettle: Engine) -> None:
    kettle.block("kettle", 1, "o1", hold_time=1e-10)
    assert kettle.status("o1").deadline.since_start_ns == 1
    assert kettle.extend("o1", 1e-12).since_start_ns == 2
    assert kettle.advance(2e-10) == 0
    assert kettle.now() == 1e-9
    assert kettle.advance(1e-300) == 0, "a hold lives up to its deadline"
    assert kettle.advance(5e-324) == 1
    assert kettle.status("o1").state == "expired"


def test_extend_refusals(kettle: Engine) -> None:
    kettle.block("kettle", 1, "live")
    refused("invalid_duration", lambda: kettle.extend("live", 0))
    refused("invalid_duration", lambda: kettle.extend("live", -5))
    refused("overflow", lambda: kettle.extend("live", 2**64))
    refused("overflow", lambda: kettle.extend("live", 1.9e10))
    refused("unknown_order", lambda: kettle.extend("ghost", 5))
    kettle.block("kettle", 1, "paid")
    kettle.confirm("paid")
    refused("already_confirmed", lambda: kettle.extend("paid", 5))
    kettle.advance(301)
    refused("expired", lambda: kettle.extend("live", 5))


# status


def test_status_reports_state_lines_and_deadline(kettle: Engine) -> None:
    kettle.add_product("mug", "Mug", 4)
    kettle.advance(5)
    kettle.block_order("o1", [("mug", 1), ("kettle", 2)], hold_time=30)
    status = kettle.status("o1")
    assert status.order_id == "o1"
    assert status.state == "held"
    assert status.lines == [("kettle", 2), ("mug", 1)]
    assert status.deadline.since_start == 35.0
    assert status.deadline == kettle.status("o1").deadline
    assert status == kettle.status("o1")
    status.lines.append(("extra", 1))
    assert status.lines == [("kettle", 2), ("mug", 1)]
    assert "state='held'" in repr(status)


def test_equal_statuses_hash_alike(kettle: Engine) -> None:
    kettle.block("kettle", 2, "o1")
    kettle.block("kettle", 2, "o2")
    held = kettle.status("o1")
    assert hash(held) == hash(kettle.status("o1"))
    assert len({held, kettle.status("o1"), kettle.status("o2")}) == 2
    kettle.confirm("o1")
    assert kettle.status("o1") not in {held}


def test_deadlines_also_read_as_wall_clock_time(kettle: Engine) -> None:
    before = datetime.now(timezone.utc)
    deadline = kettle.block("kettle", 1, "o1", hold_time=90)
    wall = deadline.wall
    assert wall.tzinfo is not None
    assert wall.utcoffset() == timedelta(0)
    # The engine started before `before`; its clock has not moved.
    assert wall - timedelta(seconds=90) <= before + timedelta(seconds=1)
    assert kettle.status("o1").deadline.wall == wall
    assert "Deadline(since_start=90.0" in repr(deadline)


def test_status_of_each_state(kettle: Engine) -> None:
    kettle.block("kettle", 1, "paid")
    kettle.confirm("paid")
    kettle.block("kettle", 1, "failed")
    kettle.cancel("failed")
    kettle.block("kettle", 1, "gone", hold_time=1)
    kettle.block("kettle", 1, "live")
    kettle.advance(2)
    states = {order: kettle.status(order).state for order in ("paid", "failed", "gone", "live")}
    assert states == {"paid": "confirmed", "failed": "cancelled", "gone": "expired", "live": "held"}


# release_expired, advance, now


def test_release_expired_counts_the_holds_it_released(kettle: Engine) -> None:
    kettle.block("kettle", 1, "o1", hold_time=1)
    kettle.block("kettle", 1, "o2", hold_time=1)
    kettle.block("kettle", 1, "o3", hold_time=100)
    assert kettle.release_expired() == 0
    assert kettle.advance(1) == 0
    assert kettle.advance(0.5) == 2
    assert kettle.release_expired() == 0
    assert kettle.stock("kettle").reserved == 1


def test_now_follows_the_manual_clock(engine: Engine) -> None:
    assert engine.now() == 0.0
    engine.advance(1.5)
    engine.advance(0)
    assert engine.now() == 1.5


def test_advance_refusals(engine: Engine) -> None:
    refused("invalid_duration", lambda: engine.advance(-1))
    refused("invalid_duration", lambda: engine.advance(math.nan))
    refused("overflow", lambda: engine.advance(math.inf))
    assert engine.now() == 0.0


def test_the_system_clock_cannot_be_advanced() -> None:
    with Engine(background_release=False) as engine:
        error = refused("clock_not_manual", lambda: engine.advance(1))
        assert isinstance(error, stockkeeper.ClockNotManual)
        assert isinstance(error, RuntimeError)
        assert engine.now() >= 0.0
        assert not engine.manual_clock


# the releaser, close


def test_start_releaser_is_idempotent() -> None:
    with Engine(background_release=False) as engine:
        assert not engine.releaser_running
        engine.start_releaser()
        engine.start_releaser()
        assert engine.releaser_running
    with Engine() as engine:
        assert engine.releaser_running


def test_the_manual_clock_runs_no_releaser(engine: Engine) -> None:
    engine.start_releaser()
    assert not engine.releaser_running
    assert engine.manual_clock


def test_close_is_idempotent_and_later_calls_raise(kettle: Engine) -> None:
    kettle.block("kettle", 1, "o1")
    kettle.close()
    kettle.close()
    assert kettle.closed
    calls: list[Callable[[], Any]] = [
        lambda: kettle.add_product("p", "P", 1),
        lambda: kettle.add_products([("p", "P", 1)]),
        lambda: kettle.add_products([]),
        lambda: kettle.add_products([("", "P", -1)]),
        lambda: kettle.available("kettle"),
        lambda: kettle.stock("kettle"),
        lambda: kettle.product_name("kettle"),
        lambda: kettle.update_inventory("kettle", 1),
        lambda: kettle.block("kettle", 1, "o2"),
        lambda: kettle.block_order("o2", [("kettle", 1)]),
        lambda: kettle.confirm("o1"),
        lambda: kettle.cancel("o1"),
        lambda: kettle.extend("o1", 1),
        lambda: kettle.status("o1"),
        lambda: kettle.release_expired(),
        lambda: kettle.advance(1),
        lambda: kettle.start_releaser(),
    ]
    for call in calls:
        error = refused("closed", call)
        assert isinstance(error, stockkeeper.EngineClosed)
        assert isinstance(error, RuntimeError)


def test_the_engine_is_a_context_manager() -> None:
    with Engine(background_release=True) as engine:
        assert engine.releaser_running
        engine.add_product("p", "P", 1)
    assert engine.closed
    assert not engine.releaser_running
    refused("closed", lambda: engine.__enter__())
    assert "closed=True" in repr(engine)


def test_engine_options(engine: Engine) -> None:
    with Engine(5, retention=1.5, max_remembered=10, manual_clock=True) as short:
        short.add_product("p", "P", 1)
        assert short.block("p", 1, "o1").since_start == 5.0
    refused("invalid_duration", lambda: Engine(0, manual_clock=True))
    refused("invalid_duration", lambda: Engine(-1.0, manual_clock=True))
    refused("invalid_duration", lambda: Engine(manual_clock=True, retention=-1))
    refused("invalid_quantity", lambda: Engine(manual_clock=True, max_remembered=-1))
    refused("overflow", lambda: Engine(manual_clock=True, max_remembered=2**70))
    refused("overflow", lambda: Engine(2**70, manual_clock=True))
    # Past 2^63 - 1 ns (about 292 years) though within 64 bits.
    refused("overflow", lambda: Engine(1e10, manual_clock=True))
    with Engine(9e9, manual_clock=True) as longest:
        longest.add_product("p", "P", 1)
        longest.advance(60)
        longest.block("p", 1, "o1")
    with pytest.raises(TypeError):
        Engine(manual_clock=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Engine(300, True)  # type: ignore[call-arg]


# add_products


def test_add_products_adds_every_triple(engine: Engine) -> None:
    catalogue = ((f"sku-{i}", f"Product {i}", i) for i in range(10_000))
    assert engine.add_products(catalogue) == 10_000
    assert engine.available("sku-9999") == 9999
    assert engine.product_name("sku-0") == "Product 0"
    assert engine.add_products([]) == 0
    assert engine.add_products([["list", "List", 1]]) == 1  # type: ignore[list-item]


def test_add_products_stops_at_the_first_refusal(engine: Engine) -> None:
    products = [(f"p{i}", "P", 1) for i in range(5000)]
    products[4500] = ("p0", "Again", 1)
    refused("product_exists", lambda: engine.add_products(products))
    assert engine.available("p4499") == 1
    refused("unknown_product", lambda: engine.available("p4501"))

    refused("invalid_quantity", lambda: engine.add_products([("q1", "Q", 1), ("q2", "Q", -1)]))
    assert engine.available("q1") == 1
    refused("unknown_product", lambda: engine.available("q2"))

    with pytest.raises(TypeError):
        engine.add_products([("r1", "R", 1), ("r2", "R")])  # type: ignore[list-item]
    assert engine.available("r1") == 1
    with pytest.raises(TypeError):
        engine.add_products(5)  # type: ignore[arg-type]


def test_add_products_says_how_many_it_added_before_a_refusal(engine: Engine) -> None:
    products = [(f"p{i}", "P", 1) for i in range(5000)]
    products[4500] = ("p0", "Again", 1)
    assert refused("product_exists", lambda: engine.add_products(products)).added == 4500
    # Resumed past the refused triple, the load completes.
    assert engine.add_products(products[4501:]) == 499
    assert engine.available("p4999") == 1

    error = refused("invalid_quantity", engine.add_products, [("q1", "Q", 1), ("q2", "Q", -1)])
    assert error.added == 1
    with pytest.raises(TypeError) as wrong:
        engine.add_products([("r1", "R", 1), ("r2", "R", 1), ("r3",)])  # type: ignore[list-item]
    assert wrong.value.added == 2  # type: ignore[attr-defined]

    def catalogue() -> Iterator[tuple[str, str, int]]:
        yield ("a", "A", 1)
        raise LookupError("catalogue unreadable")

    with pytest.raises(LookupError) as unreadable:
        engine.add_products(catalogue())
    assert unreadable.value.added == 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError) as not_iterable:
        engine.add_products(5)  # type: ignore[arg-type]
    assert not_iterable.value.added == 0  # type: ignore[attr-defined]


def test_add_products_passes_on_an_error_of_the_iterable(engine: Engine) -> None:
    def catalogue() -> Iterator[tuple[str, str, int]]:
        yield ("a", "A", 1)
        raise LookupError("catalogue unreadable")

    with pytest.raises(LookupError):
        engine.add_products(catalogue())
    assert engine.available("a") == 1


def test_a_wrong_type_in_an_order_comes_before_any_refused_value(kettle: Engine) -> None:
    before = kettle.metrics().refused_invalid
    for call in (
        lambda: kettle.block_order("", [("kettle", "2")]),  # type: ignore[list-item]
        lambda: kettle.block_order("o1", [("", None)]),  # type: ignore[list-item]
        lambda: kettle.block_order("", 5),  # type: ignore[arg-type]
        lambda: kettle.block_order(
            "o1", [("\udcff", 1), ("kettle", 1.5)]  # type: ignore[list-item]
        ),
    ):
        with pytest.raises(TypeError):
            call()
    assert kettle.metrics().refused_invalid == before


def test_a_hold_time_refused_here_comes_after_the_ids(kettle: Engine) -> None:
    for call, code in (
        (lambda: kettle.block("kettle", 1, "", hold_time=-1), "empty_id"),
        (lambda: kettle.block("\udcff", 0, "", hold_time=-1), "empty_id"),
        (lambda: kettle.block_order("", [("kettle", 0)], hold_time=-1), "empty_id"),
        (lambda: kettle.block_order("o1", [("kettle", 0)], hold_time=-1), "invalid_quantity"),
        (lambda: kettle.block_order("o1", [], hold_time=-1), "invalid_quantity"),
        (lambda: kettle.block("kettle", 0, "o1", hold_time=-1), "invalid_quantity"),
        (lambda: kettle.block("a" * 257, 1, "o1", hold_time=-1), "id_too_long"),
        (lambda: kettle.block("kettle", 1, "o1", hold_time=-1), "invalid_duration"),
        (lambda: kettle.extend("", -1), "empty_id"),
        (lambda: kettle.extend("o1", -1), "invalid_duration"),
    ):
        with pytest.raises(stockkeeper.InvalidInput) as info:
            call()
        assert info.value.code == code
    assert kettle.block_many([("", 1, "o1"), ("kettle", 1, "o2")], hold_time=-1) == [False] * 2
    assert kettle.metrics().refused_invalid == 12
    assert kettle.stock("kettle").reserved == 0
