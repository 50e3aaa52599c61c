//! The delivery worker: takes due deliveries from the queue, renders each report through
//! its webhook's template, signs it (Standard Webhooks), authenticates, POSTs it, and
//! records the attempt; failures are retried on a schedule until they succeed or die.
//!
//! The database is the source of truth: the queue only says what is due. A sweeper puts
//! back whatever the queue lost (a flushed Redis, the in-process queue after a restart).

pub mod attempt;
pub mod auth;
pub mod client;
mod dispatcher;
pub mod policy;
pub mod render;
mod settings;
mod sweeper;

use std::sync::Arc;
use std::time::{Duration, Instant};

use faxrelay_queue::DispatchQueue;
use faxrelay_storage::Store;
use faxrelay_storage::dispatch::{DispatchItem, OutcomeWriter};
use tokio::sync::{Semaphore, mpsc, watch};

pub use attempt::{AttemptResult, Deliverer};
pub use settings::WorkerSettings;

/// A running worker: the dispatcher and the sweeper.
#[derive(Debug)]
pub struct Worker {
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    handoff: Handoff,
}

/// A delivery handed from ingest to this process's worker, leased already.
#[derive(Debug)]
pub struct HotDelivery {
    pub item: DispatchItem,
    /// The original push body, for templates that send it on.
    pub raw: Option<Arc<[u8]>>,
    /// When its lease began.
    pub leased_at: Instant,
}

/// Where ingest hands new deliveries to this process's worker, so they are attempted the
/// moment they are committed instead of after a round trip through the queue and the
/// database. Only deliveries leased in the queue for [`Handoff::lease`] may be handed
/// over: if the process dies, the lease runs out and another worker takes them.
#[derive(Debug, Clone)]
pub struct Handoff {
    sender: mpsc::Sender<HotDelivery>,
    lease: Duration,
}

impl Handoff {
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Hands deliveries over; those the worker cannot take now come back.
    pub fn hand(&self, deliveries: Vec<HotDelivery>) -> Vec<HotDelivery> {
        let mut refused = Vec::new();
        for delivery in deliveries {
            if let Err(error) = self.sender.try_send(delivery) {
                refused.push(error.into_inner());
            }
        }
        refused
    }
}

impl Worker {
    /// Starts the worker on the current tokio runtime.
    pub fn start(
        store: Store,
        queue: Arc<dyn DispatchQueue>,
        deliverer: Arc<Deliverer>,
        settings: WorkerSettings,
    ) -> Self {
        let (shutdown, stopping) = watch::channel(false);
        let outcomes = OutcomeWriter::start(store.clone());
        let settings = Arc::new(settings);
        let permits = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        let (sender, handoffs) = mpsc::channel(settings.concurrency.max(1) * 4);
        let handoff = Handoff {
            sender,
            lease: settings.lease(),
        };
        let dispatcher = Arc::new(dispatcher::Dispatcher {
            store: store.clone(),
            queue: queue.clone(),
            deliverer,
            outcomes,
            settings: settings.clone(),
        });
        let tasks = vec![
            tokio::spawn(dispatcher.clone().run(permits.clone(), stopping.clone())),
            tokio::spawn(dispatcher.take_handoffs(permits, handoffs)),
            tokio::spawn(sweeper::run(store, queue, settings, stopping)),
        ];
        Self {
            shutdown,
            tasks,
            handoff,
        }
    }

    /// Where this process's ingest hands new deliveries over.
    pub fn handoff(&self) -> Handoff {
        self.handoff.clone()
    }

    /// Stops taking new work and waits for the tasks to end (deliveries in flight finish
    /// or, if cut off, are retried once their lease ends).
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        // The dispatcher finishes what is in flight; the hand-off task and the sweeper are
        // then cut off. Deliveries still waiting in the hand-off channel are leased in the
        // queue, so another worker (or this one after a restart) takes them when the lease
        // ends.
        let mut tasks = self.tasks.into_iter();
        if let Some(dispatcher) = tasks.next() {
            let _ = dispatcher.await;
        }
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }
}
