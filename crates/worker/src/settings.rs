//! How the worker behaves.

use std::time::Duration;

use faxrelay_core::retry::RetrySchedule;
use faxrelay_core::target::TargetPolicy;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Deliveries in flight at once per process.
    pub concurrency: usize,
    /// The most deliveries claimed from the queue at once.
    pub claim_batch: usize,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// The default retry schedule (a webhook may have its own).
    pub retry_schedule: RetrySchedule,
    /// A webhook that fails this long without a success is disabled.
    pub disable_after: Duration,
    /// How often the sweeper looks for deliveries the queue lost.
    pub sweep_interval: Duration,
    /// Which addresses deliveries may connect to.
    pub target_policy: TargetPolicy,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 256,
            claim_batch: 64,
            timeout: Duration::from_secs(15),
            retry_schedule: RetrySchedule::default(),
            disable_after: Duration::from_secs(5 * 86_400),
            sweep_interval: Duration::from_secs(30),
            target_policy: TargetPolicy::default(),
        }
    }
}

impl WorkerSettings {
    /// How long a claimed delivery stays with its worker: longer than an attempt can take,
    /// short enough that a crashed worker's deliveries are taken over within a minute.
    pub fn lease(&self) -> Duration {
        (self.timeout * 2 + Duration::from_secs(10)).min(Duration::from_secs(50))
    }
}
