//! Writing received reports, through group commit (see `group_commit`): a push is answered
//! 2xx only once its reports are committed, and many pushes share a commit.
//!
//! A report is stored once per tenant and dedupe key: a repeated push of the same report
//! is answered with the id stored the first time.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use faxrelay_core::ids::{ReportId, TemplateId, TenantId};
use faxrelay_core::{FaxReport, number};
use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseTransaction, QuerySelect};

use crate::deliveries::{DELIVERY_ROWS_PER_INSERT, new_delivery};
use crate::dispatch::DispatchItem;
use crate::entities::{delivery, report, report_recipient, template, tenant, webhook};
use crate::group_commit::{GroupCommit, fan_out_error};
use crate::reports::StoredReport;
use crate::templates::TemplateRecord;
use crate::webhooks::WebhookRecord;
use crate::{StorageError, Store};

/// Rows per multi-row INSERT, to stay below the bind-parameter limits of both databases.
const REPORT_ROWS_PER_INSERT: usize = 500;
const RECIPIENT_ROWS_PER_INSERT: usize = 2_000;

/// The reports of one push, to be stored for one tenant.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    pub tenant_id: TenantId,
    pub received_at: DateTime<Utc>,
    pub content_type: String,
    pub raw_body: Arc<[u8]>,
    pub reports: Vec<FaxReport>,
}

/// What became of one report of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestedReport {
    pub id: ReportId,
    pub job_id: String,
    /// The report was stored before; `id` is the first copy's.
    pub duplicate: bool,
}

/// What became of one push.
#[derive(Debug, Clone)]
pub struct IngestReceipt {
    pub reports: Vec<IngestedReport>,
    /// The deliveries the new reports made (the outbox), due now, with what they are
    /// rendered from: queue them, or attempt them at once.
    pub deliveries: Vec<DispatchItem>,
}

/// The handle pushes are written through.
#[derive(Debug, Clone)]
pub struct IngestWriter(GroupCommit<IngestRequest, IngestReceipt>);

/// How the writer batches.
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions {
    /// Concurrent writer tasks (each holds one connection while writing). SQLite has one
    /// writer at a time anyway, so more than one buys nothing there.
    pub writers: usize,
    /// The most pushes one transaction takes.
    pub max_batch: usize,
}

impl IngestOptions {
    pub fn for_store(store: &Store) -> Self {
        let writers = if store.backend() == sea_orm::DbBackend::Sqlite {
            1
        } else {
            4
        };
        Self {
            writers,
            max_batch: 128,
        }
    }
}

impl IngestWriter {
    /// Starts the writer tasks on the current tokio runtime.
    pub fn start(store: Store, options: IngestOptions) -> Self {
        Self(GroupCommit::start(
            options.writers,
            options.max_batch,
            move |batch| write_batch(store.clone(), batch),
        ))
    }

    /// Stores the reports of one push and answers once they are committed.
    pub async fn write(&self, request: IngestRequest) -> Result<IngestReceipt, StorageError> {
        self.0.submit(request).await
    }
}

