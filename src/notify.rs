//! Notifications: events reach subscribers on one notifier thread of the
//! engine's, never on the thread that caused them and never while the engine
//! holds a lock. InProgress is one channel send, so a slow or stuck
//! subscriber delays only other subscribers, never blocks or confirms.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::mem;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle, Thread};
use std::time::Duration;

use crate::clock::Nanos;
use crate::error::{Error, Result};
use crate::fork;
use crate::order::Event;
use crate::sync::std_locks::Mutex;

/// Identifies a subscription, to end it with [`crate::Engine::unsubscribe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionId(pub u64);

/// A subscriber's callback. It runs on the notifier thread; a panic in it is
/// caught and logged, and the subscription goes on.
pub type Callback = Box<dyn FnMut(&Event) + Send + 'static>;

/// Wraps each run of events the notifier thread delivers together; see
/// [`crate::Engine::wrap_deliveries`].
pub type Wrapper = Box<dyn FnMut(&mut dyn FnMut()) + Send + 'static>;

/// The most events the notifier thread delivers in one run, but for a
/// single call that published more: a wrapper that holds something for the
/// run holds it for at most this many.
const RUN_LIMIT: usize = 1024;

/// How long the notifier thread naps when it finds nothing queued after a
/// run, before it waits to be woken; see [`receive`].
const NAP: Duration = Duration::from_micros(50);

/// The most events, and lines in all, of a list (one call's events) that the
/// notifier thread leaves for a publishing thread to drop, and how many
/// lists it leaves at most; see [`Spent`].
const SPENT_EVENTS: usize = 16;
const SPENT_LINES: usize = 64;
const SPENT_LISTS: usize = 1024;

/// How many lists an idle notifier thread leaves kept: past it, it drops
/// them all; see [`receive`].
const SPENT_IDLE: usize = 64;

/// The lists of events the notifier thread has delivered, which the threads
/// that publish drop, one as each publishes, the latest kept first.
///
/// Their memory was allocated by the publishing threads. Freed on the
/// notifier thread, each free took the allocator's lock that the publishing
/// thread's next allocation took too (glibc gives a thread's cache room for
/// a few chunks of each size only), and the two threads took turns on it,
/// sleeping on it in the kernel. Dropped by a thread that publishes, they go
/// back to that thread's cache, for its next events. A list too large to
/// drop within one call (a release pass's batch, an order of many lines) is
/// dropped by the notifier thread, as are lists past [`SPENT_LISTS`]; when
/// no events came during a nap it drops what is kept if that is more than
/// [`SPENT_IDLE`] lists, and when the thread ends it drops everything, so
/// that an idle engine keeps a few lists here and a closed one none.
#[derive(Default)]
struct Spent {
    lists: Mutex<Vec<Vec<Event>>>,
}

impl Spent {
    /// Keeps the small lists of a delivered run for the publishers, and drops
    /// the rest, once the lock is let go.
    fn keep(&self, run: Vec<Vec<Event>>) {
        let mut left = Vec::new();
        {
            let mut lists = self.lists.lock();
            for list in run {
                if is_small(&list) && lists.len() < SPENT_LISTS {
                    lists.push(list);
                } else {
                    left.push(list);
                }
            }
        }
        drop(left);
    }

    /// The latest list kept, to drop, if one is and the lock is free: a
    /// publisher never waits here. The latest is the memory freed last to
    /// the allocator and the likeliest to be in a cache.
    fn take(&self) -> Option<Vec<Event>> {
        self.lists.try_lock()?.pop()
    }

    /// Drops every list kept if more than `left` are, once the lock is let
    /// go.
    fn clear_past(&self, left: usize) {
        let lists = {
            let mut lists = self.lists.lock();
            if lists.len() <= left {
                return;
            }
            mem::take(&mut *lists)
        };
        drop(lists);
    }
}

