//! What the delivery worker reads and writes: everything one batch of claimed deliveries
//! needs, in a handful of queries, and the outcomes of their attempts in one transaction.
//!
//! These run for the worker, which acts for every tenant; they take delivery ids the queue
//! handed out, never ids from a request.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use faxrelay_core::ids::{AttemptId, DeliveryId, ReportId, TenantId, WebhookId};
use faxrelay_core::webhook::DeliveryStatus;
use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseTransaction, DbBackend, QuerySelect, Statement,
};

use crate::deliveries::DeliveryRecord;
use crate::entities::{delivery, delivery_attempt, report, tenant, webhook};
use crate::reports::{StoredReport, SummaryRow, stored_report, summary};
use crate::templates::{TemplateRecord, custom_templates, template_of};
use crate::webhooks::WebhookRecord;
use crate::{StorageError, Store};

/// A claimed delivery with everything needed to attempt it.
#[derive(Debug, Clone)]
pub struct DispatchItem {
    pub delivery: DeliveryRecord,
    pub webhook: WebhookRecord,
    pub report: StoredReport,
    pub tenant_name: String,
    /// The tenant template the webhook renders with, if not a built-in.
    pub template: Option<TemplateRecord>,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Succeeded,
    RetryAt(DateTime<Utc>),
    Dead,
}

/// What an attempt means for its webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEffect {
    /// Nothing: the attempt says nothing about the receiver (e.g. the template failed).
    Unchanged,
    Succeeded,
    Failed,
    /// Stop delivering to this webhook (410 Gone, or failing for too long).
    Disable(String),
}

/// One finished attempt, to record.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub delivery_id: DeliveryId,
    pub tenant_id: TenantId,
    pub webhook_id: WebhookId,
    /// The number of this attempt (1 for the first ever).
    pub attempt: u32,
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: u32,
    pub status_code: Option<u16>,
    pub response_headers: Option<serde_json::Value>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub next: NextStep,
    pub webhook: WebhookEffect,
}

/// Outcomes per UPDATE statement (8 parameters each).
const OUTCOMES_PER_UPDATE: usize = 500;

/// Applies outcomes to their deliveries in one statement, each only if the delivery still
/// has the attempt count its attempt started from. Returns the ids updated.
///
/// One `UPDATE ... FROM (VALUES ...)` instead of one UPDATE per delivery: at a thousand
/// deliveries a second, the statements themselves were the database's biggest cost. The
/// parameter types come from the bound values, so the same SQL serves both databases.
async fn update_deliveries(
    transaction: &DatabaseTransaction,
    outcomes: &[AttemptOutcome],
) -> Result<Vec<Uuid>, StorageError> {
    let backend = transaction.get_database_backend();
    let mut rows = Vec::with_capacity(outcomes.len());
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(outcomes.len() * 8);
    let now = Utc::now();
    for outcome in outcomes {
        let (status, next_attempt_at) = match outcome.next {
            NextStep::Succeeded => (DeliveryStatus::Succeeded, None),
            NextStep::RetryAt(at) => (DeliveryStatus::Failed, Some(at)),
            NextStep::Dead => (DeliveryStatus::Dead, None),
        };
        let first = values.len() + 1;
        let placeholders: Vec<String> = (first..first + 8)
            .map(|n| {
                if backend == DbBackend::Postgres {
                    format!("${n}")
                } else {
                    "?".to_owned()
                }
            })
            .collect();
        rows.push(format!("({})", placeholders.join(", ")));
        values.extend([
            outcome.delivery_id.as_uuid().into(),
            status.as_str().into(),
            (outcome.attempt as i32).into(),
            next_attempt_at.into(),
            outcome.attempted_at.into(),
            outcome.status_code.map(i32::from).into(),
            outcome.error.clone().into(),
            now.into(),
        ]);
    }
    let sql = format!(
        "WITH v (id, status, attempts, next_attempt_at, last_attempt_at, last_status_code, last_error, updated_at) \
         AS (VALUES {}) \
         UPDATE deliveries SET status = v.status, attempts = v.attempts, next_attempt_at = v.next_attempt_at, \
         last_attempt_at = v.last_attempt_at, last_status_code = v.last_status_code, last_error = v.last_error, \
         updated_at = v.updated_at \
         FROM v WHERE deliveries.id = v.id AND deliveries.attempts = v.attempts - 1 \
         RETURNING deliveries.id",
        rows.join(", ")
    );
    let updated = transaction
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    updated
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id").map_err(StorageError::from))
        .collect()
}

