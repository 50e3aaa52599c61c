//! The data a template renders: one builder for deliveries, tests sends, previews and the
//! sample report, so that every one of them sees the same shape.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::ids::{DeliveryId, TenantId, WebhookId};
use crate::report::ReportView;

/// Who and what a template renders for, beside the report.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    pub tenant_id: TenantId,
    pub tenant_name: &'a str,
    pub webhook_id: WebhookId,
    pub webhook_url: &'a str,
    pub webhook_description: Option<&'a str>,
    pub delivery_id: DeliveryId,
    pub attempt: u32,
    pub created_at: DateTime<Utc>,
}

/// The context: `report`, `recipient` (the one at `recipient`, for fan-out per recipient,
/// else null), `tenant`, `webhook`, `delivery`, and `raw_body` when given.
pub fn context(
    report: &ReportView,
    recipient: Option<usize>,
    envelope: &Envelope<'_>,
    raw_body: Option<&[u8]>,
) -> Value {
    let recipient = recipient.and_then(|i| report.report.recipients.get(i));
    let mut context = json!({
        "report": report,
        "recipient": recipient,
        "tenant": {"id": envelope.tenant_id, "name": envelope.tenant_name},
        "webhook": {"id": envelope.webhook_id, "url": envelope.webhook_url, "description": envelope.webhook_description},
        "delivery": {
            "id": envelope.delivery_id,
            "attempt": envelope.attempt,
            "created_at": envelope.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        },
    });
    if let Some(raw) = raw_body {
        context["raw_body"] = Value::String(String::from_utf8_lossy(raw).into_owned());
    }
    context
}