/// Whether a call can drop this list of events in passing: a few events of a
/// few lines each.
fn is_small(list: &[Event]) -> bool {
    let lines = || -> usize {
        list.iter()
            .map(|event| match event {
                Event::HoldEnded { lines, .. } => lines.len(),
                Event::SoldOut { .. } => 0,
            })
            .sum()
    };
    list.len() <= SPENT_EVENTS && lines() <= SPENT_LINES
}

/// Whether each live subscription has ended, by id.
type Registry = Mutex<BTreeMap<SubscriptionId, Arc<AtomicBool>>>;

/// A subscription as the notifier thread keeps it.
struct Subscriber {
    /// Set by [`Notifier::unsubscribe`], and read before each delivery: an
    /// unsubscription ends the subscription at once, not when the thread
    /// reaches its message behind the events already queued.
    ended: Arc<AtomicBool>,
    to: Recipient,
}

enum Recipient {
    Callback(Callback),
    Channel(Sender<Event>),
}

/// A subscription the notifier refused, with the recipient it hands back.
pub(crate) struct Refused {
    pub(crate) error: Error,
    /// Dropped by the caller once the call has ended: a callback's drop runs
    /// the host's code, which may close the engine, and a close waits for
    /// the calls in progress.
    _recipient: Recipient,
}

impl fmt::Debug for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused").field("error", &self.error).finish_non_exhaustive()
    }
}

enum Message {
    Events(Vec<Event>),
    Subscribe(SubscriptionId, Subscriber),
    Unsubscribe(SubscriptionId),
    Flush(mpsc::SyncSender<()>),
    Wrap(Wrapper),
    Stop,
}

/// A call in progress, counted until dropped so that stopping the notifier
/// waits for it: for its events to be published, and, whether or not it has
/// any, for it to be done with the engine, so that no call changes it once
/// a close returns. It stays on the thread that began it.
pub(crate) struct InProgress<'a> {
    /// The line the call is counted on; None inside a call of the same
    /// thread on the same engine, which holds the count for both.
    calls: Option<&'a AtomicUsize>,
    /// Whether this is the thread's outermost call on the engine.
    outermost: bool,
    /// The notifier the call is counted by, whom its events go to.
    notifier: &'a Notifier,
    _thread: PhantomData<*const ()>,
}

impl<'a> InProgress<'a> {
    /// An empty buffer for the events of this call (or of a release pass).
    pub(crate) fn events(&self) -> Events<'a> {
        Events::new(Some(self.notifier))
    }
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        if let Some(line) = self.calls {
            line.fetch_sub(1, Ordering::SeqCst);
        }
        if self.outermost {
            THREAD.with(|thread| thread.inside.set(ptr::null()));
        }
    }
}

/// Calls in progress, each counted on one of several cache lines, picked
/// per thread: a single count would be written by every call of every
/// thread, and threads calling at once would take its line from each other
/// (reads from two threads ran a third slower on one shared count).
///
/// A call adds one to its thread's line and takes it off again; the count
/// is zero when one pass over the lines reads every line as zero. That
/// pass comes after the close marks the engine closed, and a call checks
/// for the mark after adding itself, both in sequentially consistent order:
/// a call the pass read as absent from its line added itself after that
/// read, so it sees the mark and does nothing.
#[derive(Default)]
struct CallCount {
    lines: [Line; CALL_LINES],
}

const CALL_LINES: usize = 32;

/// How often a close yields its CPU while calls are in progress before it
/// sleeps between looks instead.
const YIELDS_BEFORE_SLEEPING: u32 = 100;

/// A count alone on its cache line, and on the next, which processors
/// fetch in pairs.
#[derive(Default)]
#[repr(align(128))]
struct Line(AtomicUsize);

impl CallCount {
    /// Counts a call on its thread's line, unless the thread is inside a
    /// call on this engine already (a front door's call around the engine's
    /// own), whose count covers it. Returns the line counted on, and
    /// whether this is the thread's outermost call here.
    fn enter(&self) -> (Option<&AtomicUsize>, bool) {
        THREAD.with(|thread| {
            let inside = thread.inside.get();
            if ptr::eq(inside, self) {
                return (None, false);
            }
            let line = &self.lines[thread.line()].0;
            line.fetch_add(1, Ordering::SeqCst);
            let outermost = inside.is_null();
            if outermost {
                thread.inside.set(self);
            }
            (Some(line), outermost)
        })
    }

