//! Puts back on the queue what the queue lost.
//!
//! The database says which deliveries are unfinished; the queue may not know them (the
//! in-process queue after a restart, a flushed or failed-over Redis, an enqueue that failed
//! after a commit). At start-up every unfinished delivery is queued; then, every interval,
//! those due before the next sweep. Queueing is idempotent and never touches a delivery a
//! worker holds, so sweepers in several processes do no harm.

use std::sync::Arc;

use chrono::Utc;
use faxrelay_core::ids::DeliveryId;
use faxrelay_queue::{DispatchQueue, Due, EnqueueMode};
use faxrelay_storage::{StorageError, Store};
use tokio::sync::watch;

use crate::settings::WorkerSettings;

const PAGE: u64 = 1_000;

pub(crate) async fn run(
    store: Store,
    queue: Arc<dyn DispatchQueue>,
    settings: Arc<WorkerSettings>,
    mut stopping: watch::Receiver<bool>,
) {
    match sweep(&store, queue.as_ref(), None).await {
        Ok(count) => tracing::info!(deliveries = count, "queued the unfinished deliveries"),
        Err(error) => {
            tracing::warn!(error = %error, "the start-up sweep failed; the next sweep will retry")
        }
    }
    loop {
        tokio::select! {
            () = tokio::time::sleep(settings.sweep_interval) => {}
            _ = stopping.changed() => return,
        }
        let horizon = Utc::now() + settings.sweep_interval;
        match sweep(&store, queue.as_ref(), Some(horizon)).await {
            Ok(count) if count > 0 => {
                tracing::debug!(deliveries = count, "sweep queued deliveries")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "sweep failed"),
        }
        if let Err(error) = store.purge_expired_nonces(Utc::now()).await {
            tracing::debug!(error = %error, "purging expired digest nonces failed");
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum SweepError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Queue(#[from] faxrelay_queue::QueueError),
}

/// Queues unfinished deliveries due by `until` (all of them without a bound).
async fn sweep(
    store: &Store,
    queue: &dyn DispatchQueue,
    until: Option<chrono::DateTime<Utc>>,
) -> Result<usize, SweepError> {
    let mut after: Option<DeliveryId> = None;
    let mut total = 0;
    loop {
        let page = store.due_deliveries(until, after, PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        let items: Vec<Due> = page
            .iter()
            .map(|(id, at)| Due { id: *id, at: *at })
            .collect();
        queue.enqueue(&items, EnqueueMode::IfAbsent).await?;
        total += items.len();
        if (page.len() as u64) < PAGE {
            break;
        }
    }
    Ok(total)
}
