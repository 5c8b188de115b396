//! Notifications as Python sees them: the event classes, and the callables
//! subscribed to an engine.
//!
//! A callable is called on the engine's notifier thread, which attaches to
//! the interpreter once for each run of events (`deliver_in_one_hold`).
//! The engine object keeps the callables in a table and shows them to the
//! garbage collector, so that a callable that refers back to its engine (a
//! bound method, a closure over it) does not keep both alive for ever; the
//! notifier thread reaches each callable through a slot it shares with that
//! table, and finds it empty once the subscription ended.
//!
//! The table and the slots are only touched while attached to the
//! interpreter, never held across a call into Python, and Python objects
//! taken out of them are dropped after the lock is released: dropping one
//! may run Python code that calls back into the engine.

use std::cell::{Cell, OnceCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};
use pyo3::{PyTraverseError, PyVisit};
use stockkeeper::{Event, OrderState};

use crate::exit;
use crate::handover;
use crate::values::repr_of;

/// A hold ended: `order_id`, `state` ("confirmed", "cancelled" or
/// "expired") and `lines`, the `(product_id, quantity)` pairs it held, one
/// per product, sorted by product id. Built by the engine; built by hand
/// too, to test code that handles events. It can be pickled, to reach
/// another process, and copied.
#[pyclass(module = "stockkeeper", name = "HoldEnded", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyHoldEnded {
    #[pyo3(get)]
    order_id: String,
    #[pyo3(get)]
    state: &'static str,
    lines: Vec<(String, u64)>,
}

/// What [`PyHoldEnded`]'s constructor takes.
type HoldEndedArgs = (String, &'static str, Vec<(String, u64)>);

#[pymethods]
impl PyHoldEnded {
    #[new]
    fn new(order_id: String, state: &str, lines: Vec<(String, u64)>) -> PyResult<PyHoldEnded> {
        let state = [OrderState::Confirmed, OrderState::Cancelled, OrderState::Expired]
            .into_iter()
            .map(OrderState::name)
            .find(|name| *name == state)
            .ok_or_else(|| {
                PyValueError::new_err("state must be \"confirmed\", \"cancelled\" or \"expired\"")
            })?;
        Ok(PyHoldEnded { order_id, state, lines })
    }

    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("order_id", "state", "lines")
    }

    /// A new list on every read, so the event itself cannot be changed.
    #[getter]
    fn lines<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, &self.lines)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr_of(slf.as_any(), "HoldEnded", &["order_id", "state", "lines"])
    }

    /// How `pickle` and `copy` rebuild the event: through the constructor.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, HoldEndedArgs) {
        let ended = slf.get();
        (slf.get_type(), (ended.order_id.clone(), ended.state, ended.lines.clone()))
    }
}

/// A product's available stock reached zero: `product_id` names it. Built
/// by the engine; built by hand too, to test code that handles events. It
/// can be pickled, to reach another process, and copied.
#[pyclass(module = "stockkeeper", name = "SoldOut", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PySoldOut {
    #[pyo3(get)]
    product_id: String,
}

#[pymethods]
impl PySoldOut {
    #[new]
    fn new(product_id: String) -> PySoldOut {
        PySoldOut { product_id }
    }

    #[classattr]
    fn __match_args__() -> (&'static str,) {
        ("product_id",)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr_of(slf.as_any(), "SoldOut", &["product_id"])
    }

    /// How `pickle` and `copy` rebuild the event: through the constructor.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, (String,)) {
        (slf.get_type(), (slf.get().product_id.clone(),))
    }
}

/// The Python object for a core event.
fn event_object<'py>(py: Python<'py>, event: &Event) -> PyResult<Bound<'py, PyAny>> {
    Ok(match event {
        Event::HoldEnded { order, state, lines } => {
            let lines = lines.iter().map(|(product, quantity)| (product.to_string(), *quantity));
            let ended = PyHoldEnded {
                order_id: order.to_string(),
                state: state.name(),
                lines: lines.collect(),
            };
            Bound::new(py, ended)?.into_any()
        }
        Event::SoldOut { product } => {
            Bound::new(py, PySoldOut { product_id: product.to_string() })?.into_any()
        }
    })
}

