//! What a test does to a server it runs against: freeze it, thaw it, stop it, make it
//! throttle, count what reached it. [`Controlled`] is what the shared suites ask for;
//! [`Controls`] is the state the in-tree stand-ins keep for it.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::process::ServerProcess;

/// A server a test can freeze, thaw and stop.
pub trait Controlled: Send + Sync {
    /// Freezes the server: requests go unanswered until [`Controlled::resume`].
    fn pause(&self);
    /// Undoes [`Controlled::pause`].
    fn resume(&self);
    /// Stops the server for good (one of the test's own).
    fn stop(&self);
}

impl Controlled for ServerProcess {
    fn pause(&self) {
        ServerProcess::pause(self);
    }

    fn resume(&self) {
        ServerProcess::resume(self);
    }

    fn stop(&self) {
        ServerProcess::stop(self);
    }
}

/// The switches of an in-tree stand-in.
#[derive(Debug, Default)]
pub struct Controls {
    hung: AtomicBool,
    down: AtomicBool,
    throttle_next: AtomicU32,
    requests: AtomicU64,
}

impl Controls {
    /// Makes the next `n` requests answer as throttled.
    pub fn throttle_next(&self, n: u32) {
        self.throttle_next.store(n, Ordering::SeqCst);
    }

    /// How many requests reached the stand-in so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Counts a request and holds it while the stand-in is frozen; answers whether the
    /// stand-in is stopped.
    pub async fn arrive(&self) -> bool {
        self.requests.fetch_add(1, Ordering::SeqCst);
        while self.hung.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.down.load(Ordering::SeqCst)
    }

    /// Whether the stand-in is stopped.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// Whether this request is to be answered as throttled (and counts it down).
    pub fn throttled(&self) -> bool {
        self.throttle_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

impl Controlled for Controls {
    fn pause(&self) {
        self.hung.store(true, Ordering::SeqCst);
    }

    fn resume(&self) {
        self.hung.store(false, Ordering::SeqCst);
    }

    fn stop(&self) {
        self.down.store(true, Ordering::SeqCst);
    }
}