    /// Whether any call is counted.
    fn any(&self) -> bool {
        self.lines.iter().any(|line| line.0.load(Ordering::SeqCst) != 0)
    }
}

/// What a thread knows of its calls.
struct ThreadCalls {
    /// The line it counts its calls on, once it has called.
    line: Cell<usize>,
    /// The engine's count its outermost call in progress is on, or null.
    inside: Cell<*const CallCount>,
}

thread_local! {
    static THREAD: ThreadCalls = const {
        ThreadCalls { line: Cell::new(usize::MAX), inside: Cell::new(ptr::null()) }
    };
}

impl ThreadCalls {
    /// The thread's line: threads take the lines in turn, as they first
    /// call an engine.
    fn line(&self) -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        if self.line.get() == usize::MAX {
            self.line.set(NEXT.fetch_add(1, Ordering::Relaxed) % CALL_LINES);
        }
        self.line.get()
    }
}

/// The events one call gives rise to, collected while it holds locks and
/// published after it released them; and, whether or not anyone listens,
/// the moment by which the call needs the releaser awake.
///
/// It collects only once someone has subscribed, which it asks at each
/// event until the answer is yes: a hold that ends after the first
/// `subscribe` returned is announced even if the call that ends it (a
/// release pass over a million holds, say) began before, and until then a
/// confirm spends nothing on an event nobody can receive.
pub(crate) struct Events<'n> {
    /// Whom to ask; None for a buffer that collects every event.
    notifier: Option<&'n Notifier>,
    /// Whether the answer was yes already. It stays yes: the notifier keeps
    /// its sender from the first subscription on, whatever ends later.
    listened: bool,
    list: Vec<Event>,
    wake_by: Option<Nanos>,
}

impl<'n> Events<'n> {
    fn new(notifier: Option<&'n Notifier>) -> Events<'n> {
        Events { notifier, listened: false, list: Vec::new(), wake_by: None }
    }

    /// Notes that the releaser must be awake by `at` (a first ended order
    /// to forget then), for whoever publishes this buffer to tell it.
    pub(crate) fn wake_releaser_by(&mut self, at: Nanos) {
        self.wake_by = Some(self.wake_by.map_or(at, |earlier| earlier.min(at)));
    }

    /// The moment noted by [`Events::wake_releaser_by`], if any.
    pub(crate) fn wake_by(&self) -> Option<Nanos> {
        self.wake_by
    }
    /// An empty buffer that collects as this one does, for a release pass
    /// inside a call, which publishes its events in batches of its own.
    pub(crate) fn another(&self) -> Events<'n> {
        Events { listened: self.listened, ..Events::new(self.notifier) }
    }

    /// Adds the event `make` builds, if anyone can receive it.
    pub(crate) fn add(&mut self, make: impl FnOnce() -> Event) {
        if !self.listened {
            self.listened = self.notifier.map_or(true, |notifier| notifier.sender.get().is_some());
        }
        if self.listened {
            self.list.push(make());
        }
    }

    /// A buffer that collects every event, for a test or a model to see what
    /// a call did.
    #[cfg(test)]
    pub(crate) fn collecting() -> Events<'static> {
        Events::new(None)
    }

    #[cfg(test)]
    pub(crate) fn into_list(self) -> Vec<Event> {
        self.list
    }
}

#[derive(Default)]
pub(crate) struct Notifier {
    /// Set when the first subscriber arrives; until then publishing is free.
    sender: OnceLock<Sender<Message>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// A wrapper given before the thread started, which takes it.
    wrapper: Mutex<Option<Wrapper>>,
    /// The notifier thread, to tell it apart and to end its nap early.
    notifier_thread: OnceLock<Thread>,
    next_id: AtomicU64,
    /// Every live subscription's end, for [`Notifier::unsubscribe`]; the
    /// notifier thread takes out those whose receiver was dropped.
    ends: Arc<Registry>,
    /// Delivered events for the publishing threads to drop.
    spent: Arc<Spent>,
    stopped: AtomicBool,
    /// Calls counted by [`Notifier::enter_call`] and not yet done.
    calls: CallCount,
}

