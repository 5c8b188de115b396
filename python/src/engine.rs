//! The engine as Python sees it. Every method converts its arguments first,
//! then calls the engine.
//!
//! A call on one product or one order keeps the GIL for the engine's work,
//! as `InventoryService` does (its module says why): the work takes about a
//! microsecond and waits for nothing that needs the GIL. Released and taken
//! back around each such call, the GIL cost about a quarter of a pair's
//! time from one thread, and from four threads changed hands on every call:
//! pairs ran at a fifth of one thread's rate (`tests/bench/PROFILE.md`).
//! A notifier thread needs the GIL to run Python callbacks: it takes it
//! once for a run of the events queued, and the calls of other threads let
//! it go for the run when it has waited for it (`crate::handover`).
//!
//! The GIL is released too where the work is long or may wait for the
//! engine's threads. Among those calls: the batches (once a batch, so that
//! threads overlap in the engine), `add_products`, `release_expired`,
//! `advance`, `metrics`, `start_releaser` (which starts a thread), and the
//! calls that may wait for the notifier thread (`flush_events`, `close`,
//! `subscribe`), since that thread needs the GIL to run a Python callback;
//! an engine that is dropped unclosed never waits for that thread at all
//! (see `Drop`).

use std::ops::Deref;
use std::process;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyIterator, PyType};
use pyo3::{intern, PyTraverseError, PyVisit};
use stockkeeper::{
    check_id, ClockKind, Engine, Error, Line, Lookup, Options, SubscriptionId, DEFAULT_HOLD_TIME,
    DEFAULT_MAX_REMEMBERED, DEFAULT_RETENTION,
};

use crate::convert::{
    block_requests, fault_before, fields, judged_lines, order_lines, product_ids, BlockRequest,
    Checked, Convert, Count, Delta, Limit, Quantity, Refused, Seconds, Text,
};
use crate::errors::{answer, to_py};
use crate::events::{self, deliver_in_one_hold, Slot, Subscribers};
use crate::exit;
use crate::handover;
use crate::values::{PyDeadline, PyMetrics, PyOrderStatus, PyProductOutcomes, PyStock};

/// How many products `add_products` converts before it releases the GIL to
/// add them: large enough to amortise the release, small enough to bound the
/// memory a huge iterable takes.
const BULK_CHUNK: usize = 4096;

/// An inventory reservation engine, safe to share between threads.
///
/// Orders hold stock while their customers pay. A hold ends exactly once:
/// confirmed (its units leave `on_hand`), cancelled, or expired when its
/// deadline passes. Times are seconds, as int or float; a float is rounded to
/// the nearest nanosecond, a positive one to at least one nanosecond.
///
/// `hold_time` is the hold time of a `block` that names none; `retention` is
/// how long ended orders are remembered, so that a late confirm is told
/// "expired" and an order id is never reused; `max_remembered` bounds how
/// many are remembered at once. With `manual_clock` the engine's clock stands
/// still until `advance` moves it, for deterministic tests. With
/// `background_release` a thread releases expired holds within moments of
/// their deadline; without it, call `release_expired` (or `start_releaser`
/// later).
///
/// Every method raises a `StockkeeperError` subclass when the engine refuses
/// the call, and then nothing has changed; a value of the wrong type raises
/// `TypeError`. Refusals are counted in `metrics()`, whether the engine or
/// the conversion of an argument (a str that is not UTF-8, an int past
/// 2**63 - 1) refused. EngineClosed also comes from making an engine, from
/// its first `subscribe` and from `start_releaser`, when the operating system
/// refuses the thread it needs (an engine already made stays open).
/// `subscribe` reports how holds end without polling. The engine is a
/// context manager that closes on exit; an engine dropped without `close` is
/// closed in the background.
///
/// A call on one product or one order keeps the GIL for the microsecond or
/// so it takes in the engine, and lets it go when the notifier thread waits
/// for it to run callbacks; the batches and `add_products` release it, so
/// that threads sending batches overlap in the engine.
#[pyclass(module = "stockkeeper", name = "Engine", frozen, weakref)]
pub struct PyEngine {
    /// Shared, so that an engine dropped unclosed can be closed on a thread
    /// of its own (see `Drop`).
    engine: Arc<Engine>,
    manual_clock: bool,
    subscribers: Subscribers,
    /// The process that created the engine, and the only one with its
    /// threads: a child made by `fork` has copies of neither.
    creator: u32,
}

