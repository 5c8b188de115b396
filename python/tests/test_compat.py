"""`InventoryService` keeps the earlier service's names, arguments and
answers, so code written against it runs unchanged."""

from __future__ import annotations

import sys
import weakref
from unittest import mock

import pytest

import stockkeeper
from stockkeeper import InventoryService


@pytest.fixture
def service() -> InventoryService:
    service = InventoryService(manual_clock=True)
    service.addProduct("kettle", "Kettle", 10)
    return service


def test_code_written_for_the_earlier_service_runs_unchanged() -> None:
    service = InventoryService()
    service.addProduct("p1", "Phone", 10)
    service.start_cleanup()
    if service.blockInventory("p1", 3, "order-1"):
        assert service.getInventory("p1") == 7
        assert service.confirmOrder("order-1")
    assert service.getInventory("p1") == 7
    assert service.updateInventory("p1", 5)
    assert service.getInventory("p1") == 12
    assert service.getInventory("unknown") is None
    assert not service.confirmOrder("order-1")
    service.close()


def test_add_product_returns_none_and_ignores_a_taken_id(service: InventoryService) -> None:
    service.addProduct("mug", "Mug", 3)
    service.addProduct("kettle", "Other", 99)
    assert service.getInventory("kettle") == 10
    assert service.engine.product_name("kettle") == "Kettle"
    assert service.getInventory("mug") == 3


def test_add_product_raises_on_bad_input(service: InventoryService) -> None:
    with pytest.raises(stockkeeper.InvalidInput):
        service.addProduct("", "Empty", 1)
    with pytest.raises(stockkeeper.Overflow):
        service.addProduct("big", "Big", 2**63)
    with pytest.raises(ValueError):
        service.addProduct("neg", "Neg", -1)
    with pytest.raises(TypeError):
        service.addProduct(1.5, "Float", 1)  # type: ignore[arg-type]


def test_get_inventory_answers_available_or_none(service: InventoryService) -> None:
    assert service.blockInventory("kettle", 4, "o1")
    assert service.getInventory("kettle") == 6
    assert service.getInventory("ghost") is None
    assert service.getInventory("") is None
    assert service.getInventory("x" * 300) is None
    assert service.getInventory("bad\udcff") is None


def test_update_inventory_answers_true_or_false(service: InventoryService) -> None:
    assert service.updateInventory("kettle", 5) is True
    assert service.updateInventory("kettle", -15) is True
    assert service.getInventory("kettle") == 0
    assert service.updateInventory("kettle", -1) is False
    assert service.updateInventory("kettle", 0) is True
    assert service.updateInventory("ghost", 0) is False
    assert service.updateInventory("ghost", 1) is False
    assert service.updateInventory("kettle", 2**63) is False
    assert service.updateInventory("kettle", -(2**80)) is False
    assert service.getInventory("kettle") == 0
    with pytest.raises(TypeError):
        service.updateInventory("kettle", 1.0)  # type: ignore[arg-type]


