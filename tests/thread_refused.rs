//! A thread the operating system refuses: making an engine that needs its
//! releaser, and the first subscription, which needs the notifier, fail as
//! closed, and an engine that was open stays open. The refusal is provoked
//! in a forked child by an address-space limit too low for a thread's
//! stack, so that no other test shares the limit. Its own test binary with
//! one test: the C library keeps the stacks of ended threads for reuse,
//! and a child of a process where other tests had run threads could start
//! one on such a stack under the limit.

#![cfg(target_os = "linux")]

use stockkeeper::{Engine, Error, Options};

/// The address space the process maps now, in bytes.
fn mapped_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().next()?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// The checks of the child, once the limit holds: how many failed.
fn checks_under_the_limit(open: &Engine) -> i32 {
    let mut failures = 0;
    failures += i32::from(open.on_event(|_| {}).err() != Some(Error::Closed));
    failures += i32::from(open.subscribe().err() != Some(Error::Closed));
    failures += i32::from(open.is_closed());
    failures += i32::from(open.block("kettle", 1, "o1", None).is_err());
    failures += i32::from(open.confirm("o1").is_err());
    failures += i32::from(open.available("kettle") != Ok(4));
    let with_releaser = Engine::new(Options::default());
    failures += i32::from(with_releaser.err() != Some(Error::Closed));
    failures
}

#[test]
fn a_refused_thread_fails_as_closed_and_leaves_an_open_engine_open() {
    // SAFETY: the child calls only the engine, setrlimit and _exit; it
    // never returns into the test harness.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        // Made in the child: an engine made before a fork is closed in it.
        let open = Engine::new(Options::manual()).unwrap();
        open.add_product("kettle", "Kettle", 5).unwrap();
        // Room for the engine's own allocations, not for a thread's stack
        // (2 MiB by default).
        let Some(mapped) = mapped_bytes() else {
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(100) };
        };
        let limit = libc::rlimit { rlim_cur: mapped + (1 << 20), rlim_max: libc::RLIM_INFINITY };
        // SAFETY: sets a limit of this process from a live local.
        if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(101) };
        }
        let failures = checks_under_the_limit(&open);
        // SAFETY: ends the child at once, running nothing of the parent's.
        unsafe { libc::_exit(failures) };
    }
    let mut status = 0;
    // SAFETY: waits for the child made above.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status), "the child did not exit normally: {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "checks failed in the child");
}
