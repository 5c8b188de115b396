"""stockkeeper: an in-process, thread-safe inventory reservation engine.

An order *holds* stock while its customer pays. Confirming the order takes
the units out of stock; cancelling it, or letting its deadline pass, gives
them back. Holds expire on their own, measured on a monotonic clock, and a
hold whose deadline has passed can never be confirmed.

    >>> import stockkeeper
    >>> engine = stockkeeper.Engine(manual_clock=True)
    >>> engine.add_product("sku-1", "Kettle", 3)
    >>> deadline = engine.block("sku-1", 2, "order-1")
    >>> engine.available("sku-1")
    1
    >>> engine.advance(301)
    1
    >>> engine.confirm("order-1")
    Traceback (most recent call last):
      ...
    stockkeeper.Expired: order's hold expired

`Engine` is the idiomatic API: snake_case methods that raise a
`StockkeeperError` subclass carrying a stable `.code`. `InventoryService`
keeps the names and True/False conventions of the earlier pure-Python
service, so code written against it runs unchanged.

`Engine.metrics()` counts holds by outcome and refusals by reason, also as
Prometheus text (`Engine.metrics_text`). `Engine.subscribe` tells a callback
how each hold ended, without polling; an `Event` is a `HoldEnded` or a
`SoldOut`, and callbacks run on the engine's notifier thread:

    >>> ended = []
    >>> subscription = engine.subscribe(ended.append)
    >>> deadline = engine.block("sku-1", 1, "order-2")
    >>> engine.confirm("order-2")
    >>> engine.flush_events()
    >>> ended
    [HoldEnded(order_id='order-2', state='confirmed', lines=[('sku-1', 1)])]
    >>> engine.metrics().confirmed
    1
"""

# Imported here, on the thread that imports stockkeeper, and not first from
# a callback on an engine's notifier thread (which reports a callback's
# exception through logging): the thread that first imports `threading`
# becomes its main thread, and interpreter shutdown waits for that thread
# to end. A notifier thread never ends before shutdown, so the process would
# hang at exit.
import logging  # noqa: F401  (imported for the side effect above)
import threading  # noqa: F401

from typing import Union

from stockkeeper._stockkeeper import (
    MAX_COUNT,
    MAX_ID_BYTES,
    MAX_NAME_BYTES,
    AlreadyCancelled,
    AlreadyConfirmed,
    ClockNotManual,
    Conflict,
    Deadline,
    DuplicateOrder,
    Engine,
    EngineClosed,
    Expired,
    HoldEnded,
    InsufficientStock,
    InvalidInput,
    Metrics,
    NotFound,
    OrderStatus,
    Overflow,
    ProductExists,
    ProductOutcomes,
    SoldOut,
    Stock,
    StockkeeperError,
    UnknownOrder,
    UnknownProduct,
    __version__,
)
from stockkeeper.compat import InventoryService

Event = Union[HoldEnded, SoldOut]
"""What a callback given to `Engine.subscribe` receives."""

__all__ = [
    "MAX_COUNT",
    "MAX_ID_BYTES",
    "MAX_NAME_BYTES",
    "AlreadyCancelled",
    "AlreadyConfirmed",
    "ClockNotManual",
    "Conflict",
    "Deadline",
    "DuplicateOrder",
    "Engine",
    "EngineClosed",
    "Event",
    "Expired",
    "HoldEnded",
    "InsufficientStock",
    "InvalidInput",
    "InventoryService",
    "Metrics",
    "NotFound",
    "OrderStatus",
    "Overflow",
    "ProductExists",
    "ProductOutcomes",
    "SoldOut",
    "Stock",
    "StockkeeperError",
    "UnknownOrder",
    "UnknownProduct",
    "__version__",
]
