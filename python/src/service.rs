//! `InventoryService`: the earlier pure-Python service's API, answered
//! natively. `stockkeeper/compat.py` documents the conventions and
//! re-exports the class.
//!
//! Each method is one call from Python straight into the engine: the id is
//! converted here (an int naming its decimal str), and the engine's refusal
//! becomes the answer False or None without an exception ever being built.
//!
//! The single-order methods keep the GIL during the engine's work, as
//! `Engine`'s do. That work takes about a microsecond and never waits for
//! anything that needs the GIL (the engine's locks are only ever held by
//! engine code, and publishing an event never blocks), while releasing and
//! re-taking the GIL costs about as much again from one thread and, from
//! several, hands the GIL to another thread on every call, so that threads
//! queue for it after each call instead of running their time slice. The
//! cost of holding it: other Python threads wait while this one waits for
//! an engine lock, which another thread's call, or a background release
//! pass, holds for moments at most. The batch methods, and `close` and
//! `start_cleanup` which may wait for the engine's threads, release it as
//! `Engine` does; the single-order methods let it go to a notifier thread
//! that has waited for it, as `Engine`'s do (see `crate::handover`).

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};
use stockkeeper::Error;

use crate::convert::{block_requests, Checked, Count, Delta, Id, Limit, Quantity, Seconds, Text};
use crate::engine::{PyEngine, DEFAULT_BOUND, DEFAULT_KEPT};
use crate::errors::{answer, is_missing, to_py};

/// The earlier inventory service's API over a thread-safe `Engine`.
///
/// Every method may be called from any number of threads at once. Holds last
/// `hold_time` seconds (five minutes, as before). Expired holds are released
/// when `start_cleanup` has started the background releaser, and in any case
/// a hold past its deadline can never be confirmed. With `manual_clock` time
/// stands still until `engine.advance` moves it, for deterministic tests.
///
/// Like the earlier service's, an instance takes attributes of its own (so
/// that `unittest.mock.patch.object` can replace a method on one) and weak
/// references, and a subclass's constructor may take arguments of its own.
#[pyclass(module = "stockkeeper", name = "InventoryService", frozen, subclass, dict, weakref)]
pub struct PyInventoryService {
    engine: Py<PyEngine>,
}

impl PyInventoryService {
    fn core(&self) -> &stockkeeper::Engine {
        self.engine.get().core()
    }

    /// A call on one order or one product, as `Engine` makes one.
    fn single<R: Send>(
        &self,
        py: Python<'_>,
        call: impl FnOnce(&stockkeeper::Engine) -> R + Send,
    ) -> R {
        self.engine.get().single(py, call)
    }

    /// A converted argument, or its refusal counted by the engine.
    fn admit<T>(&self, arg: Checked<T>) -> Result<T, Error> {
        arg.0.map_err(|error| self.core().refuse(error))
    }

    /// The units available, None for a product the engine does not know or
    /// an id no product could have.
    fn available(&self, py: Python<'_>, product_id: Checked<Id>) -> PyResult<Option<u64>> {
        let available =
            self.admit(product_id).and_then(|id| self.single(py, |engine| engine.available(&id)));
        match available {
            Ok(units) => Ok(Some(units)),
            Err(error) if is_missing(&error) => Ok(None),
            Err(error) => Err(to_py(error)),
        }
    }
}

/// The earlier service's hold time: five minutes.
const DEFAULT_HOLD: Checked<Seconds> = Checked(Ok(Seconds(stockkeeper::DEFAULT_HOLD_TIME)));

