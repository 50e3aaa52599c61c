use chrono::{TimeZone, Utc};

use super::*;
use crate::catalog::StatusCategory;
use crate::report::{JobStatus, ReportFormat};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/retarus/",
            $name
        ))
    };
}

fn xml() -> BodyType {
    BodyType::from_content_type(Some("text/xml; charset=UTF-8")).expect("xml")
}

fn json() -> BodyType {
    BodyType::from_content_type(Some("application/json")).expect("json")
}

fn parse_ok(body_type: BodyType, body: &[u8]) -> Vec<FaxReport> {
    parse(body_type, body, &Limits::default()).expect("parses")
}

fn parse_err(body_type: BodyType, body: &[u8]) -> ParseError {
    parse(body_type, body, &Limits::default()).expect_err("must be refused")
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<chrono::DateTime<Utc>> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single()
}

#[test]
fn content_types_are_recognised_with_and_without_charset() {
    for (value, kind) in [
        ("text/xml", BodyKind::Xml),
        ("application/xml", BodyKind::Xml),
        ("Text/XML; charset=\"utf-8\"", BodyKind::Xml),
        ("application/json", BodyKind::Json),
        ("application/json;charset=UTF-8", BodyKind::Json),
    ] {
        assert_eq!(
            BodyType::from_content_type(Some(value)).map(|t| t.kind),
            Ok(kind),
            "{value}"
        );
    }
    assert_eq!(
        BodyType::from_content_type(None),
        Err(ContentTypeError::Missing)
    );
    assert!(matches!(
        BodyType::from_content_type(Some("text/plain")),
        Err(ContentTypeError::Unsupported(_))
    ));
    assert!(matches!(
        BodyType::from_content_type(Some("application/json; charset=utf-16")),
        Err(ContentTypeError::Charset(_))
    ));
}

#[test]
fn xml_single_report_parses_to_its_values() {
    let reports = parse_ok(xml(), fixture!("xml-ok-single.xml"));
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.job_id, "FJIJPNJYN906EDIJNFGI5S");
    assert_eq!(report.format, ReportFormat::Xml);
    assert_eq!(report.status, JobStatus::Delivered);
    assert_eq!(report.pages, Some(1));
    assert_eq!(report.documents.len(), 1);
    assert_eq!(report.documents[0].name, "document.pdf");
    assert_eq!(report.documents[0].is_text, Some(false));
    assert!(report.options.is_empty());
    assert!(report.reference.is_empty());

    let recipient = &report.recipients[0];
    assert_eq!(report.recipients.len(), 1);
    assert_eq!(recipient.number, "+498912504001710");
    assert_eq!(recipient.num_id.as_deref(), Some("FNIJPNJYNA06EDIJNFUO1Q"));
    assert_eq!(recipient.status, "OK");
    assert_eq!(recipient.category, StatusCategory::Delivered);
    assert_eq!(recipient.reason.as_deref(), Some("OK"));
    assert_eq!(recipient.sent_at, at(2018, 11, 8, 15, 38, 8));
    assert_eq!(recipient.duration_secs, Some(26));
    assert_eq!(
        recipient.sent_to_number.as_deref(),
        Some("00498912504001710")
    );
    assert_eq!(
        recipient.remote_csid.as_deref(),
        Some("+49/89/1250400-1710")
    );

    // Echoed request settings are kept, not dropped.
    assert_eq!(report.extra["httpStatusPush"]["authMethod"], "HTTP_BASIC");
    assert_eq!(report.extra["reportMail"]["attachedFaxImageFormat"], "TIFF");
}