impl Notifier {
    /// Queues a message for the notifier thread. Any but events also ends
    /// the thread's nap, so that a flush, a subscription or a close is not
    /// kept waiting for it.
    fn send(&self, message: Message) -> bool {
        let events = matches!(message, Message::Events(_));
        let sent = self.sender.get().is_some_and(|sender| sender.send(message).is_ok());
        if !events {
            if let Some(thread) = self.notifier_thread.get() {
                thread.unpark();
            }
        }
        sent
    }

    /// Counts a call in progress (see [`InProgress`]).
    ///
    /// The caller checks (again) that the engine is open after this, and
    /// the engine's close marks it closed before stopping the notifier,
    /// which waits for every counted call: so a call either sees the close
    /// and fails, or is waited for and its events are delivered. Both sides
    /// use sequentially consistent order, without which each could miss the
    /// other's write.
    pub(crate) fn enter_call(&self) -> InProgress<'_> {
        let (calls, outermost) = self.calls.enter();
        InProgress { calls, outermost, notifier: self, _thread: PhantomData }
    }

    /// Hands events to the notifier thread, and drops a list it delivered
    /// (see [`Spent`]); does nothing when nobody ever subscribed.
    pub(crate) fn publish(&self, events: Events) {
        if !events.list.is_empty() {
            // Taken before sending: never this call's own list.
            let spent = self.spent.take();
            self.send(Message::Events(events.list));
            drop(spent);
        }
    }

    fn subscribe(&self, to: Recipient) -> Result<SubscriptionId, Refused> {
        let mut thread = self.thread.lock();
        if self.stopped.load(Ordering::Acquire) {
            return Err(Refused { error: Error::Closed, _recipient: to });
        }
        if thread.is_none() {
            let (sender, receiver) = mpsc::channel();
            let registry = Arc::clone(&self.ends);
            let spent = Arc::clone(&self.spent);
            let wrapper = self.wrapper.lock().take();
            let spawned =
                thread::Builder::new().name("stockkeeper-notifier".into()).spawn(move || {
                    precise_naps();
                    run(receiver, &registry, &spent, wrapper);
                });
            let Ok(spawned) = spawned else {
                return Err(Refused { error: Error::Closed, _recipient: to });
            };
            let _ = self.notifier_thread.set(spawned.thread().clone());
            let _ = self.sender.set(sender);
            *thread = Some(spawned);
        }
        let id = SubscriptionId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let ended = Arc::new(AtomicBool::new(false));
        self.ends.lock().insert(id, Arc::clone(&ended));
        self.send(Message::Subscribe(id, Subscriber { ended, to }));
        Ok(id)
    }

    /// Subscribes `callback`; a refused one is handed back in the refusal.
    pub(crate) fn on_event(&self, callback: Callback) -> Result<SubscriptionId, Refused> {
        self.subscribe(Recipient::Callback(callback))
    }

    /// Wraps the runs of events from now on (from the first run, if the
    /// thread has not started yet); refused once stopped.
    pub(crate) fn wrap(&self, wrapper: Wrapper) -> Result<()> {
        let thread = self.thread.lock();
        if self.stopped.load(Ordering::Acquire) {
            drop(thread);
            drop(wrapper);
            return Err(Error::Closed);
        }
        if thread.is_some() {
            self.send(Message::Wrap(wrapper));
        } else {
            *self.wrapper.lock() = Some(wrapper);
        }
        Ok(())
    }

    pub(crate) fn channel(&self) -> Result<Receiver<Event>> {
        let (sender, receiver) = mpsc::channel();
        self.subscribe(Recipient::Channel(sender)).map_err(|refused| refused.error)?;
        Ok(receiver)
    }

    /// Ends a subscription at once: once this returns no delivery to it
    /// begins, not even of an event queued before. One already begun on the
    /// notifier thread goes on, which [`Notifier::flush`] waits for; on
    /// that thread itself none is under way but the caller's own. It does
    /// not wait for anything, so that no callback can make it wait for ever.
    pub(crate) fn unsubscribe(&self, id: SubscriptionId) {
        let ended = self.ends.lock().remove(&id);
        if let Some(ended) = ended {
            ended.store(true, Ordering::Release);
            self.send(Message::Unsubscribe(id));
        }
    }

    pub(crate) fn on_notifier_thread(&self) -> bool {
        self.notifier_thread.get().map(Thread::id) == Some(thread::current().id())
    }

    /// Waits until every event published before the call was delivered. From
    /// a callback (on the notifier thread itself) it returns at once. Once
    /// the thread is stopped the message is dropped unanswered, so this
    /// returns when the thread ends, or at once if it has.
    pub(crate) fn flush(&self) {
        if self.on_notifier_thread() {
            return;
        }
        let (done, wait) = mpsc::sync_channel(1);
        if self.send(Message::Flush(done)) {
            let _ = wait.recv();
        }
    }

    /// Waits for the counted calls to publish, delivers what is queued,
    /// then stops and joins the notifier thread. The thread's lock is not
    /// held while joining, so a callback still running may call into the
    /// notifier (and be refused as stopped).
    pub(crate) fn stop(&self) {
        self.stop_without_joining();
        let thread = self.thread.lock().take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// Refuses new subscribers, waits until no counted call is left (none
    /// waits for the notifier, since publishing never blocks), then queues
    /// the stop behind their events: the notifier thread delivers
    /// everything before it and ends. Most calls last microseconds, so the
    /// wait yields its CPU at first; a call that lasts longer (a block of
    /// millions of lines) is waited for in sleeps of up to a millisecond,
    /// not on a spinning CPU.
    /// Called alone from one of the notifier's own callbacks, which cannot
    /// join their own thread; [`Notifier::stop`] on another thread joins it.
    pub(crate) fn stop_without_joining(&self) {
        {
            // Marked under the lock a subscribe holds while it starts the
            // thread: one that checked the mark before has its thread and
            // sender in place by now, so the stop below reaches that thread
            // (sent earlier, it went nowhere, and the join waited for ever).
            let _starting = self.thread.lock();
            self.stopped.store(true, Ordering::Release);
        }
        let mut rounds = 0u32;
        while self.calls.any() {
            match rounds.checked_sub(YIELDS_BEFORE_SLEEPING) {
                None => thread::yield_now(),
                Some(sleeps) => thread::sleep(Duration::from_micros(50 << sleeps.min(4))),
            }
            rounds = rounds.saturating_add(1);
        }
        self.send(Message::Stop);
    }
}