impl PyEngine {
    /// The core engine, for the other front doors of this module.
    pub(crate) fn core(&self) -> &Engine {
        &self.engine
    }

    /// Runs every block of a batch in order with the GIL released once, and
    /// answers each True or False as `block` succeeds or is refused. A
    /// refused value (of the request or of `hold_time`) refuses its request
    /// only, counted as `block` counts it. Raises EngineClosed, and then the
    /// requests before the close have taken effect.
    pub(crate) fn block_each<'r, I: Deref<Target = str> + Sync>(
        &self,
        py: Python<'_>,
        requests: &'r [BlockRequest<I>],
        hold_time: Result<Option<Duration>, Error>,
    ) -> PyResult<Vec<bool>> {
        let lookup = |request: &'r BlockRequest<I>| match request {
            Ok((product, _, order)) => Lookup::Block { product, order },
            Err(_) => Lookup::Nothing,
        };
        self.each(py, requests, lookup, |request| match (request, &hold_time) {
            (Ok((product, quantity, order)), Ok(hold_time)) => {
                answer(self.engine.block(product, quantity.0, order, *hold_time))
            }
            (Ok((product, quantity, order)), Err(error)) => {
                let first = fault_before(order, Some((product, *quantity)), error.clone());
                answer::<()>(Err(self.engine.refuse(first)))
            }
            (Err(error), _) => answer::<()>(Err(self.engine.refuse(error.clone()))),
        })
    }

    /// Confirms every order of a batch as `block_each` blocks.
    pub(crate) fn confirm_each<'r, I: Deref<Target = str> + Sync>(
        &self,
        py: Python<'_>,
        orders: &'r [Result<I, Error>],
    ) -> PyResult<Vec<bool>> {
        let lookup = |order: &'r Result<I, Error>| match order {
            Ok(order) => Lookup::Order(order),
            Err(_) => Lookup::Nothing,
        };
        self.each(py, orders, lookup, |order| match order {
            Ok(order) => answer(self.engine.confirm(order)),
            Err(error) => answer::<()>(Err(self.engine.refuse(error.clone()))),
        })
    }

    /// Runs every request of a batch in order with the GIL released once,
    /// each read ahead ([`Engine::read_ahead`]) as `lookup` says.
    fn each<'r, R: Sync>(
        &self,
        py: Python<'_>,
        requests: &'r [R],
        lookup: impl Fn(&'r R) -> Lookup<'r> + Send,
        run: impl Fn(&R) -> Result<bool, Error> + Send,
    ) -> PyResult<Vec<bool>> {
        self.open_for_batch()?;
        let ahead = || self.engine.read_ahead(requests, lookup).map(run).collect::<Result<_, _>>();
        py.detach(ahead).map_err(to_py)
    }

    /// Raises EngineClosed on a closed engine: a batch does, even one whose
    /// every request would be refused before it reached the engine, or one
    /// with no requests, and before it reads any.
    fn open_for_batch(&self) -> PyResult<()> {
        if self.engine.is_closed() {
            return Err(to_py(Error::Closed));
        }
        Ok(())
    }

    /// Runs a call on one order or one product. It keeps the GIL, unless a
    /// notifier thread (of any engine) has waited for it a while to run
    /// Python callbacks: then it lets the GIL go for the call, and gives
    /// the notifier a moment to take it (see `crate::handover`).
    pub(crate) fn single<R: Send>(
        &self,
        py: Python<'_>,
        call: impl FnOnce(&Engine) -> R + Send,
    ) -> R {
        match handover::due() {
            true => self.handing_over(py, call),
            false => call(&self.engine),
        }
    }

    /// [`PyEngine::single`] with the GIL let go to a waiting notifier.
    #[cold]
    fn handing_over<R: Send>(&self, py: Python<'_>, call: impl FnOnce(&Engine) -> R + Send) -> R {
        py.detach(|| {
            let done = call(&self.engine);
            handover::give_way();
            done
        })
    }

    /// An argument's value, or its refusal raised through the engine, which
    /// counts it.
    fn admit<T>(&self, arg: Checked<T>) -> PyResult<T> {
        arg.0.map_err(|error| self.refuse(error))
    }

    fn refuse(&self, error: Error) -> PyErr {
        to_py(self.engine.refuse(error))
    }

    /// Adds the triples of `products` in order, counting into `added` each
    /// one added, up to the first refused; each chunk of them read ahead.
    fn add_each(
        &self,
        py: Python<'_>,
        products: &Bound<'_, PyAny>,
        added: &mut usize,
    ) -> PyResult<()> {
        self.open_for_batch()?;
        let mut products = products.try_iter()?;
        let mut chunk = Vec::with_capacity(BULK_CHUNK);
        loop {
            let unreadable = next_chunk(&mut products, &mut chunk);
            if chunk.is_empty() && unreadable.is_none() {
                return Ok(());
            }
            py.detach(|| {
                let mut ahead = self.engine.read_ahead(&chunk, |(id, _, _)| Lookup::Product(id));
                ahead.try_for_each(|(id, name, on_hand)| {
                    self.engine.add_product(id, name, on_hand.0)?;
                    *added += 1;
                    Ok(())
                })
            })
            .map_err(to_py)?;
            if let Some(refused) = unreadable {
                return Err(self.raise(refused));
            }
        }
    }

    fn raise(&self, refused: Refused) -> PyErr {
        match refused {
            Refused::Value(error) => self.refuse(error),
            Refused::Python(err) => err,
        }
    }
}

