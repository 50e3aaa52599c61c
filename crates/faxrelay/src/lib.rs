//! The `faxrelay` program: wires the library crates into running services.
//!
//! `main.rs` parses the command line and calls into here; tests call [`start`] directly,
//! so they run exactly what `faxrelay serve` runs, on a port of their choosing.

pub mod config;
pub mod telemetry;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use anyhow::Context;
use faxrelay_api::{AppState, Services};
use faxrelay_queue::{DispatchQueue, MemoryQueue, RedisQueue, RedisQueueOptions};
use faxrelay_storage::Store;
use faxrelay_storage::ingest::{IngestOptions, IngestWriter};
use faxrelay_worker::{Deliverer, Worker};

pub use config::Config;

/// Which parts of faxrelay a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The API and the delivery worker in one process.
    Serve,
    /// Only the HTTP API.
    Api,
    /// Only the delivery worker.
    Worker,
}

/// Opens the database and brings its schema up to date.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url, &config.store)
        .await
        .with_context(|| {
            format!(
                "connecting to the database ({})",
                redact_url(&config.database_url)
            )
        })?;
    store
        .migrate()
        .await
        .context("applying database migrations")?;
    Ok(store)
}

/// The dispatch queue: Redis when `REDIS_URL` is set, in-process otherwise.
pub async fn open_queue(config: &Config) -> anyhow::Result<Arc<dyn DispatchQueue>> {
    Ok(match &config.redis_url {
        Some(url) => {
            let options = RedisQueueOptions {
                prefix: config.redis_prefix.clone(),
                shards: config.redis_shards,
            };
            let queue = RedisQueue::connect(url, options)
                .await
                .with_context(|| format!("connecting to Redis ({})", redact_url(url)))?;
            Arc::new(queue)
        }
        None => Arc::new(MemoryQueue::new()),
    })
}

/// A URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn ingest_options(config: &Config, store: &Store) -> IngestOptions {
    let mut options = IngestOptions::for_store(store);
    if let Some(writers) = config.ingest_writers {
        options.writers = writers;
    }
    options
}

/// The worker's own database connections beside an HTTP server: one for claimed
/// deliveries being loaded, a few for outcome batches and the sweeper.
const WORKER_CONNECTIONS: u32 = 8;

/// A started faxrelay.
#[derive(Debug)]
pub struct Running {
    /// Where the API listens (when this role runs it).
    pub address: Option<SocketAddr>,
    pub store: Store,
    server: Option<actix_web::dev::ServerHandle>,
    server_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    worker: Option<Worker>,
}

impl Running {
    /// Runs until SIGINT or SIGTERM, then stops gracefully: the HTTP server finishes the
    /// requests in flight, the worker the deliveries in flight.
    pub async fn wait(self) -> anyhow::Result<()> {
        match self.server_task {
            // actix-web stops on the signals itself.
            Some(task) => task
                .await
                .context("the HTTP server task failed")?
                .context("the HTTP server failed")?,
            None => shutdown_signal().await?,
        }
        if let Some(worker) = self.worker {
            worker.stop().await;
        }
        Ok(())
    }

    /// Stops gracefully.
    pub async fn stop(self) {
        if let Some(server) = self.server {
            server.stop(true).await;
        }
        if let Some(worker) = self.worker {
            worker.stop().await;
        }
    }
}

async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("listening for SIGINT")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("listening for Ctrl-C")?;
    Ok(())
}

/// Starts the parts of faxrelay that `role` names. The API serves on `listener` (bound by
/// the caller, so tests can use port 0), or on the configured address.
pub async fn start(
    config: &Config,
    role: Role,
    listener: Option<TcpListener>,
) -> anyhow::Result<Running> {
    let master_key = config::master_key(&config.key)?;
    let store = open_store(config).await?;
    let queue = open_queue(config).await?;

    let deliverer = Arc::new(Deliverer::new(
        config.worker.target_policy.clone(),
        config.worker.timeout,
        &master_key,
    ));

    let mut running = Running {
        address: None,
        store: store.clone(),
        server: None,
        server_task: None,
        worker: None,
    };
    if matches!(role, Role::Serve | Role::Worker) {
        // Beside the HTTP server the worker needs a pool of its own (see `own_pool`).
        let worker_store = if role == Role::Serve {
            store
                .own_pool(WORKER_CONNECTIONS)
                .await
                .context("connecting the worker to the database")?
        } else {
            store.clone()
        };
        running.worker = Some(Worker::start(
            worker_store,
            queue.clone(),
            deliverer.clone(),
            config.worker.clone(),
        ));
        tracing::info!(
            concurrency = config.worker.concurrency,
            "faxrelay delivery worker started"
        );
    }
    if matches!(role, Role::Serve | Role::Api) {
        let options = ingest_options(config, &store);
        let ingest_store = store
            .own_pool(u32::try_from(options.writers).unwrap_or(u32::MAX))
            .await
            .context("connecting ingest to the database")?;
        let ingest = IngestWriter::start(ingest_store, options);
        let services = Services {
            store,
            queue,
            ingest,
            deliverer,
            handoff: running.worker.as_ref().map(Worker::handoff),
        };
        let state = AppState::new(
            services,
            config.api.clone(),
            &master_key,
            telemetry::metrics_handle(),
        );
        let listener = match listener {
            Some(listener) => listener,
            None => TcpListener::bind(config.listen)
                .with_context(|| format!("listening on {}", config.listen))?,
        };
        let address = listener.local_addr()?;
        let server = actix_web::HttpServer::new(move || faxrelay_api::app(state.clone()))
            .workers(config.http_workers)
            .listen(listener)?
            .run();
        running.server = Some(server.handle());
        running.server_task = Some(tokio::spawn(server));
        running.address = Some(address);
        tracing::info!(address = %address, public_url = %config.api.public_url, "faxrelay API listening");
    }
    Ok(running)
}
