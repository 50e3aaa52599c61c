//! "At most once per interval per key", for bookkeeping writes.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept at most before the map starts over.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
pub struct Throttle<K> {
    interval: Duration,
    last: Mutex<HashMap<K, Instant>>,
}

impl<K: Hash + Eq> Throttle<K> {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key` is due; if so, it is not due again for the interval.
    pub fn due(&self, key: K) -> bool {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < self.interval)
        {
            return false;
        }
        if last.len() >= MAX_ENTRIES {
            last.clear();
        }
        last.insert(key, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_due_once_per_interval() {
        let throttle = Throttle::new(Duration::from_secs(60));
        assert!(throttle.due(1));
        assert!(!throttle.due(1));
        assert!(throttle.due(2));
        let short = Throttle::new(Duration::ZERO);
        assert!(short.due(1) && short.due(1));
    }
}