def test_update_inventory_judges_zero_by_value(service: InventoryService) -> None:
    class EqualsAll(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    class CannotCompare(int):
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no comparing")

        __hash__ = int.__hash__

    assert service.updateInventory("kettle", EqualsAll(5)) is True
    assert service.getInventory("kettle") == 15
    assert service.updateInventory("kettle", CannotCompare(-5)) is True
    assert service.getInventory("kettle") == 10
    assert service.updateInventory("kettle", EqualsAll(0)) is True
    assert service.getInventory("kettle") == 10

    class Index:
        def __init__(self, value: int) -> None:
            self.value = value

        def __index__(self) -> int:
            return self.value

    refused = service.engine.metrics().refused_invalid
    assert service.updateInventory("kettle", Index(0)) is True  # type: ignore[arg-type]
    assert service.updateInventory("kettle", Index(2)) is True  # type: ignore[arg-type]
    assert service.getInventory("kettle") == 12
    assert service.engine.metrics().refused_invalid == refused


def test_block_inventory_answers_true_or_false(service: InventoryService) -> None:
    assert service.blockInventory("kettle", 10, "o1") is True
    assert service.blockInventory("kettle", 1, "o2") is False
    assert service.blockInventory("ghost", 1, "o3") is False
    assert service.blockInventory("kettle", 1, "") is False
    assert service.blockInventory("kettle", 2**64, "o4") is False
    assert service.getInventory("kettle") == 0


def test_confirm_and_cancel_answer_true_or_false(service: InventoryService) -> None:
    assert service.blockInventory("kettle", 2, "o1")
    assert service.blockInventory("kettle", 2, "o2")
    assert service.confirmOrder("o1") is True
    assert service.confirmOrder("o1") is False
    assert service.cancelOrder("o2") is True
    assert service.cancelOrder("o2") is False
    assert service.confirmOrder("ghost") is False
    assert service.confirmOrder("") is False
    assert service.getInventory("kettle") == 8


def test_holds_last_the_hold_time() -> None:
    service = InventoryService(manual_clock=True, hold_time=60)
    service.addProduct("kettle", "Kettle", 1)
    assert service.blockInventory("kettle", 1, "o1")
    assert service.engine.status("o1").deadline.since_start == 60.0
    service.engine.advance(61)
    assert service.getInventory("kettle") == 1
    assert service.getOrderStatus("o1") == "expired"


def test_int_ids_name_their_decimal_str(service: InventoryService) -> None:
    service.addProduct(42, "Answer", 3)
    assert service.getInventory("42") == 3
    assert service.blockInventory(42, 1, 7)
    assert service.getOrderStatus("7") == "held"
    assert service.confirmOrder(7)
    assert service.getInventory(42) == 2
    for bad in (None, 1.0, b"42", True):
        with pytest.raises(TypeError):
            service.getInventory(bad)  # type: ignore[arg-type]


def test_an_int_id_too_long_for_an_id_is_refused_as_one(service: InventoryService) -> None:
    # Past Python's limit on writing ints out (4300 digits by default) and
    # on both sides of the bit count past which no id is tried.
    for n in (10**5000, -(10**5000), 2**852, 2**853, -(2**853)):
        assert service.getInventory(n) is None
        assert service.confirmOrder(n) is False
        assert service.blockInventory(n, 1, "o1") is False
        assert service.blockInventory("kettle", 1, n) is False
        with pytest.raises(stockkeeper.InvalidInput) as info:
            service.addProduct(n, "Huge", 1)
        assert info.value.code == "id_too_long"
        digits = len(str(abs(n))) if abs(n) < 10**4000 else 5001
        assert str(info.value).startswith(f"id is {digits + (n < 0)} bytes")
    assert service.blockInventoryMany([(10**5000, 1, "o1"), ("kettle", 1, "o2")]) == [False, True]
    assert service.engine.metrics().refused_invalid == 5 * 5 + 1
    longest = 10**255
    service.addProduct(longest, "Longest", 2)
    assert service.getInventory(str(longest)) == 2


def test_an_int_id_too_long_is_measured_exactly_without_writing_it_out(
    service: InventoryService,
) -> None:
    # Next to powers of ten, where the length changes, and far past Python's
    # limit on writing ints out.
    huge = [10**5000, 10**5000 - 1, 10**5000 + 1, -(10**9000), 7 * 10**20000 - 1, 2**60000]
    limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
    setter = getattr(sys, "set_int_max_str_digits", lambda _: None)
    setter(0)
    try:
        lengths = [len(str(n)) for n in huge]
    finally:
        setter(limit)
    for n, length in zip(huge, lengths):
        with pytest.raises(stockkeeper.InvalidInput) as info:
            service.addProduct(n, "Huge", 1)
        assert str(info.value).startswith(f"id is {length} bytes"), (length, str(info.value))
        assert service.getInventory(n) is None
    # Two million bits: writing it out would take seconds.
    assert service.getInventory(1 << 2_000_000) is None


def test_an_int_subclass_names_the_id_of_its_value(service: InventoryService) -> None:
    class Renamed(int):
        def __str__(self) -> str:
            return "kettle"

        __repr__ = __str__

    service.addProduct(Renamed(42), "Answer", 3)
    assert service.getInventory("42") == 3
    assert service.getInventory("kettle") == 10


def test_start_cleanup_starts_the_releaser_once() -> None:
    with InventoryService() as service:
        assert not service.engine.releaser_running
        service.start_cleanup()
        service.start_cleanup()
        assert service.engine.releaser_running
    assert service.engine.closed


def test_a_closed_service_raises(service: InventoryService) -> None:
    service.close()
    service.close()
    with pytest.raises(stockkeeper.EngineClosed):
        service.getInventory("kettle")
    with pytest.raises(stockkeeper.EngineClosed):
        service.blockInventory("kettle", 1, "o1")
    with pytest.raises(stockkeeper.EngineClosed):
        service.confirmOrder("o1")


def test_a_closed_service_raises_whatever_else_is_wrong(service: InventoryService) -> None:
    service.close()
    for call in (
        lambda: service.blockInventory("kettle", -1, "o1"),
        lambda: service.blockInventory("kettle", 0, "o1"),
        lambda: service.updateInventory("kettle", 2**63),
        lambda: service.confirmOrder("\ud800"),
        lambda: service.getInventory("\ud800"),
        lambda: service.getOrderStatus(""),
        lambda: service.addProduct("cup", "Cup", -1),
    ):
        with pytest.raises(stockkeeper.EngineClosed):
            call()


def test_every_method_documents_its_contract() -> None:
    names = [
        "addProduct",
        "getInventory",
        "updateInventory",
        "blockInventory",
        "confirmOrder",
        "cancelOrder",
        "getOrderStatus",
        "start_cleanup",
        "close",
    ]
    for name in names:
        assert getattr(InventoryService, name).__doc__, name
    assert InventoryService.__doc__
    assert stockkeeper.compat.__doc__


def test_a_subclass_may_take_constructor_arguments_of_its_own() -> None:
    class Regional(InventoryService):
        def __init__(self, region: str, **options: object) -> None:
            super().__init__()
            self.region = region

    with Regional("eu", manual_clock=True) as regional:
        assert regional.region == "eu"
        regional.addProduct("kettle", "Kettle", 2)
        assert regional.blockInventory("kettle", 1, "o1")
        assert regional.engine.manual_clock
    # A class that takes no arguments of its own refuses them.
    with pytest.raises(TypeError):
        InventoryService(5)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        InventoryService(region="eu")  # type: ignore[call-arg]

    class Plain(InventoryService):
        pass

    with pytest.raises(TypeError):
        Plain(5)  # type: ignore[call-arg]

    # The constructor's own keywords set up the engine in a subclass too.
    class Configured(InventoryService):
        def __init__(self, manual_clock: bool) -> None:
            super().__init__()
            self.asked = manual_clock

    with Configured(manual_clock=True) as configured:
        assert configured.asked and configured.engine.manual_clock


def test_an_instance_takes_attributes_mocks_and_weak_references(
    service: InventoryService,
) -> None:
    service.note = "mine"  # type: ignore[attr-defined]
    assert service.note == "mine"  # type: ignore[attr-defined]
    with mock.patch.object(service, "confirmOrder", return_value="mocked"):
        assert service.confirmOrder("o1") == "mocked"
    assert service.confirmOrder("o1") is False
    ref = weakref.ref(service)
    assert ref() is service


def test_remembering_no_order_frees_an_ended_order_id_at_once() -> None:
    with InventoryService(manual_clock=True, max_remembered=0) as service:
        service.addProduct("kettle", "Kettle", 5)
        assert service.blockInventory("kettle", 1, "cart-1")
        assert service.confirmOrder("cart-1")
        assert service.blockInventory("kettle", 1, "cart-1")
    with InventoryService(manual_clock=True, retention=60) as kept:
        kept.addProduct("kettle", "Kettle", 5)
        assert kept.blockInventory("kettle", 1, "cart-1")
        assert kept.confirmOrder("cart-1")
        assert not kept.blockInventory("kettle", 1, "cart-1")
        kept.engine.advance(61)
        assert kept.blockInventory("kettle", 1, "cart-1")
