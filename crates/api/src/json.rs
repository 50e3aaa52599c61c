//! The JSON body extractor of the management API.
//!
//! Unlike actix's own, its errors name the field that is wrong (`push_auth: unknown
//! variant ...`, `filter.statuses[1]: ...`), and it maps every failure onto the problem
//! format: not JSON 415, too large 413, not well-formed 400, wrong shape 422.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, FieldError};
use crate::state::AppState;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

fn is_json(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|essence| essence == "application/json" || essence.ends_with("+json"))
}

/// Reads `body`, a JSON object, as `T`, naming the failing field in errors.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // serde would read a struct from an array too, with baffling errors; every request
    // body of this API is an object.
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            return Err(ApiError::invalid("body", "expected a JSON object"));
        }
        _ => {
            return Err(ApiError::MalformedRequest(
                "the body is not valid JSON".into(),
            ));
        }
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|error| {
        ApiError::MalformedRequest(format!("the body is not valid JSON: {error}"))
    })?;
    // PostgreSQL text cannot hold NUL; no field of this API needs one.
    if let Some(field) = nul_field(&value, String::new()) {
        return Err(ApiError::invalid(field, "must not contain NUL characters"));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = strip_position(&error.into_inner().to_string());
        let field = match (path.as_str(), named_field(&message)) {
            // A missing or unknown field is reported at its parent.
            (".", Some(name)) => name,
            (parent, Some(name)) if message.starts_with("missing field") => {
                format!("{parent}.{name}")
            }
            (".", None) => "body".to_owned(),
            (path, _) => path.to_owned(),
        };
        ApiError::InvalidFields(vec![FieldError::new(field, message)])
    })
}

/// The path of the first string (or key) holding a NUL character.
fn nul_field(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let at = |segment: String| {
        if path.is_empty() {
            segment
        } else {
            format!("{path}.{segment}")
        }
    };
    match value {
        Value::String(text) if text.contains('\0') => Some(if path.is_empty() {
            "body".to_owned()
        } else {
            path
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_field(item, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(at(key.replace('\0', "")))
            } else {
                nul_field(item, at(key.clone()))
            }
        }),
        _ => None,
    }
}

/// serde names a missing or unknown field in backticks.
fn named_field(message: &str) -> Option<String> {
    if !(message.starts_with("missing field") || message.starts_with("unknown field")) {
        return None;
    }
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = read_body(request, payload);
        Box::pin(async move {
            let (body, json) = body.await?;
            if !json {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as application/json".into(),
                ));
            }
            parse(&body).map(Json)
        })
    }
}

/// A JSON request body that may be left out: an empty body is `T::default()`.
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = read_body(request, payload);
        Box::pin(async move {
            let (body, json) = body.await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            if !json {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body as application/json".into(),
                ));
            }
            parse(&body).map(OptionalJson)
        })
    }
}

/// The body, read up to the API's limit, and whether it is declared JSON.
fn read_body(
    request: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
) -> impl Future<Output = Result<(web::Bytes, bool), ApiError>> + use<> {
    let limit = request
        .app_data::<web::Data<AppState>>()
        .map_or(256 * 1024, |state| state.settings.max_json_body);
    let json = is_json(request);
    let request = request.clone();
    let payload = web::Payload::from_request(&request, payload).into_inner();
    async move {
        let payload = payload.map_err(|error| {
            ApiError::MalformedRequest(format!("the body could not be read: {error}"))
        })?;
        let body = crate::body::read(&request, payload, limit).await?;
        Ok((body, json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        statuses: Vec<u8>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        filter: Option<Inner>,
    }

    fn field_of(body: &str) -> String {
        match parse::<Body>(body.as_bytes()) {
            Err(ApiError::InvalidFields(errors)) => errors[0].field.clone(),
            other => panic!("expected invalid fields, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field_at_any_depth() {
        assert_eq!(field_of("{}"), "name");
        assert_eq!(field_of(r#"{"name": 4}"#), "name");
        assert_eq!(field_of(r#"{"name": "a", "nmae": 1}"#), "nmae");
        assert_eq!(
            field_of(r#"{"name": "a", "filter": {"statuses": [1, "x"]}}"#),
            "filter.statuses[1]"
        );
        assert_eq!(
            field_of(r#"{"name": "a", "filter": {}}"#),
            "filter.statuses"
        );
        assert_eq!(field_of("[]"), "body");
    }

    #[test]
    fn nul_characters_are_refused_naming_the_field() {
        let error = parse::<Body>(br#"{"name": "a\u0000b"}"#).expect_err("NUL");
        assert!(matches!(error, ApiError::InvalidFields(e) if e[0].field == "name"));
        let nested = parse::<Body>(br#"{"name": "a", "filter": {"statuses": [1, "\u0000"]}}"#)
            .expect_err("NUL");
        assert!(matches!(nested, ApiError::InvalidFields(e) if e[0].field == "filter.statuses[1]"));
    }

    #[test]
    fn syntax_errors_are_malformed_requests() {
        assert!(matches!(
            parse::<Body>(b"{\"name\": "),
            Err(ApiError::MalformedRequest(_))
        ));
        assert!(matches!(
            parse::<Body>(br#"{"name": "a"} trailing"#),
            Err(ApiError::MalformedRequest(_))
        ));
    }
}
