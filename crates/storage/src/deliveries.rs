//! Deliveries and their attempts, as tenants see and steer them.

use chrono::{DateTime, Utc};
use faxrelay_core::ids::{AttemptId, DeliveryId, ReportId, TenantId, WebhookId};
use faxrelay_core::report::FaxReport;
use faxrelay_core::webhook::DeliveryStatus;
use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, Condition, QueryOrder, QuerySelect};

use crate::entities::{delivery, delivery_attempt, report, webhook};
use crate::error::corrupt;
use crate::paging::{Page, PageRequest};
use crate::webhooks::WebhookRecord;
use crate::{StorageError, Store};

/// Rows per multi-row INSERT of deliveries.
pub(crate) const DELIVERY_ROWS_PER_INSERT: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    pub tenant_id: TenantId,
    pub webhook_id: WebhookId,
    pub report_id: ReportId,
    /// The recipient this delivery is about (fan-out per recipient).
    pub recipient_position: Option<u32>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub schedule_start: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DeliveryRecord {
    /// Attempts made under the current retry schedule.
    pub fn attempts_in_schedule(&self) -> u32 {
        self.attempts.saturating_sub(self.schedule_start)
    }
}

impl TryFrom<delivery::Model> for DeliveryRecord {
    type Error = StorageError;

    fn try_from(model: delivery::Model) -> Result<Self, StorageError> {
        Ok(Self {
            id: DeliveryId::from_uuid(model.id),
            tenant_id: TenantId::from_uuid(model.tenant_id),
            webhook_id: WebhookId::from_uuid(model.webhook_id),
            report_id: ReportId::from_uuid(model.report_id),
            recipient_position: model.recipient_position.and_then(|p| u32::try_from(p).ok()),
            status: model.status.parse().map_err(corrupt)?,
            attempts: u32::try_from(model.attempts).unwrap_or_default(),
            schedule_start: u32::try_from(model.schedule_start).unwrap_or_default(),
            next_attempt_at: model.next_attempt_at,
            last_attempt_at: model.last_attempt_at,
            last_status_code: model.last_status_code.and_then(|c| u16::try_from(c).ok()),
            last_error: model.last_error,
            created_at: model.created_at,
            updated_at: model.updated_at,
        })
    }
}

/// One HTTP attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub id: AttemptId,
    pub attempt: u32,
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: u32,
    pub status_code: Option<u16>,
    pub response_headers: Option<serde_json::Value>,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

impl From<delivery_attempt::Model> for AttemptRecord {
    fn from(model: delivery_attempt::Model) -> Self {
        Self {
            id: AttemptId::from_uuid(model.id),
            attempt: u32::try_from(model.attempt).unwrap_or_default(),
            attempted_at: model.attempted_at,
            duration_ms: u32::try_from(model.duration_ms).unwrap_or_default(),
            status_code: model.status_code.and_then(|c| u16::try_from(c).ok()),
            response_headers: model.response_headers,
            response_body: model.response_body,
            error: model.error,
        }
    }
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub webhook_id: Option<WebhookId>,
    pub report_id: Option<ReportId>,
}

/// What a manual retry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    Scheduled(DeliveryRecord),
    NotFound,
    /// The receiver already took it; redeliver the report for a new delivery.
    AlreadySucceeded,
}

/// What a redelivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeliverOutcome {
    Created(Vec<DeliveryRecord>),
    ReportNotFound,
    WebhookNotFound,
}

/// A new pending delivery, due now.
pub(crate) fn new_delivery(
    tenant: TenantId,
    webhook: WebhookId,
    report: ReportId,
    recipient: Option<usize>,
    now: DateTime<Utc>,
) -> DeliveryRecord {
    DeliveryRecord {
        id: DeliveryId::generate(),
        tenant_id: tenant,
        webhook_id: webhook,
        report_id: report,
        recipient_position: recipient.and_then(|p| u32::try_from(p).ok()),
        status: DeliveryStatus::Pending,
        attempts: 0,
        schedule_start: 0,
        next_attempt_at: Some(now),
        last_attempt_at: None,
        last_status_code: None,
        last_error: None,
        created_at: now,
        updated_at: now,
    }
}

/// The row that stores a delivery.
pub(crate) fn delivery_row(record: &DeliveryRecord) -> delivery::ActiveModel {
    delivery::ActiveModel {
        id: Set(record.id.as_uuid()),
        tenant_id: Set(record.tenant_id.as_uuid()),
        webhook_id: Set(record.webhook_id.as_uuid()),
        report_id: Set(record.report_id.as_uuid()),
        recipient_position: Set(record
            .recipient_position
            .and_then(|p| i32::try_from(p).ok())),
        status: Set(record.status.as_str().to_owned()),
        attempts: Set(i32::try_from(record.attempts).unwrap_or(i32::MAX)),
        schedule_start: Set(i32::try_from(record.schedule_start).unwrap_or(i32::MAX)),
        next_attempt_at: Set(record.next_attempt_at),
        last_attempt_at: Set(record.last_attempt_at),
        last_status_code: Set(record.last_status_code.map(i32::from)),
        last_error: Set(record.last_error.clone()),
        created_at: Set(record.created_at),
        updated_at: Set(record.updated_at),
    }
}

