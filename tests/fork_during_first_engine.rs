//! A fork while another thread makes the process's first engine. The first
//! engine registers the library's fork hook; a lock held over that, copied
//! into the child with its owner gone, would make every engine the child
//! makes wait for ever.
//!
//! Its own test binary: it stands in for `pthread_atfork`, so that the fork
//! lands exactly while the registration is under way, and needs an engine
//! never made before in the process.

#![cfg(unix)]

use std::sync::atomic::{AtomicU8, Ordering};
use std::thread;

use stockkeeper::{Engine, Options};

/// Where the registration stands: none yet, under way, or the fork done.
static STAGE: AtomicU8 = AtomicU8::new(NONE);
const NONE: u8 = 0;
const REGISTERING: u8 = 1;
const FORKED: u8 = 2;

/// Stands in for libc's, for this binary only: the first registration
/// waits until the test has forked. It registers nothing, so the library
/// counts no fork here; this test only needs it not to hang.
#[no_mangle]
pub extern "C" fn pthread_atfork(
    _prepare: Option<unsafe extern "C" fn()>,
    _parent: Option<unsafe extern "C" fn()>,
    _child: Option<unsafe extern "C" fn()>,
) -> libc::c_int {
    if STAGE.compare_exchange(NONE, REGISTERING, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
        while STAGE.load(Ordering::SeqCst) != FORKED {
            thread::yield_now();
        }
    }
    0
}

#[test]
fn a_child_forked_during_the_first_engines_registration_can_make_engines() {
    let first = thread::spawn(|| Engine::new(Options::manual()).map(|_| ()));
    while STAGE.load(Ordering::SeqCst) != REGISTERING {
        thread::yield_now();
    }
    // SAFETY: the child makes an engine on the manual clock (no thread of
    // its own) and ends with _exit, running nothing of the parent's.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        // SAFETY: ends the child if the engine below never comes.
        unsafe { libc::alarm(20) };
        let made = Engine::new(Options::manual()).is_ok();
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(if made { 0 } else { 1 }) };
    }
    STAGE.store(FORKED, Ordering::SeqCst);
    first.join().unwrap().unwrap();
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status), "the child hung making an engine (status {status})");
    assert_eq!(libc::WEXITSTATUS(status), 0, "the child could not make an engine");
}