#[pymethods]
impl PyInventoryService {
    #[new]
    #[classmethod]
    #[pyo3(
        signature = (
            *args, hold_time = DEFAULT_HOLD, manual_clock = false, retention = DEFAULT_KEPT,
            max_remembered = DEFAULT_BOUND, **kwargs
        ),
        text_signature = "(*, hold_time=300.0, manual_clock=False, retention=3600.0, \
                          max_remembered=1000000)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        cls: &Bound<'_, PyType>,
        args: &Bound<'_, PyTuple>,
        hold_time: Checked<Seconds>,
        manual_clock: bool,
        retention: Checked<Seconds>,
        max_remembered: Checked<Limit>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyInventoryService> {
        let py = cls.py();
        // Other arguments are a subclass's own, for its __init__ to take, as
        // object.__new__ leaves them; a class that takes none refuses them.
        let others = !args.is_empty() || kwargs.is_some_and(|kwargs| !kwargs.is_empty());
        let object_init = py.get_type::<PyAny>().getattr(intern!(py, "__init__"))?;
        if others && cls.getattr(intern!(py, "__init__"))?.is(&object_init) {
            let name = cls.qualname()?;
            return Err(PyTypeError::new_err(format!(
                "{name}() takes only the keyword arguments hold_time, manual_clock, retention \
                 and max_remembered"
            )));
        }
        // No releaser yet: the earlier service started its cleanup only on
        // start_cleanup(), and callers may rely on that order.
        let engine = PyEngine::new(py, hold_time, retention, max_remembered, manual_clock, false)?;
        Ok(PyInventoryService { engine: Py::new(py, engine)? })
    }

    /// The engine behind the service, for the idiomatic API: its `metrics()`
    /// count the service's refusals too, and `subscribe` tells how the
    /// service's holds end.
    #[getter]
    fn engine(&self, py: Python<'_>) -> Py<PyEngine> {
        self.engine.clone_ref(py)
    }

    /// Adds a product with `inventory_count` units; returns None.
    ///
    /// A product id that exists is ignored, leaving that product as it was.
    /// A bad id, name or count (negative, or past 2**63 - 1) raises
    /// `InvalidInput`.
    #[allow(non_snake_case, reason = "the earlier service's method name")]
    fn addProduct(
        &self,
        py: Python<'_>,
        product_id: Checked<Id>,
        name: Checked<Text>,
        inventory_count: Checked<Count>,
    ) -> PyResult<()> {
        let added = (|| {
            let (id, name, count) =
                (self.admit(product_id)?, self.admit(name)?, self.admit(inventory_count)?);
            self.single(py, |engine| engine.add_product(&id, &name, count.0))
        })();
        match added {
            Ok(()) | Err(Error::ProductExists) => Ok(()),
            Err(error) => Err(to_py(error)),
        }
    }

    /// The units a new order can still hold, or None for an unknown product
    /// (including an id no product could have).
    #[allow(non_snake_case, reason = "the earlier service's method name")]
    fn getInventory(&self, py: Python<'_>, product_id: Checked<Id>) -> PyResult<Option<u64>> {
        self.available(py, product_id)
    }

    /// Restocks (positive) or corrects (negative) the product's stock.
    ///
    /// True when done. False, changing nothing, for an unknown product, a
    /// correction larger than the units available (held units are never
    /// taken back), or a total past 2**63 - 1. Zero answers True for a known
    /// product.
    #[allow(non_snake_case, reason = "the earlier service's method name")]
    fn updateInventory(
        &self,
        py: Python<'_>,
        product_id: Checked<Id>,
        additional_quantity: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        // The earlier service added an int 0 as any other count; the engine
        // refuses a change of zero, so it is answered here as a read.
        let delta: Checked<Delta> = additional_quantity.extract()?;
        if matches!(delta.0, Ok(Delta(0))) {
            return Ok(self.available(py, product_id)?.is_some());
        }
        let updated = (|| {
            let (id, delta) = (self.admit(product_id)?, self.admit(delta)?);
            self.single(py, |engine| engine.update_inventory(&id, delta.0))
        })();
        answer(updated).map_err(to_py)
    }

    /// Holds `order_quantity` units for `order_id` until the hold time
    /// passes.
    ///
    /// True when held. False, changing nothing, for an unknown product, a
    /// quantity below 1 or above the units available, or an order id that is
    /// held or was used recently.
    #[allow(non_snake_case, reason = "the earlier service's method name")]
    fn blockInventory(
        &self,
        py: Python<'_>,
        product_id: Checked<Id>,
        order_quantity: Checked<Quantity>,
        order_id: Checked<Id>,
    ) -> PyResult<bool> {
        let held = (|| {
            // The order id first, as the core and the batch judge it.
            let (order, product, quantity) =
                (self.admit(order_id)?, self.admit(product_id)?, self.admit(order_quantity)?);
            self.single(py, |engine| engine.block(&product, quantity.0, &order, None))
        })();
        answer(held).map_err(to_py)
    }

