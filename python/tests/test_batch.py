"""The batch entry points answer each request as the one-at-a-time call
would, and count its refusals the same way."""

from __future__ import annotations

import array
from typing import Any

import pytest

import stockkeeper
from stockkeeper import Engine, InventoryService

# Holds that succeed and every kind of refusal a block can meet.
REQUESTS: list[tuple[Any, Any, Any]] = [
    ("kettle", 2, "o1"),
    ("kettle", 1, "o1"),  # duplicate order
    ("ghost", 1, "o2"),  # unknown product
    ("kettle", 0, "o3"),  # bad quantity
    ("kettle", 2**64, "o4"),  # overflow
    ("", 1, "o5"),  # bad id
    ("kettle", 99, "o6"),  # not enough stock
    ("kettle", 3, "o7"),
]
ORDERS = ["o1", "o1", "ghost", "", "o7", "bad\udcff"]


def one_at_a_time(
    engine: Engine, requests: list[Any] = REQUESTS, orders: list[Any] = ORDERS
) -> tuple[list[bool], list[bool]]:
    def attempt(call: Any, *args: Any) -> bool:
        try:
            call(*args)
        except (stockkeeper.InvalidInput, stockkeeper.NotFound, stockkeeper.Conflict):
            return False
        return True

    held = [attempt(engine.block, *request) for request in requests]
    confirmed = [attempt(engine.confirm, order) for order in orders]
    return held, confirmed


def kettle_engine() -> Engine:
    engine = Engine(manual_clock=True)
    engine.add_product("kettle", "Kettle", 10)
    return engine


def test_engine_batches_answer_and_count_as_single_calls() -> None:
    with kettle_engine() as single, kettle_engine() as batch:
        held, confirmed = one_at_a_time(single)
        assert batch.block_many(REQUESTS) == held
        assert batch.confirm_many(ORDERS) == confirmed
        assert held == [True, False, False, False, False, False, False, True]
        assert confirmed == [True, False, False, False, True, False]
        assert batch.metrics() == single.metrics()
        assert batch.stock("kettle") == single.stock("kettle")


def test_long_batches_answer_and_count_as_single_calls() -> None:
    # Long enough for the engine to read requests well ahead of the one it
    # runs: held, confirmed, unknown and refused ones, and triples that are
    # lists, in one batch.
    requests: list[Any] = [
        (f"p{i % 4}" if i % 7 else "ghost", 1 + i % 3, f"o{i % 90}") for i in range(150)
    ]
    requests[40:60] = [[f"p{i % 4}", 1, f"list{i}"] for i in range(20)]
    requests[70] = ("", 1, "o70")
    orders = [f"o{i}" for i in range(0, 120, 2)] + ["list3", "", "bad\udcff"]

    def engine() -> Engine:
        engine = Engine(manual_clock=True)
        engine.add_products((f"p{i}", "P", 60) for i in range(4))
        return engine

    with engine() as single, engine() as batch:
        held, confirmed = one_at_a_time(single, requests, orders)
        assert batch.block_many(requests) == held
        assert batch.confirm_many(orders) == confirmed
        assert True in held and False in held and True in confirmed and False in confirmed
        assert batch.metrics() == single.metrics()
        assert [batch.stock(f"p{i}") for i in range(4)] == [single.stock(f"p{i}") for i in range(4)]


def test_a_batch_emptied_while_it_is_read_runs_what_was_read() -> None:
    requests: list[Any] = [("kettle", 1, f"o{i}") for i in range(30)]

    class Clears:
        """A quantity whose reading empties the batch."""

        def __index__(self) -> int:
            requests.clear()
            return 1

    requests[5] = ("kettle", Clears(), "o5")
    with kettle_engine() as engine:
        assert engine.block_many(requests) == [True] * 6
        assert engine.available("kettle") == 4


def test_engine_batches_take_any_iterable() -> None:
    with kettle_engine() as engine:
        assert engine.block_many(iter([["kettle", 1, "o1"]]), hold_time=5) == [True]
        assert engine.status("o1").deadline.since_start == 5.0
        assert engine.confirm_many(order for order in ["o1"]) == [True]
        assert engine.block_many([]) == []
        assert engine.confirm_many(()) == []


def test_a_refused_hold_time_refuses_each_request() -> None:
    with kettle_engine() as engine:
        assert engine.block_many([("kettle", 1, "o1"), ("kettle", 1, "o2")], -1) == [False, False]
        assert engine.metrics().refused_invalid == 2
        assert engine.available("kettle") == 10


@pytest.mark.parametrize(
    "requests",
    [
        "kettle",
        [("kettle", 1)],
        [("kettle", 1, "o1", 5)],
        [("kettle", 1.0, "o1")],
        [(1, 1, "o1")],
        [("kettle", 1, None)],
        [("kettle", 1, "o0"), "kettle1o1"],
        5,
    ],
)
def test_engine_block_many_raises_type_error_before_any_runs(requests: Any) -> None:
    with kettle_engine() as engine:
        with pytest.raises(TypeError):
            engine.block_many(requests)
        assert engine.available("kettle") == 10
        assert engine.metrics() == Engine().metrics()


