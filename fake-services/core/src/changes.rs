//! Change notifications: how a service tells the rest of the emulator what changed, without
//! knowing who listens. Every subscriber gets every notification; nothing is dropped.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// The receiving end of a [`ChangeFeed`] subscription.
pub type ChangeReceiver<T> = mpsc::UnboundedReceiver<T>;

/// A fan-out of change notifications of type `T` to any number of subscribers.
///
/// Unbounded on purpose: a slow subscriber must not make a service drop or block a write.
#[derive(Debug)]
pub struct ChangeFeed<T> {
    subscribers: Arc<Mutex<Vec<mpsc::UnboundedSender<T>>>>,
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
        self.lock().push(tx);
        rx
    }

    /// Sends `change` to every live subscriber; subscribers that went away are forgotten.
    pub fn publish(&self, change: T) {
        self.lock().retain(|tx| tx.send(change.clone()).is_ok());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<mpsc::UnboundedSender<T>>> {
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
}