fn scoped(tenant: TenantId, id: DeliveryId) -> sea_orm::Select<delivery::Entity> {
    delivery::Entity::find()
        .filter(delivery::Column::TenantId.eq(tenant.as_uuid()))
        .filter(delivery::Column::Id.eq(id.as_uuid()))
}

fn open_statuses() -> [&'static str; 2] {
    [
        DeliveryStatus::Pending.as_str(),
        DeliveryStatus::Failed.as_str(),
    ]
}

impl Store {
    pub async fn list_deliveries(
        &self,
        tenant: TenantId,
        filter: &DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<DeliveryRecord>, StorageError> {
        let mut query =
            delivery::Entity::find().filter(delivery::Column::TenantId.eq(tenant.as_uuid()));
        if let Some(status) = filter.status {
            query = query.filter(delivery::Column::Status.eq(status.as_str()));
        }
        if let Some(webhook) = filter.webhook_id {
            query = query.filter(delivery::Column::WebhookId.eq(webhook.as_uuid()));
        }
        if let Some(report) = filter.report_id {
            query = query.filter(delivery::Column::ReportId.eq(report.as_uuid()));
        }
        if let Some(cursor) = page.after {
            query = query.filter(delivery::Column::Id.lt(cursor.0));
        }
        let rows = query
            .order_by_desc(delivery::Column::Id)
            .limit(page.limit + 1)
            .all(self.connection())
            .await?;
        let page = Page::from_rows(rows, page.limit, |row| row.id);
        let items = page
            .items
            .into_iter()
            .map(DeliveryRecord::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    pub async fn delivery(
        &self,
        tenant: TenantId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryRecord>, StorageError> {
        scoped(tenant, id)
            .one(self.connection())
            .await?
            .map(DeliveryRecord::try_from)
            .transpose()
    }

    pub async fn delivery_attempts(
        &self,
        tenant: TenantId,
        id: DeliveryId,
    ) -> Result<Vec<AttemptRecord>, StorageError> {
        Ok(delivery_attempt::Entity::find()
            .filter(delivery_attempt::Column::TenantId.eq(tenant.as_uuid()))
            .filter(delivery_attempt::Column::DeliveryId.eq(id.as_uuid()))
            .order_by_asc(delivery_attempt::Column::Attempt)
            .all(self.connection())
            .await?
            .into_iter()
            .map(AttemptRecord::from)
            .collect())
    }

    /// Makes a delivery due now with a fresh retry schedule.
    pub async fn retry_delivery(
        &self,
        tenant: TenantId,
        id: DeliveryId,
    ) -> Result<RetryOutcome, StorageError> {
        let Some(model) = scoped(tenant, id).one(self.connection()).await? else {
            return Ok(RetryOutcome::NotFound);
        };
        if model.status == DeliveryStatus::Succeeded.as_str() {
            return Ok(RetryOutcome::AlreadySucceeded);
        }
        let now = Utc::now();
        let attempts = model.attempts;
        let mut active: delivery::ActiveModel = model.into();
        if active.status.as_ref() == DeliveryStatus::Dead.as_str() {
            active.status = Set(DeliveryStatus::Failed.as_str().to_owned());
        }
        active.schedule_start = Set(attempts);
        active.next_attempt_at = Set(Some(now));
        active.updated_at = Set(now);
        Ok(RetryOutcome::Scheduled(
            active.update(self.connection()).await?.try_into()?,
        ))
    }

    /// New deliveries of a stored report: to every enabled webhook whose filter matches,
    /// or to the one webhook named (whatever its filter says).
    pub async fn redeliver_report(
        &self,
        tenant: TenantId,
        report_id: ReportId,
        webhook_id: Option<WebhookId>,
    ) -> Result<RedeliverOutcome, StorageError> {
        let document: Option<Json> = report::Entity::find()
            .select_only()
            .column(report::Column::Document)
            .filter(report::Column::TenantId.eq(tenant.as_uuid()))
            .filter(report::Column::Id.eq(report_id.as_uuid()))
            .into_tuple()
            .one(self.connection())
            .await?;
        let Some(document) = document else {
            return Ok(RedeliverOutcome::ReportNotFound);
        };
        let fax_report: FaxReport = serde_json::from_value(document).map_err(corrupt)?;

        let hooks: Vec<WebhookRecord> = match webhook_id {
            Some(id) => match self.webhook(tenant, id).await? {
                Some(hook) => vec![hook],
                None => return Ok(RedeliverOutcome::WebhookNotFound),
            },
            None => self
                .list_webhooks(tenant)
                .await?
                .into_iter()
                .filter(|hook| hook.enabled)
                .collect(),
        };
        let now = Utc::now();
        let mut created = Vec::new();
        for hook in &hooks {
            let positions = match webhook_id {
                // Named explicitly: deliver regardless of the filter.
                Some(_) => {
                    faxrelay_core::webhook::Filter::default().deliveries(&fax_report, hook.fan_out)
                }
                None => hook.filter.deliveries(&fax_report, hook.fan_out),
            };
            created.extend(
                positions
                    .into_iter()
                    .map(|position| new_delivery(tenant, hook.id, report_id, position, now)),
            );
        }
        // All of them or none, as at ingest.
        let transaction = self.write_transaction().await?;
        for chunk in created.chunks(DELIVERY_ROWS_PER_INSERT) {
            delivery::Entity::insert_many(chunk.iter().map(delivery_row))
                .exec_without_returning(&*transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(RedeliverOutcome::Created(created))
    }

    /// Makes every dead or failed delivery of a webhook (created since `since`, if given)
    /// due now with a fresh schedule; `None` when the webhook does not exist.
    pub async fn redrive_webhook(
        &self,
        tenant: TenantId,
        webhook_id: WebhookId,
        since: Option<DateTime<Utc>>,
    ) -> Result<Option<Vec<DeliveryId>>, StorageError> {
        if crate::webhooks::scoped(tenant, webhook_id)
            .count(self.connection())
            .await?
            == 0
        {
            return Ok(None);
        }
        let mut condition = Condition::all()
            .add(delivery::Column::TenantId.eq(tenant.as_uuid()))
            .add(delivery::Column::WebhookId.eq(webhook_id.as_uuid()))
            .add(delivery::Column::Status.is_in([
                DeliveryStatus::Dead.as_str(),
                DeliveryStatus::Failed.as_str(),
            ]));
        if let Some(since) = since {
            condition = condition.add(delivery::Column::CreatedAt.gte(since));
        }
        let transaction = self.write_transaction().await?;
        let ids: Vec<Uuid> = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::Id)
            .filter(condition)
            .into_tuple()
            .all(&*transaction)
            .await?;
        let now = Utc::now();
        for chunk in ids.chunks(DELIVERY_ROWS_PER_INSERT) {
            delivery::Entity::update_many()
                .col_expr(
                    delivery::Column::Status,
                    Expr::value(DeliveryStatus::Failed.as_str()),
                )
                .col_expr(
                    delivery::Column::ScheduleStart,
                    Expr::col(delivery::Column::Attempts),
                )
                .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
                .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
                .filter(delivery::Column::Id.is_in(chunk.to_vec()))
                // Again: a delivery that succeeded since the select stays succeeded.
                .filter(delivery::Column::Status.is_in([
                    DeliveryStatus::Dead.as_str(),
                    DeliveryStatus::Failed.as_str(),
                ]))
                .exec(&*transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(Some(ids.into_iter().map(DeliveryId::from_uuid).collect()))
    }

    /// The unfinished deliveries of a webhook and when they are due, to queue them again
    /// when the webhook is enabled.
    pub async fn open_deliveries_of_webhook(
        &self,
        tenant: TenantId,
        webhook_id: WebhookId,
    ) -> Result<Vec<(DeliveryId, DateTime<Utc>)>, StorageError> {
        let rows: Vec<(Uuid, Option<DateTime<Utc>>)> = delivery::Entity::find()
            .select_only()
            .columns([delivery::Column::Id, delivery::Column::NextAttemptAt])
            .filter(delivery::Column::TenantId.eq(tenant.as_uuid()))
            .filter(delivery::Column::WebhookId.eq(webhook_id.as_uuid()))
            .filter(delivery::Column::Status.is_in(open_statuses()))
            .into_tuple()
            .all(self.connection())
            .await?;
        let now = Utc::now();
        Ok(rows
            .into_iter()
            .map(|(id, at)| (DeliveryId::from_uuid(id), at.unwrap_or(now)))
            .collect())
    }

    /// Unfinished deliveries of enabled webhooks due by `until`, in id order after `after`:
    /// what the sweeper puts back on the queue.
    pub async fn due_deliveries(
        &self,
        until: Option<DateTime<Utc>>,
        after: Option<DeliveryId>,
        limit: u64,
    ) -> Result<Vec<(DeliveryId, DateTime<Utc>)>, StorageError> {
        let enabled = sea_orm::sea_query::Query::select()
            .column(webhook::Column::Id)
            .from(webhook::Entity)
            .and_where(webhook::Column::Enabled.eq(true))
            .to_owned();
        let mut query = delivery::Entity::find()
            .select_only()
            .columns([delivery::Column::Id, delivery::Column::NextAttemptAt])
            .filter(delivery::Column::Status.is_in(open_statuses()))
            .filter(delivery::Column::WebhookId.in_subquery(enabled));
        if let Some(until) = until {
            query = query.filter(delivery::Column::NextAttemptAt.lte(until));
        }
        if let Some(after) = after {
            query = query.filter(delivery::Column::Id.gt(after.as_uuid()));
        }
        let rows: Vec<(Uuid, Option<DateTime<Utc>>)> = query
            .order_by_asc(delivery::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(self.connection())
            .await?;
        let now = Utc::now();
        Ok(rows
            .into_iter()
            .map(|(id, at)| (DeliveryId::from_uuid(id), at.unwrap_or(now)))
            .collect())
    }
}
