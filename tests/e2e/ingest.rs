//! Storing pushes: every layout, once, durably, and nothing accepted is lost.

use faxrelay_tests::fixtures::{self, retarus};
use faxrelay_tests::proxy::TcpProxy;
use faxrelay_tests::{Backend, TestApp, backend_test, problem};
use serde_json::{Value, json};

backend_test!(
    async fn every_fixture_is_stored_with_its_values_and_raw_body(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;
        // The JSON faxJobReport repeats the XML sample's report, and the REST sample the
        // first report of the list: the same job with the same outcome, so the same report.
        let expected_duplicates = [
            ("xml-ok-single.xml", vec![false]),
            ("xml-mixed-multi.xml", vec![false]),
            ("json-faxjobreport.json", vec![true]),
            ("json-reports-list.json", vec![false, false]),
            ("json-rest-ok.json", vec![true]),
            ("json-rest-failed-properties.json", vec![false]),
        ];
        assert_eq!(expected_duplicates.len(), fixtures::ALL.len());
        for (name, duplicates) in expected_duplicates {
            let receipt = app.push_fixture(&tenant, name).await;
            let found: Vec<bool> = receipt["reports"]
                .as_array()
                .expect("reports")
                .iter()
                .map(|r| r["duplicate"] == true)
                .collect();
            assert_eq!(found, duplicates, "{name}");
            if duplicates[0] {
                continue;
            }
            let id = receipt["reports"][0]["id"].as_str().expect("id").to_owned();

            let raw = app
                .get(&format!("/reports/{id}/raw"), &tenant.api_key)
                .await;
            assert_eq!(raw.status(), 200);
            assert_eq!(
                raw.headers()["content-type"],
                fixtures::content_type_of(name)
            );
            assert!(
                raw.headers()["content-security-policy"]
                    .to_str()
                    .unwrap_or_default()
                    .contains("sandbox")
            );
            assert_eq!(
                raw.bytes().await.expect("body").as_ref(),
                retarus(name).as_slice(),
                "{name} is kept byte for byte"
            );
        }

        let list = app
            .get_json("/reports?job_id=FJKQ7T2M4805ZZBIELA1B2", &tenant.api_key)
            .await;
        let report = &list["data"][0];
        assert!(
            report["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("rpt_"))
        );
        assert!(report["received_at"].is_string());
        assert_eq!(report["format"], "xml");
        assert_eq!(report["status"], "partial");
        assert_eq!(report["pages"], 3);
        assert_eq!(
            report["reference"],
            json!({"customer_defined_id": "order-77812", "billing_code": "CC-4410", "billing_info": null})
        );
        assert_eq!(report["options"]["resolution"], "HIGH");
        assert_eq!(
            report["documents"],
            json!([{"name": "contract-2026-11.pdf", "is_text": false}, {"name": "cover.txt", "is_text": true}])
        );
        let recipients = report["recipients"].as_array().expect("recipients");
        assert_eq!(recipients.len(), 3);
        assert_eq!(
            recipients[0],
            json!({
                "number": "+49 89 1234567-8900", "num_id": "FNKQ7T2M4905ZZBIELC3D4", "status": "OK", "category": "delivered",
                "reason": "OK", "sent_at": "2026-11-30T09:12:44Z", "duration_secs": 41, "sent_to_number": "00498912345678900",
                "remote_csid": "ACME Legal & Co", "alternative_numbers": [], "properties": {}
            })
        );
        assert_eq!(recipients[1]["category"], "line_problem");
        assert_eq!(recipients[2]["sent_at"], Value::Null);

        let rest = app
            .get_json("/reports?job_id=FJLI3102O5BEPYOTB5LPC9", &tenant.api_key)
            .await;
        let report = &rest["data"][0];
        assert_eq!(report["format"], "json_rest");
        assert_eq!(report["status"], "failed");
        assert_eq!(
            report["reference"]["customer_defined_id"],
            "invoice-2023-0525"
        );
        assert_eq!(report["recipients"][0]["properties"]["ToName"], "Matthias");
        assert_eq!(report["recipients"][0]["status"], "REM_DIS");

        let single = app
            .get_json("/reports?job_id=FJIJPNJYN906EDIJNFGI5S", &tenant.api_key)
            .await;
        let formats: Vec<&str> = single["data"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|r| r["format"].as_str())
            .collect();
        assert_eq!(formats, ["xml"], "stored once, as first received");
        assert_eq!(
            single["data"][0]["extra"]["httpStatusPush"]["authMethod"],
            "HTTP_BASIC"
        );
        assert_eq!(
            app.get_json("/reports", &tenant.api_key).await["data"]
                .as_array()
                .map(Vec::len),
            Some(5)
        );
    }
);

backend_test!(
    async fn content_types_are_read_with_and_without_charset(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;
        for content_type in [
            "text/xml",
            "application/xml",
            "application/xml; charset=utf-8",
            "TEXT/XML;charset=UTF-8",
        ] {
            let response = app
                .push_basic(&tenant, retarus("xml-ok-single.xml"), content_type)
                .await;
            assert_eq!(response.status(), 200, "{content_type}");
        }
        for content_type in ["application/json", "application/json; charset=UTF-8"] {
            let response = app
                .push_basic(&tenant, retarus("json-rest-ok.json"), content_type)
                .await;
            assert_eq!(response.status(), 200, "{content_type}");
        }
    }
);

backend_test!(
    async fn the_same_report_pushed_again_is_stored_once(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;
        let first = app.push_fixture(&tenant, "xml-mixed-multi.xml").await;
        let second = app.push_fixture(&tenant, "xml-mixed-multi.xml").await;
        assert_eq!(first["reports"][0]["duplicate"], false);
        assert_eq!(second["reports"][0]["duplicate"], true);
        assert_eq!(first["reports"][0]["id"], second["reports"][0]["id"]);

        // Retarus retrying in parallel: every push is answered 200 and one copy is kept.
        let pushes = (0..12)
            .map(|_| app.push_basic(&tenant, retarus("json-rest-ok.json"), "application/json"));
        let responses = futures_util::future::join_all(pushes).await;
        let mut ids = Vec::new();
        for response in responses {
            assert_eq!(response.status(), 200);
            ids.push(response.json::<Value>().await.expect("json")["reports"][0]["id"].clone());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "all answers name the one stored report");
        let list = app.get_json("/reports", &tenant.api_key).await;
        assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
    }
);

backend_test!(
    async fn unreadable_pushes_are_refused_and_kept(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;
        let custom = b"<customReport><id>42</id></customReport>".to_vec();
        let response = app.push_basic(&tenant, custom.clone(), "text/xml").await;
        let body = problem(response, 400).await;
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("no fax job report")),
            "{body}"
        );

        let plain = b"job FJ1 delivered".to_vec();
        problem(
            app.push_basic(&tenant, plain.clone(), "text/plain").await,
            415,
        )
        .await;

        let list = app.get_json("/rejected-pushes", &tenant.api_key).await;
        let rejected = list["data"].as_array().expect("rejected pushes");
        assert_eq!(rejected.len(), 2);
        assert_eq!(rejected[0]["content_type"], "text/plain");
        assert_eq!(rejected[0]["size"], plain.len());
        assert!(
            rejected[1]["error"]
                .as_str()
                .is_some_and(|e| e.contains("no fax job report"))
        );
        let id = rejected[1]["id"].as_str().expect("id");
        let raw = app
            .get(&format!("/rejected-pushes/{id}/raw"), &tenant.api_key)
            .await;
        assert_eq!(raw.headers()["content-type"], "text/xml");
        assert_eq!(raw.bytes().await.expect("body").as_ref(), custom.as_slice());
        assert_eq!(
            app.get_json("/reports", &tenant.api_key).await["data"],
            json!([])
        );
    }
);

