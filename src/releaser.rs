//! The background releaser: one thread that sleeps until the next deadline
//! (or until an earlier one is scheduled) and then releases what fell due.
//! It never scans live holds on a timer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crate::clock::Nanos;
use crate::engine::Shared;
use crate::sync::std_locks::{Condvar, Mutex};

#[derive(Default)]
struct Flags {
    /// An earlier deadline was scheduled since the releaser last looked.
    rescan: bool,
    stop: bool,
}

/// How the engine wakes its releaser.
pub(crate) struct Alarm {
    flags: Mutex<Flags>,
    ring: Condvar,
    /// The moment the releaser sleeps until; `u64::MAX` while it is deciding;
    /// 0 until a releaser first decides, as there is no thread to wake (a
    /// releaser started later reads the whole schedule before it sleeps).
    wakes_at: AtomicU64,
}

impl Alarm {
    pub(crate) fn new() -> Alarm {
        Alarm {
            flags: Mutex::new(Flags::default()),
            ring: Condvar::new(),
            wakes_at: AtomicU64::new(0),
        }
    }

    /// Wakes the releaser if `due` comes before the moment it sleeps until.
    /// In the common case (every new deadline later than the earliest, or no
    /// releaser) this is one atomic load.
    pub(crate) fn schedule(&self, due: Nanos) {
        if due < self.wakes_at.load(Ordering::SeqCst) {
            self.flags.lock().rescan = true;
            self.ring.notify_one();
        }
    }

    /// The moment the releaser sleeps until, as [`Alarm::schedule`] sees it.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn sleeps_until(&self) -> Nanos {
        self.wakes_at.load(Ordering::SeqCst)
    }

    pub(crate) fn stop(&self) {
        self.flags.lock().stop = true;
        self.ring.notify_one();
    }
}

pub(crate) fn spawn(shared: Arc<Shared>) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new().name("stockkeeper-releaser".into()).spawn(move || run(&shared))
}

fn run(shared: &Shared) {
    let alarm = &shared.alarm;
    loop {
        shared.release_due();

        let mut flags = alarm.flags.lock();
        if flags.stop {
            return;
        }
        if std::mem::take(&mut flags.rescan) {
            continue;
        }
        // Publish "deciding" before reading the schedule: a deadline added
        // after the read then sees a moment no later than its own and rings.
        alarm.wakes_at.store(u64::MAX, Ordering::SeqCst);
        let next = shared.next_due();
        alarm.wakes_at.store(next.unwrap_or(u64::MAX), Ordering::SeqCst);
        let _flags = match next.and_then(|at| shared.instant(at)) {
            Some(instant) => alarm.ring.wait_until(flags, instant),
            None => alarm.ring.wait(flags),
        };
    }
}
