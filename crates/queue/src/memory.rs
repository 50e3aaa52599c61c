//! The in-process queue of the embedded mode.
//!
//! It lives and dies with the process: at start-up the sweeper reloads every pending
//! delivery from the database, which is what makes a restart lose nothing.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use faxrelay_core::ids::DeliveryId;
use tokio::sync::Notify;

use crate::{DispatchQueue, Due, EnqueueMode, QueueError};

#[derive(Debug, Default)]
struct State {
    /// Waiting entries in due order.
    waiting: BTreeSet<(DateTime<Utc>, DeliveryId)>,
    waiting_at: HashMap<DeliveryId, DateTime<Utc>>,
    /// Leased entries and when their lease ends.
    leased: HashMap<DeliveryId, DateTime<Utc>>,
}

impl State {
    fn wait(&mut self, id: DeliveryId, at: DateTime<Utc>) {
        if let Some(previous) = self.waiting_at.insert(id, at) {
            self.waiting.remove(&(previous, id));
        }
        self.waiting.insert((at, id));
    }

    fn forget(&mut self, id: DeliveryId) {
        if let Some(at) = self.waiting_at.remove(&id) {
            self.waiting.remove(&(at, id));
        }
        self.leased.remove(&id);
    }
}

#[derive(Debug, Default)]
pub struct MemoryQueue {
    state: Mutex<State>,
    doorbell: Notify,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data: every method finishes its
        // changes before it could panic. So a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl DispatchQueue for MemoryQueue {
    async fn enqueue(&self, items: &[Due], mode: EnqueueMode) -> Result<(), QueueError> {
        let now = Utc::now();
        let mut any_due = false;
        {
            let mut state = self.state();
            for item in items {
                if state.leased.contains_key(&item.id) {
                    continue;
                }
                let keep = match (state.waiting_at.get(&item.id), mode) {
                    (Some(_), EnqueueMode::IfAbsent) => true,
                    (Some(current), EnqueueMode::Earlier) => *current <= item.at,
                    (None, _) => false,
                };
                if !keep {
                    state.wait(item.id, item.at);
                    any_due |= item.at <= now;
                }
            }
        }
        if any_due || !items.is_empty() {
            self.doorbell.notify_one();
        }
        Ok(())
    }

    async fn claim(&self, max: usize, lease: Duration) -> Result<Vec<DeliveryId>, QueueError> {
        let now = Utc::now();
        let lease_end = now + lease;
        let mut state = self.state();
        let expired: Vec<DeliveryId> = state
            .leased
            .iter()
            .filter(|(_, end)| **end <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            state.leased.remove(&id);
            state.wait(id, now);
        }
        let due: Vec<(DateTime<Utc>, DeliveryId)> = state
            .waiting
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(max)
            .copied()
            .collect();
        for (at, id) in &due {
            state.waiting.remove(&(*at, *id));
            state.waiting_at.remove(id);
            state.leased.insert(*id, lease_end);
        }
        Ok(due.into_iter().map(|(_, id)| id).collect())
    }

    async fn enqueue_leased(
        &self,
        ids: &[DeliveryId],
        lease: Duration,
    ) -> Result<Vec<DeliveryId>, QueueError> {
        let lease_end = Utc::now() + lease;
        let mut state = self.state();
        let mut leased = Vec::with_capacity(ids.len());
        for id in ids {
            if !state.leased.contains_key(id) && !state.waiting_at.contains_key(id) {
                state.leased.insert(*id, lease_end);
                leased.push(*id);
            }
        }
        Ok(leased)
    }

    async fn complete(&self, id: DeliveryId) -> Result<(), QueueError> {
        self.state().forget(id);
        Ok(())
    }

    async fn reschedule(&self, id: DeliveryId, at: DateTime<Utc>) -> Result<(), QueueError> {
        {
            let mut state = self.state();
            state.leased.remove(&id);
            state.wait(id, at);
        }
        self.doorbell.notify_one();
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, QueueError> {
        let state = self.state();
        let waiting = state.waiting.first().map(|(at, _)| *at);
        let lease_end = state.leased.values().min().copied();
        Ok(waiting.into_iter().chain(lease_end).min())
    }

    async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.doorbell.notified()).await;
    }

    async fn size(&self) -> Result<u64, QueueError> {
        let state = self.state();
        Ok((state.waiting.len() + state.leased.len()) as u64)
    }

    async fn ping(&self) -> Result<(), QueueError> {
        Ok(())
    }
}
