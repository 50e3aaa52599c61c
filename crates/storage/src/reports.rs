//! Reading stored reports: filtered, paged lists and single reports with their raw body.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use faxrelay_core::ids::{ReportId, TenantId};
use faxrelay_core::{FaxReport, JobStatus, StatusCategory};
use sea_orm::prelude::*;
use sea_orm::sea_query::Query;
use sea_orm::{QueryOrder, QuerySelect};

use crate::entities::{push_body, report, report_recipient};
use crate::error::corrupt;
use crate::paging::{Page, PageRequest};
use crate::{StorageError, Store};

/// A report as stored: the normalized report and when it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReport {
    pub id: ReportId,
    pub received_at: DateTime<Utc>,
    pub report: FaxReport,
    pub raw_content_type: String,
}

/// The original body of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBody {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Which reports to list. Every field narrows the list; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub status: Option<JobStatus>,
    /// A recipient status code, matched ignoring case.
    pub recipient_status: Option<String>,
    pub recipient_category: Option<StatusCategory>,
    pub job_id: Option<String>,
    /// Search digits of a recipient number (see `faxrelay_core::number`).
    pub number_digits: Option<String>,
    pub customer_defined_id: Option<String>,
    pub received_after: Option<DateTime<Utc>>,
    pub received_before: Option<DateTime<Utc>>,
}

/// What [`summary`] selects of a report.
pub(crate) type SummaryRow = (Uuid, DateTime<Utc>, Json, String);

pub(crate) fn stored_report(
    (id, received_at, document, raw_content_type): SummaryRow,
) -> Result<StoredReport, StorageError> {
    Ok(StoredReport {
        id: ReportId::from_uuid(id),
        received_at,
        report: serde_json::from_value(document).map_err(corrupt)?,
        raw_content_type,
    })
}

/// A query for what a [`StoredReport`] is made of (not the raw body).
pub(crate) fn summary() -> sea_orm::Select<report::Entity> {
    report::Entity::find().select_only().columns([
        report::Column::Id,
        report::Column::ReceivedAt,
        report::Column::Document,
        report::Column::RawContentType,
    ])
}

/// Reports of `tenant` with a recipient matching `column = value`.
fn with_recipient(
    tenant: TenantId,
    column: report_recipient::Column,
    value: String,
) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(report_recipient::Column::ReportId)
        .from(report_recipient::Entity)
        .and_where(report_recipient::Column::TenantId.eq(tenant.as_uuid()))
        .and_where(column.eq(value))
        .to_owned()
}

impl Store {
    pub async fn list_reports(
        &self,
        tenant: TenantId,
        filter: &ReportFilter,
        page: PageRequest,
    ) -> Result<Page<StoredReport>, StorageError> {
        let mut query = summary().filter(report::Column::TenantId.eq(tenant.as_uuid()));
        if let Some(status) = filter.status {
            query = query.filter(report::Column::Status.eq(status.as_str()));
        }
        if let Some(job_id) = &filter.job_id {
            query = query.filter(report::Column::JobId.eq(job_id.as_str()));
        }
        if let Some(reference) = &filter.customer_defined_id {
            query = query.filter(report::Column::CustomerDefinedId.eq(reference.as_str()));
        }
        if let Some(after) = filter.received_after {
            query = query.filter(report::Column::ReceivedAt.gt(after));
        }
        if let Some(before) = filter.received_before {
            query = query.filter(report::Column::ReceivedAt.lt(before));
        }
        if let Some(status) = &filter.recipient_status {
            let matching = with_recipient(
                tenant,
                report_recipient::Column::Status,
                status.to_ascii_uppercase(),
            );
            query = query.filter(report::Column::Id.in_subquery(matching));
        }
        if let Some(category) = filter.recipient_category {
            let matching = with_recipient(
                tenant,
                report_recipient::Column::Category,
                category.as_str().to_owned(),
            );
            query = query.filter(report::Column::Id.in_subquery(matching));
        }
        if let Some(digits) = &filter.number_digits {
            let matching = with_recipient(
                tenant,
                report_recipient::Column::NumberDigits,
                digits.clone(),
            );
            query = query.filter(report::Column::Id.in_subquery(matching));
        }
        if let Some(cursor) = page.after {
            query = query.filter(report::Column::Id.lt(cursor.0));
        }
        let rows: Vec<SummaryRow> = query
            .order_by_desc(report::Column::Id)
            .limit(page.limit + 1)
            .into_tuple()
            .all(self.connection())
            .await?;
        let page = Page::from_rows(rows, page.limit, |row| row.0);
        let items = page
            .items
            .into_iter()
            .map(stored_report)
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    pub async fn report(
        &self,
        tenant: TenantId,
        id: ReportId,
    ) -> Result<Option<StoredReport>, StorageError> {
        let row: Option<SummaryRow> = summary()
            .filter(report::Column::TenantId.eq(tenant.as_uuid()))
            .filter(report::Column::Id.eq(id.as_uuid()))
            .into_tuple()
            .one(self.connection())
            .await?;
        row.map(stored_report).transpose()
    }

    pub async fn report_raw(
        &self,
        tenant: TenantId,
        id: ReportId,
    ) -> Result<Option<RawBody>, StorageError> {
        let row: Option<(String, Vec<u8>, Option<Uuid>)> = report::Entity::find()
            .select_only()
            .columns([
                report::Column::RawContentType,
                report::Column::RawBody,
                report::Column::BodyId,
            ])
            .filter(report::Column::TenantId.eq(tenant.as_uuid()))
            .filter(report::Column::Id.eq(id.as_uuid()))
            .into_tuple()
            .one(self.connection())
            .await?;
        let Some((content_type, body, body_id)) = row else {
            return Ok(None);
        };
        let body = match body_id {
            Some(body_id) => shared_bodies(self.connection(), [body_id])
                .await?
                .remove(&body_id)
                .ok_or_else(|| StorageError::Corrupt(format!("push body {body_id} is missing")))?,
            None => body,
        };
        Ok(Some(RawBody { content_type, body }))
    }
}

/// Bodies that several reports of one push share (see the migration `push_bodies`), by id.
pub(crate) async fn shared_bodies(
    connection: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, Vec<u8>>, StorageError> {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, Vec<u8>)> = push_body::Entity::find()
        .select_only()
        .columns([push_body::Column::Id, push_body::Column::Body])
        .filter(push_body::Column::Id.is_in(ids))
        .into_tuple()
        .all(connection)
        .await?;
    Ok(rows.into_iter().collect())
}
