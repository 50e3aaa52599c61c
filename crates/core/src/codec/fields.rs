//! Mapping a parsed body onto [`FaxReport`].
//!
//! Both XML and JSON bodies arrive here as a `serde_json::Value` tree: XML elements become
//! objects, repeated elements arrays and text leaves strings. So one mapper serves every
//! layout, and it accepts a number written as a string (XML) or as a number (JSON) alike.
//! Field names are matched ignoring case, which also reads `sentTS` and `sentTs` alike.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use super::{Limits, ParseError};
use crate::report::{Document, FaxReport, Recipient, Reference, ReportFormat};

/// Top-level fields the normalized report has a place for; every other one goes to `extra`.
const KNOWN_JOB_FIELDS: &[&str] = &[
    "jobId",
    "faxRecipient",
    "recipientStatus",
    "document",
    "options",
    "pages",
    "reference",
];

/// Retarus job ids are 22 characters; this leaves room for other layouts.
pub(super) const MAX_JOB_ID_CHARS: usize = 128;

/// A JSON object read with case-insensitive field names and error paths.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
    limits: &'a Limits,
}

impl<'a> Fields<'a> {
    fn new(value: &'a Value, path: String, limits: &'a Limits) -> Result<Self, ParseError> {
        match value {
            Value::Object(map) => Ok(Self { map, path, limits }),
            _ => Err(ParseError::Invalid {
                field: path,
                reason: "expected an object".into(),
            }),
        }
    }

    fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
            .filter(|value| !value.is_null())
    }

    fn text(&self, name: &str) -> Result<Option<String>, ParseError> {
        self.get(name)
            .map(|value| text_of(value, &self.path_of(name), self.limits))
            .transpose()
    }

    /// A text field, with empty text read as absent.
    fn non_empty_text(&self, name: &str) -> Result<Option<String>, ParseError> {
        Ok(self.text(name)?.filter(|text| !text.is_empty()))
    }

    fn required_text(&self, name: &str) -> Result<String, ParseError> {
        self.non_empty_text(name)?
            .ok_or_else(|| ParseError::Missing(self.path_of(name)))
    }

    fn count(&self, name: &str) -> Result<Option<u32>, ParseError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let invalid = |reason: &str| ParseError::Invalid {
            field: self.path_of(name),
            reason: reason.into(),
        };
        match value {
            Value::Number(number) => number
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| invalid("expected a whole number from 0 to 4294967295")),
            Value::String(text) if text.trim().is_empty() => Ok(None),
            Value::String(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| invalid("expected a whole number from 0 to 4294967295")),
            _ => Err(invalid("expected a whole number")),
        }
    }

    fn flag(&self, name: &str) -> Result<Option<bool>, ParseError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        match value {
            Value::Bool(flag) => Ok(Some(*flag)),
            Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                "" => Ok(None),
                _ => Err(ParseError::Invalid {
                    field: self.path_of(name),
                    reason: "expected true or false".into(),
                }),
            },
            _ => Err(ParseError::Invalid {
                field: self.path_of(name),
                reason: "expected true or false".into(),
            }),
        }
    }

    fn timestamp(&self, name: &str) -> Result<Option<DateTime<Utc>>, ParseError> {
        let Some(text) = self.non_empty_text(name)? else {
            return Ok(None);
        };
        parse_timestamp(&text)
            .map(Some)
            .ok_or_else(|| ParseError::Invalid {
                field: self.path_of(name),
                reason: format!("`{text}` is not an ISO 8601 date and time"),
            })
    }

    /// The values of a repeated element: an array, or a single object standing for one.
    fn list(&self, name: &str) -> Vec<&'a Value> {
        match self.get(name) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(value) => vec![value],
            None => Vec::new(),
        }
    }
}

fn text_of(value: &Value, path: &str, limits: &Limits) -> Result<String, ParseError> {
    let text = match value {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Null => String::new(),
        Value::Array(_) | Value::Object(_) => {
            return Err(ParseError::Invalid {
                field: path.to_owned(),
                reason: "expected text".into(),
            });
        }
    };
    if text.chars().count() > limits.max_field_chars {
        return Err(ParseError::FieldTooLong {
            field: path.to_owned(),
            max: limits.max_field_chars,
        });
    }
    Ok(text)
}

/// ISO 8601 as Retarus writes it (`2018-11-08T15:38:08Z`), with or without fraction or
/// offset; a time without offset is taken as UTC, which is what Retarus documents.
pub(super) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(|naive| Utc.from_utc_datetime(&naive))
}

/// Which layout a JSON value (or an XML-derived one) is in.
pub(super) fn job_format_hint(job: &Value) -> ReportFormat {
    let is_rest = job.as_object().is_some_and(|map| {
        map.keys()
            .any(|key| key.eq_ignore_ascii_case("recipientStatus"))
    });
    if is_rest {
        ReportFormat::JsonRest
    } else {
        ReportFormat::JsonFaxJobReport
    }
}

