//! Which reports a webhook receives, and in how many deliveries.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::catalog::StatusCategory;
use crate::report::{FaxReport, JobStatus};

/// Whether a webhook gets one delivery per report or one per recipient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FanOut {
    /// One delivery per report.
    #[default]
    Report,
    /// One delivery per recipient of the report (that matches the filter).
    Recipient,
}

impl FanOut {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Recipient => "recipient",
        }
    }
}

impl fmt::Display for FanOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FanOut {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "report" => Ok(Self::Report),
            "recipient" => Ok(Self::Recipient),
            other => Err(format!("unknown fan-out `{other}`")),
        }
    }
}

/// Which reports a webhook wants. An empty list matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Job roll-up statuses to deliver.
    #[serde(default)]
    pub statuses: Vec<JobStatus>,
    /// Recipient status categories to deliver: a report matches when any recipient does.
    #[serde(default)]
    pub categories: Vec<StatusCategory>,
}

impl Filter {
    fn status_matches(&self, report: &FaxReport) -> bool {
        self.statuses.is_empty() || self.statuses.contains(&report.status)
    }

    fn category_matches(&self, category: StatusCategory) -> bool {
        self.categories.is_empty() || self.categories.contains(&category)
    }

    /// The deliveries a report makes: `None` for the report as a whole, `Some(i)` for its
    /// recipient at position `i`.
    pub fn deliveries(&self, report: &FaxReport, fan_out: FanOut) -> Vec<Option<usize>> {
        if !self.status_matches(report) {
            return Vec::new();
        }
        let matching = report
            .recipients
            .iter()
            .enumerate()
            .filter(|(_, r)| self.category_matches(r.category));
        match fan_out {
            FanOut::Report => {
                let any = self.categories.is_empty() || matching.count() > 0;
                if any { vec![None] } else { Vec::new() }
            }
            FanOut::Recipient => matching.map(|(i, _)| Some(i)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Recipient, ReportFormat};

    fn report() -> FaxReport {
        FaxReport::new(
            "FJ".into(),
            ReportFormat::Xml,
            vec![
                Recipient::new("1".into(), "OK".into()),
                Recipient::new("2".into(), "BUSY".into()),
            ],
        )
    }

    #[test]
    fn an_empty_filter_takes_everything() {
        assert_eq!(
            Filter::default().deliveries(&report(), FanOut::Report),
            vec![None]
        );
        assert_eq!(
            Filter::default().deliveries(&report(), FanOut::Recipient),
            vec![Some(0), Some(1)]
        );
    }

    #[test]
    fn statuses_filter_the_job_and_categories_the_recipients() {
        let failed_only = Filter {
            statuses: vec![JobStatus::Failed],
            ..Filter::default()
        };
        assert!(failed_only.deliveries(&report(), FanOut::Report).is_empty());

        let line_problems = Filter {
            categories: vec![StatusCategory::LineProblem],
            ..Filter::default()
        };
        assert_eq!(
            line_problems.deliveries(&report(), FanOut::Report),
            vec![None]
        );
        assert_eq!(
            line_problems.deliveries(&report(), FanOut::Recipient),
            vec![Some(1)]
        );

        let wrong_numbers = Filter {
            categories: vec![StatusCategory::WrongNumber],
            ..Filter::default()
        };
        assert!(
            wrong_numbers
                .deliveries(&report(), FanOut::Report)
                .is_empty()
        );
    }
}

/// How a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    Pending,
    /// The receiver took it (2xx).
    Succeeded,
    /// An attempt failed; another is scheduled.
    Failed,
    /// Every attempt failed, or the webhook is gone; no more attempts unless retried.
    Dead,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 4] = [Self::Pending, Self::Succeeded, Self::Failed, Self::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    /// Whether the worker still has something to do.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Failed)
    }
}

impl FromStr for DeliveryStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown delivery status `{text}`"))
    }
}

/// How faxrelay authenticates to a webhook, without the secret (which is stored sealed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthConfig {
    #[default]
    None,
    /// HTTP Basic with this user name and a stored password.
    Basic { username: String },
    /// A stored bearer token.
    Bearer,
    /// OAuth2 client credentials: a token from `token_url`, cached until it expires.
    #[serde(rename = "oauth2")]
    OAuth2 {
        token_url: String,
        client_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
}

impl AuthConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Basic { .. } => "basic",
            Self::Bearer => "bearer",
            Self::OAuth2 { .. } => "oauth2",
        }
    }
}