    /// Confirms a held order: its units leave stock for good.
    ///
    /// True when confirmed. False for an unknown order, one confirmed or
    /// cancelled already, or one past its deadline (its units are back).
    #[allow(non_snake_case, reason = "the earlier service's method name")]
    fn confirmOrder(&self, py: Python<'_>, order_id: Checked<Id>) -> PyResult<bool> {
        let confirmed =
            self.admit(order_id).and_then(|order| self.single(py, |engine| engine.confirm(&order)));
        answer(confirmed).map_err(to_py)
    }

    /// Cancels a held order (payment failed): its units are available again.
    /// True when cancelled; False as `confirmOrder` answers it.
    #[allow(non_snake_case, reason = "the earlier service's method name")]
    fn cancelOrder(&self, py: Python<'_>, order_id: Checked<Id>) -> PyResult<bool> {
        let cancelled =
            self.admit(order_id).and_then(|order| self.single(py, |engine| engine.cancel(&order)));
        answer(cancelled).map_err(to_py)
    }

    /// The order's state: "held", "confirmed", "cancelled" or "expired"; None
    /// for an order never held or forgotten after the retention period.
    #[allow(non_snake_case, reason = "the earlier service's method name")]
    fn getOrderStatus(
        &self,
        py: Python<'_>,
        order_id: Checked<Id>,
    ) -> PyResult<Option<&'static str>> {
        let status =
            self.admit(order_id).and_then(|order| self.single(py, |engine| engine.status(&order)));
        match status {
            Ok(status) => Ok(Some(status.state.name())),
            Err(error) if is_missing(&error) => Ok(None),
            Err(error) => Err(to_py(error)),
        }
    }

    /// Holds stock for every `(product_id, quantity, order_id)` triple of
    /// `requests`, in order, and answers a list with `blockInventory`'s
    /// answer to each. The requests are read whole first, then run with the
    /// GIL released once, sparing a batch one Python call per order. A
    /// triple of the wrong shape or type raises TypeError before any runs,
    /// as do requests or a triple given as a str or a bytes-like object
    /// (bytes, bytearray, memoryview, array), whose items are letters or
    /// numbers. A closed service raises EngineClosed, and then the requests
    /// before the close have taken effect.
    #[allow(non_snake_case, reason = "named after the earlier service's blockInventory")]
    fn blockInventoryMany(
        &self,
        py: Python<'_>,
        requests: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<bool>> {
        let requests = block_requests::<Id>(requests)?;
        self.engine.get().block_each(py, &requests, Ok(None))
    }

    /// Confirms every order of `order_ids`, in order, and answers a list
    /// with `confirmOrder`'s answer to each. Read whole first, then run with
    /// the GIL released once; an id of the wrong type, or ids given as a str
    /// or a bytes-like object (bytes, bytearray, memoryview, array), which
    /// would read as one id per letter or number, raise TypeError before any
    /// runs. Raises EngineClosed as `blockInventoryMany` does.
    #[allow(non_snake_case, reason = "named after the earlier service's confirmOrder")]
    fn confirmOrderMany(
        &self,
        py: Python<'_>,
        order_ids: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<bool>> {
        let orders = crate::convert::order_ids::<Id>(order_ids)?;
        self.engine.get().confirm_each(py, &orders)
    }

    /// Starts releasing expired holds in the background. Calling it again
    /// does nothing; with the manual clock, `engine.advance` releases.
    fn start_cleanup(&self, py: Python<'_>) -> PyResult<()> {
        self.engine.get().start_releaser(py)
    }

    /// Stops the engine and its releaser. Calling it again does nothing.
    fn close(&self, py: Python<'_>) {
        self.engine.get().close(py);
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc_value: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) {
        self.close(py);
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let class: Bound<'_, PyType> = slf.get_type();
        let closed = slf.get().core().is_closed();
        Ok(format!("<{} closed={}>", class.qualname()?, if closed { "True" } else { "False" }))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // A callback subscribed to the engine may refer back to the service.
        visit.call(&self.engine)
    }
}
