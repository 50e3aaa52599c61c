//! The Retarus SOAP `faxJobReport` layout.
//!
//! The body is read into a plain element tree (see `fields` for its shape) with local names
//! only, so a default namespace and an `ns2:` prefix read alike. Document type declarations
//! are refused outright and only the predefined entities are expanded: no billion laughs,
//! no external entities. Depth, element count and text length are bounded while reading.

use quick_xml::Reader;
use quick_xml::events::Event;
use serde_json::{Map, Value};

use super::fields::job_report;
use super::{Limits, ParseError};
use crate::report::{FaxReport, ReportFormat};

/// An element on the way to becoming a value.
#[derive(Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<(String, Value)>,
}

impl Element {
    fn into_value(self) -> Value {
        if self.children.is_empty() {
            return Value::String(self.text.trim().to_owned());
        }
        let mut map: Map<String, Value> = Map::new();
        for (name, value) in self.children {
            match map.get_mut(&name) {
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
                None => {
                    map.insert(name, value);
                }
            }
        }
        Value::Object(map)
    }
}

pub(super) fn parse(text: &str, limits: &Limits) -> Result<Vec<FaxReport>, ParseError> {
    let (root_name, root) = read_tree(text, limits)?;
    let mut jobs = Vec::new();
    collect_jobs(&root_name, &root, &mut jobs);
    jobs.iter()
        .enumerate()
        .map(|(i, job)| {
            let path = if jobs.len() == 1 {
                String::new()
            } else {
                format!("faxJobReport[{i}]")
            };
            job_report(job, path, ReportFormat::Xml, limits)
        })
        .collect()
}

/// Every `faxJobReport` element: the root itself, or those inside a `ReportResponse` (or
/// any envelope around it).
fn collect_jobs<'a>(name: &str, value: &'a Value, jobs: &mut Vec<&'a Value>) {
    if name.eq_ignore_ascii_case("faxJobReport") {
        match value {
            Value::Array(items) => jobs.extend(items.iter()),
            other => jobs.push(other),
        }
        return;
    }
    match value {
        Value::Object(map) => {
            for (child_name, child) in map {
                collect_jobs(child_name, child, jobs);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_jobs(name, item, jobs);
            }
        }
        _ => {}
    }
}

fn read_tree(text: &str, limits: &Limits) -> Result<(String, Value), ParseError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<(String, Value)> = None;
    let mut nodes = 0usize;
    let syntax = |reader: &Reader<&[u8]>, error: quick_xml::Error| {
        ParseError::Xml(format!("{error} (at byte {})", reader.error_position()))
    };

    loop {
        let event = reader.read_event().map_err(|e| syntax(&reader, e))?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(ParseError::Xml("content after the root element".into()));
            }
            Event::Start(start) => {
                nodes += 1;
                if nodes > limits.max_nodes {
                    return Err(ParseError::TooManyNodes(limits.max_nodes));
                }
                if stack.len() >= limits.max_depth {
                    return Err(ParseError::TooDeep(limits.max_depth));
                }
                let name = start.local_name().as_ref().to_owned();
                stack.push(Element {
                    name,
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                nodes += 1;
                if nodes > limits.max_nodes {
                    return Err(ParseError::TooManyNodes(limits.max_nodes));
                }
                let name = start.local_name().as_ref().to_owned();
                match stack.last_mut() {
                    Some(parent) => parent.children.push((name, Value::String(String::new()))),
                    None => root = Some((name, Value::String(String::new()))),
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| ParseError::Xml("unexpected end tag".into()))?;
                let name = element.name.clone();
                let value = element.into_value();
                match stack.last_mut() {
                    Some(parent) => parent.children.push((name, value)),
                    None => root = Some((name, value)),
                }
            }
            Event::Text(content) => append_text(&mut stack, &content.xml10_content(), limits)?,
            Event::CData(content) => {
                append_text(&mut stack, &content, limits)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(character)) => character,
                    Ok(None) => predefined_entity(&reference)
                        .ok_or_else(|| ParseError::EntityRefused(reference.to_string()))?,
                    Err(error) => return Err(ParseError::Xml(error.to_string())),
                };
                append_text(&mut stack, resolved.encode_utf8(&mut [0u8; 4]), limits)?;
            }
            Event::DocType(_) => return Err(ParseError::DoctypeRefused),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(ParseError::Xml(format!(
            "the element `{}` is not closed",
            open.name
        )));
    }
    root.ok_or(ParseError::NoReport)
}

fn append_text(stack: &mut [Element], text: &str, limits: &Limits) -> Result<(), ParseError> {
    if text.contains('\0') {
        return Err(ParseError::Nul);
    }
    let Some(element) = stack.last_mut() else {
        if text.trim().is_empty() {
            return Ok(());
        }
        return Err(ParseError::Xml("text outside the root element".into()));
    };
    // Whitespace between child elements is formatting, not content.
    if !element.children.is_empty() && text.trim().is_empty() {
        return Ok(());
    }
    element.text.push_str(text);
    if element.text.len() > limits.max_field_chars
        && element.text.chars().count() > limits.max_field_chars
    {
        return Err(ParseError::FieldTooLong {
            field: element.name.clone(),
            max: limits.max_field_chars,
        });
    }
    Ok(())
}

fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}
