//! The GIL handed over to a notifier thread that needs it for its run.
//!
//! A call on one order or one product keeps the GIL: it takes about a
//! microsecond, and letting the GIL go and taking it back would cost more
//! than that once another thread waits for it. A notifier thread needs the
//! GIL to run Python callbacks, though, and a thread that keeps it through
//! call after call would leave it only the moments the interpreter takes it
//! away on its own (every `sys.getswitchinterval()` seconds, 5 ms by
//! default), while events queued.
//!
//! So a notifier thread marks each run of events it delivers, from before
//! it waits for the GIL until the run is done ([`Run`]), and says when the
//! calls of other threads should let the GIL go for it: [`HAND_OVER_AFTER`]
//! after the run began, so that the events of that moment gather into one
//! run; and at once when another thread gets the GIL in the middle of the
//! run, which it can only have had from the notifier (a callback let it go,
//! or the interpreter took it away). Such a call lets the GIL go for the
//! engine's work and waits a moment for the notifier to take it
//! ([`give_way`]).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long after a run begins the calls of other threads let the GIL go.
const HAND_OVER_AFTER: Duration = Duration::from_micros(200);

/// How long a call that let the GIL go waits for a notifier thread to take
/// it and deliver an event.
const GIVE_WAY_FOR: Duration = Duration::from_micros(200);

/// How long calls keep the GIL after a first wait in vain; each wait in
/// vain after it doubles that, up to [`QUIET_AT_MOST`], until the notifier
/// delivers again. The notifier may be busy with something else than
/// waiting for the GIL (a callback that sleeps, or waits for a lock), or
/// another thread took the GIL first; the calls must neither spin nor let
/// the GIL go at every call all that time.
const QUIET_AT_FIRST: Duration = Duration::from_micros(200);
const QUIET_AT_MOST: Duration = Duration::from_millis(50);

/// Notifier threads in a run (the top [`COUNT_BITS`]) and, below them, the
/// moment from which calls let the GIL go, in microseconds as [`now`] reads
/// it. Zero when no notifier is in a run: a call then reads this word and
/// nothing else. One word, so that a run ending and another beginning
/// cannot leave a count without a moment.
static STATE: AtomicU64 = AtomicU64::new(0);

const COUNT_BITS: u32 = 12;
const MOMENT_BITS: u32 = u64::BITS - COUNT_BITS;
const MOMENT: u64 = (1 << MOMENT_BITS) - 1;
const MAX_COUNT: u64 = (1 << COUNT_BITS) - 1;

/// Bumped whenever a notifier thread in a run is seen holding the GIL: as
/// it begins the run, and after each delivery.
static PROGRESS: AtomicU64 = AtomicU64::new(0);

/// Notifier threads waiting for the GIL at the start of a run (or as they
/// end): a wait in vain while one does means another thread took the GIL
/// first, and calls go on letting it go without a quiet.
static ATTACHING: AtomicU64 = AtomicU64::new(0);

/// Until when calls keep the GIL after a wait in vain, as [`now`] reads it;
/// and how long the last such quiet lasted, in microseconds.
static QUIET_UNTIL: AtomicU64 = AtomicU64::new(0);
static QUIET_LAST: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether this is a notifier thread, whose own calls (from a callback)
    /// never let the GIL go for a notifier.
    static NOTIFIER: Cell<bool> = const { Cell::new(false) };
}

/// Microseconds since the first reading, within [`MOMENT`].
fn now() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let elapsed = EPOCH.get_or_init(Instant::now).elapsed().as_micros();
    u64::try_from(elapsed).unwrap_or(MOMENT).min(MOMENT)
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// A run of events being delivered by the calling notifier thread, marked
/// from [`Run::begin`] until this is dropped; not counted past
/// [`MAX_COUNT`] runs at once.
pub struct Run {
    counted: bool,
    attaching: bool,
}

