//! Noticing that the process forked. A child of `fork` has a copy of every
//! engine but none of its threads, and any lock a parent thread held at that
//! moment stays held forever in the child. An engine created before the fork
//! therefore acts as closed in the child, never touching its locks or
//! threads; an engine created in the child works as usual.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static FORKS: AtomicU64 = AtomicU64::new(0);
static WATCHING: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn forked_child() {
    // Only async-signal-safe work here: one atomic add.
    FORKS.fetch_add(1, Ordering::SeqCst);
}

/// How many times this process's ancestors forked into it, since the first
/// engine was made. The first call registers the hook that counts.
///
/// No lock guards the registration: a fork while another thread held one
/// would leave it held in the child, and every engine made there would wait
/// for it for ever. Threads racing to make the first engine may each
/// register the hook instead; it then runs more than once a fork, and a
/// count that moved at all tells a fork.
pub(crate) fn generation() -> u64 {
    if !WATCHING.load(Ordering::Acquire) {
        #[cfg(unix)]
        // SAFETY: registers a child handler that only adds to an atomic; the
        // registration itself has no preconditions.
        unsafe {
            libc::pthread_atfork(None, None, Some(forked_child));
        }
        WATCHING.store(true, Ordering::Release);
    }
    FORKS.load(Ordering::SeqCst)
}

/// Whether the process forked since `born` was read.
pub(crate) fn forked_since(born: u64) -> bool {
    FORKS.load(Ordering::SeqCst) != born
}