fn run(
    messages: Receiver<Message>,
    registry: &Registry,
    spent: &Spent,
    mut wrapper: Option<Wrapper>,
) {
    let born = fork::generation();
    let mut subscribers: BTreeMap<SubscriptionId, Subscriber> = BTreeMap::new();
    let mut next = None;
    let mut nap = false;
    loop {
        let message = match next.take() {
            Some(message) => message,
            None => match receive(&messages, spent, mem::take(&mut nap)) {
                Some(message) => message,
                None => break,
            },
        };
        match message {
            Message::Events(events) => {
                let (run, after) = gather(&messages, events);
                next = after;
                deliver_run(&run, &mut subscribers, registry, wrapper.as_mut(), born);
                if fork::forked_since(born) {
                    // In the child this thread ends, as the forking thread
                    // of a child does once its work returns, and with the
                    // last thread the child exits. What the parent's threads
                    // share with it is left untouched: a lock one of them
                    // held at the fork stays held here.
                    mem::forget((messages, subscribers, run, next, wrapper));
                    return;
                }
                nap = true;
                spent.keep(run);
            }
            // Ended already when an unsubscription guessed its id before
            // this message arrived, and sent its own before it.
            Message::Subscribe(_, subscriber) if subscriber.ended.load(Ordering::Acquire) => {}
            Message::Subscribe(id, subscriber) => {
                subscribers.insert(id, subscriber);
            }
            Message::Unsubscribe(id) => {
                subscribers.remove(&id);
            }
            Message::Flush(done) => {
                let _ = done.send(());
            }
            Message::Wrap(replacement) => wrapper = Some(replacement),
            Message::Stop => break,
        }
    }
    spent.clear_past(0);
}

