//! Notifications: events reach subscribers on one notifier thread of the
//! engine's, never on the thread that caused them and never while the engine
//! holds a lock. Publishing is one channel send, so a slow or stuck
//! subscriber delays only other subscribers, never blocks or confirms.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle, ThreadId};

use parking_lot::Mutex;

use crate::clock::Nanos;
use crate::error::{Error, Result};
use crate::order::Event;

/// Identifies a subscription, to end it with [`crate::Engine::unsubscribe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionId(pub u64);

/// A subscriber's callback. It runs on the notifier thread; a panic in it is
/// caught and logged, and the subscription goes on.
pub type Callback = Box<dyn FnMut(&Event) + Send + 'static>;

enum Subscriber {
    Callback(Callback),
    Channel(Sender<Event>),
}

enum Message {
    Events(Vec<Event>),
    Subscribe(SubscriptionId, Subscriber),
    Unsubscribe(SubscriptionId),
    Flush(mpsc::SyncSender<()>),
    Stop,
}

/// A call that may publish events, counted until dropped so that stopping
/// the notifier can wait for it. Only calls that collect events are counted:
/// until the first subscriber arrives there is nothing to wait for, and
/// nothing is spent on the count.
pub(crate) struct Publishing<'a> {
    counted: Option<&'a AtomicUsize>,
}

impl Publishing<'_> {
    /// Whether the call is counted, so that the notifier's stop waits for it.
    pub(crate) fn is_counted(&self) -> bool {
        self.counted.is_some()
    }

    /// An empty buffer for the events of this call (or of a release pass).
    /// It collects only if the call is counted: a call that starts after
    /// `subscribe` returned is, and collects its events.
    pub(crate) fn events(&self) -> Events {
        Events::new(self.is_counted())
    }
}

impl Drop for Publishing<'_> {
    fn drop(&mut self) {
        if let Some(calls) = self.counted {
            calls.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The events one call gives rise to, collected while it holds locks and
/// published after it released them; and, whether or not anyone listens,
/// the moment by which the call needs the releaser awake.
pub(crate) struct Events {
    listened: bool,
    list: Vec<Event>,
    wake_by: Option<Nanos>,
}

impl Events {
    fn new(listened: bool) -> Events {
        Events { listened, list: Vec::new(), wake_by: None }
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
    pub(crate) fn another(&self) -> Events {
        Events::new(self.listened)
    }

    /// Adds the event `make` builds, if anyone can receive it.
    pub(crate) fn add(&mut self, make: impl FnOnce() -> Event) {
        if self.listened {
            self.list.push(make());
        }
    }

    /// A buffer that collects every event, for a test or a model to see what
    /// a call did.
    #[cfg(test)]
    pub(crate) fn collecting() -> Events {
        Events::new(true)
    }

    #[cfg(all(test, loom))]
    pub(crate) fn into_list(self) -> Vec<Event> {
        self.list
    }
}

#[derive(Default)]
pub(crate) struct Notifier {
    /// Set when the first subscriber arrives; until then publishing is free.
    sender: OnceLock<Sender<Message>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: OnceLock<ThreadId>,
    next_id: AtomicU64,
    stopped: AtomicBool,
    /// Calls counted by [`Notifier::publishing`] and not yet done.
    publishing: AtomicUsize,
}

impl Notifier {
    fn send(&self, message: Message) -> bool {
        self.sender.get().is_some_and(|sender| sender.send(message).is_ok())
    }

    /// Counts a call that may publish, once anyone has subscribed; until
    /// then the call collects no events (see [`Publishing::events`]), and a
    /// confirm spends nothing on an event nobody can receive.
    ///
    /// The caller checks (again) that the engine is open after this, and
    /// the engine's close marks it closed before stopping the notifier,
    /// which waits for every counted call: so a call either sees the close
    /// and fails, or is waited for and its events are delivered. Both sides
    /// use sequentially consistent order, without which each could miss the
    /// other's write.
    pub(crate) fn publishing(&self) -> Publishing<'_> {
        let counted = self.sender.get().map(|_| {
            self.publishing.fetch_add(1, Ordering::SeqCst);
            &self.publishing
        });
        Publishing { counted }
    }

    /// Hands events to the notifier thread; does nothing when nobody ever
    /// subscribed.
    pub(crate) fn publish(&self, events: Events) {
        if !events.list.is_empty() {
            self.send(Message::Events(events.list));
        }
    }

    fn subscribe(&self, subscriber: Subscriber) -> Result<SubscriptionId> {
        let mut thread = self.thread.lock();
        if self.stopped.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if thread.is_none() {
            let (sender, receiver) = mpsc::channel();
            let spawned = thread::Builder::new()
                .name("stockkeeper-notifier".into())
                .spawn(move || run(receiver))
                .map_err(|_| Error::Closed)?;
            let _ = self.thread_id.set(spawned.thread().id());
            let _ = self.sender.set(sender);
            *thread = Some(spawned);
        }
        let id = SubscriptionId(self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        self.send(Message::Subscribe(id, subscriber));
        Ok(id)
    }

    pub(crate) fn on_event(&self, callback: Callback) -> Result<SubscriptionId> {
        self.subscribe(Subscriber::Callback(callback))
    }

    pub(crate) fn channel(&self) -> Result<Receiver<Event>> {
        let (sender, receiver) = mpsc::channel();
        self.subscribe(Subscriber::Channel(sender))?;
        Ok(receiver)
    }

    pub(crate) fn unsubscribe(&self, id: SubscriptionId) {
        self.send(Message::Unsubscribe(id));
    }

    pub(crate) fn on_notifier_thread(&self) -> bool {
        self.thread_id.get() == Some(&thread::current().id())
    }

    /// Waits until every event published before the call was delivered. From
    /// a callback (on the notifier thread itself) it returns at once.
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

    /// Refuses new subscribers, waits until no counted call is left (each
    /// lasts as long as a block or confirm, and none waits for the notifier,
    /// since publishing never blocks), then queues the stop behind their
    /// events: the notifier thread delivers everything before it and ends.
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
        while self.publishing.load(Ordering::SeqCst) != 0 {
            thread::yield_now();
        }
        self.send(Message::Stop);
    }
}

fn run(messages: Receiver<Message>) {
    let mut subscribers: BTreeMap<SubscriptionId, Subscriber> = BTreeMap::new();
    while let Ok(message) = messages.recv() {
        match message {
            Message::Events(events) => {
                for event in &events {
                    subscribers.retain(|_, subscriber| deliver(subscriber, event));
                }
            }
            Message::Subscribe(id, subscriber) => {
                subscribers.insert(id, subscriber);
            }
            Message::Unsubscribe(id) => {
                subscribers.remove(&id);
            }
            Message::Flush(done) => {
                let _ = done.send(());
            }
            Message::Stop => return,
        }
    }
}

/// Delivers one event; false when the subscriber is gone (a dropped receiver).
fn deliver(subscriber: &mut Subscriber, event: &Event) -> bool {
    match subscriber {
        Subscriber::Channel(sender) => sender.send(event.clone()).is_ok(),
        Subscriber::Callback(callback) => {
            if catch_unwind(AssertUnwindSafe(|| callback(event))).is_err() {
                log::error!("a stockkeeper event callback panicked; the event was dropped for it");
            }
            true
        }
    }
}
