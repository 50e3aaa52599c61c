//! Turning a report into a webhook body.

use faxrelay_core::ids::{DeliveryId, TenantId};
use faxrelay_core::report::ReportView;
use faxrelay_core::template::{self, Engine, Envelope, Escaping, TemplateError};
use faxrelay_storage::templates::TemplateRecord;
use faxrelay_storage::webhooks::WebhookRecord;
use serde_json::Value;

/// A rendered body and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub body: Vec<u8>,
    pub content_type: String,
}

/// Which template renders, and its source.
#[derive(Debug, Clone)]
pub struct Choice<'a> {
    /// Key of the compiled template in the engine's cache.
    pub key: String,
    pub source: &'a str,
    /// `None`: the content type of the original push.
    pub content_type: Option<&'a str>,
    /// Send the original push body itself, byte for byte (the `xml` built-in): it may not
    /// even be UTF-8, so it does not go through the template engine.
    pub raw_passthrough: bool,
}

/// The template a webhook uses: a built-in by name, or the tenant template given.
pub fn choose<'a>(
    webhook_template: &str,
    custom: Option<&'a TemplateRecord>,
) -> Result<Choice<'a>, TemplateError> {
    if let Some(builtin) = template::builtin(webhook_template) {
        return Ok(Choice {
            key: format!("builtin:{}", builtin.name),
            source: builtin.body,
            content_type: builtin.content_type,
            raw_passthrough: builtin.name == "xml",
        });
    }
    match custom {
        Some(record) => Ok(Choice {
            key: record.version_key(),
            source: &record.body,
            content_type: Some(&record.content_type),
            raw_passthrough: false,
        }),
        None => Err(TemplateError {
            message: format!("the template `{webhook_template}` no longer exists"),
            position: None,
        }),
    }
}

/// The template context of a delivery (documented in the README).
pub fn context(
    report: &ReportView,
    recipient: Option<u32>,
    envelope: &Envelope<'_>,
    raw_body: Option<&[u8]>,
) -> Value {
    template::context(report, recipient.map(|i| i as usize), envelope, raw_body)
}

/// The envelope of a delivery to `webhook`.
pub fn envelope<'a>(
    tenant: (TenantId, &'a str),
    webhook: &'a WebhookRecord,
    delivery: (DeliveryId, u32, chrono::DateTime<chrono::Utc>),
) -> Envelope<'a> {
    Envelope {
        tenant_id: tenant.0,
        tenant_name: tenant.1,
        webhook_id: webhook.id,
        webhook_url: &webhook.url,
        webhook_description: webhook.description.as_deref(),
        delivery_id: delivery.0,
        attempt: delivery.1,
        created_at: delivery.2,
    }
}

impl Choice<'_> {
    /// Whether rendering needs the original push body.
    pub fn needs_raw_body(&self) -> bool {
        self.raw_passthrough || template::uses_raw_body(self.source)
    }
}

/// Renders with the chosen template. `raw` is the original push (body and content type),
/// which the `xml` built-in sends on as it is.
pub fn render(
    engine: &Engine,
    choice: &Choice<'_>,
    context: &Value,
    raw: (&[u8], &str),
) -> Result<Rendered, TemplateError> {
    let content_type = choice.content_type.unwrap_or(raw.1);
    let content_type = if content_type.is_empty() {
        "application/octet-stream"
    } else {
        content_type
    };
    let body = if choice.raw_passthrough {
        raw.0.to_vec()
    } else {
        engine
            .render(
                &choice.key,
                choice.source,
                Escaping::for_content_type(content_type),
                context,
            )?
            .into_bytes()
    };
    Ok(Rendered {
        body,
        content_type: content_type.to_owned(),
    })
}
