use serde_json::Value;

use super::*;

fn render(
    source: &str,
    escaping: Escaping,
    recipient: Option<usize>,
) -> Result<String, TemplateError> {
    Engine::new().render_once(source, escaping, &sample_context(recipient))
}

#[test]
fn every_builtin_renders_the_sample_in_its_format() {
    let engine = Engine::new();
    for builtin in BUILTINS {
        for recipient in [None, Some(1)] {
            let content_type = builtin.content_type.unwrap_or("application/xml");
            let output = engine
                .render(
                    builtin.name,
                    builtin.body,
                    Escaping::for_content_type(content_type),
                    &sample_context(recipient),
                )
                .unwrap_or_else(|e| panic!("{}: {e}", builtin.name));
            if content_type.contains("json") {
                let parsed: Value = serde_json::from_str(&output).unwrap_or_else(|e| {
                    panic!("{} renders invalid JSON: {e}\n{output}", builtin.name)
                });
                assert!(parsed.is_object());
            }
            assert!(
                output.contains("FJKQ7T2M4805ZZBIELA1B2"),
                "{}: {output}",
                builtin.name
            );
        }
    }
}

#[test]
fn the_json_builtin_carries_the_report_and_the_recipient() {
    let output =
        render(builtin("json").expect("json").body, Escaping::Json, Some(1)).expect("renders");
    let body: Value = serde_json::from_str(&output).expect("JSON");
    assert_eq!(body["type"], "fax.report");
    assert_eq!(body["data"]["job_id"], "FJKQ7T2M4805ZZBIELA1B2");
    assert_eq!(body["data"]["recipients"][1]["status"], "BUSY");
    assert_eq!(body["recipient"]["number"], "+1 202 555 0143");
    let whole: Value = serde_json::from_str(
        &render(builtin("json").expect("json").body, Escaping::Json, None).expect("renders"),
    )
    .expect("JSON");
    assert!(whole.get("recipient").is_none());
}

#[test]
fn the_xml_builtin_is_the_raw_body_byte_for_byte() {
    let output = render(builtin("xml").expect("xml").body, Escaping::Xml, None).expect("renders");
    assert_eq!(output, builtin::SAMPLE_RAW_BODY);
}

#[test]
fn values_are_escaped_for_the_content_type() {
    let source = "{{report.recipients.0.remote_csid}}";
    assert_eq!(
        render(source, Escaping::Xml, None).expect("xml"),
        "ACME Legal &amp; Co"
    );
    assert_eq!(
        render(source, Escaping::None, None).expect("text"),
        "ACME Legal & Co"
    );
    assert_eq!(render("{{x}}", Escaping::Json, None).expect("json"), "");
    let quoted = Engine::new()
        .render_once(
            "{{v}}",
            Escaping::Json,
            &serde_json::json!({"v": "a\"b\\c\n"}),
        )
        .expect("json");
    assert_eq!(quoted, r#"a\"b\\c\n"#);
    assert_eq!(
        Escaping::for_content_type("application/vnd.api+json; charset=utf-8"),
        Escaping::Json
    );
    assert_eq!(Escaping::for_content_type("text/html"), Escaping::Xml);
    assert_eq!(Escaping::for_content_type("text/plain"), Escaping::None);
}

#[test]
fn helpers_format_dates_describe_statuses_and_compare() {
    let source = r#"{{date report.received_at "%d.%m.%Y %H:%M"}}|{{status_description "BUSY"}}|{{status_category "WRONG_NO"}}|{{#if (eq report.status "partial")}}partial{{/if}}|{{mask_number recipient.number}}|{{default report.reference.billing_info "none"}}|{{upper "ok"}}"#;
    let output = render(source, Escaping::None, Some(0)).expect("renders");
    assert_eq!(
        output,
        "30.11.2026 09:15|The line was busy|wrong_number|partial|************900|none|OK"
    );
}

#[test]
fn errors_name_line_and_column() {
    let error = Engine::compile("line one\n{{#each report.recipients}}\n{{number}}\n")
        .expect_err("unclosed block");
    assert_eq!(error.position.map(|(line, _)| line), Some(4));
    assert!(error.to_string().starts_with("line 4, column"), "{error}");

    let error = render("ok\n  {{date}}", Escaping::None, None).expect_err("missing parameter");
    assert_eq!(error.position, Some((2, 3)), "{error}");
}

#[test]
fn a_bad_date_format_does_not_panic() {
    let output =
        render(r#"{{date report.received_at "%Q"}}"#, Escaping::None, None).expect("renders");
    assert!(output.starts_with("2026-11-30T09:15:00"), "{output}");
}