/// A lock whose holder cannot leave its data half-changed: every critical
/// section here is a single insert, take or clone.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One subscriber's callable, shared by the engine's table and the callback
/// the notifier thread runs. Empty once the subscription ended.
pub struct Slot(Mutex<Option<Py<PyAny>>>);

impl Slot {
    pub fn new(callable: Py<PyAny>) -> Arc<Slot> {
        Arc::new(Slot(Mutex::new(Some(callable))))
    }

    fn take(&self) -> Option<Py<PyAny>> {
        lock(&self.0).take()
    }

    /// Calls the callable with the event, on the notifier thread. A callable
    /// that raises is reported through `logging` and stays subscribed. No
    /// event is delivered once the interpreter is shutting down: its exit
    /// hook has run (see [`crate::exit`]), or it cannot be attached to.
    pub fn deliver(&self, event: &Event) {
        exit::attach(|py| {
            STANDING.with(|standing| {
                standing.get_or_init(|| Standing::take(py));
            });
            let Some(callable) = lock(&self.0).as_ref().map(|callable| callable.clone_ref(py))
            else {
                return;
            };
            let callable = callable.into_bound(py);
            let event = match event_object(py, event) {
                Ok(event) => event,
                Err(err) => return err.write_unraisable(py, Some(&callable)),
            };
            if let Err(err) = callable.call1((&event,)) {
                report(py, err, &callable, &event);
            }
            handover::progress();
        });
    }
}

/// Delivers a run of events to the callables in one hold of the GIL, the
/// run marked for the calls of other threads to hand the GIL over (see
/// [`crate::handover`]). Each event's delivery attaches again inside it,
/// which then costs nothing; the door shut, neither attaches.
pub fn deliver_in_one_hold(deliver: &mut dyn FnMut()) {
    let mut run = handover::Run::begin();
    exit::attach(|_attached| {
        run.attached();
        deliver();
    });
}

/// A hold on the Python thread state of a thread that Python did not start.
///
/// Attaching such a thread creates a thread state and detaching deletes it
/// again, which costs more than most callbacks. So the notifier thread takes
/// one hold more at its first event and keeps it until the thread ends:
/// every later attach reuses the thread state, and with it whatever
/// `threading.local` data and `threading.current_thread()` the callbacks saw.
struct Standing(ffi::PyGILState_STATE);

thread_local! {
    static STANDING: OnceCell<Standing> = const { OnceCell::new() };
}

impl Standing {
    fn take(_attached: Python<'_>) -> Standing {
        // SAFETY: the thread is attached, as the token proves, so this only
        // counts one hold more on its current thread state; it never blocks.
        Standing(unsafe { ffi::PyGILState_Ensure() })
    }
}

impl Drop for Standing {
    /// Runs as the thread ends: gives the hold back, attached as the C API
    /// asks, so that the thread state ends when that attach does. Nothing is
    /// given back to an interpreter shutting down: the thread state is left
    /// for its finalization to clear.
    ///
    /// The wait for the GIL is marked as a run's is, so that a thread that
    /// keeps calling hands it over, and a close joining this thread ends.
    fn drop(&mut self) {
        let mut run = handover::Run::begin();
        exit::attach(|_attached| {
            run.attached();
            // SAFETY: attached, so this thread's state is current and holds
            // at least the enclosing attach besides the hold given back.
            unsafe { ffi::PyGILState_Release(self.0) }
        });
    }
}

/// Logs a callable's exception, traceback included, on the "stockkeeper"
/// logger. Should logging itself fail, the exception goes to
/// `sys.unraisablehook`, as an exception nobody can catch does.
fn report(py: Python<'_>, err: PyErr, callable: &Bound<'_, PyAny>, event: &Bound<'_, PyAny>) {
    let logged = (|| -> PyResult<()> {
        let logger = py.import("logging")?.call_method1("getLogger", ("stockkeeper",))?;
        let options = PyDict::new(py);
        // The traceback travels beside the exception until it is caught, so
        // it is handed over explicitly.
        let exc_info = (err.get_type(py), err.value(py), err.traceback(py));
        options.set_item("exc_info", exc_info)?;
        let message = "event callback %r raised on %r; it stays subscribed";
        logger.call_method("error", (message, callable, event), Some(&options))?;
        Ok(())
    })();
    if logged.is_err() {
        err.write_unraisable(py, Some(callable));
    }
}

