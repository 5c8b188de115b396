//! The locks and maps the backend is built on, chosen at one place.
//!
//! A normal build uses `parking_lot`'s mutex, `dashmap`'s map and foldhash's
//! randomly seeded hasher, as re-exports: the backend's code is the same
//! code either way. Under `--cfg loom` (`make verify-loom`) the backend runs
//! inside loom's model checker, which explores only what goes through its
//! own primitives, and a modeled thread that blocked on any other lock
//! would hang the model. So there the mutex wraps loom's, the maps are the
//! small loom-locked stand-ins of `src/loom_map.rs`, the schedule's
//! snapshot counter and an order's forgotten mark are loom's atomics, and
//! the hasher has a fixed seed, so that every run of a model puts each id
//! in the same map shard.

#[cfg(not(loom))]
pub(crate) use dashmap::mapref::entry::{Entry, VacantEntry};
#[cfg(not(loom))]
pub(crate) use dashmap::DashMap;
#[cfg(not(loom))]
pub(crate) use foldhash::fast::RandomState;
#[cfg(not(loom))]
pub(crate) use parking_lot::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64};

#[cfg(loom)]
pub(crate) use self::modeled::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use crate::loom_map::{DashMap, Entry, VacantEntry};
#[cfg(loom)]
pub(crate) use foldhash::fast::FixedState as RandomState;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64};

#[cfg(loom)]
mod modeled {
    /// `parking_lot`'s API over loom's mutex: `lock` returns the guard
    /// itself. A model that panics while holding a lock fails as a whole, so
    /// poisoning has nothing to report.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().expect("a model stops at its first panic")
        }
    }
}
