//! Writing received reports, through group commit (see `group_commit`): a push is answered
//! 2xx only once its reports are committed, and many pushes share a commit.
//!
//! A report is stored once per tenant and dedupe key: a repeated push of the same report
//! is answered with the id stored the first time.

mod postgres;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use faxrelay_core::ids::{ReportId, TemplateId, TenantId};
use faxrelay_core::{FaxReport, number};
use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, QuerySelect};

use crate::deliveries::{DELIVERY_ROWS_PER_INSERT, delivery_row, new_delivery};
use crate::dispatch::DispatchItem;
use crate::entities::{delivery, push_body, report, report_recipient, webhook};
use crate::group_commit::{GroupCommit, fan_out_error};
use crate::reports::StoredReport;
use crate::templates::{TemplateRecord, custom_templates, template_of};
use crate::webhooks::WebhookRecord;
use crate::{StorageError, Store};

/// Rows per multi-row INSERT, to stay below the bind-parameter limits of both databases.
const REPORT_ROWS_PER_INSERT: usize = 500;
const RECIPIENT_ROWS_PER_INSERT: usize = 2_000;

/// The reports of one push, to be stored for one tenant.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    pub tenant_id: TenantId,
    /// The tenant's name when the push came in, for templates (`{{tenant.name}}`).
    pub tenant_name: String,
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
    /// The most pushes one batch (one commit) takes.
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

/// Writes a batch with one commit. If that fails for a reason other than the database
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
        // Committed: each push has its answer (written again, it would be a duplicate).
        Ok(answers) => answers,
        Err(error) if batch.len() == 1 || error.is_unavailable() => {
            tracing::warn!(error = %error, pushes = batch.len(), "storing pushes failed");
            fan_out_error(error, batch.len())
        }
        Err(error) => {
            tracing::warn!(error = %error, pushes = batch.len(), "storing a batch failed; storing its pushes one by one");
            let mut results = Vec::with_capacity(batch.len());
            for request in &batch {
                results.push(match store.insert_pushes(&[request]).await {
                    Ok(mut answers) => answers.remove(0),
                    Err(error) => Err(error),
                });
            }
            results
        }
    }
}

impl Store {
    /// Stores the reports of several pushes at once: one statement on PostgreSQL, one
    /// transaction elsewhere. An error means nothing was stored. Once stored, each push
    /// has its answer: a receipt, or an error when it repeated reports stored before whose
    /// ids could not be looked up (nothing new of it was stored, so pushing it again is
    /// safe, and answers those ids; the deliveries of its new reports, if it had any, are
    /// then left to the sweeper).
    async fn insert_pushes(
        &self,
        requests: &[&IngestRequest],
    ) -> Result<Vec<Result<IngestReceipt, StorageError>>, StorageError> {
        let plan = BatchPlan::new(requests)?;
        let (inserted, deliveries) = if self.backend() == sea_orm::DbBackend::Postgres {
            self.insert_in_one_statement(requests, &plan).await?
        } else {
            self.insert_in_transaction(requests, &plan).await?
        };
        // Reports that were already stored by an earlier push answer with that push's id.
        let earlier = earlier_copies(self.connection(), requests, &plan.outcomes, &inserted).await;
        Ok(answers(requests, plan, &inserted, earlier, deliveries))
    }

