"""Type stubs of the native module behind `stockkeeper`."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import ClassVar, SupportsFloat, SupportsIndex, final

from typing_extensions import TypeAlias

__all__ = [
    "Engine",
    "InventoryService",
    "Deadline",
    "OrderStatus",
    "Stock",
    "Metrics",
    "ProductOutcomes",
    "HoldEnded",
    "SoldOut",
    "StockkeeperError",
    "InvalidInput",
    "Overflow",
    "NotFound",
    "UnknownProduct",
    "UnknownOrder",
    "Conflict",
    "ProductExists",
    "DuplicateOrder",
    "InsufficientStock",
    "AlreadyConfirmed",
    "AlreadyCancelled",
    "Expired",
    "ClockNotManual",
    "EngineClosed",
    "__version__",
    "MAX_COUNT",
    "MAX_ID_BYTES",
    "MAX_NAME_BYTES",
]

__version__: str
MAX_COUNT: int
"""The largest count any product or order may reach: 2**63 - 1."""
MAX_ID_BYTES: int
"""The longest id accepted, in bytes of UTF-8."""
MAX_NAME_BYTES: int
"""The longest product name accepted, in bytes of UTF-8."""

_Seconds: TypeAlias = SupportsIndex | SupportsFloat
_Id: TypeAlias = str | int
_Lines: TypeAlias = Mapping[str, SupportsIndex] | Iterable[tuple[str, SupportsIndex]]
_Event: TypeAlias = HoldEnded | SoldOut

class StockkeeperError(Exception):
    """Base of every error the engine raises."""

    code: str
    """The stable snake_case name of the error, the same in every language."""

class InvalidInput(StockkeeperError, ValueError):
    """An argument was refused before anything changed."""

class Overflow(InvalidInput, OverflowError):
    """A count would pass 2**63 - 1, or a time would pass its bound."""

class NotFound(StockkeeperError, KeyError):
    """No product or order has this id."""

class UnknownProduct(NotFound):
    """No product has this id."""

    product: str

class UnknownOrder(NotFound):
    """No live or remembered order has this id."""

class Conflict(StockkeeperError):
    """The call does not fit the current state of a product or order."""

class ProductExists(Conflict):
    """A product with this id exists already."""

class DuplicateOrder(Conflict):
    """The order id is held, or ended within the retention period."""

class InsufficientStock(Conflict):
    """A product cannot cover the quantity asked for."""

    product: str
    requested: int
    available: int

class AlreadyConfirmed(Conflict):
    """The order was confirmed already."""

class AlreadyCancelled(Conflict):
    """The order was cancelled already."""

class Expired(Conflict):
    """The order's deadline passed; its stock went back to the shelf."""

class ClockNotManual(StockkeeperError, RuntimeError):
    """The call needs the manual clock; the engine runs on the system clock."""

class EngineClosed(StockkeeperError, RuntimeError):
    """The engine was closed."""

