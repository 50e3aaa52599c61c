//! The catalog of Retarus per-recipient status codes.
//!
//! Retarus reports one status code per recipient. The list it publishes is not complete, so
//! a code missing here is kept verbatim and falls into [`StatusCategory::Other`]; the
//! catalog only adds meaning (a category for filters and a description for templates).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a recipient status means for the sender.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCategory {
    /// All pages reached the recipient.
    Delivered,
    /// The job is not finished for this recipient.
    Pending,
    /// A line problem (busy, no answer, no fax device, transmission errors): trying again
    /// later may succeed.
    LineProblem,
    /// The number is wrong, changed or not connected.
    WrongNumber,
    /// The number was never dialled (blocklisted or cancelled).
    NotDialled,
    /// The document could not be rendered or sent.
    DocumentError,
    /// A code this catalog does not know.
    Other,
}

impl StatusCategory {
    pub const ALL: [StatusCategory; 7] = [
        Self::Delivered,
        Self::Pending,
        Self::LineProblem,
        Self::WrongNumber,
        Self::NotDialled,
        Self::DocumentError,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Pending => "pending",
            Self::LineProblem => "line_problem",
            Self::WrongNumber => "wrong_number",
            Self::NotDialled => "not_dialled",
            Self::DocumentError => "document_error",
            Self::Other => "other",
        }
    }

    /// Whether the recipient got the fax.
    pub fn is_success(self) -> bool {
        self == Self::Delivered
    }
}

impl fmt::Display for StatusCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StatusCategory {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|category| category.as_str() == text)
            .ok_or_else(|| format!("unknown status category `{text}`"))
    }
}

/// One known status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusInfo {
    pub code: &'static str,
    pub category: StatusCategory,
    pub description: &'static str,
}

const fn info(
    code: &'static str,
    category: StatusCategory,
    description: &'static str,
) -> StatusInfo {
    StatusInfo {
        code,
        category,
        description,
    }
}

use StatusCategory::{Delivered, DocumentError, LineProblem, NotDialled, Pending, WrongNumber};

/// The codes Retarus documents, with their meaning.
pub const KNOWN_STATUSES: &[StatusInfo] = &[
    info("OK", Delivered, "All pages were delivered"),
    info("PENDING", Pending, "The fax job is not finished yet"),
    info("BUSY", LineProblem, "The line was busy"),
    info("NOFAX", LineProblem, "No fax device answered"),
    info(
        "NOFAX_DIS",
        LineProblem,
        "No fax device answered (no DIS signal)",
    ),
    info(
        "NOFAX_TO",
        LineProblem,
        "No fax device answered before the timeout",
    ),
    info(
        "RING_TO",
        LineProblem,
        "The call rang without being answered",
    ),
    info(
        "NO_TRAIN",
        LineProblem,
        "The fax devices could not agree on a transmission speed",
    ),
    info(
        "PAGE_SEND_ERROR",
        LineProblem,
        "A page could not be transmitted",
    ),
    info(
        "PAGE_SEND_ERR",
        LineProblem,
        "A page could not be transmitted",
    ),
    info(
        "EOD_FAILED",
        LineProblem,
        "The end of the document was not confirmed",
    ),
    info("REM_DIS", LineProblem, "The remote device disconnected"),
    info(
        "NO_REMOTEINFO",
        LineProblem,
        "The remote device sent no identification",
    ),
    info("BAD_LINES", LineProblem, "The line quality was too poor"),
    info(
        "FANS_GF",
        LineProblem,
        "The fax answer signal was not received",
    ),
    info("DIAL_GF", LineProblem, "The number could not be dialled"),
    info("COMERROR", LineProblem, "A communication error occurred"),
    info("DIAL_NC", WrongNumber, "The number is not connected"),
    info("CHANGED_NO", WrongNumber, "The number has changed"),
    info(
        "WOUT_TO",
        WrongNumber,
        "The number is incomplete or invalid",
    ),
    info("WRONG_NO", WrongNumber, "The number is wrong"),
    info("BLACKLIST", NotDialled, "The number is on a blocklist"),
    info(
        "PBLACKLIST",
        NotDialled,
        "The number is on the account's blocklist",
    ),
    info("CANCELLED", NotDialled, "The job was cancelled"),
    info(
        "MISSING_FAX_FILE",
        DocumentError,
        "The document to send was missing",
    ),
    info(
        "UNKNOWN_FAX_FILE",
        DocumentError,
        "The document format is not supported",
    ),
    info(
        "TIFF_PAGE_ERR",
        DocumentError,
        "A page of the TIFF document is faulty",
    ),
    info(
        "RENDERING_ERROR",
        DocumentError,
        "The document could not be rendered",
    ),
];

/// The catalog entry of a code, if the code is known. Codes are matched ignoring case.
pub fn lookup(code: &str) -> Option<&'static StatusInfo> {
    KNOWN_STATUSES
        .iter()
        .find(|status| status.code.eq_ignore_ascii_case(code.trim()))
}

/// The category of any code; unknown codes are [`StatusCategory::Other`].
pub fn category_of(code: &str) -> StatusCategory {
    lookup(code).map_or(StatusCategory::Other, |status| status.category)
}

/// A human description of any code.
pub fn describe(code: &str) -> String {
    match lookup(code) {
        Some(status) => status.description.to_owned(),
        None => format!("Status {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_codes_fall_into_their_categories() {
        assert_eq!(category_of("OK"), Delivered);
        assert_eq!(category_of("busy"), LineProblem);
        assert_eq!(category_of("WRONG_NO"), WrongNumber);
        assert_eq!(category_of("PBLACKLIST"), NotDialled);
        assert_eq!(category_of("TIFF_PAGE_ERR"), DocumentError);
        assert_eq!(category_of("PENDING"), Pending);
    }

    #[test]
    fn unknown_codes_are_other_and_still_described() {
        assert_eq!(category_of("NEW_CODE_2030"), StatusCategory::Other);
        assert_eq!(describe("NEW_CODE_2030"), "Status NEW_CODE_2030");
    }

    #[test]
    fn categories_round_trip_through_text() {
        for category in StatusCategory::ALL {
            assert_eq!(category.as_str().parse::<StatusCategory>(), Ok(category));
        }
    }
}
