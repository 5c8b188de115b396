//! The locks and maps the engine is built on, chosen at one place.
//!
//! Its own locks are std's, behind the API of `std_locks` below: each keeps
//! its whole state in the lock itself (on Linux a futex word, which a
//! waiting thread sleeps on in the kernel). `parking_lot`'s keep their
//! waiting threads in one table for the whole process, whose entries a
//! thread locks for a moment as it waits or wakes another, and all of which
//! a thread locks to grow the table; a `fork` at such a moment copies an
//! entry locked for ever, and an engine made in the child then hung, or
//! aborted on the table's broken links, at its first wait (1 child in 500
//! of a C program forking from a busy engine). The maps are `dashmap`'s,
//! whose shard locks still go through that table, but only for a thread
//! that finds a shard taken and spins for it in vain, or that unlocks a
//! shard such a thread waits on: the hazard remains where threads of the
//! parent contend for a map shard as it forks and threads of the child then
//! contend for one too (the README says so).
//!
//! The backend's code is the same code in a normal build and under
//! `--cfg loom` (`make verify-loom`), which runs it inside loom's model
//! checker. That explores only what goes through its own primitives, and a
//! modeled thread that blocked on any other lock would hang the model. So
//! there the backend's mutex wraps loom's, the maps are the small
//! loom-locked stand-ins of `src/loom_map.rs`, the schedule's snapshot
//! counter and an order's forgotten mark and place in the schedule are
//! loom's atomics, and the hasher has a fixed seed, so that every run of a
//! model puts each id in the same map shard. The engine's locks outside the
//! backend are never modeled.

#[cfg(not(loom))]
pub(crate) use self::std_locks::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use dashmap::mapref::entry::{Entry, VacantEntry};
#[cfg(not(loom))]
pub(crate) use dashmap::DashMap;
#[cfg(not(loom))]
pub(crate) use foldhash::fast::RandomState;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};

#[cfg(loom)]
pub(crate) use self::modeled::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use crate::loom_map::{DashMap, Entry, VacantEntry};
#[cfg(loom)]
pub(crate) use foldhash::fast::FixedState as RandomState;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};

#[cfg(loom)]
mod modeled {
    /// The API of `std_locks` over loom's mutex: `lock` returns the guard
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

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
    }
}

/// std's mutex and condition variable with the API the engine is written
/// to: `lock` returns the guard itself, never an error. A panic never
/// unwinds while the engine holds one of its locks but from a bug, and the
/// state it guards is then no worse than at any other unwinding, so a lock
/// poisoned by one is taken as it is.
pub(crate) mod std_locks {
    use std::sync::{self, PoisonError};
    use std::time::Instant;

    pub(crate) type MutexGuard<'a, T> = sync::MutexGuard<'a, T>;

    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Mutex<T> {
            Mutex(sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }

        /// The guard, unless another thread holds the lock.
        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            match self.0.try_lock() {
                Ok(guard) => Some(guard),
                Err(sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(sync::TryLockError::WouldBlock) => None,
            }
        }

        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
        }
    }

    #[derive(Debug)]
    pub(crate) struct Condvar(sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar(sync::Condvar::new())
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        /// Lets go of the lock held through `guard` and waits for a
        /// notification, then takes the lock again. A wait may also end
        /// with none.
        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(guard).unwrap_or_else(PoisonError::into_inner)
        }

        /// [`Condvar::wait`], waiting until `deadline` at the latest.
        pub(crate) fn wait_until<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            deadline: Instant,
        ) -> MutexGuard<'a, T> {
            let timeout = deadline.saturating_duration_since(Instant::now());
            match self.0.wait_timeout(guard, timeout) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            }
        }
    }
}