#[test]
fn xml_report_response_with_prefixed_namespace_parses_every_recipient() {
    let reports = parse_ok(
        BodyType::from_content_type(Some("application/xml")).expect("xml"),
        fixture!("xml-mixed-multi.xml"),
    );
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.job_id, "FJKQ7T2M4805ZZBIELA1B2");
    assert_eq!(report.status, JobStatus::Partial);
    assert_eq!(report.pages, Some(3));
    assert_eq!(report.recipients.len(), 3);

    let [ok, busy, timeout] = [
        &report.recipients[0],
        &report.recipients[1],
        &report.recipients[2],
    ];
    assert_eq!(ok.number, "+49 89 1234567-8900");
    assert_eq!(ok.remote_csid.as_deref(), Some("ACME Legal & Co"));
    assert_eq!(ok.sent_at, at(2026, 11, 30, 9, 12, 44));
    assert_eq!(ok.duration_secs, Some(41));

    assert_eq!(busy.status, "BUSY");
    assert_eq!(busy.category, StatusCategory::LineProblem);
    assert_eq!(busy.reason.as_deref(), Some("Destination number busy"));
    assert_eq!(busy.remote_csid.as_deref(), Some(""));
    assert_eq!(busy.duration_secs, Some(0));

    assert_eq!(timeout.status, "NOFAX_TO");
    assert_eq!(timeout.sent_at, None);
    assert_eq!(timeout.remote_csid, None);
    assert_eq!(timeout.sent_to_number.as_deref(), Some("00442079460958"));

    assert_eq!(report.documents.len(), 2);
    assert_eq!(report.documents[1].name, "cover.txt");
    assert_eq!(report.documents[1].is_text, Some(true));
    assert_eq!(
        report.options.get("resolution").map(String::as_str),
        Some("HIGH")
    );
    assert_eq!(
        report.options.get("csid").map(String::as_str),
        Some("ACME HQ")
    );
    assert_eq!(
        report.reference.customer_defined_id.as_deref(),
        Some("order-77812")
    );
    assert_eq!(report.reference.billing_code.as_deref(), Some("CC-4410"));
}

#[test]
fn report_response_with_several_jobs_gives_one_report_each() {
    let body = br#"<ReportResponse xmlns="http://retarus.com/fax4ba/faxws/3/0">
        <faxJobReport><jobId>FJ1</jobId><faxRecipient><number>1</number><status>OK</status></faxRecipient></faxJobReport>
        <faxJobReport><jobId>FJ2</jobId><faxRecipient><number>2</number><status>BUSY</status></faxRecipient></faxJobReport>
    </ReportResponse>"#;
    let reports = parse_ok(xml(), body);
    let ids: Vec<_> = reports.iter().map(|r| r.job_id.as_str()).collect();
    assert_eq!(ids, ["FJ1", "FJ2"]);
    assert_eq!(reports[1].status, JobStatus::Failed);
}

#[test]
fn json_fax_job_report_parses_to_its_values() {
    let reports = parse_ok(json(), fixture!("json-faxjobreport.json"));
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.job_id, "FJIJPNJYN906EDIJNFGI5S");
    assert_eq!(report.format, ReportFormat::JsonFaxJobReport);
    assert_eq!(report.status, JobStatus::Delivered);
    assert_eq!(report.pages, Some(1));
    assert_eq!(report.documents[0].name, "document.pdf");
    assert_eq!(report.documents[0].is_text, Some(false));
    let recipient = &report.recipients[0];
    assert_eq!(recipient.number, "+498912504001710");
    assert_eq!(recipient.num_id.as_deref(), Some("FNIJPNJYNA06EDIJNFUO1Q"));
    assert_eq!(recipient.sent_at, at(2018, 11, 8, 15, 38, 8));
    assert_eq!(recipient.duration_secs, Some(26));
    assert_eq!(
        recipient.remote_csid.as_deref(),
        Some("+49/89/1250400-1710")
    );
    assert_eq!(report.extra["httpStatusPush"]["authMethod"], "OAUTH2");
}

#[test]
fn json_fax_job_report_may_be_wrapped_and_hold_a_single_recipient_object() {
    let body = br#"{"faxJobReport": {"jobId": "FJW", "faxRecipient": {"number": "+1 555", "status": "WRONG_NO", "sentTs": "2020-01-02T03:04:05Z", "durationInSecs": "7"}}}"#;
    let report = &parse_ok(json(), body)[0];
    assert_eq!(report.job_id, "FJW");
    assert_eq!(report.format, ReportFormat::JsonFaxJobReport);
    assert_eq!(report.recipients[0].category, StatusCategory::WrongNumber);
    assert_eq!(report.recipients[0].sent_at, at(2020, 1, 2, 3, 4, 5));
    assert_eq!(report.recipients[0].duration_secs, Some(7));
    assert_eq!(report.status, JobStatus::Failed);
}

