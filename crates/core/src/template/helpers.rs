//! Helpers for template authors, beyond handlebars' own (`eq`, `ne`, `gt`, `gte`, `lt`,
//! `lte`, `and`, `or`, `not`, `len`, `if`, `each`, `with`, `lookup`):
//!
//! - `{{{json value}}}`: the value as JSON;
//! - `{{json_escape text}}`, `{{xml_escape text}}`: escaped text;
//! - `{{date value "%Y-%m-%d"}}`: an RFC 3339 time in a chrono format (UTC; RFC 3339 when
//!   no format is given);
//! - `{{status_description code}}`, `{{status_category code}}`: from the status catalog;
//! - `{{upper text}}`, `{{lower text}}`, `{{default value "fallback"}}`,
//!   `{{mask_number number}}` (all but the last three digits hidden).

use chrono::{DateTime, Utc};
use handlebars::{Handlebars, handlebars_helper};
use serde_json::Value;

use crate::{catalog, number};

pub fn escape_json(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_owned()
}

pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

handlebars_helper!(json: |value: Value| serde_json::to_string(&value).unwrap_or_default());
handlebars_helper!(json_escape: |value: Value| escape_json(&text_of(&value)));
handlebars_helper!(xml_escape: |value: Value| escape_xml(&text_of(&value)));
handlebars_helper!(status_description: |code: Value| catalog::describe(&text_of(&code)));
handlebars_helper!(status_category: |code: Value| catalog::category_of(&text_of(&code)).as_str());
handlebars_helper!(upper: |value: Value| text_of(&value).to_uppercase());
handlebars_helper!(lower: |value: Value| text_of(&value).to_lowercase());
handlebars_helper!(mask_number: |value: Value| number::redact(&text_of(&value)));
handlebars_helper!(default: |value: Value, fallback: Value| {
    if value.is_null() || value.as_str() == Some("") { text_of(&fallback) } else { text_of(&value) }
});
handlebars_helper!(date: |value: Value, *args| {
    let text = text_of(&value);
    match DateTime::parse_from_rfc3339(&text) {
        Ok(time) => {
            let time = time.with_timezone(&Utc);
            // `args` holds every parameter, the value included.
            match args.get(1).and_then(|format| format.as_str()) {
                Some(format) => {
                    // An invalid format must not panic the renderer: chrono reports it as
                    // a fmt error, which `write!` turns into this fallback.
                    let mut out = String::new();
                    if std::fmt::Write::write_fmt(&mut out, format_args!("{}", time.format(format))).is_err() {
                        text
                    } else {
                        out
                    }
                }
                None => time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }
        }
        Err(_) => text,
    }
});

pub fn register(registry: &mut Handlebars<'static>) {
    registry.register_helper("json", Box::new(json));
    registry.register_helper("json_escape", Box::new(json_escape));
    registry.register_helper("xml_escape", Box::new(xml_escape));
    registry.register_helper("status_description", Box::new(status_description));
    registry.register_helper("status_category", Box::new(status_category));
    registry.register_helper("upper", Box::new(upper));
    registry.register_helper("lower", Box::new(lower));
    registry.register_helper("mask_number", Box::new(mask_number));
    registry.register_helper("default", Box::new(default));
    registry.register_helper("date", Box::new(date));
}
