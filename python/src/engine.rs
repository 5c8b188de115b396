//! The engine as Python sees it. Every method converts its arguments first,
//! then releases the GIL for the engine's work, so Python threads calling in
//! at once run in parallel on the engine's own fine-grained locks.

use pyo3::prelude::*;
use pyo3::types::{PyIterator, PyType};
use stockkeeper::{
    ClockKind, Engine, Line, Options, DEFAULT_HOLD_TIME, DEFAULT_MAX_REMEMBERED, DEFAULT_RETENTION,
};

use crate::convert::{fields, order_lines, Count, Delta, Limit, Quantity, Seconds, Text};
use crate::errors::to_py;
use crate::values::{PyDeadline, PyOrderStatus, PyStock};

/// How many products `add_products` converts before it releases the GIL to
/// add them: large enough to amortise the release, small enough to bound the
/// memory a huge iterable takes.
const BULK_CHUNK: usize = 4096;

/// An inventory reservation engine, safe to share between threads.
///
/// Orders hold stock while their customers pay. A hold ends exactly once:
/// confirmed (its units leave `on_hand`), cancelled, or expired when its
/// deadline passes. Times are seconds, as int or float.
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
/// `TypeError`. The engine is a context manager that closes on exit.
#[pyclass(module = "stockkeeper", name = "Engine", frozen)]
pub struct PyEngine {
    engine: Engine,
    manual_clock: bool,
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(
        signature = (
            hold_time = Seconds(DEFAULT_HOLD_TIME),
            *,
            retention = Seconds(DEFAULT_RETENTION),
            max_remembered = Limit(DEFAULT_MAX_REMEMBERED),
            manual_clock = false,
            background_release = true,
        ),
        text_signature = "(hold_time=300.0, *, retention=3600.0, max_remembered=1000000, \
                          manual_clock=False, background_release=True)"
    )]
    fn new(
        py: Python<'_>,
        hold_time: Seconds,
        retention: Seconds,
        max_remembered: Limit,
        manual_clock: bool,
        background_release: bool,
    ) -> PyResult<PyEngine> {
        let options = Options {
            hold_time: hold_time.0,
            retention: retention.0,
            max_remembered: max_remembered.0,
            clock: if manual_clock { ClockKind::Manual } else { ClockKind::System },
            background_release,
        };
        let engine = py.detach(|| Engine::new(options)).map_err(to_py)?;
        Ok(PyEngine { engine, manual_clock })
    }

    /// Adds a product with `on_hand` units (an int from 0 to 2**63 - 1).
    /// Raises ProductExists if the id is taken, InvalidInput for a bad id,
    /// name or count, Overflow past 2**63 - 1.
    fn add_product(
        &self,
        py: Python<'_>,
        product_id: Text,
        name: Text,
        on_hand: Count,
    ) -> PyResult<()> {
        py.detach(|| self.engine.add_product(&product_id, &name, on_hand.0)).map_err(to_py)
    }

    /// Adds every `(product_id, name, on_hand)` triple of `products`, in
    /// order, and returns how many it added. Spares a large catalogue the
    /// cost of one Python call per product. Stops at the first triple that is
    /// refused (a bad value, or a product that exists), raising as
    /// `add_product` would; the triples before it stay added.
    fn add_products(&self, py: Python<'_>, products: &Bound<'_, PyAny>) -> PyResult<usize> {
        let mut products = products.try_iter()?;
        let mut chunk = Vec::with_capacity(BULK_CHUNK);
        let mut added = 0;
        loop {
            let unreadable = next_chunk(&mut products, &mut chunk);
            if chunk.is_empty() && unreadable.is_none() {
                return Ok(added);
            }
            py.detach(|| {
                chunk.iter().try_for_each(|(id, name, on_hand)| {
                    self.engine.add_product(id, name, on_hand.0)
                })
            })
            .map_err(to_py)?;
            added += chunk.len();
            if let Some(err) = unreadable {
                return Err(err);
            }
        }
    }

    /// The product's name. Raises UnknownProduct.
    fn product_name(&self, py: Python<'_>, product_id: Text) -> PyResult<String> {
        py.detach(|| self.engine.product_name(&product_id)).map_err(to_py)
    }

    /// The units a new order can still hold: `on_hand - reserved`. Raises
    /// UnknownProduct.
    fn available(&self, py: Python<'_>, product_id: Text) -> PyResult<u64> {
        py.detach(|| self.engine.available(&product_id)).map_err(to_py)
    }

    /// The product's on_hand, reserved and available, read together. Raises
    /// UnknownProduct.
    fn stock(&self, py: Python<'_>, product_id: Text) -> PyResult<PyStock> {
        py.detach(|| self.engine.stock(&product_id)).map(PyStock::from).map_err(to_py)
    }

    /// Restocks (`delta > 0`: on_hand grows) or corrects (`delta < 0`:
    /// on_hand shrinks) and returns the stock after the change. Raises
    /// InsufficientStock for a correction that would take available below
    /// zero, Overflow past 2**63 - 1, InvalidInput for zero, UnknownProduct.
    fn update_inventory(
        &self,
        py: Python<'_>,
        product_id: Text,
        delta: Delta,
    ) -> PyResult<PyStock> {
        py.detach(|| self.engine.update_inventory(&product_id, delta.0))
            .map(PyStock::from)
            .map_err(to_py)
    }

    /// Holds `quantity` units of one product for `order_id` until the
    /// returned deadline: now plus `hold_time` seconds, or the engine's hold
    /// time when it is None. Raises InsufficientStock when fewer are
    /// available, DuplicateOrder when the order id is held or remembered,
    /// UnknownProduct, InvalidInput for a quantity below 1 or a hold time of
    /// zero.
    #[pyo3(signature = (product_id, quantity, order_id, hold_time = None))]
    fn block(
        &self,
        py: Python<'_>,
        product_id: Text,
        quantity: Quantity,
        order_id: Text,
        hold_time: Option<Seconds>,
    ) -> PyResult<PyDeadline> {
        let hold_time = hold_time.map(|seconds| seconds.0);
        py.detach(|| self.engine.block(&product_id, quantity.0, &order_id, hold_time))
            .map(PyDeadline::from)
            .map_err(to_py)
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
        order_id: Text,
        lines: &Bound<'_, PyAny>,
        hold_time: Option<Seconds>,
    ) -> PyResult<PyDeadline> {
        let lines = order_lines(lines)?;
        let hold_time = hold_time.map(|seconds| seconds.0);
        py.detach(|| {
            let lines: Vec<Line<'_>> =
                lines.iter().map(|(product, quantity)| Line::new(product, quantity.0)).collect();
            self.engine.block_order(&order_id, &lines, hold_time)
        })
        .map(PyDeadline::from)
        .map_err(to_py)
    }

    /// Confirms a held order: its units leave on_hand. Succeeds up to and
    /// including the deadline; after it raises Expired (and the stock is
    /// back). Raises AlreadyConfirmed, AlreadyCancelled or UnknownOrder.
    fn confirm(&self, py: Python<'_>, order_id: Text) -> PyResult<()> {
        py.detach(|| self.engine.confirm(&order_id)).map_err(to_py)
    }

    /// Cancels a held order (payment failed): its units are available again.
    /// Raises as `confirm` does.
    fn cancel(&self, py: Python<'_>, order_id: Text) -> PyResult<()> {
        py.detach(|| self.engine.cancel(&order_id)).map_err(to_py)
    }

    /// Moves a live hold's deadline `by_seconds` later and returns the new
    /// deadline. Raises Expired when the deadline has passed, AlreadyConfirmed
    /// or AlreadyCancelled for an ended order, InvalidInput for zero.
    fn extend(&self, py: Python<'_>, order_id: Text, by_seconds: Seconds) -> PyResult<PyDeadline> {
        py.detach(|| self.engine.extend(&order_id, by_seconds.0))
            .map(PyDeadline::from)
            .map_err(to_py)
    }

    /// Where an order stands, what it holds and its deadline. A held order
    /// whose deadline has passed is expired by this call. Raises UnknownOrder
    /// for an order never held, or forgotten after the retention period.
    fn status(&self, py: Python<'_>, order_id: Text) -> PyResult<PyOrderStatus> {
        py.detach(|| self.engine.status(&order_id))
            .map(|status| PyOrderStatus::new(&order_id, status))
            .map_err(to_py)
    }

    /// Releases every hold whose deadline has passed, forgets ended orders
    /// past their retention, and returns how many holds it released. The
    /// background releaser does this on its own.
    fn release_expired(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| self.engine.release_expired()).map_err(to_py)
    }

    /// Moves the manual clock `seconds` forward (zero is allowed), releases
    /// what fell due and returns how many holds it released. Raises
    /// ClockNotManual on the system clock.
    fn advance(&self, py: Python<'_>, seconds: Seconds) -> PyResult<usize> {
        py.detach(|| self.engine.advance(seconds.0)).map_err(to_py)
    }

    /// Seconds since the engine started, on its clock. Works on a closed
    /// engine too.
    fn now(&self, py: Python<'_>) -> f64 {
        py.detach(|| self.engine.now()).as_secs_f64()
    }

    /// Starts the background releaser if it is not running; does nothing on
    /// the manual clock, where `advance` releases what fell due.
    fn start_releaser(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.engine.start_releaser()).map_err(to_py)
    }

    /// Closes the engine: later calls raise EngineClosed and the releaser
    /// thread is stopped. Calling it again does nothing. Waits for the
    /// releaser to finish its current pass, with the GIL released.
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.engine.close());
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

    /// Whether the background releaser thread is running.
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
}

/// Converts the next triples of `products` into `chunk`, at most
/// [`BULK_CHUNK`] of them. Returns the error of a triple that cannot be
/// converted; the ones before it are in `chunk`.
fn next_chunk(
    products: &mut Bound<'_, PyIterator>,
    chunk: &mut Vec<(Text, Text, Count)>,
) -> Option<PyErr> {
    chunk.clear();
    for item in products.by_ref().take(BULK_CHUNK) {
        match item.and_then(|item| product_triple(&item)) {
            Ok(product) => chunk.push(product),
            Err(err) => return Some(err),
        }
    }
    None
}

fn product_triple(item: &Bound<'_, PyAny>) -> PyResult<(Text, Text, Count)> {
    let [id, name, on_hand] = fields::<3>(item, "(product_id, name, on_hand)")?;
    Ok((id.extract()?, name.extract()?, on_hand.extract()?))
}
