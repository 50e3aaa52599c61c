//! Reading Retarus push bodies into [`FaxReport`]s.
//!
//! The codecs are strict about structure (a job id and at least one recipient, well-formed
//! documents, bounded sizes) and tolerant about everything else: unknown elements are kept,
//! unknown status codes are kept verbatim, namespaces and prefixes are ignored.

mod fields;
mod json;
mod xml;

use crate::report::FaxReport;

/// Bounds on what a push body may hold, so that a hostile body costs bounded work.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest element or value nesting.
    pub max_depth: usize,
    /// Most elements (XML) or values (JSON) in one body.
    pub max_nodes: usize,
    /// Longest text of one field, in characters.
    pub max_field_chars: usize,
    /// Most recipients in one job.
    pub max_recipients: usize,
    /// Most jobs in one body.
    pub max_jobs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 16,
            max_nodes: 200_000,
            max_field_chars: 4096,
            max_recipients: 10_000,
            max_jobs: 1_000,
        }
    }
}

/// The longest `Content-Type` accepted (it is stored with the body).
pub const MAX_CONTENT_TYPE: usize = 255;

/// The body syntaxes faxrelay reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Xml,
    Json,
}

/// Why a content type cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentTypeError {
    #[error(
        "the Content-Type header is missing; send text/xml, application/xml or application/json"
    )]
    Missing,
    #[error(
        "the content type `{0}` is not supported; send text/xml, application/xml or application/json"
    )]
    Unsupported(String),
    #[error("the charset `{0}` is not supported; send UTF-8 or ISO-8859-1")]
    Charset(String),
}

/// The syntax and text encoding a push declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyType {
    pub kind: BodyKind,
    latin1: bool,
}

impl BodyType {
    /// Reads a `Content-Type` header value such as `text/xml; charset=UTF-8`.
    pub fn from_content_type(value: Option<&str>) -> Result<Self, ContentTypeError> {
        let value = value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(ContentTypeError::Missing)?;
        if value.len() > MAX_CONTENT_TYPE {
            return Err(ContentTypeError::Unsupported(format!(
                "{}...",
                &value[..value.floor_char_boundary(40)]
            )));
        }
        let mut parts = value.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let kind = match essence.as_str() {
            "text/xml" | "application/xml" | "application/soap+xml" => BodyKind::Xml,
            "application/json" | "text/json" => BodyKind::Json,
            other if other.ends_with("+xml") => BodyKind::Xml,
            other if other.ends_with("+json") => BodyKind::Json,
            _ => return Err(ContentTypeError::Unsupported(value.to_owned())),
        };
        let mut latin1 = false;
        for parameter in parts {
            let Some((name, charset)) = parameter.split_once('=') else {
                continue;
            };
            if !name.trim().eq_ignore_ascii_case("charset") {
                continue;
            }
            let charset = charset.trim().trim_matches('"').to_ascii_lowercase();
            match charset.as_str() {
                "utf-8" | "utf8" | "us-ascii" | "ascii" => {}
                "iso-8859-1" | "latin1" | "iso_8859-1" | "latin-1" => latin1 = true,
                _ => return Err(ContentTypeError::Charset(charset)),
            }
        }
        Ok(Self { kind, latin1 })
    }
}

/// Why a body could not be read as a report. The message is meant for the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the body is empty")]
    Empty,
    #[error("the body is not valid UTF-8 text (byte {0})")]
    NotUtf8(usize),
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("document type declarations (DTDs) are not accepted")]
    DoctypeRefused,
    #[error(
        "the entity reference `&{0};` is not allowed: only the five predefined XML entities and character references are"
    )]
    EntityRefused(String),
    #[error("the body contains a NUL character, which no report field may hold")]
    Nul,
    #[error("the body nests deeper than {0} levels")]
    TooDeep(usize),
    #[error("the body holds more than {0} elements")]
    TooManyNodes(usize),
    #[error("`{field}` is longer than {max} characters")]
    FieldTooLong { field: String, max: usize },
    #[error("a job has more than {0} recipients")]
    TooManyRecipients(usize),
    #[error("the body holds more than {0} jobs")]
    TooManyJobs(usize),
    #[error(
        "no fax job report found: expected a faxJobReport, ReportResponse, REST report or reports list"
    )]
    NoReport,
    #[error("`{0}` is missing")]
    Missing(String),
    #[error("`{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
}

/// Reads a push body into one report per fax job.
pub fn parse(
    body_type: BodyType,
    body: &[u8],
    limits: &Limits,
) -> Result<Vec<FaxReport>, ParseError> {
    let text = decode_text(body, body_type.latin1)?;
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let reports = match body_type.kind {
        BodyKind::Xml => xml::parse(&text, limits)?,
        BodyKind::Json => json::parse(&text, limits)?,
    };
    if reports.is_empty() {
        return Err(ParseError::NoReport);
    }
    if reports.len() > limits.max_jobs {
        return Err(ParseError::TooManyJobs(limits.max_jobs));
    }
    Ok(reports)
}

/// The body as text. Without a declared charset, UTF-8 is expected, but an XML declaration
/// naming ISO-8859-1 is honoured, as Java SOAP stacks sometimes send it.
fn decode_text(body: &[u8], latin1: bool) -> Result<std::borrow::Cow<'_, str>, ParseError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if latin1 || declares_latin1(body) {
        return Ok(std::borrow::Cow::Owned(
            body.iter().map(|&b| char::from(b)).collect(),
        ));
    }
    std::str::from_utf8(body)
        .map(std::borrow::Cow::Borrowed)
        .map_err(|e| ParseError::NotUtf8(e.valid_up_to()))
}

fn declares_latin1(body: &[u8]) -> bool {
    let head = &body[..body.len().min(100)];
    if !head.starts_with(b"<?xml") {
        return false;
    }
    let Some(end) = head.windows(2).position(|w| w == b"?>") else {
        return false;
    };
    let declaration = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    ["iso-8859-1", "latin1", "iso_8859-1"]
        .iter()
        .any(|name| declaration.contains(name))
}

#[cfg(test)]
mod tests;
