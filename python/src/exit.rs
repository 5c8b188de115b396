//! Engines whose notifier thread may run Python code, closed before the
//! interpreter shuts down.
//!
//! Once shutdown has begun, a thread that Python did not start can no longer
//! safely attach to the interpreter: CPython may end it in the middle of a
//! call, or abort the process. So an exit hook (run while Python is still
//! whole) closes every engine that ever had a Python subscriber and waits for
//! the engines being closed in the background: queued events still reach
//! their callbacks, and no notifier thread attaches afterwards.
//!
//! Engines made, or subscribed to, once the hook has begun (by a daemon
//! thread, or by an exit handler that runs after it) are not closed by it.
//! So once the hook has closed what it knew of, it shuts the door: from then
//! on no notifier thread attaches to deliver an event (the event is dropped
//! for Python's callbacks), and the hook waits for the deliveries already
//! running to return.
//!
//! Only engines and threads of this process are waited for: a child made by
//! `fork` inherits the parent's lists but none of the threads they name, so
//! waiting for those there could only hang.

use std::mem;
use std::process;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use pyo3::prelude::*;
use stockkeeper::Engine;

/// Engines with Python subscribers that may still be open, each with the id
/// of the process that created it.
static WATCHED: Mutex<Vec<(u32, Weak<Engine>)>> = Mutex::new(Vec::new());

/// Threads closing an engine that was dropped unclosed, each with the id of
/// the process that started it.
static CLOSING: Mutex<Vec<(u32, JoinHandle<()>)>> = Mutex::new(Vec::new());

/// The process whose exit hook has shut the door on deliveries, 0 for none.
static EXITING: AtomicU32 = AtomicU32::new(0);

/// Deliveries running now: the process they run in (high half) and how many
/// (low half). A child of `fork` inherits the parent's count but none of its
/// threads, so a count another process left counts as none.
static DELIVERING: AtomicU64 = AtomicU64::new(0);

/// A delivery under way, which the exit hook waits for; see [`delivering`].
pub struct Delivering(u32);

/// Counts a delivery about to attach to the interpreter, or None once this
/// process's exit hook has shut the door, when it must not attach.
pub fn delivering() -> Option<Delivering> {
    let this_process = process::id();
    let _ = DELIVERING.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
        let count = if (now >> 32) as u32 == this_process { now as u32 } else { 0 };
        Some(u64::from(this_process) << 32 | u64::from(count + 1))
    });
    let delivery = Delivering(this_process);
    // Counted before the door is looked at, as the hook shuts the door
    // before it reads the count: one of the two sees the other.
    (!exiting()).then_some(delivery)
}

impl Drop for Delivering {
    fn drop(&mut self) {
        let _ = DELIVERING.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
            ((now >> 32) as u32 == self.0).then(|| now - 1)
        });
    }
}

/// Whether this process's exit hook has shut the door on deliveries: the
/// interpreter may be finalizing, and a thread it did not start must not
/// attach to it any more.
pub fn exiting() -> bool {
    EXITING.load(Ordering::SeqCst) == process::id()
}

/// How many deliveries of this process are running.
fn deliveries() -> u32 {
    let now = DELIVERING.load(Ordering::SeqCst);
    if (now >> 32) as u32 == process::id() {
        now as u32
    } else {
        0
    }
}

/// Every critical section here is a single push, prune or take.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Has the exit hook close `engine`, created by this process, if it is
/// still open then.
pub fn watch(engine: &Arc<Engine>) {
    let mut watched = lock(&WATCHED);
    watched.retain(|(_, engine)| engine.strong_count() > 0);
    watched.push((process::id(), Arc::downgrade(engine)));
}

/// Closes `engine`, created by this process, on a thread of its own, which
/// the exit hook waits for. Hands the engine back when no thread can be
/// started.
pub fn close_in_background(engine: Arc<Engine>) -> Result<(), Arc<Engine>> {
    let spare = Arc::clone(&engine);
    let spawned =
        thread::Builder::new().name("stockkeeper-close".into()).spawn(move || engine.close());
    let Ok(closing) = spawned else {
        return Err(spare);
    };
    let this_process = process::id();
    let mut threads = lock(&CLOSING);
    threads.retain(|(creator, thread)| *creator != this_process || !thread.is_finished());
    threads.push((this_process, closing));
    Ok(())
}

/// The exit hook. Waits, with the GIL released, for the callbacks of every
/// engine of this process still open to take their queued events.
#[pyfunction]
fn close_engines(py: Python<'_>) {
    let this_process = process::id();
    let engines: Vec<Arc<Engine>> = mem::take(&mut *lock(&WATCHED))
        .into_iter()
        .filter(|(creator, _)| *creator == this_process)
        .filter_map(|(_, engine)| engine.upgrade())
        .collect();
    let (closing, inherited): (Vec<_>, Vec<_>) = mem::take(&mut *lock(&CLOSING))
        .into_iter()
        .partition(|(creator, _)| *creator == this_process);
    // A handle to a thread of the parent process is neither joined nor
    // detached here: neither means anything in this one.
    mem::forget(inherited);
    py.detach(|| {
        engines.iter().for_each(|engine| engine.close());
        // A close thread that panicked left nothing to wait for.
        closing.into_iter().for_each(|(_, thread)| drop(thread.join()));
        EXITING.store(this_process, Ordering::SeqCst);
        while deliveries() > 0 {
            thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Registers the exit hook with `atexit`.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(close_engines, module)?;
    module.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}