/// How long an ended order's id stays taken by default: the core's hour.
pub(crate) const DEFAULT_KEPT: Checked<Seconds> = Checked(Ok(Seconds(DEFAULT_RETENTION)));

/// How many ended orders are remembered at most by default: the core's
/// million.
pub(crate) const DEFAULT_BOUND: Checked<Limit> = Checked(Ok(Limit(DEFAULT_MAX_REMEMBERED)));

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(
        signature = (
            hold_time = Checked(Ok(Seconds(DEFAULT_HOLD_TIME))),
            *,
            retention = DEFAULT_KEPT,
            max_remembered = DEFAULT_BOUND,
            manual_clock = false,
            background_release = true,
        ),
        text_signature = "(hold_time=300.0, *, retention=3600.0, max_remembered=1000000, \
                          manual_clock=False, background_release=True)"
    )]
    pub(crate) fn new(
        py: Python<'_>,
        hold_time: Checked<Seconds>,
        retention: Checked<Seconds>,
        max_remembered: Checked<Limit>,
        manual_clock: bool,
        background_release: bool,
    ) -> PyResult<PyEngine> {
        // No engine exists yet to count a refused option.
        let options = Options {
            hold_time: hold_time.or_raise()?.0,
            retention: retention.or_raise()?.0,
            max_remembered: max_remembered.or_raise()?.0,
            clock: if manual_clock { ClockKind::Manual } else { ClockKind::System },
            background_release,
        };
        let engine = py.detach(|| Engine::new(options)).map_err(to_py)?;
        // Before any subscription can start the notifier thread, which
        // then has it from its first run.
        engine.wrap_deliveries(deliver_in_one_hold).map_err(to_py)?;
        Ok(PyEngine {
            engine: Arc::new(engine),
            manual_clock,
            subscribers: Subscribers::default(),
            creator: process::id(),
        })
    }

    /// Adds a product with `on_hand` units (an int from 0 to 2**63 - 1).
    /// Raises ProductExists if the id is taken, InvalidInput for a bad id,
    /// name or count, Overflow past 2**63 - 1.
    fn add_product(
        &self,
        py: Python<'_>,
        product_id: Checked<Text>,
        name: Checked<Text>,
        on_hand: Checked<Count>,
    ) -> PyResult<()> {
        let (product_id, name, on_hand) =
            (self.admit(product_id)?, self.admit(name)?, self.admit(on_hand)?);
        self.single(py, |engine| engine.add_product(&product_id, &name, on_hand.0)).map_err(to_py)
    }

    /// Adds every `(product_id, name, on_hand)` triple of `products`, in
    /// order, and returns how many it added. Spares a large catalogue the
    /// cost of one Python call per product. Stops at the first triple that is
    /// refused (a bad value, or a product that exists), raising as
    /// `add_product` would; the triples before it stay added, and the
    /// exception's `added` attribute says how many they are, so that a load
    /// from a list can resume past them (an iterator has been read up to
    /// 4,096 triples further). An error raised by the iterable itself
    /// carries `added` too, when its type takes attributes. Each chunk of
    /// triples is added with the GIL released and read ahead, so threads
    /// loading parts of a catalogue overlap in the engine.
    fn add_products(&self, py: Python<'_>, products: &Bound<'_, PyAny>) -> PyResult<usize> {
        let mut added = 0;
        self.add_each(py, products, &mut added).inspect_err(|err| {
            // An exception type that takes no attributes still propagates.
            let _ = err.value(py).setattr(intern!(py, "added"), added);
        })?;
        Ok(added)
    }

    /// The product's name. Raises UnknownProduct.
    fn product_name(&self, py: Python<'_>, product_id: Checked<Text>) -> PyResult<String> {
        let product_id = self.admit(product_id)?;
        self.single(py, |engine| engine.product_name(&product_id)).map_err(to_py)
    }

    /// The units a new order can still hold: `on_hand - reserved`. Raises
    /// UnknownProduct.
    fn available(&self, py: Python<'_>, product_id: Checked<Text>) -> PyResult<u64> {
        let product_id = self.admit(product_id)?;
        self.single(py, |engine| engine.available(&product_id)).map_err(to_py)
    }

    /// The product's on_hand, reserved and available, read together. Raises
    /// UnknownProduct.
    fn stock(&self, py: Python<'_>, product_id: Checked<Text>) -> PyResult<PyStock> {
        let product_id = self.admit(product_id)?;
        self.single(py, |engine| engine.stock(&product_id)).map(PyStock::from).map_err(to_py)
    }

    /// Restocks (`delta > 0`: on_hand grows) or corrects (`delta < 0`:
    /// on_hand shrinks) and returns the stock after the change. Raises
    /// InsufficientStock for a correction that would take available below
    /// zero, Overflow past 2**63 - 1, InvalidInput for zero, UnknownProduct.
    fn update_inventory(
        &self,
        py: Python<'_>,
        product_id: Checked<Text>,
        delta: Checked<Delta>,
    ) -> PyResult<PyStock> {
        let (product_id, delta) = (self.admit(product_id)?, self.admit(delta)?);
        let stock = self.single(py, |engine| engine.update_inventory(&product_id, delta.0));
        stock.map(PyStock::from).map_err(to_py)
    }

    /// Holds `quantity` units of one product for `order_id` until the
    /// returned deadline: now plus `hold_time` seconds, or the engine's hold
    /// time when it is None. Raises InsufficientStock when fewer are
    /// available, DuplicateOrder when the order id is held or remembered,
    /// UnknownProduct, InvalidInput for a quantity below 1 or a hold time of
    /// zero or less.
    #[pyo3(signature = (product_id, quantity, order_id, hold_time = None))]
    fn block(
        &self,
        py: Python<'_>,
        product_id: Checked<Text>,
        quantity: Checked<Quantity>,
        order_id: Checked<Text>,
        hold_time: Option<Checked<Seconds>>,
    ) -> PyResult<PyDeadline> {
        // A value refused here is reported after the faults the core would
        // find first (fault_before); the core judges the rest itself.
        let (order_id, quantity) = (self.admit(order_id)?, self.admit(quantity)?);
        let product_id =
            product_id.0.map_err(|error| self.refuse(fault_before(&order_id, None, error)))?;
        let hold_time = match hold_time.map(|seconds| seconds.0).transpose() {
            Ok(hold_time) => hold_time.map(|seconds| seconds.0),
            Err(error) => {
                let line = Some((&*product_id, quantity));
                return Err(self.refuse(fault_before(&order_id, line, error)));
            }
        };
        let held =
            self.single(py, |engine| engine.block(&product_id, quantity.0, &order_id, hold_time));
        held.map(PyDeadline::from).map_err(to_py)
    }

    /// Holds every line of an order, or nothing. `lines` is an iterable of
    /// `(product_id, quantity)` pairs or a mapping of product id to
    /// quantity; lines naming the same product are summed before the check.
    /// Fails as `block` does, naming the first product (by id) that cannot be
    /// held; InvalidInput when there are no lines.
    #[pyo3(signature = (order_id, lines, hold_time = None))]
    fn block_order(
        &self,
        py: Python<'_>,
        order_id: Checked<Text>,
        lines: &Bound<'_, PyAny>,
        hold_time: Option<Checked<Seconds>>,
    ) -> PyResult<PyDeadline> {
        // Wrong types first, wherever they are; then the order id and the
        // lines in the core's order, since a line may hold a value refused
        // here; then a hold time refused here.
        let lines = order_lines(lines)?;
        let order_id = self.admit(order_id)?;
        check_id(&order_id).map_err(|error| self.refuse(error))?;
        let lines = judged_lines(lines).map_err(|error| self.refuse(error))?;
        if lines.is_empty() {
            return Err(self.refuse(Error::InvalidQuantity));
        }
        let hold_time = hold_time.map(|seconds| self.admit(seconds)).transpose()?;
        let hold_time = hold_time.map(|seconds| seconds.0);
        let lines: Vec<Line<'_>> =
            lines.iter().map(|(product, quantity)| Line::new(product, quantity.0)).collect();
        let held = self.single(py, |engine| engine.block_order(&order_id, &lines, hold_time));
        held.map(PyDeadline::from).map_err(to_py)
    }

    /// Holds stock for every `(product_id, quantity, order_id)` triple of
    /// `requests`, in order, each as `block` would with `hold_time`, and
    /// answers a list of bools: True where the hold was made, False where
    /// `block` would have raised a refusal (counted in `metrics()` as that
    /// call counts it). Spares a batch one Python call per order: the
    /// requests are read whole first, then run with the GIL released once.
    /// A triple of the wrong shape or type raises TypeError before any
    /// request runs; EngineClosed is raised, and then the requests run
    /// before the close have taken effect.
    #[pyo3(signature = (requests, hold_time = None))]
    fn block_many(
        &self,
        py: Python<'_>,
        requests: &Bound<'_, PyAny>,
        hold_time: Option<Checked<Seconds>>,
    ) -> PyResult<Vec<bool>> {
        let requests = block_requests::<Text>(requests)?;
        let hold_time = hold_time.map(|seconds| seconds.0.map(|seconds| seconds.0)).transpose();
        self.block_each(py, &requests, hold_time)
    }

    /// Confirms every order of `order_ids`, an iterable of order ids, in
    /// order, as `confirm` would, and answers a list of bools: True where
    /// confirmed, False where `confirm` would have raised a refusal (counted
    /// as that call counts it). Read whole first, then run with the GIL
    /// released once; an id of the wrong type (or a lone str) raises
    /// TypeError before any runs. Raises EngineClosed as `block_many` does.
    fn confirm_many(&self, py: Python<'_>, order_ids: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
        let orders = crate::convert::order_ids::<Text>(order_ids)?;
        self.confirm_each(py, &orders)
    }

    /// Confirms a held order: its units leave on_hand. Succeeds up to and
    /// including the deadline; after it raises Expired (and the stock is
    /// back). Raises AlreadyConfirmed, AlreadyCancelled or UnknownOrder.
    fn confirm(&self, py: Python<'_>, order_id: Checked<Text>) -> PyResult<()> {
        let order_id = self.admit(order_id)?;
        self.single(py, |engine| engine.confirm(&order_id)).map_err(to_py)
    }

    /// Cancels a held order (payment failed): its units are available again.
    /// Raises as `confirm` does.
    fn cancel(&self, py: Python<'_>, order_id: Checked<Text>) -> PyResult<()> {
        let order_id = self.admit(order_id)?;
        self.single(py, |engine| engine.cancel(&order_id)).map_err(to_py)
    }

    /// Moves a live hold's deadline `by_seconds` later and returns the new
    /// deadline. Raises Expired when the deadline has passed, AlreadyConfirmed
    /// or AlreadyCancelled for an ended order, InvalidInput for zero.
    fn extend(
        &self,
        py: Python<'_>,
        order_id: Checked<Text>,
        by_seconds: Checked<Seconds>,
    ) -> PyResult<PyDeadline> {
        // An extension refused here is reported after a fault of the order
        // id, as the core judges them; the core judges the rest itself.
        let order_id = self.admit(order_id)?;
        let by_seconds =
            by_seconds.0.map_err(|error| self.refuse(fault_before(&order_id, None, error)))?;
        let extended = self.single(py, |engine| engine.extend(&order_id, by_seconds.0));
        extended.map(PyDeadline::from).map_err(to_py)
    }

    /// Where an order stands, what it holds and its deadline. A held order
    /// whose deadline has passed is expired by this call. Raises UnknownOrder
    /// for an order never held, or forgotten after the retention period.
    fn status(&self, py: Python<'_>, order_id: Checked<Text>) -> PyResult<PyOrderStatus> {
        let order_id = self.admit(order_id)?;
        let status = self.single(py, |engine| engine.status(&order_id));
        status.map(|status| PyOrderStatus::new(&order_id, status)).map_err(to_py)
    }

    /// Releases every hold whose deadline has passed, forgets ended orders
    /// past their retention, and returns how many holds it released. The
    /// background releaser does this on its own.
    fn release_expired(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| self.engine.release_expired()).map_err(to_py)
    }

    /// Moves the manual clock `seconds` forward (zero is allowed), releases
    /// what fell due and returns how many holds it released. Raises
    /// ClockNotManual on the system clock, which `metrics()` does not count.
    /// A `seconds` refused before the engine sees it (negative, not a
    /// number, infinite, an int past 2**63 - 1 or a float of 2**64 or more)
    /// is not counted either; any other step that would carry the clock past
    /// 2**64 - 1 nanoseconds is refused by the engine as Overflow and counted
    /// as an invalid refusal.
    fn advance(&self, py: Python<'_>, seconds: Checked<Seconds>) -> PyResult<usize> {
        let seconds = seconds.or_raise()?;
        py.detach(|| self.engine.advance(seconds.0)).map_err(to_py)
    }

    /// Seconds since the engine started, on its clock. Works on a closed
    /// engine too.
    fn now(&self) -> f64 {
        self.engine.now().as_secs_f64()
    }

    /// Starts the background releaser if it is not running; does nothing on
    /// the manual clock, where `advance` releases what fell due. Raises
    /// EngineClosed on a closed engine, and also when the operating system
    /// refuses the thread (the engine stays open then).
    pub(crate) fn start_releaser(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.engine.start_releaser()).map_err(to_py)
    }

    /// A snapshot of the engine's counters: holds by outcome, refusals by
    /// reason, live holds and held units.
    fn metrics(&self, py: Python<'_>) -> PyResult<PyMetrics> {
        py.detach(|| self.engine.metrics()).map(PyMetrics::from).map_err(to_py)
    }

    /// How the holds on one product ended: confirmed, cancelled, expired,
    /// and the confirmed and expired shares. Raises UnknownProduct.
    fn product_outcomes(
        &self,
        py: Python<'_>,
        product_id: Checked<Text>,
    ) -> PyResult<PyProductOutcomes> {
        let product_id = self.admit(product_id)?;
        let outcomes = self.single(py, |engine| engine.product_outcomes(&product_id));
        outcomes.map(PyProductOutcomes::from).map_err(to_py)
    }

    /// `metrics()` in the Prometheus text exposition format (version
    /// 0.0.4), with the outcomes of each product named in `products`, an
    /// iterable of product ids (a catalogue is never listed whole; a lone str
    /// raises TypeError). Raises UnknownProduct if a named product is
    /// unknown.
    #[pyo3(signature = (products = None), text_signature = "($self, products=())")]
    fn metrics_text(
        &self,
        py: Python<'_>,
        products: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let products = match products {
            Some(products) => product_ids(products).map_err(|refused| self.raise(refused))?,
            None => Vec::new(),
        };
        py.detach(|| {
            let products: Vec<&str> = products.iter().map(|product| &**product).collect();
            self.engine.metrics_text(&products)
        })
        .map_err(to_py)
    }

    /// Calls `callback` with every event from now on: a `HoldEnded` when a
    /// hold is confirmed, cancelled or expires, a `SoldOut` when a product's
    /// available stock reaches zero. Returns the subscription's id, for
    /// `unsubscribe`.
    ///
    /// Callbacks run on the engine's notifier thread, not on the thread
    /// whose call caused the event, one event at a time, in the order the
    /// events happened, after the engine released its locks; that thread
    /// keeps its `threading.local` data from one callback to the next. A slow
    /// callback delays later events, never the engine's other calls. A
    /// callback that raises is logged with its traceback on the
    /// "stockkeeper" logger and stays subscribed; other subscribers get the
    /// event all the same. A callback may call the engine, `flush_events`
    /// (which then returns at once) and `close` (which then does not wait
    /// for the notifier thread) included. A callback that closes or flushes
    /// another engine waits for that engine's notifier thread: two engines
    /// whose callbacks close or flush each other wait for each other for
    /// ever, and so does the interpreter's exit, which closes every engine.
    fn subscribe(&self, py: Python<'_>, callback: Bound<'_, PyAny>) -> PyResult<u64> {
        if !callback.is_callable() {
            let message = format!("callback must be callable, not {}", callback.get_type().name()?);
            return Err(PyTypeError::new_err(message));
        }
        if self.subscribers.starting() {
            exit::watch(&self.engine);
        }
        let slot = Slot::new(callback.unbind());
        let delivered = Arc::clone(&slot);
        // Subscribing waits on a lock that `close` holds while it waits for
        // the notifier thread, which may need the GIL to finish a callback.
        let id = py
            .detach(|| self.engine.on_event(move |event| delivered.deliver(event)))
            .map_err(to_py)?;
        drop(self.subscribers.insert(id.0, slot));
        Ok(id.0)
    }

    /// Ends a subscription: once this returns the callback is not called
    /// again (a call already running on the notifier thread finishes).
    /// Unknown ids are ignored. A bool is not an id.
    fn unsubscribe(&self, py: Python<'_>, subscription: &Bound<'_, PyInt>) -> PyResult<()> {
        if subscription.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err("subscription must be an int id, not bool"));
        }
        let Ok(id) = subscription.extract::<u64>() else {
            // No subscription has a negative or huge id: there is nothing to
            // end, but a closed engine still says that it is closed.
            return if self.engine.is_closed() { Err(to_py(Error::Closed)) } else { Ok(()) };
        };
        let callable = self.subscribers.remove(id);
        let ended = py.detach(|| self.engine.unsubscribe(SubscriptionId(id)));
        drop(callable);
        ended.map_err(to_py)
    }

    /// Waits until every event published before this call was delivered to
    /// every subscriber, with the GIL released (the callbacks need it).
    /// KeyboardInterrupt does not cut the wait short: it is raised once the
    /// callbacks running have returned. Called from a callback, it returns
    /// at once. On a closed engine it waits all the same, for what the close
    /// may still be delivering, then raises EngineClosed.
    fn flush_events(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.engine.flush_events()).map_err(to_py)
    }

    /// Closes the engine: later calls raise EngineClosed (but `now`, `close`
    /// and the properties, which still answer), the releaser thread is
    /// stopped, calls in progress on other threads finish, and their events
    /// and the others already published are delivered before the notifier
    /// thread stops, and every product and order is let go of, with its
    /// memory. Calling it again does nothing. Waits, with the GIL released,
    /// for the releaser's current pass and for the callbacks still to run,
    /// unless called from a callback; KeyboardInterrupt does not cut that
    /// wait short. From one of the engine's own callbacks it cannot wait for
    /// the thread it runs on: the queued events are still delivered, and a
    /// later close, or the engine's collection, lets go of the products and
    /// orders.
    pub(crate) fn close(&self, py: Python<'_>) {
        py.detach(|| self.engine.close());
        // Closed from outside its callbacks (another engine's included), the
        // notifier thread has ended: no callable is called again, and the
        // engine lets go of them. From one of its callbacks, queued events
        // may still reach them.
        if !self.engine.is_notifier_thread() {
            drop(self.subscribers.clear());
        }
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        py.detach(|| self.engine.is_closed())
    }

    /// Whether the engine runs on the manual clock.
    #[getter]
    fn manual_clock(&self) -> bool {
        self.manual_clock
    }

    /// Whether the background releaser thread runs: False once closed.
    #[getter]
    fn releaser_running(&self, py: Python<'_>) -> bool {
        py.detach(|| self.engine.has_releaser())
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        if slf.get().engine.is_closed() {
            return Err(to_py(stockkeeper::Error::Closed));
        }
        Ok(slf)
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> bool {
        self.close(py);
        false
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let class: Bound<'_, PyType> = slf.get_type();
        let this = slf.get();
        Ok(format!(
            "<{} manual_clock={} closed={}>",
            class.qualname()?,
            if this.manual_clock { "True" } else { "False" },
            if this.engine.is_closed() { "True" } else { "False" },
        ))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.subscribers.traverse(&visit)
    }

    fn __clear__(&self) {
        drop(self.subscribers.clear());
    }
}

