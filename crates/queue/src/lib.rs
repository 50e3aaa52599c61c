//! The dispatch queue: which deliveries are due, and which worker is on them.
//!
//! The database is the source of truth for every delivery; this queue only dispatches.
//! Two implementations pass the same tests: [`RedisQueue`] for production, where any
//! number of processes share one Redis, and [`MemoryQueue`] for the embedded mode, which
//! the sweeper refills from the database at start-up.
//!
//! Semantics shared by both:
//! - an entry is a delivery id with a due time; it is either *waiting* or *leased*;
//! - [`DispatchQueue::claim`] leases due entries to one caller until the lease ends; an
//!   entry whose lease ended (its worker died) is due again;
//! - [`DispatchQueue::enqueue`] never touches a leased entry, so a sweeper re-queueing
//!   what it finds in the database cannot hand one delivery to two workers.

mod memory;
mod redis_queue;

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use faxrelay_core::ids::DeliveryId;

pub use memory::MemoryQueue;
pub use redis_queue::{RedisQueue, RedisQueueOptions};

/// A delivery to dispatch at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub id: DeliveryId,
    pub at: DateTime<Utc>,
}

/// How [`DispatchQueue::enqueue`] treats an entry that is already waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueMode {
    /// Keep the waiting entry as it is (sweeps, new deliveries).
    IfAbsent,
    /// Move a waiting entry to the new time if that is earlier (a manual retry).
    Earlier,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the queue is unavailable: {0}")]
    Unavailable(String),
    #[error("the queue returned something unexpected: {0}")]
    Protocol(String),
}

#[async_trait]
pub trait DispatchQueue: Send + Sync + Debug {
    /// Adds deliveries; leased entries are left alone (see [`EnqueueMode`] for waiting
    /// ones). Wakes idle workers when something is due.
    async fn enqueue(&self, items: &[Due], mode: EnqueueMode) -> Result<(), QueueError>;

    /// Leases up to `max` due entries for `lease`. Entries whose lease has ended count as
    /// due.
    async fn claim(&self, max: usize, lease: Duration) -> Result<Vec<DeliveryId>, QueueError>;

    /// Forgets an entry: its delivery succeeded or is dead.
    async fn complete(&self, id: DeliveryId) -> Result<(), QueueError>;

    /// Adds new entries already leased to the caller for `lease`: a process that has a
    /// delivery in hand attempts it at once, and the entry only matters if that process
    /// dies (the lease ends and the entry is due like any other). Entries that exist are
    /// left alone; returns the ids leased.
    async fn enqueue_leased(
        &self,
        ids: &[DeliveryId],
        lease: Duration,
    ) -> Result<Vec<DeliveryId>, QueueError>;

    /// Ends a lease and makes the entry due again at `at`.
    async fn reschedule(&self, id: DeliveryId, at: DateTime<Utc>) -> Result<(), QueueError>;

    /// When the earliest waiting entry falls due, if any.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, QueueError>;

    /// Waits until `enqueue` (in this process or, for Redis, any process) signals work, or
    /// until `timeout` passes.
    async fn wait_for_work(&self, timeout: Duration);

    /// Waiting and leased entries.
    async fn size(&self) -> Result<u64, QueueError>;

    /// A round trip, for readiness checks.
    async fn ping(&self) -> Result<(), QueueError>;
}

#[cfg(test)]
mod contract_tests;