backend_test!(
    async fn hostile_bodies_get_4xx_and_the_server_stays_healthy(backend: Backend) {
        let app = TestApp::builder(backend)
            .configure(|c| c.max_push_bytes = 256 * 1024)
            .spawn()
            .await;
        let tenant = app.sign_up("basic").await;
        let deep_json = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let deep_xml = format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000));
        let wide = format!(
            "<faxJobReport><jobId>FJ</jobId>{}</faxJobReport>",
            "<faxRecipient><number>1</number><status>OK</status></faxRecipient>".repeat(4000)
        );
        let long_content_type = format!("application/json; {}", "x=y; ".repeat(100));
        let corpus: Vec<(&str, Vec<u8>, &str, u16)> = vec![
            ("billion laughs", br#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><faxJobReport><jobId>&c;</jobId></faxJobReport>"#.to_vec(), "text/xml", 400),
            ("external entity", br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><faxJobReport><jobId>&x;</jobId><faxRecipient><number>1</number><status>OK</status></faxRecipient></faxJobReport>"#.to_vec(), "text/xml", 400),
            ("undeclared entity", b"<faxJobReport><jobId>&boom;</jobId></faxJobReport>".to_vec(), "text/xml", 400),
            ("deep xml", deep_xml.into_bytes(), "text/xml", 400),
            ("deep json", deep_json.into_bytes(), "application/json", 400),
            ("over the size limit", wide.into_bytes(), "text/xml", 413),
            ("long field", format!("{{\"jobId\": \"{}\", \"recipientStatus\": [{{\"number\": \"1\", \"status\": \"OK\"}}]}}", "J".repeat(10_000)).into_bytes(), "application/json", 400),
            ("not utf-8", vec![0xff, 0xfe, 0xfd, 0x00, 0x3c], "text/xml", 400),
            ("empty", Vec::new(), "application/json", 400),
            ("truncated", b"<faxJobReport><jobId>FJ1</jobId><faxRecipient><num".to_vec(), "text/xml", 400),
            ("binary", (0..=255u8).cycle().take(4096).collect(), "application/octet-stream", 415),
            ("json scalar", b"42".to_vec(), "application/json", 400),
            ("null recipient fields", br#"{"jobId": "FJ", "recipientStatus": [{"number": null, "status": null}]}"#.to_vec(), "application/json", 400),
            ("wrong types", br#"{"jobId": {"a": 1}, "recipientStatus": 7}"#.to_vec(), "application/json", 400),
            ("unsupported charset", b"<faxJobReport/>".to_vec(), "text/xml; charset=utf-16", 415),
            ("NUL in JSON", br#"{"jobId": "FJ\u0000", "recipientStatus": [{"number": "1", "status": "OK"}]}"#.to_vec(), "application/json", 400),
            ("overlong job id", format!("{{\"jobId\": \"{}\", \"recipientStatus\": [{{\"number\": \"1\", \"status\": \"OK\"}}]}}", "J".repeat(200)).into_bytes(), "application/json", 400),
            ("overlong content type", b"{}".to_vec(), &long_content_type, 415),
        ];
        for (name, body, content_type, status) in corpus {
            let response = app.push_basic(&tenant, body, content_type).await;
            assert_eq!(response.status().as_u16(), status, "{name}");
            problem(response, status).await;
        }
        let health = app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz");
        assert_eq!(health.status(), 200);
        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        assert_eq!(
            app.get_json("/reports", &tenant.api_key).await["data"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }
);

backend_test!(
    async fn oversized_and_misaddressed_pushes_store_nothing(backend: Backend) {
        let app = TestApp::builder(backend)
            .configure(|c| c.max_push_bytes = 4096)
            .spawn()
            .await;
        let tenant = app.sign_up("basic").await;
        let big = format!(
            "<faxJobReport><jobId>{}</jobId></faxJobReport>",
            "J".repeat(5000)
        )
        .into_bytes();
        let response = app.push_basic(&tenant, big.clone(), "text/xml").await;
        assert_eq!(
            problem(response, 413).await["type"],
            "urn:faxrelay:problem:payload-too-large"
        );

        // Without a Content-Length (chunked), the limit holds as well.
        let stream = futures_util::stream::iter(
            big.chunks(1000)
                .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                .collect::<Vec<_>>(),
        );
        let chunked = app
            .client
            .post(tenant.push_url())
            .basic_auth(tenant.field("username"), Some(tenant.field("password")))
            .header("content-type", "text/xml")
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .expect("push");
        assert_eq!(chunked.status(), 413);

        let unknown = app
            .client
            .post(app.url("/push/no-such-key"))
            .header("content-type", "text/xml")
            .body(retarus("xml-ok-single.xml"))
            .send()
            .await
            .expect("push");
        problem(unknown, 404).await;

        assert_eq!(
            app.get_json("/reports", &tenant.api_key).await["data"],
            json!([])
        );
        assert_eq!(
            app.get_json("/rejected-pushes", &tenant.api_key).await["data"],
            json!([])
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_get_503_while_postgres_is_unreachable_and_succeed_after() {
    let target = url::Url::parse(&faxrelay_tests::postgres_admin_url()).expect("url");
    let target_address = format!(
        "{}:{}",
        target.host_str().unwrap_or("127.0.0.1"),
        target.port().unwrap_or(5432)
    );
    let proxy = TcpProxy::start(target_address.parse().expect("a socket address")).await;
    let proxy_port = proxy.address.port();
    let app = TestApp::builder(Backend::Postgres)
        .configure(|c| c.db_acquire_timeout = "1s".into())
        .database_url(move |url| {
            let mut url = url::Url::parse(url).expect("url");
            url.set_host(Some("127.0.0.1")).expect("host");
            url.set_port(Some(proxy_port)).expect("port");
            url.to_string()
        })
        .spawn()
        .await;
    let tenant = app.sign_up("basic").await;
    app.push_fixture(&tenant, "xml-ok-single.xml").await;

    proxy.cut();
    for _ in 0..3 {
        let response = app
            .push_basic(&tenant, retarus("json-rest-ok.json"), "application/json")
            .await;
        assert_eq!(response.headers()["retry-after"], "5");
        assert_eq!(
            problem(response, 503).await["type"],
            "urn:faxrelay:problem:unavailable"
        );
    }
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);

    proxy.restore();
    let mut stored = false;
    for _ in 0..50 {
        let response = app
            .push_basic(&tenant, retarus("json-rest-ok.json"), "application/json")
            .await;
        if response.status() == 200 {
            stored = true;
            break;
        }
        assert_eq!(response.status(), 503, "only 503 while reconnecting");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(stored, "pushes succeed once the database is back");
    assert_eq!(
        app.get_json("/reports", &tenant.api_key).await["data"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_get_503_while_sqlite_is_locked_and_succeed_after() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::builder(Backend::Sqlite)
        .configure(|c| c.db_busy_timeout = "200ms".into())
        .spawn()
        .await;
    let tenant = app.sign_up("basic").await;
    app.push_fixture(&tenant, "xml-ok-single.xml").await;

    // Another process holding the write lock, as a stuck backup or a manual session would.
    let database_url = app.config.database_url.clone();
    let locker = sea_orm::Database::connect(&database_url)
        .await
        .expect("a second connection");
    let transaction = sea_orm::TransactionTrait::begin(&locker)
        .await
        .expect("begin");
    transaction
        .execute_raw(Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "INSERT INTO digest_nonce_uses VALUES ('lock', '2030-01-01T00:00:00Z')",
        ))
        .await
        .expect("taking the write lock");

    let response = app
        .push_basic(&tenant, retarus("json-rest-ok.json"), "application/json")
        .await;
    assert_eq!(response.headers()["retry-after"], "5");
    problem(response, 503).await;

    transaction.rollback().await.expect("releasing the lock");
    app.push_fixture(&tenant, "json-rest-ok.json").await;
    assert_eq!(
        app.get_json("/reports", &tenant.api_key).await["data"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}
