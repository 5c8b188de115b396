//! The GIL handed over to a notifier thread that waits for it.
//!
//! A call on one order or one product keeps the GIL: it takes about a
//! microsecond, and letting the GIL go and taking it back would cost more
//! than that once another thread waits for it. A notifier thread needs the
//! GIL to run Python callbacks, though, and a thread that keeps it through
//! call after call would leave it only the moments the interpreter takes it
//! away on its own (every `sys.getswitchinterval()` seconds, 5 ms by
//! default), while events queued.
//!
//! So a notifier thread with events to deliver says so before it waits for
//! the GIL ([`wait`]). Once it has waited [`HAND_OVER_AFTER`], the next
//! call of any thread lets the GIL go for the engine's work and gives the
//! notifier a moment to take it ([`give_way`]). The notifier then delivers
//! every event queued, up to the engine's run limit, in one hold of the
//! GIL (`events::deliver_in_one_hold`). While threads keep calling, a
//! callback runs within about that wait of its event, and the GIL changes
//! hands once for a run of events instead of once for each call.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long a notifier thread waits for the GIL before calls let it go.
const HAND_OVER_AFTER: Duration = Duration::from_micros(200);

/// How long a call that let the GIL go waits for a notifier thread to take
/// it. Another thread may take it first, and a call never waits long for a
/// thread it knows nothing of.
const GIVE_WAY_FOR: Duration = Duration::from_micros(200);

/// Notifier threads waiting for the GIL now.
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// When the first notifier thread of those waiting now began to wait, as
/// [`now`] reads it; zero when none waits.
static WAITING_SINCE: AtomicU64 = AtomicU64::new(0);

/// Nanoseconds since the first reading, plus one: never zero.
fn now() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let elapsed = EPOCH.get_or_init(Instant::now).elapsed().as_nanos();
    u64::try_from(elapsed).unwrap_or(u64::MAX - 1) + 1
}

/// A notifier thread waiting for the GIL, from [`wait`] until it drops this,
/// once it has the GIL or knows it will not get it.
pub struct Waiting(());

/// Marks the calling notifier thread as waiting for the GIL.
pub fn wait() -> Waiting {
    let since = now();
    WAITING.fetch_add(1, Ordering::SeqCst);
    let _ = WAITING_SINCE.compare_exchange(0, since, Ordering::SeqCst, Ordering::SeqCst);
    Waiting(())
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if WAITING.fetch_sub(1, Ordering::SeqCst) == 1 {
            WAITING_SINCE.store(0, Ordering::SeqCst);
        }
    }
}

/// Whether a notifier thread has waited long enough that the calling
/// thread should let the GIL go for its call: a single atomic load while
/// none waits.
#[inline]
pub fn due() -> bool {
    match WAITING_SINCE.load(Ordering::Relaxed) {
        0 => false,
        since => waited_enough(since),
    }
}

#[cold]
fn waited_enough(since: u64) -> bool {
    now().saturating_sub(since) >= HAND_OVER_AFTER.as_nanos() as u64
}

/// Called with the GIL let go: returns once the notifier threads that were
/// waiting have stopped (the first has the GIL, or a later one waits
/// afresh), or after [`GIVE_WAY_FOR`].
pub fn give_way() {
    let waited_since = WAITING_SINCE.load(Ordering::SeqCst);
    if waited_since == 0 {
        return;
    }
    let until = Instant::now() + GIVE_WAY_FOR;
    while WAITING_SINCE.load(Ordering::SeqCst) == waited_since && Instant::now() < until {
        thread::yield_now();
    }
}

extern "C" {
    fn pthread_atfork(
        prepare: Option<extern "C" fn()>,
        parent: Option<extern "C" fn()>,
        child: Option<extern "C" fn()>,
    ) -> std::os::raw::c_int;
}

/// A child of `fork` has none of its parent's notifier threads: none waits
/// there, whatever the parent's count said. Two atomic stores, which a
/// child handler may make.
extern "C" fn forked_child() {
    WAITING.store(0, Ordering::SeqCst);
    WAITING_SINCE.store(0, Ordering::SeqCst);
}

/// Clears the waiting marks in every child of `fork`, from now on.
pub fn register() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        // SAFETY: registers a child handler that only stores to atomics;
        // the registration has no preconditions. A failure (no memory) only
        // leaves a child's calls letting the GIL go for a notifier that
        // never comes, each waiting GIVE_WAY_FOR.
        unsafe {
            pthread_atfork(None, None, Some(forked_child));
        }
    });
}
