"""`InventoryService`: the earlier pure-Python service's API, on the engine.

The names, arguments and return conventions are the earlier service's, so
code written against it runs unchanged: `addProduct` ignores a product id
that exists and returns None, `getInventory` answers the available units or
None for an unknown product, and the other calls answer True or False.

Its faults are gone. A second `blockInventory` with an order id in use is
refused instead of overwriting the first hold; negative and zero quantities
are refused instead of adding stock; a correction can never take stock below
zero; an order past its deadline can no longer be confirmed; concurrent
calls are safe; expired holds come back promptly, at a cost proportional to
the holds that expire; and `cancelOrder` and `getOrderStatus` exist.

Choices where the earlier service had no rule:

- Ids are strs. An int id is accepted and names the product or order whose id
  is its decimal str (so `1` and `"1"` are the same id); any other type
  raises TypeError, as does a count that is not an int.
- Where a call answers True or False, every refusal by the engine (unknown
  id, bad value, not enough stock, wrong order state) answers False and
  changes nothing.
- `addProduct` has no answer to give, so a bad id, name or count raises the
  engine's `InvalidInput` (a ValueError) rather than being dropped silently.
- `updateInventory` with 0 answers True for a known product and changes
  nothing, as the earlier service did.
- After `close`, every call raises `EngineClosed`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Union

from stockkeeper._stockkeeper import (
    Conflict,
    Engine,
    InvalidInput,
    NotFound,
    ProductExists,
)

Id = Union[str, int]

# What the engine refuses because of the call itself; an engine that cannot
# serve any call (EngineClosed) still raises.
_REFUSED = (InvalidInput, NotFound, Conflict)


def _id(value: object) -> str:
    """The engine's id for a product or order id given to the service."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"an id must be a str or an int, not {type(value).__name__}")


class InventoryService:
    """The earlier inventory service's API over a thread-safe `Engine`.

    Every method may be called from any number of threads at once. Holds last
    `hold_time` seconds (five minutes, as before). Expired holds are released
    when `start_cleanup` has started the background releaser, and in any case
    a hold past its deadline can never be confirmed. With `manual_clock` time
    stands still until `engine.advance` moves it, for deterministic tests.
    """

    def __init__(self, *, hold_time: float = 300.0, manual_clock: bool = False) -> None:
        # No releaser yet: the earlier service started its cleanup only on
        # start_cleanup(), and callers may rely on that order.
        self._engine = Engine(hold_time, manual_clock=manual_clock, background_release=False)

    @property
    def engine(self) -> Engine:
        """The engine behind the service, for the idiomatic API: its
        `metrics()` count the service's refusals too, and `subscribe` tells
        how the service's holds end."""
        return self._engine

    def addProduct(self, product_id: Id, name: str, inventory_count: int) -> None:
        """Adds a product with `inventory_count` units; returns None.

        A product id that exists is ignored, leaving that product as it was.
        A bad id, name or count (negative, or past 2**63 - 1) raises
        `InvalidInput`.
        """
        try:
            self._engine.add_product(_id(product_id), name, inventory_count)
        except ProductExists:
            return None

    def getInventory(self, product_id: Id) -> int | None:
        """The units a new order can still hold, or None for an unknown
        product (including an id no product could have)."""
        try:
            return self._engine.available(_id(product_id))
        except (NotFound, InvalidInput):
            return None

    def updateInventory(self, product_id: Id, additional_quantity: int) -> bool:
        """Restocks (positive) or corrects (negative) the product's stock.

        True when done. False, changing nothing, for an unknown product, a
        correction larger than the units available (held units are never
        taken back), or a total past 2**63 - 1. Zero answers True for a known
        product.
        """
        key = _id(product_id)
        if isinstance(additional_quantity, int) and additional_quantity == 0:
            return self.getInventory(key) is not None
        try:
            self._engine.update_inventory(key, additional_quantity)
        except _REFUSED:
            return False
        return True

    def blockInventory(self, product_id: Id, order_quantity: int, order_id: Id) -> bool:
        """Holds `order_quantity` units for `order_id` until the hold time
        passes.

        True when held. False, changing nothing, for an unknown product, a
        quantity below 1 or above the units available, or an order id that
        is held or was used recently.
        """
        try:
            self._engine.block(_id(product_id), order_quantity, _id(order_id))
        except _REFUSED:
            return False
        return True

    def confirmOrder(self, order_id: Id) -> bool:
        """Confirms a held order: its units leave stock for good.

        True when confirmed. False for an unknown order, one confirmed or
        cancelled already, or one past its deadline (its units are back).
        """
        try:
            self._engine.confirm(_id(order_id))
        except _REFUSED:
            return False
        return True

    def cancelOrder(self, order_id: Id) -> bool:
        """Cancels a held order (payment failed): its units are available
        again. True when cancelled; False as `confirmOrder` answers it."""
        try:
            self._engine.cancel(_id(order_id))
        except _REFUSED:
            return False
        return True

    def getOrderStatus(self, order_id: Id) -> str | None:
        """The order's state: "held", "confirmed", "cancelled" or "expired";
        None for an order never held or forgotten after the retention
        period."""
        try:
            return self._engine.status(_id(order_id)).state
        except (NotFound, InvalidInput):
            return None

    def start_cleanup(self) -> None:
        """Starts releasing expired holds in the background. Calling it again
        does nothing; with the manual clock, `engine.advance` releases."""
        self._engine.start_releaser()

    def close(self) -> None:
        """Stops the engine and its releaser. Calling it again does nothing."""
        self._engine.close()

    def __enter__(self) -> InventoryService:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