/// Writes a batch in one transaction. If that fails for a reason other than the database
/// being down, each push is written alone, so one bad push cannot fail its neighbours.
async fn write_batch(
    store: Store,
    batch: Vec<IngestRequest>,
) -> Vec<Result<IngestReceipt, StorageError>> {
    let requests: Vec<&IngestRequest> = batch.iter().collect();
    let started = std::time::Instant::now();
    let result = store.insert_pushes(&requests).await;
    tracing::debug!(
        pushes = batch.len(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "ingest batch"
    );
    match result {
        Ok(receipts) => receipts.into_iter().map(Ok).collect(),
        Err(error) if batch.len() == 1 || error.is_unavailable() => {
            tracing::warn!(error = %error, pushes = batch.len(), "storing pushes failed");
            fan_out_error(error, batch.len())
        }
        Err(error) => {
            tracing::warn!(error = %error, pushes = batch.len(), "storing a batch failed; storing its pushes one by one");
            let mut results = Vec::with_capacity(batch.len());
            for request in &batch {
                results.push(
                    store
                        .insert_pushes(&[request])
                        .await
                        .map(|mut receipts| receipts.remove(0)),
                );
            }
            results
        }
    }
}

impl Store {
    /// Inserts the reports of several pushes in one transaction.
    async fn insert_pushes(
        &self,
        requests: &[&IngestRequest],
    ) -> Result<Vec<IngestReceipt>, StorageError> {
        // Plan every report with a fresh id; a report repeated within the batch is a
        // duplicate of its first occurrence.
        let mut first_in_batch: HashMap<(TenantId, String), ReportId> = HashMap::new();
        let mut planned: Vec<Vec<(ReportId, String, bool)>> = Vec::with_capacity(requests.len());
        let mut rows = Vec::new();
        let mut recipient_rows = Vec::new();
        for request in requests {
            let mut outcomes = Vec::with_capacity(request.reports.len());
            for fax_report in &request.reports {
                let dedupe_key = fax_report.dedupe_key();
                if let Some(first) = first_in_batch.get(&(request.tenant_id, dedupe_key.clone())) {
                    outcomes.push((*first, dedupe_key, true));
                    continue;
                }
                let id = ReportId::generate();
                first_in_batch.insert((request.tenant_id, dedupe_key.clone()), id);
                rows.push(report_row(id, request, fax_report, &dedupe_key)?);
                recipient_rows.push((id, recipients_rows(id, request.tenant_id, fax_report)));
                outcomes.push((id, dedupe_key, false));
            }
            planned.push(outcomes);
        }

        let transaction = self.write_transaction().await?;
        let mut inserted: HashSet<Uuid> = HashSet::new();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<report::ActiveModel> =
                rows.by_ref().take(REPORT_ROWS_PER_INSERT).collect();
            let keys = report::Entity::insert_many(chunk)
                .on_conflict_do_nothing_on([report::Column::TenantId, report::Column::DedupeKey])
                .exec_with_returning_keys(&*transaction)
                .await?;
            if let sea_orm::TryInsertResult::Inserted(keys) = keys {
                inserted.extend(keys);
            }
        }
        let recipients: Vec<report_recipient::ActiveModel> = recipient_rows
            .into_iter()
            .filter(|(id, _)| inserted.contains(&id.as_uuid()))
            .flat_map(|(_, rows)| rows)
            .collect();
        let mut recipients = recipients.into_iter().peekable();
        while recipients.peek().is_some() {
            let chunk: Vec<_> = recipients
                .by_ref()
                .take(RECIPIENT_ROWS_PER_INSERT)
                .collect();
            report_recipient::Entity::insert_many(chunk)
                .exec_without_returning(&*transaction)
                .await?;
        }

        let mut deliveries = plan_deliveries(&transaction, requests, &planned, &inserted)
            .await?
            .into_iter();

        // Reports that were already stored by an earlier push answer with that push's id.
        let earlier = earlier_copies(&transaction, requests, &planned, &inserted).await?;
        transaction.commit().await?;

        let receipts = requests
            .iter()
            .zip(planned)
            .map(|(request, outcomes)| IngestReceipt {
                deliveries: deliveries.next().unwrap_or_default(),
                reports: request
                    .reports
                    .iter()
                    .zip(outcomes)
                    .map(|(fax_report, (id, dedupe_key, duplicate_in_batch))| {
                        let stored_now = inserted.contains(&id.as_uuid());
                        let id = if stored_now {
                            id
                        } else {
                            earlier
                                .get(&(request.tenant_id, dedupe_key))
                                .copied()
                                .unwrap_or(id)
                        };
                        IngestedReport {
                            id,
                            job_id: fax_report.job_id.clone(),
                            duplicate: duplicate_in_batch || !stored_now,
                        }
                    })
                    .collect(),
            })
            .collect();
        Ok(receipts)
    }
}