thread_local! {
    /// Whether the garbage collector is collecting on this thread now, as
    /// its callbacks (`gc.callbacks`) tell; it destroys what it collects on
    /// the thread that runs it. An engine it destroys may be part of a
    /// reference cycle with its callables, which it may already have taken
    /// apart (a function cleared so is no longer safe to call). Per thread:
    /// a finalizer it runs may let another thread drop an engine meanwhile,
    /// which is none of its garbage.
    static COLLECTING: Cell<bool> = const { Cell::new(false) };
}

/// Told of each collection's start and stop, on the collecting thread; see
/// [`COLLECTING`].
#[pyfunction]
fn on_collection(phase: &str, _info: &Bound<'_, PyAny>) {
    COLLECTING.with(|collecting| collecting.set(phase == "start"));
}

/// Has the garbage collector tell [`collecting`] when it runs.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let callback = wrap_pyfunction!(on_collection, module)?;
    module.py().import("gc")?.getattr("callbacks")?.call_method1("append", (callback,))?;
    Ok(())
}

/// Whether the garbage collector is collecting on this thread now.
pub fn collecting() -> bool {
    COLLECTING.with(Cell::get)
}

/// The callables subscribed to one engine, by subscription id.
pub struct Subscribers {
    /// None once cleared for good: the engine's notifier thread has ended,
    /// or the engine is being collected.
    slots: Mutex<Option<HashMap<u64, Arc<Slot>>>>,
    /// Whether a callable was ever subscribed: from then on the engine's
    /// notifier thread may be running Python code.
    ever: AtomicBool,
}

impl Default for Subscribers {
    fn default() -> Subscribers {
        Subscribers { slots: Mutex::new(Some(HashMap::new())), ever: AtomicBool::new(false) }
    }
}

impl Subscribers {
    /// Marks that Python code may run on the notifier thread from now on;
    /// true the first time. Called before the engine can deliver an event.
    pub fn starting(&self) -> bool {
        !self.ever.swap(true, Ordering::AcqRel)
    }

    /// Whether the notifier thread may ever have run Python code.
    pub fn ever(&self) -> bool {
        self.ever.load(Ordering::Acquire)
    }

    /// Keeps a subscription's slot. Once cleared for good (a close that
    /// ended the notifier thread came in between the engine's subscribe and
    /// this), the slot is emptied instead and its callable returned, for
    /// the caller to drop: nothing can call it any more.
    pub fn insert(&self, id: u64, slot: Arc<Slot>) -> Option<Py<PyAny>> {
        match lock(&self.slots).as_mut() {
            Some(slots) => {
                slots.insert(id, slot);
                None
            }
            None => slot.take(),
        }
    }

    /// Ends a subscription here: the notifier thread finds its slot empty
    /// from now on. Returns the callable, for the caller to drop.
    pub fn remove(&self, id: u64) -> Option<Py<PyAny>> {
        let slot = lock(&self.slots).as_mut()?.remove(&id)?;
        slot.take()
    }

    /// Shows every callable to the garbage collector. A lock that is taken
    /// (which attached code never leaves so) skips its callables for this
    /// pass rather than wait inside the collector.
    pub fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        let Ok(slots) = self.slots.try_lock() else {
            return Ok(());
        };
        for slot in slots.iter().flat_map(HashMap::values) {
            if let Ok(callable) = slot.0.try_lock() {
                visit.call(callable.as_ref())?;
            }
        }
        Ok(())
    }

    /// Ends every subscription here, for good: a subscription kept after
    /// this is ended at once. Returns the callables, for the caller to drop.
    pub fn clear(&self) -> Vec<Py<PyAny>> {
        let slots = lock(&self.slots).take().unwrap_or_default();
        slots.values().filter_map(|slot| slot.take()).collect()
    }
}