    /// The portable way: a transaction with a statement per table. The deliveries are
    /// planned inside it, for the reports that turned out new.
    async fn insert_in_transaction(
        &self,
        requests: &[&IngestRequest],
        plan: &BatchPlan,
    ) -> Result<(HashSet<Uuid>, Vec<Vec<DispatchItem>>), StorageError> {
        let transaction = self.write_transaction().await?;
        let mut inserted: HashSet<Uuid> = HashSet::new();
        for chunk in plan.reports.chunks(REPORT_ROWS_PER_INSERT) {
            let rows: Vec<report::ActiveModel> = chunk.iter().map(NewReport::row).collect();
            let keys = report::Entity::insert_many(rows)
                .on_conflict_do_nothing_on([report::Column::TenantId, report::Column::DedupeKey])
                .exec_with_returning_keys(&*transaction)
                .await?;
            if let sea_orm::TryInsertResult::Inserted(keys) = keys {
                inserted.extend(keys);
            }
        }
        let used: HashSet<Uuid> = plan
            .reports
            .iter()
            .filter(|r| inserted.contains(&r.id.as_uuid()))
            .filter_map(|r| r.body_id)
            .collect();
        for body in plan.bodies.iter().filter(|body| used.contains(&body.id)) {
            push_body::ActiveModel {
                id: Set(body.id),
                tenant_id: Set(body.tenant_id.as_uuid()),
                body: Set(requests[body.push].raw_body.to_vec()),
            }
            .insert(&*transaction)
            .await?;
        }
        let recipients: Vec<report_recipient::ActiveModel> = plan
            .recipients
            .iter()
            .filter(|recipient| inserted.contains(&recipient.report_id.as_uuid()))
            .map(NewRecipient::row)
            .collect();
        for chunk in recipients.chunks(RECIPIENT_ROWS_PER_INSERT) {
            report_recipient::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&*transaction)
                .await?;
        }

        let context = DispatchContext::load(&*transaction, requests, plan, |id| {
            inserted.contains(&id.as_uuid())
        })
        .await?;
        let deliveries = context.plan(
            requests,
            plan,
            |id| inserted.contains(&id.as_uuid()),
            Utc::now(),
        );
        let rows: Vec<delivery::ActiveModel> = deliveries
            .iter()
            .flatten()
            .map(|item| delivery_row(&item.delivery))
            .collect();
        for chunk in rows.chunks(DELIVERY_ROWS_PER_INSERT) {
            delivery::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&*transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok((inserted, deliveries))
    }

    /// PostgreSQL: the deliveries are planned first, for every report that may be new,
    /// and then reports, recipients and deliveries go in as one statement, which inserts
    /// the recipients and deliveries of only the reports that were new (see `postgres`).
    /// Reading the webhooks before the statement instead of inside a transaction sees the
    /// same: under READ COMMITTED each statement of a transaction has a snapshot of its own.
    async fn insert_in_one_statement(
        &self,
        requests: &[&IngestRequest],
        plan: &BatchPlan,
    ) -> Result<(HashSet<Uuid>, Vec<Vec<DispatchItem>>), StorageError> {
        let candidate = |_: ReportId| true;
        let context = DispatchContext::load(self.connection(), requests, plan, candidate).await?;
        let now = Utc::now();
        let mut deliveries = context.plan(requests, plan, candidate, now);
        let inserted =
            postgres::insert_batch(self.connection(), requests, plan, &deliveries, now).await?;
        for items in &mut deliveries {
            items.retain(|item| inserted.contains(&item.report.id.as_uuid()));
        }
        Ok((inserted, deliveries))
    }
}

/// A report of a batch, as it is planned before writing.
#[derive(Debug, Clone)]
struct PlannedReport {
    id: ReportId,
    dedupe_key: String,
    /// An earlier push of the same batch carries the same report.
    repeated_in_batch: bool,
}

/// The rows a batch may write, and what each push's reports are.
#[derive(Debug)]
struct BatchPlan {
    /// Per push, per report of the push.
    outcomes: Vec<Vec<PlannedReport>>,
    /// Reports not repeated within the batch, each with a fresh id. Whether each is new
    /// is up to the database.
    reports: Vec<NewReport>,
    recipients: Vec<NewRecipient>,
    /// The bodies of pushes of several reports, stored once for all of them (see the
    /// migration `push_bodies`), if any of their reports is new.
    bodies: Vec<NewBody>,
}

/// A push body stored apart from its reports.
#[derive(Debug, Clone)]
struct NewBody {
    id: Uuid,
    tenant_id: TenantId,
    /// Which push of the batch it is the body of.
    push: usize,
}

