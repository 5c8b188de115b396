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

What code written for the earlier service may notice:

- An order id stays taken once its order has ended, while the order is
  remembered, so that a late confirm is told apart from a confirm of an
  order never held: `blockInventory` answers False for it meanwhile. An
  order is remembered among the last `max_remembered` to end (a million by
  default), and until a release pass finds it older than `retention`
  seconds (an hour by default); passes run in the background once
  `start_cleanup` has started them, or on `engine.release_expired()` and
  `engine.advance()`. The earlier service forgot an order once it ended;
  code that reuses an order id at once (a cart's id, say) passes
  `max_remembered=0`.
- Deadlines run on a monotonic clock. A test that fakes expiry by patching
  `time.time` expires nothing; `manual_clock=True` and
  `service.engine.advance(seconds)` move time for tests.
- A service made before `os.fork` acts as closed in the child, every call
  raising `EngineClosed` (its threads, and any lock one held at the fork,
  stayed in the parent): make the service after forking, in each worker of
  a preloading server or a forking pool.
- `addProduct` judges its arguments before it looks for the id, so a bad
  name or count raises even for an id that exists. A name that is not a
  str, and a bool for an id, raise TypeError.
- Ids are compared by their text: a str subclass's own `__eq__` and
  `__hash__` play no part.
- `copy`, `deepcopy` and `pickle` refuse a service (TypeError): it owns an
  engine and its threads. Calling `__init__` again resets nothing.
- `engine` is the service's own read-only attribute; a subclass cannot use
  the name for one of its own.
- The methods are native: `unittest.mock.create_autospec` and
  `patch.object(..., autospec=True)` cannot read their signatures, and
  check nothing about the arguments of the calls they record.

What code of the earlier service may touch and this one does not have: its
internals. The `products`, `orders`, `quantity` and `product_lock`
attributes and the `_cleanup` method are gone; stock is read with
`getInventory` and orders with `getOrderStatus`. Otherwise an instance
behaves as a plain Python object would: it takes attributes of its own
(so `unittest.mock.patch.object` can replace one of its methods) and weak
references, and a subclass may give its `__init__` arguments of its own.
The keywords `hold_time`, `manual_clock`, `retention` and `max_remembered`
of the constructor call set up the engine, in a subclass too (and reach its
`__init__` as well); the subclass's `super().__init__()` takes none, as the
earlier service's did. A bool passes for a count or a time, as the int it
is, but not for an id.

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