@pytest.mark.parametrize("orders", ["o1", [1], ["o1", None], 5])
def test_engine_confirm_many_raises_type_error_before_any_runs(orders: Any) -> None:
    with kettle_engine() as engine:
        engine.block("kettle", 1, "o1")
        with pytest.raises(TypeError):
            engine.confirm_many(orders)
        assert engine.status("o1").state == "held"


def test_closed_engine_batches_raise() -> None:
    engine = kettle_engine()
    engine.close()
    with pytest.raises(stockkeeper.EngineClosed):
        engine.block_many([("", 0, "")])
    with pytest.raises(stockkeeper.EngineClosed):
        engine.confirm_many([])


def test_service_batches_answer_as_single_calls() -> None:
    single, batch = InventoryService(manual_clock=True), InventoryService(manual_clock=True)
    with single, batch:
        requests = [*REQUESTS, (42, 1, 7), ("42", 1, "8")]
        orders = [*ORDERS, 7, "8", 9]
        for service in (single, batch):
            service.addProduct("kettle", "Kettle", 10)
            service.addProduct(42, "Answer", 1)
        held = [single.blockInventory(*request) for request in requests]
        confirmed = [single.confirmOrder(order) for order in orders]
        assert batch.blockInventoryMany(requests) == held
        assert batch.confirmOrderMany(orders) == confirmed
        assert held[-2:] == [True, False]
        assert confirmed[-3:] == [True, False, False]
        assert batch.engine.metrics() == single.engine.metrics()


def test_service_batches_refuse_bad_types() -> None:
    with InventoryService(manual_clock=True) as service:
        service.addProduct("kettle", "Kettle", 10)
        for requests in ([("kettle", 1, 1.5)], [(True, 1, "o1")], "abc", [("kettle", 1)]):
            with pytest.raises(TypeError):
                service.blockInventoryMany(requests)
        for orders in ([b"o1"], "o1", [None]):
            with pytest.raises(TypeError):
                service.confirmOrderMany(orders)
        assert service.getInventory("kettle") == 10
        service.close()
        with pytest.raises(stockkeeper.EngineClosed):
            service.blockInventoryMany([("kettle", 1, "o1")])
        with pytest.raises(stockkeeper.EngineClosed):
            service.confirmOrderMany(["o1"])


def test_service_batches_refuse_bytes_as_ids_or_triples() -> None:
    # Bytes iterate as ints, which the service would take for ids.
    with InventoryService(manual_clock=True) as service:
        service.addProduct("112", "Product 112", 10)
        service.addProduct("kettle", "Kettle", 10)
        assert service.blockInventory("kettle", 1, "97")
        for requests in ([b"p\x02o"], [bytearray(b"p\x02o")], b"p\x02o"):
            with pytest.raises(TypeError):
                service.blockInventoryMany(requests)
        for orders in (b"a", bytearray(b"a")):
            with pytest.raises(TypeError):
                service.confirmOrderMany(orders)
        assert service.getInventory("112") == 10
        assert service.getOrderStatus("97") == "held"


def test_service_batches_refuse_every_bytes_like_object() -> None:
    with InventoryService(manual_clock=True) as service:
        service.addProduct("1", "One", 10)
        service.addProduct("kettle", "Kettle", 10)
        assert service.blockInventory("kettle", 1, "97")
        bytes_like = [memoryview(b"\x01\x01\x05"), array.array("b", [1, 1, 7])]
        for triple in bytes_like:
            with pytest.raises(TypeError):
                service.blockInventoryMany([triple])
        for orders in (memoryview(b"a"), array.array("b", [97])):
            with pytest.raises(TypeError):
                service.confirmOrderMany(orders)
        assert service.getInventory("1") == 10
        assert service.getOrderStatus("97") == "held"


def test_service_single_calls_count_refusals_as_the_engine_does() -> None:
    with InventoryService(manual_clock=True) as service, kettle_engine() as engine:
        service.addProduct("kettle", "Kettle", 10)
        one_at_a_time(engine)
        for request in REQUESTS:
            service.blockInventory(*request)
        for order in ORDERS:
            service.confirmOrder(order)
        assert service.engine.metrics() == engine.metrics()


def test_the_service_is_native_and_subclassable() -> None:
    class Shop(InventoryService):
        pass

    with Shop(manual_clock=True) as shop:
        shop.addProduct("kettle", "Kettle", 1)
        assert shop.blockInventory("kettle", 1, "o1") is True
        assert repr(shop).endswith("Shop closed=False>")
    assert isinstance(stockkeeper.InventoryService.blockInventory.__doc__, str)
    for name in ("blockInventoryMany", "confirmOrderMany"):
        assert getattr(InventoryService, name).__doc__, name