impl BatchPlan {
    fn new(requests: &[&IngestRequest]) -> Result<Self, StorageError> {
        let mut first_in_batch: HashMap<(TenantId, String), ReportId> = HashMap::new();
        let mut plan = Self {
            outcomes: Vec::with_capacity(requests.len()),
            reports: Vec::new(),
            recipients: Vec::new(),
            bodies: Vec::new(),
        };
        for (push, request) in requests.iter().enumerate() {
            let mut outcomes = Vec::with_capacity(request.reports.len());
            let body_id = (request.reports.len() > 1).then(|| {
                let id = Uuid::now_v7();
                plan.bodies.push(NewBody {
                    id,
                    tenant_id: request.tenant_id,
                    push,
                });
                id
            });
            for fax_report in &request.reports {
                let dedupe_key = fax_report.dedupe_key();
                if let Some(first) = first_in_batch.get(&(request.tenant_id, dedupe_key.clone())) {
                    outcomes.push(PlannedReport {
                        id: *first,
                        dedupe_key,
                        repeated_in_batch: true,
                    });
                    continue;
                }
                let id = ReportId::generate();
                first_in_batch.insert((request.tenant_id, dedupe_key.clone()), id);
                plan.reports.push(NewReport::new(
                    id,
                    (push, request, body_id),
                    fax_report,
                    &dedupe_key,
                )?);
                plan.recipients
                    .extend(NewRecipient::of(id, request.tenant_id, fax_report));
                outcomes.push(PlannedReport {
                    id,
                    dedupe_key,
                    repeated_in_batch: false,
                });
            }
            plan.outcomes.push(outcomes);
        }
        // Concurrent batches take the unique index's locks in one order, so two batches
        // with reports in common wait for each other instead of deadlocking.
        plan.reports
            .sort_by(|a, b| (a.tenant_id, &a.dedupe_key).cmp(&(b.tenant_id, &b.dedupe_key)));
        Ok(plan)
    }
}

/// The answer to each push of a committed batch.
fn answers(
    requests: &[&IngestRequest],
    plan: BatchPlan,
    inserted: &HashSet<Uuid>,
    earlier: Result<HashMap<(TenantId, String), ReportId>, StorageError>,
    deliveries: Vec<Vec<DispatchItem>>,
) -> Vec<Result<IngestReceipt, StorageError>> {
    let stored_before = |outcomes: &[PlannedReport]| {
        outcomes
            .iter()
            .any(|planned| !inserted.contains(&planned.id.as_uuid()))
    };
    let (earlier, mut lookup_errors) = match earlier {
        Ok(earlier) => (earlier, Vec::new().into_iter()),
        Err(error) => {
            tracing::warn!(error = %error, "looking up reports stored before failed");
            let affected = plan.outcomes.iter().filter(|o| stored_before(o)).count();
            (HashMap::new(), fan_out_error(error, affected).into_iter())
        }
    };
    requests
        .iter()
        .zip(plan.outcomes)
        .zip(deliveries)
        .map(|((request, outcomes), deliveries)| {
            if stored_before(&outcomes)
                && let Some(error) = lookup_errors.next()
            {
                return error;
            }
            let reports = request
                .reports
                .iter()
                .zip(outcomes)
                .map(|(fax_report, planned)| {
                    let stored_now = inserted.contains(&planned.id.as_uuid());
                    let id = if stored_now {
                        planned.id
                    } else {
                        earlier
                            .get(&(request.tenant_id, planned.dedupe_key))
                            .copied()
                            .unwrap_or(planned.id)
                    };
                    IngestedReport {
                        id,
                        job_id: fax_report.job_id.clone(),
                        duplicate: planned.repeated_in_batch || !stored_now,
                    }
                })
                .collect();
            Ok(IngestReceipt {
                reports,
                deliveries,
            })
        })
        .collect()
}