impl Drop for PyEngine {
    /// Closes the engine as it goes. Closing waits for the notifier thread to
    /// deliver what is queued, and that may need Python code to run; but a
    /// drop runs wherever the last reference went, with the GIL held, maybe
    /// inside a `with lock:` that a running callback waits for. So once a
    /// callback was ever subscribed, the engine is closed on a thread of its
    /// own and the drop returns at once; even a closed engine, since one
    /// closed from a callback may still have events queued. Without a
    /// callback only the releaser is waited for, which never runs Python
    /// code. In a child made by `fork`, which has none of the engine's
    /// threads, the engine is left to the core, which waits for none.
    ///
    /// An engine destroyed by a garbage collection, on the thread running
    /// it, may be in a cycle with its callables, which the collector may
    /// have cleared already (a function so cleared crashes the interpreter
    /// when called): its callables are let go of first, and the events
    /// still queued for them are dropped, whether or not they were in that
    /// cycle.
    fn drop(&mut self) {
        if !self.subscribers.ever() || self.creator != process::id() {
            return;
        }
        if events::collecting() {
            drop(self.subscribers.clear());
        }
        if let Err(engine) = exit::close_in_background(Arc::clone(&self.engine)) {
            // No thread to spare: wait here, with the GIL released at least.
            Python::attach(|py| py.detach(|| engine.close()));
        }
    }
}

/// Converts the next triples of `products` into `chunk`, at most
/// [`BULK_CHUNK`] of them. Returns the refusal of a triple that cannot be
/// converted; the ones before it are in `chunk`.
fn next_chunk(
    products: &mut Bound<'_, PyIterator>,
    chunk: &mut Vec<(Text, Text, Count)>,
) -> Option<Refused> {
    chunk.clear();
    for item in products.by_ref().take(BULK_CHUNK) {
        match item.map_err(Refused::from).and_then(|item| product_triple(&item)) {
            Ok(product) => chunk.push(product),
            Err(refused) => return Some(refused),
        }
    }
    None
}

fn product_triple(item: &Bound<'_, PyAny>) -> Result<(Text, Text, Count), Refused> {
    let [id, name, on_hand] = fields::<3>(item, "(product_id, name, on_hand)")?;
    Ok((Text::convert(&id)?, Text::convert(&name)?, Count::convert(&on_hand)?))
}
