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
  For an int id of over 65,536 bits (some 19,700 digits) the length its
  message gives is worked out from a logarithm, and may be one off next to
  a power of ten.
- `updateInventory` with 0 answers True for a known product and changes
  nothing, as the earlier service did.
- After `close`, every call raises `EngineClosed`.

What code of the earlier service may touch and this one does not have: its
internals. The `products`, `orders`, `quantity` and `product_lock`
attributes and the `_cleanup` method are gone; stock is read with
`getInventory` and orders with `getOrderStatus`. Otherwise an instance
behaves as a plain Python object would: it takes attributes of its own
(so `unittest.mock.patch.object` can replace one of its methods) and weak
references, and a subclass may give its `__init__` arguments of its own.
The keywords `hold_time` and `manual_clock` of the constructor call set up
the engine, in a subclass too (and reach its `__init__` as well); the
subclass's `super().__init__()` takes none, as the earlier service's did.

Beyond the earlier API, `blockInventoryMany` and `confirmOrderMany` take a
batch of orders in one call and answer a list of True/False, each as the
one-order method would have answered it. A batch given as a str or a
bytes-like object (bytes, bytearray, memoryview, array.array) raises
TypeError: its items are letters or numbers, which would pass for ids.

The class is native: each method is one call into the engine, with no
Python frame between the caller and the engine's answer.
"""

from __future__ import annotations

from stockkeeper._stockkeeper import InventoryService

__all__ = ["InventoryService"]
