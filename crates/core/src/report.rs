//! The normalized fax job report.
//!
//! Every Retarus layout (XML, JSON `faxJobReport`, REST report) is read into this one shape,
//! which is what the API shows, what templates see and what the database stores next to the
//! raw body. Its serde form is the public snake_case JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{self, StatusCategory};

/// Which layout a report arrived in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// The SOAP `faxJobReport` XML (alone or in a `ReportResponse`).
    Xml,
    /// The `faxJobReport` layout in JSON.
    JsonFaxJobReport,
    /// The Fax REST API v1 report (`recipientStatus`), alone or in a `reports` list.
    JsonRest,
}

impl ReportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Xml => "xml",
            Self::JsonFaxJobReport => "json_fax_job_report",
            Self::JsonRest => "json_rest",
        }
    }
}

impl FromStr for ReportFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        [Self::Xml, Self::JsonFaxJobReport, Self::JsonRest]
            .into_iter()
            .find(|format| format.as_str() == text)
            .ok_or_else(|| format!("unknown report format `{text}`"))
    }
}

/// The state of a whole job, rolled up from its recipients.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Every recipient got the fax.
    Delivered,
    /// No recipient got the fax.
    Failed,
    /// Some recipients got the fax, others did not.
    Partial,
    /// At least one recipient is not finished.
    Pending,
}

impl JobStatus {
    pub const ALL: [JobStatus; 4] = [Self::Delivered, Self::Failed, Self::Partial, Self::Pending];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Partial => "partial",
            Self::Pending => "pending",
        }
    }

    /// The roll-up of a job's recipients. A job without recipients is pending: nothing is
    /// known to be finished.
    pub fn of(categories: impl IntoIterator<Item = StatusCategory>) -> Self {
        let (mut delivered, mut failed, mut pending) = (0usize, 0usize, 0usize);
        for category in categories {
            match category {
                StatusCategory::Delivered => delivered += 1,
                StatusCategory::Pending => pending += 1,
                _ => failed += 1,
            }
        }
        match (delivered, failed, pending) {
            (_, _, p) if p > 0 => Self::Pending,
            (0, 0, 0) => Self::Pending,
            (_, 0, _) => Self::Delivered,
            (0, _, _) => Self::Failed,
            _ => Self::Partial,
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown job status `{text}`"))
    }
}

/// One recipient of a fax job and what happened to it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    /// The number as the sender wrote it.
    pub number: String,
    pub num_id: Option<String>,
    /// The Retarus status code, verbatim.
    pub status: String,
    pub category: StatusCategory,
    pub reason: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<u32>,
    pub sent_to_number: Option<String>,
    pub remote_csid: Option<String>,
    #[serde(default)]
    pub alternative_numbers: Vec<String>,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// The sender's references to a job (REST layout).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub customer_defined_id: Option<String>,
    pub billing_code: Option<String>,
    pub billing_info: Option<String>,
}

impl Reference {
    pub fn is_empty(&self) -> bool {
        self.customer_defined_id.is_none()
            && self.billing_code.is_none()
            && self.billing_info.is_none()
    }
}

/// A document of the job.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub name: String,
    pub is_text: Option<bool>,
}

/// One fax job's report, as parsed from a push.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaxReport {
    pub job_id: String,
    pub format: ReportFormat,
    pub status: JobStatus,
    pub pages: Option<u32>,
    pub reference: Reference,
    pub recipients: Vec<Recipient>,
    pub documents: Vec<Document>,
    /// The job's `options` element, as a string map.
    pub options: BTreeMap<String, String>,
    /// Elements the normalized shape has no field for (`reportMail`, `httpStatusPush`,
    /// elements of a custom layout), keyed by their original names.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl FaxReport {
    /// Builds a report and derives the job status from the recipients.
    pub fn new(job_id: String, format: ReportFormat, recipients: Vec<Recipient>) -> Self {
        let status = JobStatus::of(recipients.iter().map(|r| r.category));
        Self {
            job_id,
            format,
            status,
            pages: None,
            reference: Reference::default(),
            recipients,
            documents: Vec::new(),
            options: BTreeMap::new(),
            extra: serde_json::Map::new(),
        }
    }

    /// The identity of this report for de-duplication: the same job with the same outcome
    /// per recipient. A repeated push of one report has the same key; a later report of the
    /// same job with a changed status has another.
    pub fn dedupe_key(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.job_id.as_bytes());
        let mut lines: Vec<String> = self
            .recipients
            .iter()
            .map(|r| {
                format!(
                    "{}\u{1f}{}\u{1f}{}\u{1f}{}",
                    r.num_id.as_deref().unwrap_or_default(),
                    r.number,
                    r.status,
                    r.sent_at.map(|t| t.timestamp()).unwrap_or_default()
                )
            })
            .collect();
        lines.sort();
        for line in lines {
            hasher.update([0x1e]);
            hasher.update(line.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

impl Recipient {
    /// A recipient with only the number and status known; the category comes from the
    /// catalog.
    pub fn new(number: String, status: String) -> Self {
        let category = catalog::category_of(&status);
        Self {
            number,
            num_id: None,
            status,
            category,
            reason: None,
            sent_at: None,
            duration_secs: None,
            sent_to_number: None,
            remote_csid: None,
            alternative_numbers: Vec::new(),
            properties: BTreeMap::new(),
        }
    }
}

/// A stored report as the API shows it and templates see it: the normalized report with
/// its id and arrival time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportView {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "rpt_01JDX8M2Q5G7T0V6Z3B1C4N8K2"))]
    pub id: crate::ids::ReportId,
    pub received_at: DateTime<Utc>,
    #[serde(flatten)]
    pub report: FaxReport,
}

#[cfg(test)]
mod tests {
    use super::*;
    use StatusCategory::*;

    #[test]
    fn job_status_rolls_up_recipient_categories() {
        assert_eq!(JobStatus::of([Delivered, Delivered]), JobStatus::Delivered);
        assert_eq!(JobStatus::of([LineProblem, WrongNumber]), JobStatus::Failed);
        assert_eq!(JobStatus::of([Delivered, LineProblem]), JobStatus::Partial);
        assert_eq!(JobStatus::of([Delivered, Pending]), JobStatus::Pending);
        assert_eq!(JobStatus::of([Other]), JobStatus::Failed);
        assert_eq!(JobStatus::of([]), JobStatus::Pending);
    }

    #[test]
    fn dedupe_key_ignores_recipient_order_but_not_status() {
        let a = Recipient::new("+1".into(), "OK".into());
        let b = Recipient::new("+2".into(), "BUSY".into());
        let one = FaxReport::new("FJ1".into(), ReportFormat::Xml, vec![a.clone(), b.clone()]);
        let swapped = FaxReport::new(
            "FJ1".into(),
            ReportFormat::JsonRest,
            vec![b.clone(), a.clone()],
        );
        assert_eq!(one.dedupe_key(), swapped.dedupe_key());

        let retried = FaxReport::new(
            "FJ1".into(),
            ReportFormat::Xml,
            vec![a, Recipient::new("+2".into(), "OK".into())],
        );
        assert_ne!(one.dedupe_key(), retried.dedupe_key());
    }
}
