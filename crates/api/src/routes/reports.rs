//! Browsing stored reports.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use faxrelay_core::ids::ReportId;
use faxrelay_core::number::search_digits;
use faxrelay_core::report::ReportView;
use faxrelay_core::{JobStatus, StatusCategory};
use faxrelay_storage::reports::{RawBody, ReportFilter, StoredReport};

use super::common::{QueryParams, list_type, path_id};
use crate::caller::Caller;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

list_type!(ReportList, ReportView);

pub fn report_view(stored: StoredReport) -> ReportView {
    ReportView {
        id: stored.id,
        received_at: stored.received_at,
        report: stored.report,
    }
}

/// A stored original body, served so that a browser can neither run nor sniff it.
pub fn raw_response(raw: RawBody) -> HttpResponse {
    let content_type = if raw.content_type.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        raw.content_type
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        ))
        .insert_header((header::CONTENT_DISPOSITION, "attachment"))
        .body(raw.body)
}

fn report_filter(params: &mut QueryParams) -> ReportFilter {
    let number_digits = params.text("number", 64).and_then(|number| {
        let digits = search_digits(&number);
        if digits.is_empty() {
            params.reject("number", "must contain digits");
            None
        } else {
            Some(digits)
        }
    });
    ReportFilter {
        status: params.parsed::<JobStatus>("status", "one of delivered, failed, partial, pending"),
        recipient_status: params.text("recipient_status", 64),
        recipient_category: params.parsed::<StatusCategory>(
            "recipient_category",
            "one of delivered, pending, line_problem, wrong_number, not_dialled, document_error, other",
        ),
        job_id: params.text("job_id", 128),
        number_digits,
        customer_defined_id: params.text("customer_defined_id", 4096),
        received_after: params.timestamp("received_after"),
        received_before: params.timestamp("received_before"),
    }
}

/// List reports, newest first.
///
/// Every filter narrows the list. Page with `limit` and the `next_cursor` of the previous
/// page; reports that arrive meanwhile do not shift the pages.
#[utoipa::path(
    tag = "reports",
    params(
        ("status" = Option<JobStatus>, Query, description = "The job's roll-up status"),
        ("recipient_status" = Option<String>, Query, description = "A Retarus status code of any recipient, e.g. `BUSY`"),
        ("recipient_category" = Option<StatusCategory>, Query, description = "The category of any recipient's status"),
        ("job_id" = Option<String>, Query, description = "The Retarus job id"),
        ("number" = Option<String>, Query, description = "A recipient number, in any spelling (`+49 89 123-4`, `0049891234`)"),
        ("customer_defined_id" = Option<String>, Query, description = "The sender's reference"),
        ("received_after" = Option<String>, Query, description = "RFC 3339 time", format = DateTime),
        ("received_before" = Option<String>, Query, description = "RFC 3339 time", format = DateTime),
        ("limit" = Option<u64>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, body = ReportList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/reports")]
pub async fn list_reports(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut params = QueryParams::of(&request);
    let filter = report_filter(&mut params);
    let page = params.page();
    params.finish()?;
    let page = state
        .store
        .list_reports(caller.tenant_id, &filter, page)
        .await?;
    Ok(HttpResponse::Ok().json(ReportList::from_page(page, report_view)))
}

/// One report.
#[utoipa::path(
    tag = "reports",
    params(("id" = String, Path, description = "A report id (`rpt_...`)")),
    responses((status = 200, body = ReportView), (status = 404, body = Problem, content_type = "application/problem+json")),
)]
#[get("/reports/{id}")]
pub async fn get_report(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ReportId = path_id(&id, "report")?;
    let stored = state
        .store
        .report(caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    Ok(HttpResponse::Ok().json(report_view(stored)))
}

/// The original body of the push that carried a report, byte for byte, with its content
/// type. (A push with several jobs is one body for all of them.)
#[utoipa::path(
    tag = "reports",
    params(("id" = String, Path, description = "A report id (`rpt_...`)")),
    responses(
        (status = 200, description = "The body as received",
            content((String = "text/xml"), (String = "application/xml"), (String = "application/json"))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/reports/{id}/raw")]
pub async fn get_report_raw(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ReportId = path_id(&id, "report")?;
    let raw = state
        .store
        .report_raw(caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    Ok(raw_response(raw))
}
