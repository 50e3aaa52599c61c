//! The built-in templates (files in `templates/` at the top of the repository) and the
//! sample report templates are tried on.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::context::{Envelope, context};

use crate::ids::{DeliveryId, ReportId, TenantId, WebhookId};
use crate::report::{Document, FaxReport, Recipient, Reference, ReportFormat, ReportView};

/// A template that ships with faxrelay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub name: &'static str,
    /// `None`: the content type of the original push (the `xml` template).
    pub content_type: Option<&'static str>,
    pub body: &'static str,
    pub description: &'static str,
}

/// A template file without the newline that ends every text file.
const fn file(text: &'static str) -> &'static str {
    match text.as_bytes() {
        [rest @ .., b'\n'] => {
            // The last byte is an ASCII newline, so this splits on a character boundary.
            text.split_at(rest.len()).0
        }
        _ => text,
    }
}

pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "json",
        content_type: Some("application/json"),
        body: file(include_str!("../../../../templates/json.hbs")),
        description: "The normalized report as JSON: {\"type\": \"fax.report\", \"timestamp\", \"data\": report, \"recipient\"?}",
    },
    Builtin {
        name: "xml",
        content_type: None,
        body: file(include_str!("../../../../templates/xml.hbs")),
        description: "The original Retarus body, byte for byte, with its content type",
    },
    Builtin {
        name: "slack",
        content_type: Some("application/json"),
        body: file(include_str!("../../../../templates/slack.hbs")),
        description: "A Slack Block Kit message, for a Slack incoming webhook",
    },
    Builtin {
        name: "teams",
        content_type: Some("application/json"),
        body: file(include_str!("../../../../templates/teams.hbs")),
        description: "A Microsoft Teams message card, for a Teams incoming webhook",
    },
    Builtin {
        name: "text",
        content_type: Some("text/plain; charset=utf-8"),
        body: file(include_str!("../../../../templates/text.hbs")),
        description: "A plain-text summary",
    },
];

pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|builtin| builtin.name == name)
}

/// The report templates are tried on before they are saved, and previews use when no
/// stored report is named.
pub fn sample_report() -> ReportView {
    let at = |h, m, s| Utc.with_ymd_and_hms(2026, 11, 30, h, m, s).single();
    let mut ok = Recipient::new("+49 89 1234567-8900".into(), "OK".into());
    ok.num_id = Some("FNKQ7T2M4905ZZBIELC3D4".into());
    ok.reason = Some("OK".into());
    ok.sent_at = at(9, 12, 44);
    ok.duration_secs = Some(41);
    ok.sent_to_number = Some("00498912345678900".into());
    ok.remote_csid = Some("ACME Legal & Co".into());
    let mut busy = Recipient::new("+1 202 555 0143".into(), "BUSY".into());
    busy.num_id = Some("FNKQ7T2M4A05ZZBIELE5F6".into());
    busy.reason = Some("Destination number busy".into());
    busy.sent_at = at(9, 14, 2);
    busy.duration_secs = Some(0);
    busy.sent_to_number = Some("0012025550143".into());
    busy.properties = BTreeMap::from([("ToName".to_owned(), "Front desk".to_owned())]);

    let mut report = FaxReport::new(
        "FJKQ7T2M4805ZZBIELA1B2".into(),
        ReportFormat::Xml,
        vec![ok, busy],
    );
    report.pages = Some(3);
    report.reference = Reference {
        customer_defined_id: Some("order-77812".into()),
        billing_code: Some("CC-4410".into()),
        billing_info: None,
    };
    report.documents = vec![Document {
        name: "contract-2026-11.pdf".into(),
        is_text: Some(false),
    }];
    report.options = BTreeMap::from([("resolution".to_owned(), "HIGH".to_owned())]);
    ReportView {
        id: ReportId::from_uuid(uuid::Uuid::from_u128(
            0x0193_7a2b_0000_7000_8000_0000_0000_0001,
        )),
        received_at: Utc
            .with_ymd_and_hms(2026, 11, 30, 9, 15, 0)
            .single()
            .unwrap_or_default(),
        report,
    }
}

/// The raw body of the sample report.
pub const SAMPLE_RAW_BODY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<faxJobReport xmlns=\"http://retarus.com/fax4ba/faxws/3/0\"><jobId>FJKQ7T2M4805ZZBIELA1B2</jobId></faxJobReport>";

/// A full template context around the sample report; `recipient` picks a fanned-out
/// recipient.
pub fn sample_context(recipient: Option<usize>) -> Value {
    let envelope = Envelope {
        tenant_id: TenantId::from_uuid(uuid::Uuid::nil()),
        tenant_name: "ACME Legal",
        webhook_id: WebhookId::from_uuid(uuid::Uuid::nil()),
        webhook_url: "https://hooks.example.com/fax",
        webhook_description: Some("sample"),
        delivery_id: DeliveryId::from_uuid(uuid::Uuid::nil()),
        attempt: 1,
        created_at: Utc
            .with_ymd_and_hms(2026, 11, 30, 9, 15, 1)
            .single()
            .unwrap_or_default(),
    };
    context(
        &sample_report(),
        recipient,
        &envelope,
        Some(SAMPLE_RAW_BODY.as_bytes()),
    )
}
