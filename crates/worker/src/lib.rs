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

use faxrelay_queue::DispatchQueue;
use faxrelay_storage::Store;
use faxrelay_storage::dispatch::OutcomeWriter;
use tokio::sync::watch;

pub use attempt::{AttemptResult, Deliverer};
pub use settings::WorkerSettings;

/// A running worker: the dispatcher and the sweeper.
#[derive(Debug)]
pub struct Worker {
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
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
        let dispatcher = dispatcher::Dispatcher {
            store: store.clone(),
            queue: queue.clone(),
            deliverer,
            outcomes,
            settings: settings.clone(),
        };
        let tasks = vec![
            tokio::spawn(dispatcher.run(stopping.clone())),
            tokio::spawn(sweeper::run(store, queue, settings, stopping)),
        ];
        Self { shutdown, tasks }
    }

    /// Stops taking new work and waits for the tasks to end (deliveries in flight finish
    /// or, if cut off, are retried once their lease ends).
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