/// The next message, waiting for it as long as it takes, and None once
/// every sender is gone.
///
/// With `nap`, after a run, it first looks, and when nothing is queued
/// parks for a [`NAP`] without being woken by events: calls that publish
/// meanwhile send theirs without a wake-up each (which cost more than the
/// call, from a thread publishing without pause), and they come in the next
/// run together. Any other message (a flush, a subscription, a close) ends
/// the nap. Nothing having come during a nap, nothing is being published:
/// what [`Spent`] keeps is dropped here, if more than [`SPENT_IDLE`] lists.
fn receive(messages: &Receiver<Message>, spent: &Spent, nap: bool) -> Option<Message> {
    if nap {
        let look = || match messages.try_recv() {
            Ok(message) => Some(Some(message)),
            Err(TryRecvError::Disconnected) => Some(None),
            Err(TryRecvError::Empty) => None,
        };
        if let Some(message) = look() {
            return message;
        }
        thread::park_timeout(NAP);
        if let Some(message) = look() {
            return message;
        }
        spent.clear_past(SPENT_IDLE);
    }
    messages.recv().ok()
}

/// Lets the notifier thread's naps end on time: by default Linux may wake a
/// thread 50 µs late, which would double a nap.
fn precise_naps() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a number of nanoseconds and changes
    // only the calling thread's timer slack; it reads no memory.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong);
    }
}

/// A run: the events of `first` and of the messages of events queued right
/// behind it, as many as keep the run within [`RUN_LIMIT`] events (`first`
/// alone may pass it: one call's events are never split); with the message
/// taken after them, if any: one of another kind, or events for the next run.
fn gather(messages: &Receiver<Message>, first: Vec<Event>) -> (Vec<Vec<Event>>, Option<Message>) {
    let mut count = first.len();
    let mut run = vec![first];
    while count < RUN_LIMIT {
        match messages.try_recv() {
            Ok(Message::Events(events)) if count + events.len() <= RUN_LIMIT => {
                count += events.len();
                run.push(events);
            }
            Ok(other) => return (run, Some(other)),
            Err(_) => break,
        }
    }
    (run, None)
}

/// Delivers a run, each event to every subscriber before the next event,
/// inside the wrapper if there is one. A wrapper that does not call the
/// delivery (or panics before it) has it run once it returned.
fn deliver_run(
    run: &[Vec<Event>],
    subscribers: &mut BTreeMap<SubscriptionId, Subscriber>,
    registry: &Registry,
    wrapper: Option<&mut Wrapper>,
    born: u64,
) {
    let mut pending = true;
    let mut delivery = || {
        if !std::mem::take(&mut pending) {
            return;
        }
        for event in run.iter().flatten() {
            subscribers.retain(|id, subscriber| {
                // A callback that forked returns in the child too, where
                // nothing will ever send to this thread.
                if fork::forked_since(born) {
                    return true;
                }
                let kept = deliver(subscriber, event);
                if !kept {
                    registry.lock().remove(id);
                }
                kept
            });
        }
    };
    if let Some(wrapper) = wrapper {
        if catch_unwind(AssertUnwindSafe(|| wrapper(&mut delivery))).is_err() {
            log::error!(
                "a stockkeeper delivery wrapper panicked; what it left is delivered without it"
            );
        }
    }
    delivery();
}

