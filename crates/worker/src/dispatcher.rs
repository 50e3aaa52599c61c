//! The dispatch loop: claim due deliveries, attempt them concurrently, record the outcomes,
//! and tell the queue what comes next.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use faxrelay_core::ids::{DeliveryId, ReportId};
use faxrelay_core::report::ReportView;
use faxrelay_core::retry::RetrySchedule;
use faxrelay_queue::DispatchQueue;
use faxrelay_storage::Store;
use faxrelay_storage::dispatch::{
    AttemptOutcome, DispatchItem, NextStep, OutcomeWriter, WebhookEffect,
};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::HotDelivery;
use crate::attempt::{AttemptResult, Deliverer};
use crate::policy::{self, Decision, WebhookHealth};
use crate::render;
use crate::settings::WorkerSettings;

/// An idle dispatcher looks at the queue at least this often, doorbell or not.
const IDLE_RECHECK: Duration = Duration::from_secs(5);
/// After a failing queue or database call, the loop pauses this long.
const BACKOFF: Duration = Duration::from_secs(1);

pub(crate) struct Dispatcher {
    pub store: Store,
    pub queue: Arc<dyn DispatchQueue>,
    pub deliverer: Arc<Deliverer>,
    pub outcomes: OutcomeWriter,
    pub settings: Arc<WorkerSettings>,
}