#[test]
fn json_rest_report_parses_to_its_values() {
    let report = &parse_ok(json(), fixture!("json-rest-ok.json"))[0];
    assert_eq!(report.job_id, "FJJ5Y09UM505ZZBIELCRYC");
    assert_eq!(report.format, ReportFormat::JsonRest);
    assert_eq!(report.status, JobStatus::Delivered);
    assert_eq!(report.pages, Some(1));
    assert_eq!(
        report.reference.customer_defined_id.as_deref(),
        Some("2017-08-04T15:09:10Z_customerDefinedId")
    );
    assert_eq!(
        report.reference.billing_code.as_deref(),
        Some("2017-08-04T15:09:10Z_billingCode")
    );
    assert_eq!(
        report.reference.billing_info.as_deref(),
        Some("2017-08-04T15:09:10Z_billingInfo")
    );
    let recipient = &report.recipients[0];
    assert_eq!(recipient.number, "+498912345678900");
    assert_eq!(recipient.sent_at, at(2017, 8, 4, 15, 9, 10));
    assert_eq!(recipient.duration_secs, Some(19));
    assert_eq!(
        recipient.sent_to_number.as_deref(),
        Some("00498912345678900")
    );
    assert!(recipient.properties.is_empty());
}

#[test]
fn json_rest_failure_keeps_properties_and_reason() {
    let report = &parse_ok(json(), fixture!("json-rest-failed-properties.json"))[0];
    assert_eq!(report.job_id, "FJLI3102O5BEPYOTB5LPC9");
    assert_eq!(report.status, JobStatus::Failed);
    assert_eq!(report.pages, Some(2));
    assert_eq!(
        report.reference.customer_defined_id.as_deref(),
        Some("invoice-2023-0525")
    );
    assert_eq!(report.reference.billing_code.as_deref(), Some("BC-17"));
    assert_eq!(report.reference.billing_info.as_deref(), Some("Q2"));
    let recipient = &report.recipients[0];
    assert_eq!(recipient.status, "REM_DIS");
    assert_eq!(recipient.category, StatusCategory::LineProblem);
    assert_eq!(recipient.reason.as_deref(), Some("simulated"));
    assert_eq!(recipient.duration_secs, Some(42));
    assert_eq!(recipient.remote_csid.as_deref(), Some(""));
    assert_eq!(recipient.properties.len(), 4);
    assert_eq!(
        recipient.properties["FromName"],
        "Sales Engineering Department"
    );
    assert_eq!(recipient.properties["ToName"], "Matthias");
}

#[test]
fn json_reports_list_gives_one_report_per_entry() {
    let reports = parse_ok(json(), fixture!("json-reports-list.json"));
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].job_id, "FJJ5Y09UM505ZZBIELCRYC");
    assert_eq!(
        reports[0].reference.customer_defined_id.as_deref(),
        Some("a")
    );
    assert_eq!(reports[1].job_id, "FJJ5WA23UO05ZZBIEL0JY5");
    assert_eq!(reports[1].pages, Some(2));
    assert_eq!(
        reports[1].recipients[0].remote_csid.as_deref(),
        Some("Retarus Faxolution")
    );
    assert!(reports[1].reference.is_empty());
    assert!(reports.iter().all(|r| r.format == ReportFormat::JsonRest));
}

#[test]
fn unknown_status_codes_and_elements_are_kept() {
    let body = br#"<faxJobReport><jobId>FJX</jobId><customThing><a>1</a></customThing>
        <faxRecipient><number>1</number><status>BRAND_NEW</status><extraInfo>x</extraInfo></faxRecipient></faxJobReport>"#;
    let report = &parse_ok(xml(), body)[0];
    assert_eq!(report.recipients[0].status, "BRAND_NEW");
    assert_eq!(report.recipients[0].category, StatusCategory::Other);
    assert_eq!(report.extra["customThing"]["a"], "1");
}

#[test]
fn latin1_bodies_are_decoded() {
    let mut body = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><faxJobReport><jobId>FJL</jobId><faxRecipient><number>1</number><status>OK</status><remoteCsid>M".to_vec();
    body.push(0xFC); // ü
    body.extend_from_slice(b"nchen</remoteCsid></faxRecipient></faxJobReport>");
    let report = &parse_ok(xml(), &body)[0];
    assert_eq!(report.recipients[0].remote_csid.as_deref(), Some("München"));
}

