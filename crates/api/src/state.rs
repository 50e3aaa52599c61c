//! What every handler shares.

use std::sync::Arc;

use faxrelay_core::crypto::MasterKey;
use faxrelay_queue::DispatchQueue;
use faxrelay_storage::Store;
use faxrelay_storage::ingest::IngestWriter;
use faxrelay_worker::{Deliverer, Handoff};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::push::{PushKeys, PushTargets};
use crate::settings::ApiSettings;
use crate::throttle::Throttle;

/// The application state, cheap to clone into every actix worker.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: Store,
    pub queue: Arc<dyn DispatchQueue>,
    pub ingest: IngestWriter,
    /// Renders, signs and sends: for previews and test deliveries.
    pub deliverer: Arc<Deliverer>,
    /// This process's worker, if it runs one: new deliveries are handed to it directly.
    pub handoff: Option<Handoff>,
    pub settings: ApiSettings,
    pub push_keys: PushKeys,
    pub push_targets: PushTargets,
    /// When this process last noted each credential's use.
    pub credential_use: Throttle<faxrelay_core::ids::PushCredentialId>,
    pub metrics: Option<PrometheusHandle>,
}

/// The services the API works with.
#[derive(Debug)]
pub struct Services {
    pub store: Store,
    pub queue: Arc<dyn DispatchQueue>,
    pub ingest: IngestWriter,
    pub deliverer: Arc<Deliverer>,
    /// This process's worker, if it runs one.
    pub handoff: Option<Handoff>,
}

impl AppState {
    pub fn new(
        services: Services,
        settings: ApiSettings,
        master_key: &MasterKey,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        let push_keys = PushKeys::derive(master_key, &settings);
        let Services {
            store,
            queue,
            ingest,
            deliverer,
            handoff,
        } = services;
        Self(Arc::new(Inner {
            store,
            queue,
            ingest,
            deliverer,
            handoff,
            settings,
            push_keys,
            push_targets: PushTargets::default(),
            credential_use: Throttle::new(std::time::Duration::from_secs(60)),
            metrics,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
