//! A thread the operating system refuses: making an engine that needs its
//! releaser, and the first subscription, which needs the notifier, fail as
//! closed, and an engine that was open stays open. A callback so refused is
//! dropped once the call has ended: a drop that closes the engine does not
//! wait for the call that dropped it.
//!
//! The refusal is provoked in a forked child by an address-space limit too
//! low for a thread's stack, so that no other test shares the limit. Its own
//! test binary with one test: the C library keeps the stacks of ended
//! threads for reuse, and a child of a process where other tests had run
//! threads could start one on such a stack under the limit.

#![cfg(target_os = "linux")]

use std::sync::Arc;
use std::time::Duration;

use stockkeeper::{Engine, Error, Options};

mod common;

/// The address space the process maps now, in bytes.
fn mapped_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().next()?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// Closes its engine when dropped: a callback that a refused subscription
/// gives back to be dropped.
struct ClosesOnDrop(Arc<Engine>);

impl Drop for ClosesOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The checks of the child, once the limit holds: how many failed.
fn checks_under_the_limit(open: &Arc<Engine>) -> i32 {
    let mut failures = 0;
    failures += i32::from(open.on_event(|_| {}).err() != Some(Error::Closed));
    failures += i32::from(open.subscribe().err() != Some(Error::Closed));
    failures += i32::from(open.is_closed());
    failures += i32::from(open.block("kettle", 1, "o1", None).is_err());
    failures += i32::from(open.confirm("o1").is_err());
    failures += i32::from(open.available("kettle") != Ok(4));
    let with_releaser = Engine::new(Options::default());
    failures += i32::from(with_releaser.err() != Some(Error::Closed));
    // Last, as it closes the engine: the refused callback is dropped once
    // the call has ended, so that its close does not wait for that call.
    let closer = ClosesOnDrop(Arc::clone(open));
    let refused = open.on_event(move |_| {
        let _ = &closer;
    });
    failures += i32::from(refused.err() != Some(Error::Closed));
    failures += i32::from(!open.is_closed());
    failures
}

/// Exit statuses of a child that could not set the test up.
const NO_STATM: i32 = 100;
const NO_LIMIT: i32 = 101;

#[test]
fn a_refused_thread_fails_as_closed_and_leaves_an_open_engine_open() {
    // Rust's threads take this much stack when the variable is set; a small
    // one fits under the limit below, and then no thread is refused.
    if std::env::var_os("RUST_MIN_STACK").is_some() {
        eprintln!("skipped: RUST_MIN_STACK sets the stack size of threads");
        return;
    }
    // SAFETY: the child calls only the engine, getrlimit, setrlimit and
    // _exit; it never returns into the test harness.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        // Made in the child: an engine made before a fork is closed in it.
        let open = Arc::new(Engine::new(Options::manual()).unwrap());
        open.add_product("kettle", "Kettle", 5).unwrap();
        // Room for the engine's own allocations, not for a thread's stack
        // (2 MiB by default).
        let Some(mapped) = mapped_bytes() else {
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(NO_STATM) };
        };
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: reads and sets a limit of this process through a live
        // local; the hard limit stays as it was.
        let set = unsafe {
            libc::getrlimit(libc::RLIMIT_AS, &mut limit) == 0 && {
                limit.rlim_cur = limit.rlim_max.min(mapped + (1 << 20));
                libc::setrlimit(libc::RLIMIT_AS, &limit) == 0
            }
        };
        if !set {
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(NO_LIMIT) };
        }
        let failures = checks_under_the_limit(&open);
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(failures) };
    }
    let patience = Duration::from_secs(60);
    let status = common::wait_for_child(child, patience)
        .unwrap_or_else(|| panic!("the child still ran after {patience:?}"));
    assert!(libc::WIFEXITED(status), "the child did not exit normally: {status:#x}");
    match libc::WEXITSTATUS(status) {
        0 => {}
        NO_STATM => panic!("the child could not read /proc/self/statm"),
        NO_LIMIT => panic!("the child could not set its address-space limit"),
        failed => panic!("{failed} checks failed in the child"),
    }
}
