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
//! on no notifier thread attaches (an event is dropped for Python's
//! callbacks), and the hook waits a while for the attached ones to detach.
//! Not for ever: a daemon thread never holds up exit, and a callback of one
//! may wait for something that will not come. One still attached after that
//! may end the process abnormally if it returns while the interpreter
//! finalizes, as it may when no hook ran at all: the door also counts as
//! shut once the interpreter says it is finalizing, but a thread already
//! attached is past the door. A module first imported by an exit handler
//! has no hook (Python runs no handler registered during exit).
//!
//! Only engines and threads of this process are waited for: a child made by
//! `fork` inherits the parent's lists but none of the threads they name, so
//! waiting for those there could only hang.

use std::mem;
use std::process;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use stockkeeper::Engine;

/// Engines with Python subscribers that may still be open, each with the id
/// of the process that created it.
static WATCHED: Mutex<Vec<(u32, Weak<Engine>)>> = Mutex::new(Vec::new());

/// Threads closing an engine that was dropped unclosed, each with the id of
/// the process that started it.
static CLOSING: Mutex<Vec<(u32, JoinHandle<()>)>> = Mutex::new(Vec::new());

/// Whether the exit hook has shut the door on notifier threads. A child made
/// by `fork` once the door is shut (by an exit handler that runs after the
/// hook) is exiting too, and its hook has run already: the door stays shut.
static EXITING: AtomicBool = AtomicBool::new(false);

/// Notifier threads attached now: the process they run in (high half) and
/// how many (low half). A child of `fork` inherits the parent's count but
/// none of its threads, so a count another process left counts as none.
static ATTACHED: AtomicU64 = AtomicU64::new(0);

/// How long the exit hook waits for the notifier threads still attached.
const ATTACHED_WAIT: Duration = Duration::from_secs(1);

/// Runs `f` on a notifier thread attached to the interpreter (to deliver an
/// event, or to give back the thread's state), counted for the exit hook to
/// wait for; runs nothing once the door is shut, or when the interpreter
/// cannot be attached to.
pub fn attach<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    let _attached = attaching()?;
    Python::try_attach(f)
}

/// A notifier thread attached, or about to attach, to the interpreter; the
/// exit hook waits for it. See [`attaching`].
struct Attached(u32);

/// Counts a notifier thread about to attach to the interpreter, or None once
/// the door is shut, when it must not attach.
fn attaching() -> Option<Attached> {
    let this_process = process::id();
    let _ = ATTACHED.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
        let count = count_in(now, this_process);
        Some(u64::from(this_process) << 32 | u64::from(count + 1))
    });
    let attached = Attached(this_process);
    // Counted before the door is looked at, as the hook shuts the door
    // before it reads the count: one of the two sees the other.
    (!shut()).then_some(attached)
}

impl Drop for Attached {
    fn drop(&mut self) {
        let _ = ATTACHED.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
            (count_in(now, self.0) > 0).then(|| now - 1)
        });
    }
}

/// The count of attached threads that `packed` (see [`ATTACHED`]) holds for
/// `process`: none when another process left it.
fn count_in(packed: u64, process: u32) -> u32 {
    if (packed >> 32) as u32 == process {
        packed as u32
    } else {
        0
    }
}

/// Whether a thread Python did not start must no longer attach to it: the
/// exit hook has run, or the interpreter is finalizing.
fn shut() -> bool {
    EXITING.load(Ordering::SeqCst) || finalizing()
}

/// Whether the interpreter is finalizing. Read without the GIL: it is one
/// atomic load in the runtime's state.
fn finalizing() -> bool {
    #[cfg(Py_3_13)]
    use pyo3::ffi::Py_IsFinalizing as is_finalizing;
    #[cfg(not(Py_3_13))]
    extern "C" {
        #[link_name = "_Py_IsFinalizing"]
        fn is_finalizing() -> std::os::raw::c_int;
    }
    // SAFETY: no precondition; it reads the runtime's finalizing state.
    unsafe { is_finalizing() != 0 }
}

/// How many notifier threads of this process are attached.
fn attached() -> u32 {
    count_in(ATTACHED.load(Ordering::SeqCst), process::id())
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
        EXITING.store(true, Ordering::SeqCst);
        let give_up = Instant::now() + ATTACHED_WAIT;
        while attached() > 0 && Instant::now() < give_up {
            thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Registers the exit hook with `atexit`. Python runs no exit handler
/// registered while it exits: a module first imported by an exit handler
/// has no hook, only the interpreter's own finalizing mark.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(close_engines, module)?;
    module.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}