/// What deliveries are made of: the enabled webhooks of the batch's tenants and the
/// custom templates they render with.
#[derive(Debug, Default)]
struct DispatchContext {
    hooks: HashMap<TenantId, Vec<WebhookRecord>>,
    templates: HashMap<TemplateId, TemplateRecord>,
}

impl DispatchContext {
    /// Loads what the tenants of the reports `include` picks need.
    async fn load(
        connection: &impl ConnectionTrait,
        requests: &[&IngestRequest],
        plan: &BatchPlan,
        include: impl Fn(ReportId) -> bool,
    ) -> Result<Self, StorageError> {
        let tenants: HashSet<Uuid> = requests
            .iter()
            .zip(&plan.outcomes)
            .filter(|(_, outcomes)| outcomes.iter().any(|planned| include(planned.id)))
            .map(|(request, _)| request.tenant_id.as_uuid())
            .collect();
        let mut context = Self::default();
        if tenants.is_empty() {
            return Ok(context);
        }
        for model in webhook::Entity::find()
            .filter(webhook::Column::TenantId.is_in(tenants))
            .filter(webhook::Column::Enabled.eq(true))
            .all(connection)
            .await?
        {
            let record = WebhookRecord::try_from(model)?;
            context
                .hooks
                .entry(record.tenant_id)
                .or_default()
                .push(record);
        }
        context.templates = custom_templates(connection, context.hooks.values().flatten()).await?;
        Ok(context)
    }

    /// The outbox: for every report `include` picks, one delivery per matching webhook of
    /// its tenant (or one per matching recipient), with what it is rendered from, so that
    /// this process can attempt it at once without reading it back. Per push.
    fn plan(
        &self,
        requests: &[&IngestRequest],
        plan: &BatchPlan,
        include: impl Fn(ReportId) -> bool,
        now: DateTime<Utc>,
    ) -> Vec<Vec<DispatchItem>> {
        let mut per_push = vec![Vec::new(); requests.len()];
        for (push, (request, outcomes)) in requests.iter().zip(&plan.outcomes).enumerate() {
            let Some(tenant_hooks) = self.hooks.get(&request.tenant_id) else {
                continue;
            };
            for (fax_report, planned) in request.reports.iter().zip(outcomes) {
                if planned.repeated_in_batch || !include(planned.id) {
                    continue;
                }
                let stored = StoredReport {
                    id: planned.id,
                    received_at: request.received_at,
                    report: fax_report.clone(),
                    raw_content_type: request.content_type.clone(),
                };
                for hook in tenant_hooks {
                    for position in hook.filter.deliveries(fax_report, hook.fan_out) {
                        per_push[push].push(DispatchItem {
                            delivery: new_delivery(
                                request.tenant_id,
                                hook.id,
                                planned.id,
                                position,
                                now,
                            ),
                            webhook: hook.clone(),
                            report: stored.clone(),
                            tenant_name: request.tenant_name.clone(),
                            template: template_of(hook, &self.templates),
                        });
                    }
                }
            }
        }
        per_push
    }
}

