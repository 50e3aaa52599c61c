//! Errors as `application/problem+json` (RFC 9457).
//!
//! Every failure the API reports is one [`ApiError`] variant with a stable `type` URN, so
//! clients can branch on it. A 5xx body says nothing about the cause: the cause is logged
//! once, here, where the error becomes a response.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use faxrelay_storage::StorageError;
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, as a JSON path (`name`, `filter.statuses[0]`) or query parameter.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A problem report (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:faxrelay:problem:invalid-fields",
    "title": "Some fields are invalid",
    "status": 422,
    "detail": "name: must not be empty",
    "errors": [{"field": "name", "message": "must not be empty"}]
}))]
pub struct Problem {
    /// A stable identifier of the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What exactly is wrong with this request.
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedRequest(String),
    #[error("{detail}")]
    Unauthorized {
        detail: String,
        challenges: Vec<String>,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{}", summarize(.0))]
    InvalidFields(Vec<FieldError>),
    #[error("{0}")]
    Unavailable(String),
    #[error("an internal error occurred")]
    Internal(#[source] BoxError),
}

fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The cause of an internal error, kept for the log line.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidFields(vec![FieldError::new(field, message)])
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("no {what} with this id exists for your account"))
    }

    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }

    /// The stable slug of the problem type and its title.
    pub fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::MalformedRequest(_) => ("malformed-request", "The request is malformed"),
            Self::Unauthorized { .. } => ("unauthorized", "Authentication is required"),
            Self::Forbidden(_) => ("forbidden", "This is not allowed"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::Conflict(_) => ("conflict", "Conflicts with the current state"),
            Self::PayloadTooLarge { .. } => ("payload-too-large", "The body is too large"),
            Self::UnsupportedMediaType(_) => (
                "unsupported-media-type",
                "The content type is not supported",
            ),
            Self::InvalidFields(_) => ("invalid-fields", "Some fields are invalid"),
            Self::Unavailable(_) => ("unavailable", "The service is temporarily unavailable"),
            Self::Internal(_) => ("internal", "Internal error"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (slug, title) = self.kind();
        Problem {
            kind: format!("urn:faxrelay:problem:{slug}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail: self.to_string(),
            errors: match self {
                Self::InvalidFields(errors) => errors.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidFields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            tracing::error!(error = %cause, cause = ?cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            Self::Unauthorized { challenges, .. } => {
                for challenge in challenges {
                    if let Ok(value) = HeaderValue::from_str(challenge) {
                        response.append_header((header::WWW_AUTHENTICATE, value));
                    }
                }
            }
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::Unavailable("the database is unavailable; try again shortly".into())
            }
            StorageError::Conflict(message) => {
                Self::Conflict(format!("conflicts with an existing record ({message})"))
            }
            // What the request refers to was deleted meanwhile (e.g. its tenant).
            StorageError::MissingReference(_) => {
                Self::NotFound("what this request refers to no longer exists".into())
            }
            other => Self::internal(other),
        }
    }
}

impl From<faxrelay_queue::QueueError> for ApiError {
    fn from(error: faxrelay_queue::QueueError) -> Self {
        match error {
            faxrelay_queue::QueueError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "queue unavailable");
                Self::Unavailable("the queue is unavailable; try again shortly".into())
            }
            other => Self::internal(other),
        }
    }
}

/// The handler for routes that do not exist.
pub async fn unknown_route(request: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "there is no route {} {}",
        request.method(),
        request.path()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<ApiError> {
        vec![
            ApiError::MalformedRequest("x".into()),
            ApiError::Unauthorized {
                detail: "x".into(),
                challenges: vec!["Bearer realm=\"faxrelay\"".into()],
            },
            ApiError::Forbidden("x".into()),
            ApiError::NotFound("x".into()),
            ApiError::Conflict("x".into()),
            ApiError::PayloadTooLarge { limit: 10 },
            ApiError::UnsupportedMediaType("x".into()),
            ApiError::invalid("name", "must not be empty"),
            ApiError::Unavailable("x".into()),
            ApiError::internal(std::io::Error::other("disk on fire")),
        ]
    }

    #[test]
    fn every_variant_renders_a_problem_with_its_own_type_and_status() {
        let mut kinds = std::collections::HashSet::new();
        for error in every_variant() {
            let response = error.error_response();
            let problem = error.problem();
            assert_eq!(response.status().as_u16(), problem.status);
            assert_eq!(
                response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.as_bytes()),
                Some(&b"application/problem+json"[..])
            );
            assert!(problem.kind.starts_with("urn:faxrelay:problem:"));
            assert!(
                kinds.insert(problem.kind.clone()),
                "duplicate type {}",
                problem.kind
            );
            assert!(!problem.detail.is_empty());
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let problem = ApiError::internal(std::io::Error::other("disk on fire")).problem();
        assert!(!problem.detail.contains("disk"));
    }

    #[test]
    fn unauthorized_carries_its_challenges_and_unavailable_a_retry_after() {
        let response = every_variant()[1].error_response();
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        let response = ApiError::Unavailable("x".into()).error_response();
        assert!(response.headers().contains_key(header::RETRY_AFTER));
    }
}