#[test]
fn structural_errors_name_what_is_wrong() {
    let cases: &[(BodyType, &[u8], &str)] = &[
        (xml(), b"", "empty"),
        (xml(), b"<faxJobReport><jobId>FJ", "not closed"),
        (xml(), b"<faxJobReport><faxRecipient><number>1</number><status>OK</status></faxRecipient></faxJobReport>", "jobId"),
        (xml(), b"<faxJobReport><jobId>FJ</jobId></faxJobReport>", "faxRecipient"),
        (xml(), b"<faxJobReport><jobId>FJ</jobId><faxRecipient><number>1</number></faxRecipient></faxJobReport>", "faxRecipient[0].status"),
        (xml(), b"<faxJobReport><jobId>FJ</jobId><pages>many</pages><faxRecipient><number>1</number><status>OK</status></faxRecipient></faxJobReport>", "pages"),
        (xml(), b"<faxJobReport><jobId>FJ</jobId><faxRecipient><number>1</number><status>OK</status><sentTS>soon</sentTS></faxRecipient></faxJobReport>", "sentTS"),
        (xml(), b"<html><body>hello</body></html>", "no fax job report"),
        (json(), b"{\"jobId\": ", "malformed JSON"),
        (json(), b"{\"hello\": 1}", "no fax job report"),
        (json(), b"{\"jobId\": \"FJ\", \"recipientStatus\": [{\"number\": \"1\", \"status\": \"OK\", \"durationInSecs\": -4}]}", "recipientStatus[0].durationInSecs"),
        (json(), b"[1, 2]", "expected an object"),
        (json(), &[0xff, 0xfe, 0x00], "UTF-8"),
    ];
    for (body_type, body, needle) in cases {
        let message = parse_err(*body_type, body).to_string();
        assert!(
            message.contains(needle),
            "{:?}: `{message}` should mention `{needle}`",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn dtds_and_entity_expansion_are_refused() {
    let billion_laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<faxJobReport><jobId>&lol2;</jobId></faxJobReport>"#;
    assert_eq!(parse_err(xml(), billion_laughs), ParseError::DoctypeRefused);

    let external = br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><faxJobReport><jobId>&x;</jobId></faxJobReport>"#;
    assert_eq!(parse_err(xml(), external), ParseError::DoctypeRefused);

    let undeclared = b"<faxJobReport><jobId>&x;</jobId></faxJobReport>";
    assert_eq!(
        parse_err(xml(), undeclared),
        ParseError::EntityRefused("x".into())
    );
}

#[test]
fn hostile_sizes_are_bounded() {
    let limits = Limits::default();
    let deep_xml = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    assert_eq!(
        parse_err(xml(), deep_xml.as_bytes()),
        ParseError::TooDeep(limits.max_depth)
    );

    let deep_json = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(
        parse_err(json(), deep_json.as_bytes()),
        ParseError::TooDeep(limits.max_depth)
    );

    let long = format!(
        "<faxJobReport><jobId>{}</jobId><faxRecipient><number>1</number><status>OK</status></faxRecipient></faxJobReport>",
        "J".repeat(limits.max_field_chars + 1)
    );
    assert!(matches!(
        parse_err(xml(), long.as_bytes()),
        ParseError::FieldTooLong { .. }
    ));

    let small = Limits {
        max_recipients: 2,
        ..limits
    };
    let many = format!(
        "<faxJobReport><jobId>FJ</jobId>{}</faxJobReport>",
        "<faxRecipient><number>1</number><status>OK</status></faxRecipient>".repeat(3)
    );
    assert_eq!(
        parse(xml(), many.as_bytes(), &small),
        Err(ParseError::TooManyRecipients(2))
    );
}

#[test]
fn nul_characters_are_refused() {
    let json_body =
        br#"{"jobId": "FJ\u0000", "recipientStatus": [{"number": "1", "status": "OK"}]}"#;
    assert_eq!(parse_err(json(), json_body), ParseError::Nul);
    let json_key =
        br#"{"jobId": "FJ", "x\u0000": 1, "recipientStatus": [{"number": "1", "status": "OK"}]}"#;
    assert_eq!(parse_err(json(), json_key), ParseError::Nul);
    let xml_body = b"<faxJobReport><jobId>FJ\0</jobId></faxJobReport>";
    assert!(matches!(
        parse_err(xml(), xml_body),
        ParseError::Nul | ParseError::Xml(_)
    ));
}
