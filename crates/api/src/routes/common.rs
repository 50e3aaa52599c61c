//! Pieces every resource uses: reading query parameters with errors that name them,
//! validating names, parsing ids from paths, and the list envelope.

use std::str::FromStr;

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use faxrelay_storage::Cursor;
use faxrelay_storage::paging::{MAX_LIMIT, PageRequest};

use crate::problem::{ApiError, FieldError};

/// The query parameters of a request. Unknown and repeated parameters are refused, so a
/// typo in a filter does not silently list everything.
#[derive(Debug)]
pub struct QueryParams {
    params: Vec<(String, String)>,
    errors: Vec<FieldError>,
}

impl QueryParams {
    pub fn of(request: &HttpRequest) -> Self {
        let params: Vec<(String, String)> =
            url::form_urlencoded::parse(request.query_string().as_bytes())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect();
        let mut errors = Vec::new();
        for (i, (name, _)) in params.iter().enumerate() {
            if params[..i].iter().any(|(earlier, _)| earlier == name) {
                errors.push(FieldError::new(name.clone(), "is given more than once"));
            }
        }
        Self { params, errors }
    }

    /// Takes a text parameter; empty counts as absent.
    pub fn text(&mut self, name: &str, max_chars: usize) -> Option<String> {
        let index = self.params.iter().position(|(n, _)| n == name)?;
        let (_, value) = self.params.remove(index);
        if value.chars().count() > max_chars {
            self.errors.push(FieldError::new(
                name,
                format!("must be at most {max_chars} characters"),
            ));
            return None;
        }
        Some(value).filter(|v| !v.is_empty())
    }

    /// Takes a parameter and parses it, recording `expected` as the error.
    pub fn parsed<T: FromStr>(&mut self, name: &str, expected: &str) -> Option<T> {
        let value = self.text(name, 200)?;
        match value.parse() {
            Ok(parsed) => Some(parsed),
            Err(_) => {
                self.errors.push(FieldError::new(
                    name,
                    format!("`{value}` is not {expected}"),
                ));
                None
            }
        }
    }

    pub fn timestamp(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let value = self.text(name, 64)?;
        match DateTime::parse_from_rfc3339(&value) {
            Ok(time) => Some(time.with_timezone(&Utc)),
            Err(_) => {
                self.errors.push(FieldError::new(
                    name,
                    format!("`{value}` is not an RFC 3339 time such as 2026-12-01T00:00:00Z"),
                ));
                None
            }
        }
    }

    /// `limit` and `cursor`.
    pub fn page(&mut self) -> PageRequest {
        let limit = self.parsed::<u64>("limit", "a whole number");
        if limit.is_some_and(|limit| limit == 0 || limit > MAX_LIMIT) {
            self.errors.push(FieldError::new(
                "limit",
                format!("must be from 1 to {MAX_LIMIT}"),
            ));
        }
        let cursor = self.text("cursor", 200).and_then(|text| {
            let cursor = Cursor::decode(&text);
            if cursor.is_none() {
                self.errors.push(FieldError::new(
                    "cursor",
                    "is not a cursor this API handed out",
                ));
            }
            cursor
        });
        PageRequest::new(limit, cursor)
    }

    pub fn reject(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Fails with every problem found, including parameters nobody took.
    pub fn finish(mut self) -> Result<(), ApiError> {
        for (name, _) in std::mem::take(&mut self.params) {
            self.errors
                .push(FieldError::new(name, "is not a parameter of this endpoint"));
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidFields(self.errors))
        }
    }
}

/// A display name: trimmed, 1 to 200 characters, no control characters.
pub fn display_name(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > 200 {
        return Err(ApiError::invalid(field, "must be at most 200 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// An id from a path. An id that does not parse names nothing, so it is 404 like an id
/// of another tenant.
pub fn path_id<T: FromStr>(text: &str, what: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::not_found(what))
}

/// Declares the `{"data": [...], "next_cursor": ...}` envelope of a list of `$item`.
macro_rules! list_type {
    ($name:ident, $item:ty) => {
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            /// Pass as `cursor` to get the next page; absent on the last page.
            pub next_cursor: Option<String>,
        }

        impl $name {
            pub fn from_page<T>(
                page: faxrelay_storage::Page<T>,
                f: impl FnMut(T) -> $item,
            ) -> Self {
                Self {
                    next_cursor: page.next_cursor.map(|cursor| cursor.encode()),
                    data: page.items.into_iter().map(f).collect(),
                }
            }
        }
    };
}
pub(crate) use list_type;
