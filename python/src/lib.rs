//! The native half of the `stockkeeper` Python package: the engine, the
//! values and events it hands out, its exceptions and the `InventoryService`
//! front door. `stockkeeper/__init__.py`
//! re-exports all of it; import the package, not this module.

mod convert;
mod engine;
mod errors;
mod events;
mod exit;
mod handover;
mod service;
mod values;

use pyo3::prelude::*;

/// The native module behind `stockkeeper`. Import `stockkeeper` instead.
#[pymodule]
mod _stockkeeper {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::engine::PyEngine;
    #[pymodule_export]
    use crate::events::{PyHoldEnded, PySoldOut};
    #[pymodule_export]
    use crate::service::PyInventoryService;
    #[pymodule_export]
    use crate::values::{PyDeadline, PyMetrics, PyOrderStatus, PyProductOutcomes, PyStock};

    #[pymodule_init]
    fn init(module: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::errors::register(module)?;
        crate::exit::register(module)?;
        crate::events::register(module)?;
        crate::handover::register();
        module.add("__version__", env!("CARGO_PKG_VERSION"))?;
        module.add("MAX_COUNT", stockkeeper::MAX_COUNT)?;
        module.add("MAX_ID_BYTES", stockkeeper::MAX_ID_BYTES)?;
        module.add("MAX_NAME_BYTES", stockkeeper::MAX_NAME_BYTES)?;
        Ok(())
    }
}