impl Run {
    /// Marks a run beginning on the calling notifier thread, before it
    /// waits for the GIL; [`Run::attached`] says when it has it.
    pub fn begin() -> Run {
        ATTACHING.fetch_add(1, Ordering::SeqCst);
        NOTIFIER.with(|notifier| notifier.set(true));
        let moment = now().saturating_add(micros(HAND_OVER_AFTER)).min(MOMENT);
        let counted = STATE.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| {
            let count = state >> MOMENT_BITS;
            let moment = if count == 0 { moment } else { (state & MOMENT).min(moment) };
            (count < MAX_COUNT).then_some((count + 1) << MOMENT_BITS | moment)
        });
        Run { counted: counted.is_ok(), attaching: true }
    }

    /// Called once the notifier holds the GIL for the run.
    pub fn attached(&mut self) {
        self.stop_attaching();
        progress();
    }

    /// Takes the run off [`ATTACHING`], once.
    fn stop_attaching(&mut self) {
        if std::mem::take(&mut self.attaching) {
            ATTACHING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.stop_attaching();
        if !self.counted {
            return;
        }
        let _ = STATE.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| {
            let count = (state >> MOMENT_BITS).saturating_sub(1);
            Some(if count == 0 { 0 } else { count << MOMENT_BITS | state & MOMENT })
        });
    }
}

/// Called by a notifier thread in a run while it holds the GIL: from now
/// on, another thread that gets the GIL had it from the notifier, and its
/// next call lets it go back at once.
pub fn progress() {
    PROGRESS.fetch_add(1, Ordering::SeqCst);
    if QUIET_LAST.load(Ordering::Relaxed) != 0 {
        QUIET_UNTIL.store(0, Ordering::Relaxed);
        QUIET_LAST.store(0, Ordering::Relaxed);
    }
    let moment = now();
    let _ = STATE.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| {
        (state != 0).then_some(state & !MOMENT | moment)
    });
}

/// Whether the calling thread should let the GIL go for its call: a single
/// atomic load while no notifier is in a run.
#[inline]
pub fn due() -> bool {
    match STATE.load(Ordering::Relaxed) {
        0 => false,
        state => due_in_run(state),
    }
}

#[cold]
fn due_in_run(state: u64) -> bool {
    if NOTIFIER.with(Cell::get) {
        return false;
    }
    let now = now();
    now >= state & MOMENT
        && (now >= QUIET_UNTIL.load(Ordering::Relaxed) || ATTACHING.load(Ordering::SeqCst) > 0)
}

/// Called with the GIL let go: returns once a notifier thread delivered an
/// event or no run is marked, or after [`GIVE_WAY_FOR`]; after a wait in
/// vain, calls keep the GIL for a while (see [`QUIET_AT_FIRST`]).
pub fn give_way() {
    let seen = PROGRESS.load(Ordering::SeqCst);
    let until = Instant::now() + GIVE_WAY_FOR;
    while PROGRESS.load(Ordering::SeqCst) == seen && STATE.load(Ordering::SeqCst) != 0 {
        if Instant::now() >= until {
            if ATTACHING.load(Ordering::SeqCst) > 0 {
                return;
            }
            let last = QUIET_LAST.load(Ordering::Relaxed);
            let quiet = last.saturating_mul(2).clamp(micros(QUIET_AT_FIRST), micros(QUIET_AT_MOST));
            QUIET_LAST.store(quiet, Ordering::Relaxed);
            QUIET_UNTIL.store(now().saturating_add(quiet), Ordering::Relaxed);
            return;
        }
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

/// A child of `fork` has none of its parent's notifier threads: none is in
/// a run there, whatever the parent's mark said. Atomic stores only, which
/// a child handler may make.
extern "C" fn forked_child() {
    STATE.store(0, Ordering::SeqCst);
    ATTACHING.store(0, Ordering::SeqCst);
    QUIET_UNTIL.store(0, Ordering::SeqCst);
    QUIET_LAST.store(0, Ordering::SeqCst);
}

/// Clears the marks in every child of `fork`, from now on.
pub fn register() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        // SAFETY: registers a child handler that only stores to atomics;
        // the registration has no preconditions. Should it fail (no
        // memory), a child's calls may let the GIL go for a notifier that
        // never comes, ever more seldom (see QUIET_AT_FIRST).
        unsafe {
            pthread_atfork(None, None, Some(forked_child));
        }
    });
}
