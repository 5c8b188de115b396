//! Closing while a subscriber runs, closing from inside a subscriber, an
//! engine inherited across fork, and metrics at the count bound.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use stockkeeper::{Engine, Error, Options, MAX_COUNT};

mod common;

fn engine_with_kettles() -> Arc<Engine> {
    let engine = Engine::new(Options::manual()).unwrap();
    engine.add_product("kettle", "Kettle", 10).unwrap();
    Arc::new(engine)
}

#[test]
fn a_second_close_returns_only_after_the_first_one_finished() {
    let engine = engine_with_kettles();
    let (running, callback_running) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let finished = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&finished);
    let released = std::sync::Mutex::new(released);
    engine
        .on_event(move |_| {
            let _ = running.send(());
            let _ = released.lock().unwrap().recv();
            done.store(true, Ordering::SeqCst);
        })
        .unwrap();
    engine.block("kettle", 1, "o1", None).unwrap();
    engine.confirm("o1").unwrap();
    callback_running.recv().unwrap();

    let closers: Vec<_> = (0..2)
        .map(|_| {
            let engine = Arc::clone(&engine);
            let finished = Arc::clone(&finished);
            thread::spawn(move || {
                engine.close();
                finished.load(Ordering::SeqCst)
            })
        })
        .collect();
    release.send(()).unwrap();
    for closer in closers {
        assert!(closer.join().unwrap(), "a close returned while a callback still ran");
    }
}

#[test]
fn a_callback_may_close_its_own_engine_and_queued_events_still_arrive() {
    let engine = engine_with_kettles();
    let weak = Arc::downgrade(&engine);
    let seen = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    let (closed, closed_from_callback) = mpsc::channel();
    // The callback closes only once every call below has returned, so that
    // the later events are queued behind the close whichever thread runs
    // first. Dropping the sender (a failed call unwinding) lets it go on.
    let (calls_done, all_called) = mpsc::channel::<()>();
    let all_called = std::sync::Mutex::new(all_called);
    engine
        .on_event(move |_| {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                let _ = all_called.lock().unwrap().recv();
                if let Some(engine) = weak.upgrade() {
                    engine.close();
                    let _ = closed.send(engine.block("kettle", 1, "late", None));
                }
            }
        })
        .unwrap();
    for order in ["a", "b", "c"] {
        engine.block("kettle", 1, order, None).unwrap();
        engine.cancel(order).unwrap();
    }
    drop(calls_done);
    assert_eq!(closed_from_callback.recv().unwrap(), Err(Error::Closed));
    engine.close();
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[test]
fn held_units_add_up_past_a_single_count_without_wrapping() {
    let engine = Engine::new(Options::manual()).unwrap();
    for product in ["a", "b", "c"] {
        engine.add_product(product, "Bulk", MAX_COUNT).unwrap();
        engine.block(product, MAX_COUNT, &format!("o-{product}"), None).unwrap();
    }
    assert_eq!(engine.metrics().unwrap().held_units, u64::MAX, "saturates, never wraps");
    engine.confirm("o-a").unwrap();
    assert_eq!(engine.metrics().unwrap().held_units, 2 * MAX_COUNT);
}

#[cfg(unix)]
#[test]
fn an_engine_made_before_a_fork_acts_as_closed_in_the_child() {
    let inherited = Engine::new(Options::default()).unwrap();
    inherited.add_product("kettle", "Kettle", 5).unwrap();
    let feed = inherited.subscribe().unwrap();

    // SAFETY: the child calls only the engine and _exit; it never returns
    // into the test harness.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        let mut failures = 0;
        failures += i32::from(!inherited.is_closed());
        failures += i32::from(inherited.block("kettle", 1, "o1", None) != Err(Error::Closed));
        failures += i32::from(inherited.flush_events() != Err(Error::Closed));
        inherited.close();
        let fresh = Engine::new(Options::default()).unwrap();
        failures += i32::from(fresh.add_product("mug", "Mug", 1).is_err());
        failures += i32::from(fresh.block("mug", 1, "o1", None).is_err());
        fresh.close();
        drop(inherited);
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(failures) };
    }
    let mut status = 0;
    // SAFETY: waits for the child made above.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status), "the child did not exit normally");
    assert_eq!(libc::WEXITSTATUS(status), 0, "checks failed in the child");

    // The parent's engine is untouched.
    inherited.block("kettle", 1, "o1", None).unwrap();
    inherited.confirm("o1").unwrap();
    inherited.flush_events().unwrap();
    assert_eq!(feed.try_iter().count(), 1);
}