/// Maps one job value onto a report.
pub(super) fn job_report(
    value: &Value,
    path: String,
    format: ReportFormat,
    limits: &Limits,
) -> Result<FaxReport, ParseError> {
    let job = Fields::new(value, path, limits)?;
    let job_id = job.required_text("jobId")?;
    if job_id.chars().count() > MAX_JOB_ID_CHARS {
        return Err(ParseError::FieldTooLong {
            field: job.path_of("jobId"),
            max: MAX_JOB_ID_CHARS,
        });
    }

    let recipient_field = if job.get("recipientStatus").is_some() {
        "recipientStatus"
    } else {
        "faxRecipient"
    };
    let recipient_values = job.list(recipient_field);
    if recipient_values.is_empty() {
        return Err(ParseError::Missing(format!(
            "{} (at least one recipient)",
            job.path_of("faxRecipient")
        )));
    }
    if recipient_values.len() > limits.max_recipients {
        return Err(ParseError::TooManyRecipients(limits.max_recipients));
    }
    let recipients = recipient_values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            recipient(
                value,
                format!("{}[{i}]", job.path_of(recipient_field)),
                limits,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut report = FaxReport::new(job_id, format, recipients);
    report.pages = job.count("pages")?;
    report.documents = job
        .list("document")
        .into_iter()
        .enumerate()
        .map(|(i, value)| document(value, format!("{}[{i}]", job.path_of("document")), limits))
        .collect::<Result<_, _>>()?;
    report.options = options(&job)?;
    report.reference = reference(&job, &report.options)?;
    report.extra = job
        .map
        .iter()
        .filter(|(key, _)| {
            !KNOWN_JOB_FIELDS
                .iter()
                .any(|known| known.eq_ignore_ascii_case(key))
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Ok(report)
}

fn recipient(value: &Value, path: String, limits: &Limits) -> Result<Recipient, ParseError> {
    let fields = Fields::new(value, path, limits)?;
    let sent_to_number = fields.non_empty_text("sentToNumber")?;
    let number = match fields.non_empty_text("number")? {
        Some(number) => number,
        None => sent_to_number
            .clone()
            .ok_or_else(|| ParseError::Missing(fields.path_of("number")))?,
    };
    let mut recipient = Recipient::new(number, fields.required_text("status")?);
    recipient.num_id = fields.non_empty_text("numId")?;
    recipient.reason = fields.non_empty_text("reason")?;
    recipient.sent_at = fields.timestamp("sentTS")?;
    recipient.duration_secs = fields.count("durationInSecs")?;
    recipient.sent_to_number = sent_to_number;
    recipient.remote_csid = fields.text("remoteCsid")?;
    recipient.alternative_numbers = fields
        .list("alternativeNumbers")
        .into_iter()
        .map(|value| text_of(value, &fields.path_of("alternativeNumbers"), limits))
        .collect::<Result<_, _>>()?;
    recipient.properties = properties(&fields)?;
    Ok(recipient)
}

/// `properties` as the REST layout sends them (`[{"key": ..., "value": ...}]`) or as a
/// plain object.
fn properties(fields: &Fields<'_>) -> Result<BTreeMap<String, String>, ParseError> {
    let path = fields.path_of("properties");
    let mut properties = BTreeMap::new();
    match fields.get("properties") {
        None => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                properties.insert(
                    key.clone(),
                    text_of(value, &format!("{path}.{key}"), fields.limits)?,
                );
            }
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let pair = Fields::new(item, format!("{path}[{i}]"), fields.limits)?;
                let key = pair.required_text("key")?;
                properties.insert(key, pair.text("value")?.unwrap_or_default());
            }
        }
        Some(_) => {
            return Err(ParseError::Invalid {
                field: path,
                reason: "expected a list of key/value pairs".into(),
            });
        }
    }
    Ok(properties)
}

fn document(value: &Value, path: String, limits: &Limits) -> Result<Document, ParseError> {
    let fields = Fields::new(value, path, limits)?;
    Ok(Document {
        name: fields.text("name")?.unwrap_or_default(),
        is_text: fields.flag("isText")?,
    })
}

/// `options` as a flat string map; nested values are kept as their JSON text.
fn options(job: &Fields<'_>) -> Result<BTreeMap<String, String>, ParseError> {
    let mut options = BTreeMap::new();
    let Some(value) = job.get("options") else {
        return Ok(options);
    };
    let path = job.path_of("options");
    let Value::Object(map) = value else {
        return Err(ParseError::Invalid {
            field: path,
            reason: "expected a list of options".into(),
        });
    };
    for (key, value) in map {
        let text = match value {
            Value::Object(_) | Value::Array(_) => value.to_string(),
            _ => text_of(value, &format!("{path}.{key}"), job.limits)?,
        };
        options.insert(key.clone(), text);
    }
    Ok(options)
}

/// The sender's references: the REST layout's `reference`, or for the SOAP layout the
/// equivalent `options` (`jobReference`, `billingCode`, `billingInfo`), so that filtering by
/// customer reference works whichever layout the account uses.
fn reference(
    job: &Fields<'_>,
    options: &BTreeMap<String, String>,
) -> Result<Reference, ParseError> {
    let mut reference = match job.get("reference") {
        Some(value) => {
            let fields = Fields::new(value, job.path_of("reference"), job.limits)?;
            Reference {
                customer_defined_id: fields.non_empty_text("customerDefinedId")?,
                billing_code: fields.non_empty_text("billingCode")?,
                billing_info: fields.non_empty_text("billingInfo")?,
            }
        }
        None => Reference::default(),
    };
    let option = |name: &str| {
        options
            .iter()
            .find(|(key, value)| key.eq_ignore_ascii_case(name) && !value.is_empty())
            .map(|(_, value)| value.clone())
    };
    reference.customer_defined_id = reference
        .customer_defined_id
        .or_else(|| option("jobReference"));
    reference.billing_code = reference.billing_code.or_else(|| option("billingCode"));
    reference.billing_info = reference.billing_info.or_else(|| option("billingInfo"));
    Ok(reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_read_in_the_usual_iso_forms() {
        let expected = Utc.with_ymd_and_hms(2018, 11, 8, 15, 38, 8).single();
        for text in [
            "2018-11-08T15:38:08Z",
            "2018-11-08T16:38:08+01:00",
            "2018-11-08T15:38:08",
            "2018-11-08T15:38:08.000Z",
        ] {
            assert_eq!(parse_timestamp(text), expected, "{text}");
        }
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
