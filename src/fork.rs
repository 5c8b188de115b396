//! Noticing that the process forked. A child of `fork` has a copy of every
//! engine but none of its threads, and any lock a parent thread held at that
//! moment stays held forever in the child. An engine created before the fork
//! therefore acts as closed in the child, never touching its locks or
//! threads; an engine created in the child works as usual.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static FORKS: AtomicU64 = AtomicU64::new(0);
static WATCH: Once = Once::new();

#[cfg(unix)]
extern "C" fn forked_child() {
    // Only async-signal-safe work here: one atomic add.
    FORKS.fetch_add(1, Ordering::SeqCst);
}

/// How many times this process's ancestors forked into it, since the first
/// engine was made. The first call registers the hook that counts.
pub(crate) fn generation() -> u64 {
    WATCH.call_once(|| {
        #[cfg(unix)]
        // SAFETY: registers a child handler that only adds to an atomic; the
        // registration itself has no preconditions.
        unsafe {
            libc::pthread_atfork(None, None, Some(forked_child));
        }
    });
    FORKS.load(Ordering::SeqCst)
}

/// Whether the process forked since `born` was read.
pub(crate) fn forked_since(born: u64) -> bool {
    FORKS.load(Ordering::SeqCst) != born
}