/// The outbox: for every report inserted now, one delivery per matching enabled webhook of
/// its tenant (or one per matching recipient), written in the same transaction, so that a
/// stored report never lacks its deliveries. Returns the deliveries per push, with what they
/// are rendered from.
async fn plan_deliveries(
    transaction: &DatabaseTransaction,
    requests: &[&IngestRequest],
    planned: &[Vec<(ReportId, String, bool)>],
    inserted: &HashSet<Uuid>,
) -> Result<Vec<Vec<DispatchItem>>, StorageError> {
    let tenants: HashSet<Uuid> = requests
        .iter()
        .zip(planned)
        .filter(|(_, outcomes)| {
            outcomes
                .iter()
                .any(|(id, _, _)| inserted.contains(&id.as_uuid()))
        })
        .map(|(request, _)| request.tenant_id.as_uuid())
        .collect();
    let mut per_push = vec![Vec::new(); requests.len()];
    if tenants.is_empty() {
        return Ok(per_push);
    }
    let mut hooks: HashMap<TenantId, Vec<WebhookRecord>> = HashMap::new();
    for model in webhook::Entity::find()
        .filter(webhook::Column::TenantId.is_in(tenants))
        .filter(webhook::Column::Enabled.eq(true))
        .all(transaction)
        .await?
    {
        let record = WebhookRecord::try_from(model)?;
        hooks.entry(record.tenant_id).or_default().push(record);
    }
    if hooks.is_empty() {
        return Ok(per_push);
    }
    // What the deliveries will be rendered with, so this process can attempt them at once
    // without reading them back.
    let names = tenant_names(transaction, hooks.keys()).await?;
    let templates = custom_templates(transaction, hooks.values().flatten()).await?;

    let now = Utc::now();
    let mut rows = Vec::new();
    for (push, (request, outcomes)) in requests.iter().zip(planned).enumerate() {
        let Some(tenant_hooks) = hooks.get(&request.tenant_id) else {
            continue;
        };
        for (fax_report, (report_id, _, _)) in request.reports.iter().zip(outcomes) {
            if !inserted.contains(&report_id.as_uuid()) {
                continue;
            }
            let stored = StoredReport {
                id: *report_id,
                received_at: request.received_at,
                report: fax_report.clone(),
                raw_content_type: request.content_type.clone(),
            };
            for hook in tenant_hooks {
                for position in hook.filter.deliveries(fax_report, hook.fan_out) {
                    let (row, record) =
                        new_delivery(request.tenant_id, hook.id, *report_id, position, now);
                    rows.push(row);
                    per_push[push].push(DispatchItem {
                        delivery: record,
                        webhook: hook.clone(),
                        report: stored.clone(),
                        tenant_name: names.get(&request.tenant_id).cloned().unwrap_or_default(),
                        template: hook
                            .template
                            .parse::<TemplateId>()
                            .ok()
                            .and_then(|id| templates.get(&id).cloned()),
                    });
                }
            }
        }
    }
    for chunk in rows.chunks(DELIVERY_ROWS_PER_INSERT) {
        delivery::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(transaction)
            .await?;
    }
    Ok(per_push)
}

async fn tenant_names(
    transaction: &DatabaseTransaction,
    tenants: impl Iterator<Item = &TenantId>,
) -> Result<HashMap<TenantId, String>, StorageError> {
    let ids: Vec<Uuid> = tenants.map(|id| id.as_uuid()).collect();
    let rows: Vec<(Uuid, String)> = tenant::Entity::find()
        .select_only()
        .columns([tenant::Column::Id, tenant::Column::Name])
        .filter(tenant::Column::Id.is_in(ids))
        .into_tuple()
        .all(transaction)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| (TenantId::from_uuid(id), name))
        .collect())
}