impl Store {
    /// Loads claimed deliveries with their webhooks, reports, tenants and templates.
    /// Deliveries that no longer exist are left out.
    pub async fn dispatch_items(
        &self,
        ids: &[DeliveryId],
    ) -> Result<Vec<DispatchItem>, StorageError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.connection();
        let deliveries = delivery::Entity::find()
            .filter(delivery::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
            .all(db)
            .await?
            .into_iter()
            .map(DeliveryRecord::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let unique = |values: Vec<Uuid>| {
            values
                .into_iter()
                .collect::<HashSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        };

        let webhook_ids = unique(deliveries.iter().map(|d| d.webhook_id.as_uuid()).collect());
        let webhooks: HashMap<WebhookId, WebhookRecord> = webhook::Entity::find()
            .filter(webhook::Column::Id.is_in(webhook_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|model| WebhookRecord::try_from(model).map(|record| (record.id, record)))
            .collect::<Result<_, _>>()?;

        let tenant_ids = unique(deliveries.iter().map(|d| d.tenant_id.as_uuid()).collect());
        let templates = custom_templates(db, webhooks.values()).await?;

        let report_ids = unique(deliveries.iter().map(|d| d.report_id.as_uuid()).collect());
        let reports: HashMap<ReportId, StoredReport> = summary()
            .filter(report::Column::Id.is_in(report_ids))
            .into_tuple::<SummaryRow>()
            .all(db)
            .await?
            .into_iter()
            .map(|row| stored_report(row).map(|report| (report.id, report)))
            .collect::<Result<_, StorageError>>()?;

        let tenants: HashMap<Uuid, String> = tenant::Entity::find()
            .select_only()
            .columns([tenant::Column::Id, tenant::Column::Name])
            .filter(tenant::Column::Id.is_in(tenant_ids))
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect();

        Ok(deliveries
            .into_iter()
            .filter_map(|delivery| {
                let webhook = webhooks.get(&delivery.webhook_id)?.clone();
                let report = reports.get(&delivery.report_id)?.clone();
                let tenant_name = tenants.get(&delivery.tenant_id.as_uuid())?.clone();
                let template = template_of(&webhook, &templates);
                Some(DispatchItem {
                    delivery,
                    webhook,
                    report,
                    tenant_name,
                    template,
                })
            })
            .collect())
    }

    /// The original bodies of reports, for templates that send them on.
    pub async fn raw_bodies(
        &self,
        ids: &[ReportId],
    ) -> Result<HashMap<ReportId, Vec<u8>>, StorageError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(Uuid, Vec<u8>, Option<Uuid>)> = report::Entity::find()
            .select_only()
            .columns([
                report::Column::Id,
                report::Column::RawBody,
                report::Column::BodyId,
            ])
            .filter(report::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
            .into_tuple()
            .all(self.connection())
            .await?;
        let shared = crate::reports::shared_bodies(
            self.connection(),
            rows.iter().filter_map(|(_, _, body_id)| *body_id),
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, body, body_id)| {
                let body = body_id
                    .and_then(|body_id| shared.get(&body_id).cloned())
                    .unwrap_or(body);
                (ReportId::from_uuid(id), body)
            })
            .collect())
    }

    /// Records attempts in one transaction. An outcome is applied only if its delivery
    /// still has the attempt count the attempt started from, so a worker whose lease ran
    /// out cannot overwrite what the worker that took over recorded. Returns, per outcome,
    /// whether it was applied.
    pub async fn record_outcomes(
        &self,
        outcomes: &[AttemptOutcome],
    ) -> Result<Vec<bool>, StorageError> {
        let transaction = self.write_transaction().await?;
        let mut updated: HashSet<Uuid> = HashSet::with_capacity(outcomes.len());
        for chunk in outcomes.chunks(OUTCOMES_PER_UPDATE) {
            updated.extend(update_deliveries(&transaction, chunk).await?);
        }
        let applied: Vec<bool> = outcomes
            .iter()
            .map(|o| updated.contains(&o.delivery_id.as_uuid()))
            .collect();
        let attempt_rows: Vec<delivery_attempt::ActiveModel> = outcomes
            .iter()
            .zip(&applied)
            .filter(|(_, applied)| **applied)
            .map(|(outcome, _)| delivery_attempt::ActiveModel {
                id: Set(AttemptId::generate().as_uuid()),
                tenant_id: Set(outcome.tenant_id.as_uuid()),
                delivery_id: Set(outcome.delivery_id.as_uuid()),
                attempt: Set(outcome.attempt as i32),
                attempted_at: Set(outcome.attempted_at),
                duration_ms: Set(outcome.duration_ms as i32),
                status_code: Set(outcome.status_code.map(i32::from)),
                response_headers: Set(outcome.response_headers.clone()),
                response_body: Set(outcome.response_body.clone()),
                error: Set(outcome.error.clone()),
            })
            .collect();
        for chunk in attempt_rows.chunks(crate::deliveries::DELIVERY_ROWS_PER_INSERT) {
            delivery_attempt::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&*transaction)
                .await?;
        }

