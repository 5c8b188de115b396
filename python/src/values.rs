//! The values the engine hands to Python: frozen snapshots, taken when the
//! call returned.

use std::time::{Duration, SystemTime};

use pyo3::prelude::*;
use pyo3::types::PyList;
use stockkeeper::{Deadline, Metrics, OrderStatus, ProductOutcomes, Stock};

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
#[pyclass(module = "stockkeeper", name = "OrderStatus", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
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

/// `Class(name=repr(value), ...)` for the named attributes of `object`, as
/// a dataclass would show it.
pub(crate) fn repr_of(object: &Bound<'_, PyAny>, class: &str, names: &[&str]) -> PyResult<String> {
    let fields = names
        .iter()
        .map(|name| Ok(format!("{name}={}", object.getattr(*name)?.repr()?)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(format!("{class}({})", fields.join(", ")))
}

#[pymethods]
impl PyOrderStatus {
    /// A new list on every read, so the snapshot itself cannot be changed.
    #[getter]
    fn lines<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, &self.lines)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr_of(slf.as_any(), "OrderStatus", &["order_id", "state", "lines", "deadline"])
    }
}

/// A snapshot of the engine's counters. Holds: `held` (started),
/// `confirmed`, `cancelled`, `expired` (how they ended), `live_holds` and
/// `held_units` (live now). Refusals by reason: `refused_stock` (too little
/// available), `refused_duplicate` (order id in use or remembered),
/// `refused_unknown` (no such product or order), `refused_ended` (the hold
/// had ended), `refused_invalid` (bad input). The hold figures are read
/// together: `live_holds == held - confirmed - cancelled - expired` always.
#[pyclass(module = "stockkeeper", name = "Metrics", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyMetrics {
    #[pyo3(get)]
    held: u64,
    #[pyo3(get)]
    confirmed: u64,
    #[pyo3(get)]
    cancelled: u64,
    #[pyo3(get)]
    expired: u64,
    #[pyo3(get)]
    refused_stock: u64,
    #[pyo3(get)]
    refused_duplicate: u64,
    #[pyo3(get)]
    refused_unknown: u64,
    #[pyo3(get)]
    refused_ended: u64,
    #[pyo3(get)]
    refused_invalid: u64,
    #[pyo3(get)]
    live_holds: u64,
    #[pyo3(get)]
    held_units: u64,
}

impl From<Metrics> for PyMetrics {
    fn from(metrics: Metrics) -> PyMetrics {
        PyMetrics {
            held: metrics.held,
            confirmed: metrics.confirmed,
            cancelled: metrics.cancelled,
            expired: metrics.expired,
            refused_stock: metrics.refused_stock,
            refused_duplicate: metrics.refused_duplicate,
            refused_unknown: metrics.refused_unknown,
            refused_ended: metrics.refused_ended,
            refused_invalid: metrics.refused_invalid,
            live_holds: metrics.live_holds,
            held_units: metrics.held_units,
        }
    }
}

#[pymethods]
impl PyMetrics {
    fn __repr__(&self) -> String {
        let fields = [
            ("held", self.held),
            ("confirmed", self.confirmed),
            ("cancelled", self.cancelled),
            ("expired", self.expired),
            ("refused_stock", self.refused_stock),
            ("refused_duplicate", self.refused_duplicate),
            ("refused_unknown", self.refused_unknown),
            ("refused_ended", self.refused_ended),
            ("refused_invalid", self.refused_invalid),
            ("live_holds", self.live_holds),
            ("held_units", self.held_units),
        ];
        let fields: Vec<String> =
            fields.iter().map(|(name, value)| format!("{name}={value}")).collect();
        format!("Metrics({})", fields.join(", "))
    }
}

/// How the holds on one product ended: `confirmed`, `cancelled`,
/// `expired`. `confirmed_share` and `expired_share` are the shares of the
/// ended holds, from 0.0 to 1.0, or None before any hold ended.
#[pyclass(module = "stockkeeper", name = "ProductOutcomes", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyProductOutcomes {
    #[pyo3(get)]
    confirmed: u64,
    #[pyo3(get)]
    cancelled: u64,
    #[pyo3(get)]
    expired: u64,
}

impl From<ProductOutcomes> for PyProductOutcomes {
    fn from(outcomes: ProductOutcomes) -> PyProductOutcomes {
        PyProductOutcomes {
            confirmed: outcomes.confirmed,
            cancelled: outcomes.cancelled,
            expired: outcomes.expired,
        }
    }
}

impl PyProductOutcomes {
    fn core(&self) -> ProductOutcomes {
        ProductOutcomes {
            confirmed: self.confirmed,
            cancelled: self.cancelled,
            expired: self.expired,
        }
    }
}

#[pymethods]
impl PyProductOutcomes {
    #[getter]
    fn confirmed_share(&self) -> Option<f64> {
        self.core().confirmed_share()
    }

    #[getter]
    fn expired_share(&self) -> Option<f64> {
        self.core().expired_share()
    }

    fn __repr__(&self) -> String {
        format!(
            "ProductOutcomes(confirmed={}, cancelled={}, expired={})",
            self.confirmed, self.cancelled, self.expired
        )
    }
}