@final
class Stock:
    """A product's three numbers, read together."""

    @property
    def on_hand(self) -> int:
        """Units in stock, held ones included."""
    @property
    def reserved(self) -> int:
        """Units held by live orders."""
    @property
    def available(self) -> int:
        """`on_hand - reserved`: what a new order can still hold."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Deadline:
    """When a hold runs out; it may be confirmed up to and including it."""

    @property
    def since_start(self) -> float:
        """Seconds since the engine started, on its monotonic clock."""
    @property
    def since_start_ns(self) -> int:
        """The same instant in whole nanoseconds, exact."""
    @property
    def wall(self) -> datetime:
        """The same instant as an aware UTC datetime, for display."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class OrderStatus:
    """Where an order stands, what it holds and its deadline."""

    @property
    def order_id(self) -> str: ...
    @property
    def state(self) -> str:
        """ "held", "confirmed", "cancelled" or "expired"."""
    @property
    def lines(self) -> list[tuple[str, int]]:
        """`(product_id, quantity)` pairs, one per product, sorted by id."""
    @property
    def deadline(self) -> Deadline:
        """The deadline the hold has, or had when it ended."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Metrics:
    """A snapshot of the engine's counters; the hold figures are read
    together, so `live_holds == held - confirmed - cancelled - expired`."""

    @property
    def held(self) -> int:
        """Holds started."""
    @property
    def confirmed(self) -> int:
        """Holds that ended confirmed."""
    @property
    def cancelled(self) -> int:
        """Holds that ended cancelled."""
    @property
    def expired(self) -> int:
        """Holds that ended expired."""
    @property
    def refused_stock(self) -> int:
        """Calls refused because a product had too little available."""
    @property
    def refused_duplicate(self) -> int:
        """Blocks refused because the order id was in use or remembered."""
    @property
    def refused_unknown(self) -> int:
        """Calls refused because no product or order had the id."""
    @property
    def refused_ended(self) -> int:
        """Confirms, cancels and extensions refused because the hold had ended."""
    @property
    def refused_invalid(self) -> int:
        """Calls refused for bad input (ids, names, quantities, durations, overflow)."""
    @property
    def live_holds(self) -> int:
        """Holds live now."""
    @property
    def held_units(self) -> int:
        """Units reserved by live holds now."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ProductOutcomes:
    """How the holds on one product ended."""

    @property
    def confirmed(self) -> int: ...
    @property
    def cancelled(self) -> int: ...
    @property
    def expired(self) -> int: ...
    @property
    def confirmed_share(self) -> float | None:
        """The share of ended holds that ended confirmed; None before any ended."""
    @property
    def expired_share(self) -> float | None:
        """The share of ended holds that expired; None before any ended."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class HoldEnded:
    """An event: a hold ended. Built by hand too, to test code that handles
    events. It can be pickled, to reach another process, and copied."""

    __match_args__: ClassVar[tuple[str, str, str]]
    def __new__(
        cls, order_id: str, state: str, lines: Sequence[tuple[str, SupportsIndex]]
    ) -> HoldEnded: ...
    @property
    def order_id(self) -> str: ...
    @property
    def state(self) -> str:
        """ "confirmed", "cancelled" or "expired"."""
    @property
    def lines(self) -> list[tuple[str, int]]:
        """`(product_id, quantity)` pairs it held, one per product, sorted by id."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[type[HoldEnded], tuple[str, str, list[tuple[str, int]]]]: ...