async fn custom_templates<'a>(
    transaction: &DatabaseTransaction,
    hooks: impl Iterator<Item = &'a WebhookRecord>,
) -> Result<HashMap<TemplateId, TemplateRecord>, StorageError> {
    let (ids, tenants): (Vec<Uuid>, Vec<Uuid>) = hooks
        .filter_map(|hook| {
            hook.template
                .parse::<TemplateId>()
                .ok()
                .map(|id| (id.as_uuid(), hook.tenant_id.as_uuid()))
        })
        .unzip();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(template::Entity::find()
        .filter(template::Column::Id.is_in(ids))
        .filter(template::Column::TenantId.is_in(tenants))
        .all(transaction)
        .await?
        .into_iter()
        .map(|model| (TemplateId::from_uuid(model.id), TemplateRecord::from(model)))
        .collect())
}

/// The ids of reports of this batch that were not inserted because an earlier push had
/// stored them, keyed by tenant and dedupe key.
async fn earlier_copies(
    transaction: &DatabaseTransaction,
    requests: &[&IngestRequest],
    planned: &[Vec<(ReportId, String, bool)>],
    inserted: &HashSet<Uuid>,
) -> Result<HashMap<(TenantId, String), ReportId>, StorageError> {
    let mut wanted: HashMap<TenantId, Vec<String>> = HashMap::new();
    for (request, outcomes) in requests.iter().zip(planned) {
        for (id, dedupe_key, _) in outcomes {
            if !inserted.contains(&id.as_uuid()) {
                wanted
                    .entry(request.tenant_id)
                    .or_default()
                    .push(dedupe_key.clone());
            }
        }
    }
    let mut found = HashMap::new();
    for (tenant, keys) in wanted {
        let rows: Vec<(Uuid, String)> = report::Entity::find()
            .select_only()
            .columns([report::Column::Id, report::Column::DedupeKey])
            .filter(report::Column::TenantId.eq(tenant.as_uuid()))
            .filter(report::Column::DedupeKey.is_in(keys))
            .into_tuple()
            .all(transaction)
            .await?;
        for (id, key) in rows {
            found.insert((tenant, key), ReportId::from_uuid(id));
        }
    }
    Ok(found)
}

fn report_row(
    id: ReportId,
    request: &IngestRequest,
    fax_report: &FaxReport,
    dedupe_key: &str,
) -> Result<report::ActiveModel, StorageError> {
    let document =
        serde_json::to_value(fax_report).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    Ok(report::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(request.tenant_id.as_uuid()),
        job_id: Set(fax_report.job_id.clone()),
        dedupe_key: Set(dedupe_key.to_owned()),
        received_at: Set(request.received_at),
        format: Set(fax_report.format.as_str().to_owned()),
        status: Set(fax_report.status.as_str().to_owned()),
        pages: Set(fax_report.pages.and_then(|pages| i32::try_from(pages).ok())),
        customer_defined_id: Set(fax_report.reference.customer_defined_id.clone()),
        recipient_count: Set(i32::try_from(fax_report.recipients.len()).unwrap_or(i32::MAX)),
        document: Set(document),
        raw_content_type: Set(request.content_type.clone()),
        raw_body: Set(request.raw_body.to_vec()),
    })
}

fn recipients_rows(
    id: ReportId,
    tenant: TenantId,
    fax_report: &FaxReport,
) -> Vec<report_recipient::ActiveModel> {
    fax_report
        .recipients
        .iter()
        .enumerate()
        .map(|(position, recipient)| {
            let mut digits = number::search_digits(&recipient.number);
            digits.truncate(64); // ASCII digits: any byte is a boundary.
            let mut status = recipient.status.to_ascii_uppercase();
            faxrelay_core::text::truncate(&mut status, 64);
            report_recipient::ActiveModel {
                report_id: Set(id.as_uuid()),
                position: Set(position as i32),
                tenant_id: Set(tenant.as_uuid()),
                number_digits: Set(digits),
                status: Set(status),
                category: Set(recipient.category.as_str().to_owned()),
            }
        })
        .collect()
}