impl Dispatcher {
    /// Claims and attempts due deliveries until `stopping`, with at most `permits`
    /// attempts in flight (shared with [`Dispatcher::take_handoffs`]).
    pub async fn run(
        self: Arc<Self>,
        permits: Arc<Semaphore>,
        mut stopping: watch::Receiver<bool>,
    ) {
        let concurrency = self.settings.concurrency.max(1);
        let this = self;
        while !*stopping.borrow() {
            if permits.available_permits() == 0 {
                // Every slot is busy: wait for one to free up before claiming more.
                let _ = permits.clone().acquire_owned().await;
                continue;
            }
            let room = permits.available_permits().min(this.settings.claim_batch);
            let leased_at = Instant::now();
            let claimed = match this.queue.claim(room, this.settings.lease()).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(error = %error, "claiming deliveries failed");
                    pause(&mut stopping, BACKOFF).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                let wait = match this.queue.next_due().await {
                    Ok(Some(at)) => (at - Utc::now())
                        .to_std()
                        .unwrap_or_default()
                        .min(IDLE_RECHECK),
                    _ => IDLE_RECHECK,
                };
                tokio::select! {
                    () = this.queue.wait_for_work(wait) => {}
                    _ = stopping.changed() => {}
                }
                continue;
            }
            let work = match this.load(&claimed).await {
                Ok(work) => work,
                Err(error) => {
                    tracing::warn!(error = %error, "loading claimed deliveries failed; their leases will run out");
                    pause(&mut stopping, BACKOFF).await;
                    continue;
                }
            };
            for (item, raw) in work {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let this = this.clone();
                tokio::spawn(async move {
                    this.process(item, raw, leased_at).await;
                    drop(permit);
                });
            }
        }
        // Let deliveries in flight finish.
        let _ = permits.acquire_many(concurrency as u32).await;
    }

    /// The claimed deliveries with what they need; ids that no longer exist are dropped
    /// from the queue.
    async fn load(
        &self,
        claimed: &[DeliveryId],
    ) -> Result<Vec<(DispatchItem, Option<Arc<[u8]>>)>, faxrelay_storage::StorageError> {
        let items = self.store.dispatch_items(claimed).await?;
        let found: HashSet<DeliveryId> = items.iter().map(|item| item.delivery.id).collect();
        for id in claimed.iter().filter(|id| !found.contains(id)) {
            let _ = self.queue.complete(*id).await;
        }
        let needs_raw: Vec<ReportId> = items
            .iter()
            .filter(|item| {
                render::choose(&item.webhook.template, item.template.as_ref())
                    .is_ok_and(|choice| choice.needs_raw_body())
            })
            .map(|item| item.report.id)
            .collect();
        let raw: HashMap<ReportId, Vec<u8>> = self.store.raw_bodies(&needs_raw).await?;
        Ok(items
            .into_iter()
            .map(|item| {
                // Only reports whose template needs the body were loaded.
                let body = raw
                    .get(&item.report.id)
                    .map(|body| Arc::from(body.as_slice()));
                (item, body)
            })
            .collect())
    }

    fn schedule_of(&self, item: &DispatchItem) -> RetrySchedule {
        item.webhook
            .retry_schedule
            .as_deref()
            .and_then(|text| text.parse().ok())
            .unwrap_or_else(|| self.settings.retry_schedule.clone())
    }

    /// Attempts deliveries handed over by this process's ingest, which leased them in the
    /// queue already: no claim and no reading back from the database.
    pub async fn take_handoffs(
        self: Arc<Self>,
        permits: Arc<Semaphore>,
        mut handoffs: mpsc::Receiver<HotDelivery>,
    ) {
        while let Some(hot) = handoffs.recv().await {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let this = self.clone();
            tokio::spawn(async move {
                this.process(hot.item, hot.raw, hot.leased_at).await;
                drop(permit);
            });
        }
    }

    async fn process(&self, item: DispatchItem, raw: Option<Arc<[u8]>>, leased_at: Instant) {
        let id = item.delivery.id;
        let now = Utc::now();
        // Waited too long for a free slot: the lease may run out mid-attempt and another
        // worker start the same attempt. Give it back to the queue instead.
        if leased_at.elapsed() > self.settings.lease() / 2 {
            let _ = self.queue.reschedule(id, now).await;
            return;
        }
        if !item.delivery.status.is_open() || !item.webhook.enabled {
            // Finished, or held while its webhook is disabled (enabling it queues it again).
            let _ = self.queue.complete(id).await;
            return;
        }
        let schedule = self.schedule_of(&item);
        let mut due = item.delivery.next_attempt_at.unwrap_or(now);
        if item.delivery.attempts == 0
            && let Some(first) = schedule.delays().first()
        {
            due = due.max(item.delivery.created_at + *first);
        }
        if due > now + Duration::from_millis(500) {
            let _ = self.queue.reschedule(id, due).await;
            return;
        }

        let attempt = item.delivery.attempts + 1;
        let started = Instant::now();
        let (result, decision) = match self.render(&item, attempt, raw.as_deref()) {
            Ok(rendered) => {
                let result = self
                    .deliverer
                    .send(&item.webhook, &id.to_string(), &rendered)
                    .await;
                let health = WebhookHealth {
                    failing_since: item.webhook.failing_since,
                    last_success_at: item.webhook.last_success_at,
                    disable_after: self.settings.disable_after,
                };
                let decision = policy::decide(
                    &result,
                    item.delivery.attempts_in_schedule() + 1,
                    &schedule,
                    health,
                    Utc::now(),
                );
                (result, decision)
            }
            Err(error) => {
                let result = AttemptResult {
                    error: Some(format!("the template failed: {error}")),
                    duration: started.elapsed(),
                    ..AttemptResult::default()
                };
                (
                    result,
                    Decision {
                        next: NextStep::Dead,
                        webhook: WebhookEffect::Unchanged,
                    },
                )
            }
        };
        let outcome_label = match decision.next {
            NextStep::Succeeded => "succeeded",
            NextStep::RetryAt(_) => "retry",
            NextStep::Dead => "dead",
        };
        metrics::counter!("faxrelay_delivery_attempts_total", "outcome" => outcome_label)
            .increment(1);
        metrics::histogram!("faxrelay_delivery_attempt_seconds")
            .record(result.duration.as_secs_f64());
        if let WebhookEffect::Disable(reason) = &decision.webhook {
            tracing::warn!(webhook.id = %item.webhook.id, tenant.id = %item.delivery.tenant_id, reason, "disabling webhook");
        }

        let outcome = AttemptOutcome {
            delivery_id: id,
            tenant_id: item.delivery.tenant_id,
            webhook_id: item.webhook.id,
            attempt,
            attempted_at: now,
            duration_ms: u32::try_from(result.duration.as_millis()).unwrap_or(u32::MAX),
            status_code: result.status,
            response_headers: result.response_headers,
            response_body: result.body_excerpt,
            error: result.error,
            next: decision.next,
            webhook: decision.webhook,
        };
        match self.outcomes.record(outcome).await {
            Ok(true) => {
                let queued = match decision.next {
                    NextStep::Succeeded | NextStep::Dead => self.queue.complete(id).await,
                    NextStep::RetryAt(at) => self.queue.reschedule(id, at).await,
                };
                if let Err(error) = queued {
                    // The database has the truth; the sweeper will queue it again.
                    tracing::warn!(delivery.id = %id, error = %error, "updating the queue failed");
                }
            }
            // Another worker took over after our lease ran out and recorded this attempt.
            Ok(false) => tracing::debug!(delivery.id = %id, "attempt already recorded elsewhere"),
            // Unrecorded: when the lease runs out the delivery is attempted again.
            Err(error) => {
                tracing::warn!(delivery.id = %id, error = %error, "recording an attempt failed")
            }
        }
    }

    fn render(
        &self,
        item: &DispatchItem,
        attempt: u32,
        raw: Option<&[u8]>,
    ) -> Result<render::Rendered, faxrelay_core::template::TemplateError> {
        let choice = render::choose(&item.webhook.template, item.template.as_ref())?;
        // The original body goes into the context only for templates that use it.
        let raw = raw.filter(|_| choice.needs_raw_body());
        let view = ReportView {
            id: item.report.id,
            received_at: item.report.received_at,
            report: item.report.report.clone(),
        };
        let envelope = render::envelope(
            (item.delivery.tenant_id, &item.tenant_name),
            &item.webhook,
            (item.delivery.id, attempt, item.delivery.created_at),
        );
        let context = render::context(&view, item.delivery.recipient_position, &envelope, raw);
        render::render(
            self.deliverer.engine(),
            &choice,
            &context,
            (raw.unwrap_or_default(), &item.report.raw_content_type),
        )
    }
}

async fn pause(stopping: &mut watch::Receiver<bool>, duration: Duration) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        _ = stopping.changed() => {}
    }
}
