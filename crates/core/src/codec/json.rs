//! The JSON layouts: `faxJobReport` in JSON (alone or wrapped as `{"faxJobReport": ...}`),
//! the Fax REST API v1 report, and lists of either (`{"reports": [...]}` or a bare array).

use serde_json::Value;

use super::fields::{job_format_hint, job_report};
use super::{Limits, ParseError};
use crate::report::FaxReport;

pub(super) fn parse(text: &str, limits: &Limits) -> Result<Vec<FaxReport>, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
    check_shape(&value, 0, &mut 0, limits)?;

    let (jobs, list_name): (Vec<&Value>, &str) = match &value {
        Value::Array(items) => (items.iter().collect(), ""),
        Value::Object(map) => {
            let field = |name: &str| {
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            };
            if let Some(reports) = field("reports") {
                match reports {
                    Value::Array(items) => (items.iter().collect(), "reports"),
                    other => (vec![other], "reports"),
                }
            } else if let Some(wrapped) = field("faxJobReport") {
                match wrapped {
                    Value::Array(items) => (items.iter().collect(), "faxJobReport"),
                    other => (vec![other], "faxJobReport"),
                }
            } else if field("jobId").is_some() {
                (vec![&value], "")
            } else {
                return Err(ParseError::NoReport);
            }
        }
        _ => return Err(ParseError::NoReport),
    };
    if jobs.len() > limits.max_jobs {
        return Err(ParseError::TooManyJobs(limits.max_jobs));
    }
    let single = jobs.len() == 1;
    jobs.into_iter()
        .enumerate()
        .map(|(i, job)| {
            let path = match (single, list_name) {
                (true, "") => String::new(),
                (true, name) => name.to_owned(),
                (false, "") => format!("[{i}]"),
                (false, name) => format!("{name}[{i}]"),
            };
            job_report(job, path, job_format_hint(job), limits)
        })
        .collect()
}

/// Bounds nesting and size before any mapping work (serde_json's own recursion limit keeps
/// the parser itself safe).
fn check_shape(
    value: &Value,
    depth: usize,
    nodes: &mut usize,
    limits: &Limits,
) -> Result<(), ParseError> {
    *nodes += 1;
    if *nodes > limits.max_nodes {
        return Err(ParseError::TooManyNodes(limits.max_nodes));
    }
    if depth > limits.max_depth {
        return Err(ParseError::TooDeep(limits.max_depth));
    }
    match value {
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| check_shape(item, depth + 1, nodes, limits)),
        Value::Object(map) => map.iter().try_for_each(|(key, item)| {
            if key.contains('\0') {
                return Err(ParseError::Nul);
            }
            check_shape(item, depth + 1, nodes, limits)
        }),
        Value::String(text) if text.contains('\0') => Err(ParseError::Nul),
        _ => Ok(()),
    }
}