/// The ids of reports of this batch that were not inserted because an earlier push had
/// stored them, keyed by tenant and dedupe key.
async fn earlier_copies(
    connection: &impl ConnectionTrait,
    requests: &[&IngestRequest],
    outcomes: &[Vec<PlannedReport>],
    inserted: &HashSet<Uuid>,
) -> Result<HashMap<(TenantId, String), ReportId>, StorageError> {
    let mut wanted: HashMap<TenantId, Vec<String>> = HashMap::new();
    for (request, outcomes) in requests.iter().zip(outcomes) {
        for planned in outcomes {
            if !inserted.contains(&planned.id.as_uuid()) {
                wanted
                    .entry(request.tenant_id)
                    .or_default()
                    .push(planned.dedupe_key.clone());
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
            .all(connection)
            .await?;
        for (id, key) in rows {
            found.insert((tenant, key), ReportId::from_uuid(id));
        }
    }
    Ok(found)
}

/// A report row to insert.
#[derive(Debug, Clone)]
struct NewReport {
    id: ReportId,
    /// Which push of the batch it came in.
    push: usize,
    /// The stored body it shares with the other reports of its push, if it has any.
    body_id: Option<Uuid>,
    tenant_id: TenantId,
    job_id: String,
    dedupe_key: String,
    received_at: DateTime<Utc>,
    format: String,
    status: String,
    pages: Option<i32>,
    customer_defined_id: Option<String>,
    recipient_count: i32,
    /// The normalized report.
    document: serde_json::Value,
    raw_content_type: String,
    raw_body: Arc<[u8]>,
}

impl NewReport {
    fn new(
        id: ReportId,
        (push, request, body_id): (usize, &IngestRequest, Option<Uuid>),
        fax_report: &FaxReport,
        dedupe_key: &str,
    ) -> Result<Self, StorageError> {
        Ok(Self {
            id,
            push,
            body_id,
            tenant_id: request.tenant_id,
            job_id: fax_report.job_id.clone(),
            dedupe_key: dedupe_key.to_owned(),
            received_at: request.received_at,
            format: fax_report.format.as_str().to_owned(),
            status: fax_report.status.as_str().to_owned(),
            pages: fax_report.pages.and_then(|pages| i32::try_from(pages).ok()),
            customer_defined_id: fax_report.reference.customer_defined_id.clone(),
            recipient_count: i32::try_from(fax_report.recipients.len()).unwrap_or(i32::MAX),
            document: serde_json::to_value(fax_report)
                .map_err(|e| StorageError::Corrupt(e.to_string()))?,
            raw_content_type: request.content_type.clone(),
            raw_body: request.raw_body.clone(),
        })
    }

    fn row(&self) -> report::ActiveModel {
        report::ActiveModel {
            id: Set(self.id.as_uuid()),
            tenant_id: Set(self.tenant_id.as_uuid()),
            job_id: Set(self.job_id.clone()),
            dedupe_key: Set(self.dedupe_key.clone()),
            received_at: Set(self.received_at),
            format: Set(self.format.clone()),
            status: Set(self.status.clone()),
            pages: Set(self.pages),
            customer_defined_id: Set(self.customer_defined_id.clone()),
            recipient_count: Set(self.recipient_count),
            document: Set(self.document.clone()),
            raw_content_type: Set(self.raw_content_type.clone()),
            raw_body: Set(if self.body_id.is_some() {
                Vec::new()
            } else {
                self.raw_body.to_vec()
            }),
            body_id: Set(self.body_id),
        }
    }
}

/// A recipient row to insert: what the report list filters on.
#[derive(Debug, Clone)]
struct NewRecipient {
    report_id: ReportId,
    position: i32,
    tenant_id: TenantId,
    number_digits: String,
    status: String,
    category: &'static str,
}

impl NewRecipient {
    fn of(
        report_id: ReportId,
        tenant_id: TenantId,
        fax_report: &FaxReport,
    ) -> impl Iterator<Item = Self> + '_ {
        fax_report
            .recipients
            .iter()
            .enumerate()
            .map(move |(position, recipient)| {
                let mut number_digits = number::search_digits(&recipient.number);
                number_digits.truncate(64); // ASCII digits: any byte is a boundary.
                let mut status = recipient.status.to_ascii_uppercase();
                faxrelay_core::text::truncate(&mut status, 64);
                Self {
                    report_id,
                    position: i32::try_from(position).unwrap_or(i32::MAX),
                    tenant_id,
                    number_digits,
                    status,
                    category: recipient.category.as_str(),
                }
            })
    }

    fn row(&self) -> report_recipient::ActiveModel {
        report_recipient::ActiveModel {
            report_id: Set(self.report_id.as_uuid()),
            position: Set(self.position),
            tenant_id: Set(self.tenant_id.as_uuid()),
            number_digits: Set(self.number_digits.clone()),
            status: Set(self.status.clone()),
            category: Set(self.category.to_owned()),
        }
    }
}
