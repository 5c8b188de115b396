//! The values the engine hands to Python: frozen snapshots, taken when the
//! call returned.

use std::time::{Duration, SystemTime};

use pyo3::prelude::*;
use pyo3::types::PyList;
use stockkeeper::{Deadline, OrderStatus, Stock};

/// A product's three numbers, read together: `on_hand` (units in stock,
/// held ones included), `reserved` (units held by live orders) and
/// `available` (`on_hand - reserved`).
#[pyclass(module = "stockkeeper", name = "Stock", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyStock {
    #[pyo3(get)]
    on_hand: u64,
    #[pyo3(get)]
    reserved: u64,
    #[pyo3(get)]
    available: u64,
}

impl From<Stock> for PyStock {
    fn from(stock: Stock) -> PyStock {
        PyStock { on_hand: stock.on_hand, reserved: stock.reserved, available: stock.available }
    }
}

#[pymethods]
impl PyStock {
    fn __repr__(&self) -> String {
        format!(
            "Stock(on_hand={}, reserved={}, available={})",
            self.on_hand, self.reserved, self.available
        )
    }
}

/// When a hold runs out. `since_start` is in seconds since the engine
/// started, on its monotonic clock (`since_start_ns` is the same instant in
/// whole nanoseconds, exact); the order may be confirmed up to and including
/// that instant. `wall` is the same instant as an aware UTC datetime, as the
/// wall clock stood when the engine started: for display only, since
/// deadlines never follow wall-clock changes.
#[pyclass(module = "stockkeeper", name = "Deadline", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyDeadline {
    since_start: Duration,
    wall: SystemTime,
}

impl From<Deadline> for PyDeadline {
    fn from(deadline: Deadline) -> PyDeadline {
        PyDeadline { since_start: deadline.since_start, wall: deadline.wall }
    }
}

#[pymethods]
impl PyDeadline {
    #[getter]
    fn since_start(&self) -> f64 {
        self.since_start.as_secs_f64()
    }

    #[getter]
    fn since_start_ns(&self) -> u128 {
        self.since_start.as_nanos()
    }

    #[getter]
    fn wall(&self) -> SystemTime {
        self.wall
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let wall = slf.getattr("wall")?.repr()?;
        Ok(format!("Deadline(since_start={:?}, wall={wall})", slf.get().since_start()))
    }
}

/// Where an order stands: `state` is "held", "confirmed", "cancelled" or
/// "expired"; `lines` lists `(product_id, quantity)` pairs, one per product
/// (lines naming the same product summed), sorted by product id; `deadline`
/// is the deadline the hold has, or had when it ended.
#[pyclass(module = "stockkeeper", name = "OrderStatus", frozen, eq)]
#[derive(Clone, PartialEq, Eq)]
pub struct PyOrderStatus {
    #[pyo3(get)]
    order_id: String,
    #[pyo3(get)]
    state: &'static str,
    lines: Vec<(String, u64)>,
    #[pyo3(get)]
    deadline: PyDeadline,
}

impl PyOrderStatus {
    pub fn new(order_id: &str, status: OrderStatus) -> PyOrderStatus {
        PyOrderStatus {
            order_id: order_id.to_owned(),
            state: status.state.name(),
            lines: status.lines,
            deadline: status.deadline.into(),
        }
    }
}

#[pymethods]
impl PyOrderStatus {
    /// A new list on every read, so the snapshot itself cannot be changed.
    #[getter]
    fn lines<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, &self.lines)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let field = |name: &str| slf.getattr(name).and_then(|value| value.repr());
        Ok(format!(
            "OrderStatus(order_id={}, state={}, lines={}, deadline={})",
            field("order_id")?,
            field("state")?,
            field("lines")?,
            field("deadline")?,
        ))
    }
}
