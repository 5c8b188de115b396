//! stockkeeper: an in-process, thread-safe inventory reservation engine.
//!
//! An order *holds* stock while its customer pays. Confirming the order takes
//! the units out of stock; cancelling it, or letting its deadline pass, gives
//! them back. Holds expire on their own, measured on a monotonic clock, and
//! a hold whose deadline has passed can never be confirmed.
//!
//! ```
//! use stockkeeper::{Engine, Options, Error};
//! use std::time::Duration;
//!
//! let engine = Engine::new(Options::manual()).unwrap();
//! engine.add_product("sku-1", "Kettle", 3).unwrap();
//! engine.block("sku-1", 2, "order-1", None).unwrap();
//! assert_eq!(engine.available("sku-1").unwrap(), 1);
//!
//! engine.advance(Duration::from_secs(301)).unwrap();
//! assert_eq!(engine.confirm("order-1"), Err(Error::Expired));
//! assert_eq!(engine.available("sku-1").unwrap(), 3);
//! ```
//!
//! The same engine is reached from C (`include/stockkeeper.h`), Python and Go.

mod ahead;
mod backend;
mod clock;
mod engine;
mod error;
pub mod ffi;
mod fork;
mod local;
#[cfg(loom)]
mod loom_map;
#[cfg(all(test, loom))]
mod loom_models;
mod metrics;
mod notify;
mod order;
mod releaser;
mod sync;
mod validate;

pub use crate::ahead::{prefetch, Lookup, ReadAhead};
pub use crate::clock::ClockKind;
pub use crate::engine::{
    Engine, Options, DEFAULT_HOLD_TIME, DEFAULT_MAX_REMEMBERED, DEFAULT_RETENTION, MAX_HOLD_TIME,
};
pub use crate::error::{Error, ErrorCode, Result};
pub use crate::metrics::{Metrics, ProductOutcomes};
pub use crate::notify::{Callback, SubscriptionId};
pub use crate::order::{Deadline, Event, Line, OrderState, OrderStatus, Stock};
pub use crate::validate::{
    check_id, check_line, count_from_signed, quantity_for_engine, quantity_from_signed, MAX_COUNT,
    MAX_ID_BYTES, MAX_NAME_BYTES,
};
