//! Change notifications: how a service tells the rest of the emulator what changed, without
//! knowing who listens. Every subscriber gets every notification; nothing is dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// The receiving end of a [`ChangeFeed`] subscription.
pub type ChangeReceiver<T> = mpsc::UnboundedReceiver<T>;

/// A fan-out of change notifications of type `T` to any number of subscribers.
///
/// Unbounded on purpose: a slow subscriber must not make a service drop or block a write.
#[derive(Debug)]
pub struct ChangeFeed<T> {
    subscribers: Arc<Mutex<Vec<Subscriber<T>>>>,
}

#[derive(Debug)]
struct Subscriber<T> {
    tx: mpsc::UnboundedSender<T>,
    unhandled: Option<Arc<AtomicUsize>>,
}

/// Counts notifications sent to one subscriber that it has not yet marked handled, so a caller
/// can tell that nothing is in transit (the emulator's `idle` does).
#[derive(Debug, Clone, Default)]
pub struct Unhandled(Arc<AtomicUsize>);

impl Unhandled {
    /// Notifications published to the subscriber and not yet marked handled.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Marks one notification handled.
    pub fn done(&self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<T> Clone for ChangeFeed<T> {
    fn clone(&self) -> Self {
        Self {
            subscribers: self.subscribers.clone(),
        }
    }
}

impl<T> Default for ChangeFeed<T> {
    fn default() -> Self {
        Self {
            subscribers: Arc::default(),
        }
    }
}

impl<T: Clone> ChangeFeed<T> {
    /// A feed with no subscribers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new subscription that sees every notification published from now on.
    pub fn subscribe(&self) -> ChangeReceiver<T> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().push(Subscriber {
            tx,
            unhandled: None,
        });
        rx
    }

    /// Like [`ChangeFeed::subscribe`], and also counts what was published to this subscriber
    /// until it calls [`Unhandled::done`] for each notification.
    pub fn subscribe_counted(&self) -> (ChangeReceiver<T>, Unhandled) {
        let (tx, rx) = mpsc::unbounded_channel();
        let unhandled = Unhandled::default();
        self.lock().push(Subscriber {
            tx,
            unhandled: Some(unhandled.0.clone()),
        });
        (rx, unhandled)
    }

    /// Sends `change` to every live subscriber; subscribers that went away are forgotten.
    pub fn publish(&self, change: T) {
        self.lock().retain(|s| {
            if let Some(n) = &s.unhandled {
                n.fetch_add(1, Ordering::SeqCst);
            }
            let sent = s.tx.send(change.clone()).is_ok();
            if let (false, Some(n)) = (sent, &s.unhandled) {
                n.fetch_sub(1, Ordering::SeqCst);
            }
            sent
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber<T>>> {
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subscriber_sees_every_change() {
        let feed = ChangeFeed::new();
        let mut a = feed.subscribe();
        let mut b = feed.subscribe();
        feed.publish(1);
        feed.publish(2);
        assert_eq!(a.try_recv().unwrap(), 1);
        assert_eq!(a.try_recv().unwrap(), 2);
        assert_eq!(b.try_recv().unwrap(), 1);
        drop(b);
        feed.publish(3);
        assert_eq!(a.try_recv().unwrap(), 3);
    }

    #[test]
    fn counted_subscribers_see_what_is_unhandled() {
        let feed = ChangeFeed::new();
        let (mut rx, unhandled) = feed.subscribe_counted();
        feed.publish("a");
        feed.publish("b");
        assert_eq!(unhandled.count(), 2);
        rx.try_recv().unwrap();
        unhandled.done();
        assert_eq!(unhandled.count(), 1);
    }
}