/// An engine with no releaser but a notifier thread, inherited across a
/// fork, is dropped in the child without touching that thread's handle or
/// channel, which belong to a thread the child never had.
#[cfg(unix)]
#[test]
fn an_inherited_engine_without_a_releaser_drops_in_the_child() {
    let options = Options { background_release: false, ..Options::default() };
    let inherited = Engine::new(options).unwrap();
    inherited.add_product("kettle", "Kettle", 5).unwrap();
    let _feed = inherited.subscribe().unwrap();

    // SAFETY: the child calls only the engine and _exit; it never returns
    // into the test harness.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        let closed = inherited.block("kettle", 1, "o1", None) == Err(Error::Closed);
        drop(inherited);
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(i32::from(!closed)) };
    }
    let mut status = 0;
    // SAFETY: waits for the child made above.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status), "the child did not exit normally");
    assert_eq!(libc::WEXITSTATUS(status), 0, "checks failed in the child");
    inherited.block("kettle", 1, "o1", None).unwrap();
}

/// The releaser thread was the parent's: in the child an inherited engine
/// has none, and says so without touching the parent's lock on it.
#[cfg(unix)]
#[test]
fn an_inherited_engine_has_no_releaser_in_the_child() {
    let inherited = Engine::new(Options::default()).unwrap();
    assert!(inherited.has_releaser());

    // SAFETY: the child calls only the engine and _exit; it never returns
    // into the test harness.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        let failures = i32::from(inherited.has_releaser());
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(failures) };
    }
    let mut status = 0;
    // SAFETY: waits for the child made above.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status), "the child did not exit normally");
    assert_eq!(libc::WEXITSTATUS(status), 0, "the child saw the parent's releaser");
    assert!(inherited.has_releaser());
}

/// A close from an event callback stops the releaser without joining it:
/// the engine no longer reports one running.
#[test]
fn a_close_from_a_callback_leaves_no_releaser_reported() {
    let engine = Arc::new(Engine::new(Options::default()).unwrap());
    engine.add_product("kettle", "Kettle", 5).unwrap();
    assert!(engine.has_releaser());
    let weak = Arc::downgrade(&engine);
    let (reported, from_callback) = mpsc::channel();
    engine
        .on_event(move |_| {
            if let Some(engine) = weak.upgrade() {
                engine.close();
                let _ = reported.send(engine.has_releaser());
            }
        })
        .unwrap();
    engine.block("kettle", 1, "o1", None).unwrap();
    engine.cancel("o1").unwrap();
    assert!(!from_callback.recv().unwrap(), "the callback saw a releaser after its close");
    assert!(engine.is_closed());
    assert!(!engine.has_releaser());
    engine.close();
    assert!(!engine.has_releaser());
}

/// A callback that forks returns in the child as well, on the notifier
/// thread, the child's only thread. Nothing will ever reach that thread
/// there: it ends, and with it the child, which must not wait for ever.
#[cfg(unix)]
#[test]
fn a_child_forked_by_a_callback_exits_once_the_callback_returns() {
    let engine = engine_with_kettles();
    let (forked, child_of) = mpsc::channel();
    let parent = std::process::id();
    let once = AtomicBool::new(false);
    engine
        .on_event(move |_| {
            if once.swap(true, Ordering::SeqCst) {
                return;
            }
            // SAFETY: the child only returns from this callback, into the
            // engine's notifier loop; it never reaches the test harness.
            let child = unsafe { libc::fork() };
            if std::process::id() != parent {
                return;
            }
            let _ = forked.send(child);
        })
        .unwrap();
    engine.block("kettle", 1, "o1", None).unwrap();
    engine.cancel("o1").unwrap();
    let child = child_of.recv().unwrap();
    assert!(child > 0, "fork failed");

    // Far above what the child needs; only a hang reaches it.
    let status = common::wait_for_child(child, std::time::Duration::from_secs(20))
        .unwrap_or_else(|| panic!("the child forked by a callback never exited"));
    assert!(libc::WIFEXITED(status), "the child did not exit normally");
    assert_eq!(libc::WEXITSTATUS(status), 0);

    // The parent's engine goes on as before.
    engine.block("kettle", 1, "o2", None).unwrap();
    engine.confirm("o2").unwrap();
    engine.flush_events().unwrap();
}