/// Delivers one event; false when the subscriber is gone (a dropped receiver).
/// A subscription ended since the event was queued gets nothing.
fn deliver(subscriber: &mut Subscriber, event: &Event) -> bool {
    if subscriber.ended.load(Ordering::Acquire) {
        return true;
    }
    match &mut subscriber.to {
        Recipient::Channel(sender) => sender.send(event.clone()).is_ok(),
        Recipient::Callback(callback) => {
            if catch_unwind(AssertUnwindSafe(|| callback(event))).is_err() {
                log::error!("a stockkeeper event callback panicked; the event was dropped for it");
            }
            true
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn counted(count: &CallCount) -> usize {
        count.lines.iter().map(|line| line.0.load(Ordering::SeqCst)).sum()
    }

    /// A list of `events` sold-out events, and a watch on each product id.
    fn watched_list(events: usize) -> (Vec<Event>, Vec<std::sync::Weak<str>>) {
        let products: Vec<Arc<str>> = (0..events).map(|i| Arc::from(format!("p{i}"))).collect();
        let watches = products.iter().map(Arc::downgrade).collect();
        (products.into_iter().map(|product| Event::SoldOut { product }).collect(), watches)
    }

    fn alive(watches: &[std::sync::Weak<str>]) -> usize {
        watches.iter().filter(|watch| watch.upgrade().is_some()).count()
    }

    /// A hold-ended event of `lines` lines, and a watch on its order id.
    fn watched_ending(lines: usize) -> (Event, std::sync::Weak<str>) {
        let order: Arc<str> = Arc::from("o");
        let lines = (0..lines).map(|i| (Arc::from(format!("p{i}")), 1)).collect();
        let watch = Arc::downgrade(&order);
        (Event::HoldEnded { order, state: crate::OrderState::Confirmed, lines }, watch)
    }

    /// Lists of up to SPENT_EVENTS events and SPENT_LINES lines are kept, up
    /// to SPENT_LISTS of them; a larger list, and any past the bound, is
    /// dropped at once. Taking gives back one list, the latest kept first,
    /// and nothing while the lock is held; clearing past a count drops all,
    /// if more are kept.
    #[test]
    fn spent_keeps_small_lists_within_its_bound_and_drops_the_rest() {
        let spent = Spent::default();
        let (short, short_watches) = watched_list(SPENT_EVENTS);
        let (long, long_watches) = watched_list(SPENT_EVENTS + 1);
        let (few, few_watch) = watched_ending(SPENT_LINES);
        let (many, many_watch) = watched_ending(SPENT_LINES + 1);
        spent.keep(vec![short, long, vec![few], vec![many]]);
        assert_eq!(alive(&short_watches), SPENT_EVENTS, "a short list is kept");
        assert_eq!(alive(&long_watches), 0, "a long list is dropped");
        assert_eq!(alive(std::slice::from_ref(&few_watch)), 1, "an event of a few lines is kept");
        assert_eq!(alive(&[many_watch]), 0, "an event of many lines is dropped");

        let (lists, watches): (Vec<_>, Vec<_>) = (0..SPENT_LISTS).map(|_| watched_list(1)).unzip();
        spent.keep(lists);
        let watches: Vec<_> = watches.into_iter().flatten().collect();
        assert_eq!(alive(&watches), SPENT_LISTS - 2, "all but the last two fit");
        assert_eq!(spent.lists.lock().len(), SPENT_LISTS);

        let held = spent.lists.lock();
        assert!(spent.take().is_none(), "a publisher does not wait for the lock");
        drop(held);
        assert_eq!(spent.take().map(|list| list.len()), Some(1));
        assert_eq!(alive(&watches), SPENT_LISTS - 3, "the latest kept is taken first");
        spent.clear_past(SPENT_LISTS);
        assert_eq!(alive(&watches), SPENT_LISTS - 3, "no more than the count are kept");
        spent.clear_past(SPENT_LISTS - 2);
        assert_eq!(alive(&watches) + alive(&short_watches) + alive(&[few_watch]), 0);
        assert!(spent.take().is_none());
    }

    /// A channel whose receiver is dropped leaves the subscriptions at its
    /// next event, and nothing of it is kept; one unsubscribed leaves at
    /// once, and an unknown id changes nothing.
    #[test]
    fn ended_subscriptions_leave_nothing_behind() {
        let notifier = Notifier::default();
        drop(notifier.channel().unwrap());
        let kept = notifier.channel().unwrap();
        let id = notifier.on_event(Box::new(|_| {})).unwrap();
        assert_eq!(notifier.ends.lock().len(), 3);
        notifier.unsubscribe(id);
        notifier.unsubscribe(id);
        notifier.unsubscribe(SubscriptionId(u64::MAX));
        assert_eq!(notifier.ends.lock().len(), 2);
        let mut events = Events::collecting();
        events.add(|| Event::SoldOut { product: "kettle".into() });
        notifier.publish(events);
        notifier.flush();
        assert_eq!(notifier.ends.lock().len(), 1, "the dropped receiver's entry is gone");
        assert!(kept.try_recv().is_ok());
        notifier.stop();
    }

    /// A subscription an unsubscription ended before the notifier thread
    /// reached its start (its id guessed and ended in between) is never
    /// kept: nothing is delivered to it, and its callback is dropped.
    #[test]
    fn a_subscription_ended_before_it_starts_is_not_kept() {
        let notifier = Notifier::default();
        let _feed = notifier.channel().unwrap();
        let probe = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&probe);
        let ended = Arc::new(AtomicBool::new(true));
        let callback: Callback = Box::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let subscriber = Subscriber { ended, to: Recipient::Callback(callback) };
        notifier.send(Message::Subscribe(SubscriptionId(u64::MAX), subscriber));
        let mut events = Events::collecting();
        events.add(|| Event::SoldOut { product: "kettle".into() });
        notifier.publish(events);
        notifier.flush();
        assert_eq!(probe.load(Ordering::SeqCst), 0);
        assert_eq!(Arc::strong_count(&probe), 1, "the callback was dropped");
        notifier.stop();
    }

    /// A call, or a release pass inside it, that began before the first
    /// subscription collects each event that comes after the subscription
    /// returned, though not those that came before it.
    #[test]
    fn a_call_begun_before_the_first_subscription_announces_what_follows() {
        let sold_out = |product: &str| Event::SoldOut { product: product.into() };
        let notifier = Notifier::default();
        let call = notifier.enter_call();
        let mut events = call.events();
        let mut pass = events.another();
        events.add(|| sold_out("before"));
        pass.add(|| sold_out("before, in the pass"));
        let feed = notifier.channel().unwrap();
        events.add(|| sold_out("after"));
        pass.add(|| sold_out("after, in the pass"));
        let mut next_batch = pass.another();
        next_batch.add(|| sold_out("in the next batch"));
        for batch in [events, pass, next_batch] {
            notifier.publish(batch);
        }
        drop(call);
        notifier.flush();
        let heard: Vec<Event> = feed.try_iter().collect();
        let expected = ["after", "after, in the pass", "in the next batch"].map(sold_out);
        assert_eq!(heard, expected);
        notifier.stop();
    }

    /// A call inside a call of the same thread on the same engine (the C
    /// boundary around the engine's own) is covered by the outer count;
    /// one on another engine is counted there; and leaving the outer call
    /// leaves the thread outside every engine again.
    #[test]
    fn a_call_inside_another_on_the_same_engine_is_counted_once() {
        let (one, other) = (Notifier::default(), Notifier::default());
        let outer = one.enter_call();
        let inner = one.enter_call();
        assert_eq!((counted(&one.calls), counted(&other.calls)), (1, 0));
        let elsewhere = other.enter_call();
        assert_eq!((counted(&one.calls), counted(&other.calls)), (1, 1));
        drop((inner, elsewhere));
        assert_eq!((counted(&one.calls), counted(&other.calls)), (1, 0));
        drop(outer);
        assert_eq!(counted(&one.calls), 0);
        let again = one.enter_call();
        assert_eq!(counted(&one.calls), 1, "the next call counts from the start");
        drop(again);
        assert!(!one.calls.any());
    }
}