        // One webhook update per webhook: the strongest effect of the batch wins.
        let mut effects: HashMap<WebhookId, &WebhookEffect> = HashMap::new();
        for (outcome, applied) in outcomes.iter().zip(&applied) {
            if !applied {
                continue;
            }
            let rank = |effect: &WebhookEffect| match effect {
                WebhookEffect::Unchanged => -1,
                WebhookEffect::Failed => 0,
                WebhookEffect::Succeeded => 1,
                WebhookEffect::Disable(_) => 2,
            };
            let entry = effects
                .entry(outcome.webhook_id)
                .or_insert(&outcome.webhook);
            if rank(&outcome.webhook) > rank(entry) {
                *entry = &outcome.webhook;
            }
        }
        let now = Utc::now();
        for (webhook_id, effect) in effects {
            let update =
                webhook::Entity::update_many().filter(webhook::Column::Id.eq(webhook_id.as_uuid()));
            match effect {
                WebhookEffect::Unchanged => {}
                WebhookEffect::Succeeded => {
                    update
                        .col_expr(webhook::Column::LastSuccessAt, Expr::value(now))
                        .col_expr(
                            webhook::Column::FailingSince,
                            Expr::value(Option::<DateTime<Utc>>::None),
                        )
                        .exec(&*transaction)
                        .await?;
                }
                WebhookEffect::Failed => {
                    update
                        .col_expr(webhook::Column::FailingSince, Expr::value(now))
                        .filter(webhook::Column::FailingSince.is_null())
                        .exec(&*transaction)
                        .await?;
                }
                WebhookEffect::Disable(reason) => {
                    update
                        .col_expr(webhook::Column::Enabled, Expr::value(false))
                        .col_expr(webhook::Column::DisabledReason, Expr::value(reason.clone()))
                        .col_expr(webhook::Column::UpdatedAt, Expr::value(now))
                        .exec(&*transaction)
                        .await?;
                }
            }
        }
        transaction.commit().await?;
        Ok(applied)
    }
}

/// Records attempt outcomes through group commit: many attempts share one transaction.
#[derive(Debug, Clone)]
pub struct OutcomeWriter(crate::group_commit::GroupCommit<AttemptOutcome, bool>);

impl OutcomeWriter {
    /// Starts the writer tasks on the current tokio runtime.
    pub fn start(store: Store) -> Self {
        let writers = if store.backend() == sea_orm::DbBackend::Sqlite {
            1
        } else {
            2
        };
        Self(crate::group_commit::GroupCommit::start(
            writers,
            256,
            move |batch| record_batch(store.clone(), batch),
        ))
    }

    /// Records one outcome; `false` when another worker recorded this attempt first.
    pub async fn record(&self, outcome: AttemptOutcome) -> Result<bool, StorageError> {
        self.0.submit(outcome).await
    }
}

/// Records a batch in one transaction; if that fails for a reason other than the database
/// being down, records each outcome alone, so one bad outcome cannot fail its neighbours.
async fn record_batch(store: Store, batch: Vec<AttemptOutcome>) -> Vec<Result<bool, StorageError>> {
    match store.record_outcomes(&batch).await {
        Ok(applied) => applied.into_iter().map(Ok).collect(),
        Err(error) if batch.len() == 1 || error.is_unavailable() => {
            tracing::warn!(error = %error, outcomes = batch.len(), "recording delivery outcomes failed");
            crate::group_commit::fan_out_error(error, batch.len())
        }
        Err(error) => {
            tracing::warn!(error = %error, outcomes = batch.len(), "recording a batch of outcomes failed; recording them one by one");
            let mut results = Vec::with_capacity(batch.len());
            for outcome in &batch {
                let single = store.record_outcomes(std::slice::from_ref(outcome)).await;
                results.push(single.map(|applied| applied.first().copied().unwrap_or(false)));
            }
            results
        }
    }
}