@final
class SoldOut:
    """An event: a product's available stock reached zero. Built by hand
    too, to test code that handles events. It can be pickled, to reach
    another process, and copied."""

    __match_args__: ClassVar[tuple[str]]
    def __new__(cls, product_id: str) -> SoldOut: ...
    @property
    def product_id(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    def __reduce__(self) -> tuple[type[SoldOut], tuple[str]]: ...

@final
class Engine:
    """An inventory reservation engine, safe to share between threads.

    Every method raises a `StockkeeperError` subclass when the engine refuses
    the call, and then nothing has changed; a value of the wrong type raises
    `TypeError`. Times are seconds, rounded to the nearest nanosecond (a
    positive time to at least one). Refusals are counted in `metrics()`.
    Callbacks given to `subscribe` run on the engine's notifier thread.
    EngineClosed also comes from making an engine, from its first `subscribe`
    and from `start_releaser`, when the operating system refuses the thread
    it needs (an engine already made stays open).

    A call on one product or one order keeps the GIL for the microsecond or
    so it takes in the engine, and lets it go when the notifier thread waits
    for it to run callbacks; the batches and `add_products` release it, so
    that threads sending batches overlap in the engine.
    """

    def __new__(
        cls,
        hold_time: _Seconds = 300.0,
        *,
        retention: _Seconds = 3600.0,
        max_remembered: SupportsIndex = 1_000_000,
        manual_clock: bool = False,
        background_release: bool = True,
    ) -> Engine: ...
    def add_product(self, product_id: str, name: str, on_hand: SupportsIndex) -> None:
        """Adds a product with `on_hand` units."""
    def add_products(self, products: Iterable[tuple[str, str, SupportsIndex]]) -> int:
        """Adds every `(product_id, name, on_hand)` triple in order; returns
        how many it added. Stops at the first refused triple, raising; the
        triples before it stay added, and the exception's `added` attribute
        counts them (an iterator has been read up to 4,096 triples further).
        Each chunk of triples is added with the GIL released and read ahead,
        so threads loading parts of a catalogue overlap in the engine."""
    def product_name(self, product_id: str) -> str:
        """The product's name."""
    def available(self, product_id: str) -> int:
        """The units a new order can still hold."""
    def stock(self, product_id: str) -> Stock:
        """The product's on_hand, reserved and available, read together."""
    def update_inventory(self, product_id: str, delta: SupportsIndex) -> Stock:
        """Restocks (positive) or corrects (negative); returns the stock.
        A delta of zero changes nothing and raises InvalidInput."""
    def block(
        self,
        product_id: str,
        quantity: SupportsIndex,
        order_id: str,
        hold_time: _Seconds | None = None,
    ) -> Deadline:
        """Holds `quantity` units of one product for `order_id`."""
    def block_order(
        self, order_id: str, lines: _Lines, hold_time: _Seconds | None = None
    ) -> Deadline:
        """Holds every line of an order, or nothing."""
    def block_many(
        self,
        requests: Iterable[tuple[str, SupportsIndex, str]],
        hold_time: _Seconds | None = None,
    ) -> list[bool]:
        """Blocks each `(product_id, quantity, order_id)` in order, releasing
        the GIL once; True where held, False where `block` would have raised
        a refusal (counted as `block` counts it)."""
    def confirm_many(self, order_ids: Iterable[str]) -> list[bool]:
        """Confirms each order in order, releasing the GIL once; True where
        confirmed, False where `confirm` would have raised a refusal. A str
        is refused with TypeError, not read as its characters."""
    def confirm(self, order_id: str) -> None:
        """Confirms a held order; raises Expired past its deadline."""
    def cancel(self, order_id: str) -> None:
        """Cancels a held order; its units are available again."""
    def extend(self, order_id: str, by_seconds: _Seconds) -> Deadline:
        """Moves a live hold's deadline later; returns the new deadline."""
    def status(self, order_id: str) -> OrderStatus:
        """Where an order stands, what it holds and its deadline."""
    def release_expired(self) -> int:
        """Releases every hold past its deadline; returns how many."""
    def advance(self, seconds: _Seconds) -> int:
        """Moves the manual clock forward; returns how many holds it released."""
    def now(self) -> float:
        """Seconds since the engine started, on its clock. Works on a closed
        engine too, as in Rust."""
    def start_releaser(self) -> None:
        """Starts the background releaser if it is not running. Raises
        EngineClosed on a closed engine, and also when the operating system
        refuses the thread (the engine stays open then)."""
    def metrics(self) -> Metrics:
        """A snapshot of the engine's counters."""
    def product_outcomes(self, product_id: str) -> ProductOutcomes:
        """How the holds on one product ended."""
    def metrics_text(self, products: Iterable[str] = ()) -> str:
        """The counters as Prometheus text, with the named products' outcomes
        (each once, however often named). A str is refused with TypeError,
        not read as its characters."""
    def subscribe(self, callback: Callable[[_Event], object]) -> int:
        """Calls `callback` with every event from now on, on the engine's
        notifier thread (not the caller's), one at a time; returns the
        subscription's id. A callback that raises is logged on the
        "stockkeeper" logger and stays subscribed. A callback that closes or
        flushes another engine waits for that engine's callbacks: two engines
        whose callbacks close or flush each other wait for each other for
        ever, and so does the interpreter's exit. At exit, the engines still
        open are closed and their queued events delivered (a callback that
        never returns holds up exit). From then on no callback is called, as
        a thread Python did not start must not run Python code while the
        interpreter shuts down: an engine that a daemon thread or a later
        exit handler uses drops its events (so does every engine once
        something ran the exit functions early, also in a child forked
        since), and a callback still running then is waited for up to a
        second; one returning after that, while Python finalizes, may end
        the process abnormally. An engine destroyed during a garbage
        collection (in a reference cycle, or held by one) drops the events
        still queued for its callbacks: the collector may have taken them
        apart already."""
    def unsubscribe(self, subscription: int) -> None:
        """Ends a subscription; its callback is not called again. A bool is
        refused with TypeError."""
    def flush_events(self) -> None:
        """Waits until every event published before the call was delivered;
        returns at once when called from a callback. The wait, like close's,
        is not interrupted by KeyboardInterrupt, which is raised once the
        callbacks running have returned."""
    def close(self) -> None:
        """Closes the engine; later calls raise EngineClosed (but `now`,
        `close` and the properties, which still answer). Idempotent.
        Waits for calls in progress on other threads, then for their events
        and the others queued to reach their callbacks, then lets go of every
        product and order, with its memory. KeyboardInterrupt does not cut
        the wait short: it is raised once the callbacks running returned.
        Called from one of the engine's own callbacks, it cannot wait for the
        thread it runs on: it closes the engine and returns, the queued events
        are still delivered, and a later close, or the engine's collection,
        lets go of the products and orders."""
    @property
    def closed(self) -> bool: ...
    @property
    def manual_clock(self) -> bool: ...
    @property
    def releaser_running(self) -> bool: ...
    def __enter__(self) -> Engine: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool: ...

class InventoryService:
    """The earlier inventory service's API over a thread-safe `Engine`:
    True/False answers, None for an unknown product or order, int ids
    naming their decimal str."""

    def __new__(
        cls,
        *,
        hold_time: _Seconds = 300.0,
        manual_clock: bool = False,
        retention: _Seconds = 3600.0,
        max_remembered: SupportsIndex = 1000000,
    ) -> InventoryService: ...
    @property
    def engine(self) -> Engine:
        """The engine behind the service, for the idiomatic API."""
    def addProduct(self, product_id: _Id, name: str, inventory_count: SupportsIndex) -> None:
        """Adds a product; an existing id is ignored. Raises InvalidInput."""
    def getInventory(self, product_id: _Id) -> int | None:
        """The units available, or None for an unknown product."""
    def updateInventory(self, product_id: _Id, additional_quantity: SupportsIndex) -> bool:
        """Restocks or corrects; True when done, False when refused."""
    def blockInventory(
        self, product_id: _Id, order_quantity: SupportsIndex, order_id: _Id
    ) -> bool:
        """Holds units for the order; True when held, False when refused,
        an order id whose order ended and is still remembered included."""
    def confirmOrder(self, order_id: _Id) -> bool:
        """Confirms a held order; True when confirmed, False when refused."""
    def cancelOrder(self, order_id: _Id) -> bool:
        """Cancels a held order; True when cancelled, False when refused."""
    def getOrderStatus(self, order_id: _Id) -> str | None:
        """ "held", "confirmed", "cancelled" or "expired"; None if unknown."""
    def blockInventoryMany(
        self, requests: Iterable[tuple[_Id, SupportsIndex, _Id]]
    ) -> list[bool]:
        """`blockInventory`'s answer to each triple, run in one call. A str
        or bytes-like object, as the batch or as a triple, raises TypeError."""
    def confirmOrderMany(self, order_ids: Iterable[_Id]) -> list[bool]:
        """`confirmOrder`'s answer to each order id, run in one call. Ids
        given as a str or a bytes-like object raise TypeError."""
    def start_cleanup(self) -> None:
        """Starts releasing expired holds in the background."""
    def close(self) -> None:
        """Stops the engine and its releaser. Idempotent."""
    def __enter__(self) -> InventoryService: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
