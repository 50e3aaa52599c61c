//! PostgreSQL: a batch of pushes in one statement.
//!
//! The portable path opens a transaction and sends a statement per table: with BEGIN and
//! COMMIT, five or more round trips before a push can be answered, each a wake-up of the
//! database and of this process. Here the rows go in as arrays, unnested by one statement
//! whose data-modifying CTEs insert the reports, then the recipients and deliveries of the
//! reports that were new. A lone statement commits by itself: the batch is written in one
//! round trip (the webhooks are read before it, and reports stored before are looked up
//! after it). Its text never changes with the batch size, so it stays prepared on every
//! connection, and arrays have no bind-parameter limit to chunk around.
//!
//! sea-query binds arrays of values, not of optional values, so nullable columns travel
//! as a value that cannot occur (a negative count or position) or beside a flag saying
//! whether there is one. A push body is sent once, however many reports it holds; each
//! report names its body by position.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::prelude::Uuid;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::{BatchPlan, IngestRequest};
use crate::StorageError;
use crate::dispatch::DispatchItem;

/// `$1..$14` and `$29` the reports (`$14` the position of each one's push in the per-push
/// arrays; `$29` whether it shares its push's body), `$15..$20` their recipients,
/// `$21..$25` the deliveries planned for them, `$26` the time the deliveries are created
/// and due. Per push: `$27` its body, `$28` the id its body is stored under when several
/// reports share it (nil otherwise), `$30` its tenant.
const INSERT_BATCH: &str = r#"
WITH new_reports AS (
    INSERT INTO reports (id, tenant_id, job_id, dedupe_key, received_at, format, status,
                         pages, customer_defined_id, recipient_count, document,
                         raw_content_type, raw_body, body_id)
    SELECT id, tenant_id, job_id, dedupe_key, received_at, format, status,
           NULLIF(pages, -1), CASE WHEN has_customer_defined_id THEN customer_defined_id END,
           recipient_count, document, raw_content_type,
           CASE WHEN shared THEN ''::bytea ELSE ($27::bytea[])[body] END,
           CASE WHEN shared THEN ($28::uuid[])[body] END
    FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[],
                $6::text[], $7::text[], $8::int4[], $9::bool[], $10::text[], $11::int4[],
                $12::jsonb[], $13::text[], $14::int4[], $29::bool[])
        AS r(id, tenant_id, job_id, dedupe_key, received_at, format, status, pages,
             has_customer_defined_id, customer_defined_id, recipient_count, document,
             raw_content_type, body, shared)
    ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
    RETURNING id, body_id
), new_bodies AS (
    INSERT INTO push_bodies (id, tenant_id, body)
    SELECT id, tenant_id, ($27::bytea[])[push]
    FROM unnest($28::uuid[], $30::uuid[]) WITH ORDINALITY AS b(id, tenant_id, push)
    WHERE id IN (SELECT body_id FROM new_reports)
), new_recipients AS (
    INSERT INTO report_recipients (report_id, position, tenant_id, number_digits, status,
                                   category)
    SELECT report_id, position, tenant_id, number_digits, status, category
    FROM unnest($15::uuid[], $16::int4[], $17::uuid[], $18::text[], $19::text[],
                $20::text[])
        AS c(report_id, position, tenant_id, number_digits, status, category)
    WHERE report_id IN (SELECT id FROM new_reports)
), new_deliveries AS (
    INSERT INTO deliveries (id, tenant_id, webhook_id, report_id, recipient_position, status,
                            attempts, schedule_start, next_attempt_at, created_at, updated_at)
    SELECT id, tenant_id, webhook_id, report_id, NULLIF(recipient_position, -1), 'pending',
           0, 0, $26, $26, $26
    FROM unnest($21::uuid[], $22::uuid[], $23::uuid[], $24::uuid[], $25::int4[])
        AS d(id, tenant_id, webhook_id, report_id, recipient_position)
    WHERE report_id IN (SELECT id FROM new_reports)
)
SELECT id FROM new_reports
"#;

/// Writes the batch and answers the ids of the reports that were new. `deliveries` are
/// the deliveries planned for every report of the plan, all created at `created_at` (the
/// statement writes the columns of a new pending delivery, as `new_delivery` makes it);
/// those of reports stored before are left out by the statement.
pub(super) async fn insert_batch(
    connection: &impl ConnectionTrait,
    requests: &[&IngestRequest],
    plan: &BatchPlan,
    deliveries: &[Vec<DispatchItem>],
    created_at: DateTime<Utc>,
) -> Result<HashSet<Uuid>, StorageError> {
    let reports = &plan.reports;
    let recipients = &plan.recipients;
    let deliveries: Vec<_> = deliveries
        .iter()
        .flatten()
        .map(|item| &item.delivery)
        .collect();
    debug_assert!(
        deliveries
            .iter()
            .all(|d| d.created_at == created_at && d.attempts == 0)
    );
    let bodies: Vec<Vec<u8>> = requests.iter().map(|r| r.raw_body.to_vec()).collect();
    // By push: the id its body is stored under when several reports share it.
    let mut body_ids = vec![Uuid::nil(); requests.len()];
    for body in &plan.bodies {
        body_ids[body.push] = body.id;
    }

    let values: Vec<Value> = vec![
        column(reports, |r| r.id.as_uuid()),
        column(reports, |r| r.tenant_id.as_uuid()),
        column(reports, |r| r.job_id.clone()),
        column(reports, |r| r.dedupe_key.clone()),
        column(reports, |r| r.received_at),
        column(reports, |r| r.format.clone()),
        column(reports, |r| r.status.clone()),
        column(reports, |r| r.pages.unwrap_or(-1)),
        column(reports, |r| r.customer_defined_id.is_some()),
        column(reports, |r| {
            r.customer_defined_id.clone().unwrap_or_default()
        }),
        column(reports, |r| r.recipient_count),
        column(reports, |r| r.document.clone()),
        column(reports, |r| r.raw_content_type.clone()),
        // PostgreSQL arrays count from 1.
        column(reports, |r| i32::try_from(r.push + 1).unwrap_or(i32::MAX)),
        column(recipients, |c| c.report_id.as_uuid()),
        column(recipients, |c| c.position),
        column(recipients, |c| c.tenant_id.as_uuid()),
        column(recipients, |c| c.number_digits.clone()),
        column(recipients, |c| c.status.clone()),
        column(recipients, |c| c.category.to_owned()),
        column(&deliveries, |d| d.id.as_uuid()),
        column(&deliveries, |d| d.tenant_id.as_uuid()),
        column(&deliveries, |d| d.webhook_id.as_uuid()),
        column(&deliveries, |d| d.report_id.as_uuid()),
        column(&deliveries, |d| {
            d.recipient_position
                .and_then(|p| i32::try_from(p).ok())
                .unwrap_or(-1)
        }),
        created_at.into(),
        Value::from(bodies),
        Value::from(body_ids),
        column(reports, |r| r.body_id.is_some()),
        column(requests, |r| r.tenant_id.as_uuid()),
    ];
    let rows = connection
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            INSERT_BATCH,
            values,
        ))
        .await?;
    rows.iter()
        .map(|row| row.try_get::<Uuid>("", "id").map_err(StorageError::from))
        .collect()
}

/// One column of rows, as an array parameter.
fn column<R, T>(rows: &[R], field: impl Fn(&R) -> T) -> Value
where
    Value: From<Vec<T>>,
{
    Value::from(rows.iter().map(field).collect::<Vec<T>>())
}
