//! Rendering webhook bodies with handlebars.
//!
//! A template's content type decides how `{{value}}` is escaped: JSON string escaping for
//! JSON, XML escaping for XML and HTML, none for anything else (handlebars would otherwise
//! HTML-escape everything). `{{{value}}}` never escapes. Each escaping has its own registry,
//! and compiled templates are kept there by a caller-chosen key (a built-in's name, or a
//! tenant template's id and version), so a template is compiled once, not per delivery.
//!
//! The context a template sees has the keys `report` (the report as the API shows it),
//! `recipient` (with `fan_out: recipient`, else null), `tenant`, `webhook`, `delivery`, and
//! `raw_body` (the original push body) for templates that mention it.

mod builtin;
mod context;
mod helpers;

use std::sync::RwLock;

use handlebars::Handlebars;
use serde::Serialize;

pub use builtin::{BUILTINS, Builtin, SAMPLE_RAW_BODY, builtin, sample_context, sample_report};
pub use context::{Envelope, context};

/// Most templates kept compiled per registry before the cache starts over.
const MAX_CACHED: usize = 10_000;

/// How `{{value}}` is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    Json,
    Xml,
    None,
}

impl Escaping {
    pub fn for_content_type(content_type: &str) -> Self {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence.contains("json") {
            Self::Json
        } else if essence.contains("xml") || essence.contains("html") {
            Self::Xml
        } else {
            Self::None
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Json => 0,
            Self::Xml => 1,
            Self::None => 2,
        }
    }
}

/// A template problem, with where it is when handlebars knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", position.map(|(line, column)| format!("line {line}, column {column}: ")).unwrap_or_default())]
pub struct TemplateError {
    pub message: String,
    /// Line and column, from 1.
    pub position: Option<(usize, usize)>,
}

/// The template registries.
#[derive(Debug)]
pub struct Engine {
    registries: [RwLock<Handlebars<'static>>; 3],
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

fn registry(escaping: Escaping) -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_prevent_indent(true);
    match escaping {
        Escaping::Json => registry.register_escape_fn(helpers::escape_json),
        Escaping::Xml => registry.register_escape_fn(helpers::escape_xml),
        Escaping::None => registry.register_escape_fn(handlebars::no_escape),
    }
    helpers::register(&mut registry);
    registry
}

impl Engine {
    pub fn new() -> Self {
        Self {
            registries: [
                registry(Escaping::Json),
                registry(Escaping::Xml),
                registry(Escaping::None),
            ]
            .map(RwLock::new),
        }
    }

    /// Checks that `source` compiles.
    pub fn compile(source: &str) -> Result<(), TemplateError> {
        handlebars::Template::compile(source)
            .map(|_| ())
            .map_err(|error| TemplateError {
                message: error.reason().to_string(),
                position: error.pos(),
            })
    }

    /// Renders `source` (kept compiled under `key`) with `context`.
    pub fn render(
        &self,
        key: &str,
        source: &str,
        escaping: Escaping,
        context: &impl Serialize,
    ) -> Result<String, TemplateError> {
        let lock = &self.registries[escaping.index()];
        {
            let registry = lock.read().unwrap_or_else(|p| p.into_inner());
            if registry.has_template(key) {
                return registry.render(key, context).map_err(render_error);
            }
        }
        let mut registry = lock.write().unwrap_or_else(|p| p.into_inner());
        if registry.get_templates().len() >= MAX_CACHED {
            registry.clear_templates();
        }
        registry
            .register_template_string(key, source)
            .map_err(|error| TemplateError {
                message: error.reason().to_string(),
                position: error.pos(),
            })?;
        registry.render(key, context).map_err(render_error)
    }

    /// Renders a template once without keeping it (previews, validation).
    pub fn render_once(
        &self,
        source: &str,
        escaping: Escaping,
        context: &impl Serialize,
    ) -> Result<String, TemplateError> {
        Self::compile(source)?;
        let registry = self.registries[escaping.index()]
            .read()
            .unwrap_or_else(|p| p.into_inner());
        registry
            .render_template(source, context)
            .map_err(render_error)
    }
}

fn render_error(error: handlebars::RenderError) -> TemplateError {
    let position = error.line_no.zip(error.column_no);
    TemplateError {
        message: error.reason().to_string(),
        position,
    }
}

/// Whether a template uses the raw push body, which is then loaded for it.
pub fn uses_raw_body(source: &str) -> bool {
    source.contains("raw_body")
}

#[cfg(test)]
mod tests;
