//! Relaying reports to webhooks: rendered, signed, authenticated, retried, recorded.

use std::time::Duration;

use faxrelay_tests::fixtures::retarus;
use faxrelay_tests::relay::{relay_app, webhook_to};
use faxrelay_tests::sink::{Reply, WebhookSink};
use faxrelay_tests::{Backend, backend_test, problem};
use reqwest::Method;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

backend_test!(
    async fn a_pushed_report_reaches_the_webhook_signed(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        let tenant = app.sign_up("basic").await;
        let webhook = app
            .create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
            .await;
        let secret = webhook["signing_secret"].as_str().expect("secret");
        assert!(secret.starts_with("whsec_"));

        let pushed = app.push_fixture(&tenant, "xml-mixed-multi.xml").await;
        let received = sink.wait_for(1, WAIT).await;
        let request = &received[0];
        // An independent implementation of the Standard Webhooks spec verifies it.
        let verifier = standardwebhooks::Webhook::new(secret).expect("a verifier");
        verifier
            .verify(&request.body, &request.header_map())
            .expect("a valid signature");
        assert_eq!(request.header("content-type"), Some("application/json"));

        let body = request.json();
        assert_eq!(body["type"], "fax.report");
        assert_eq!(body["data"]["id"], pushed["reports"][0]["id"]);
        assert_eq!(body["data"]["job_id"], "FJKQ7T2M4805ZZBIELA1B2");
        assert_eq!(body["data"]["recipients"][1]["status"], "BUSY");

        let deliveries = app.wait_for_deliveries(&tenant, 1, WAIT).await;
        let id = deliveries[0]["id"].as_str().expect("id");
        assert_eq!(
            request.header("webhook-id"),
            Some(id),
            "webhook-id is the delivery id"
        );
        let delivery = app.wait_for_delivery(&tenant, id, "succeeded", WAIT).await;
        assert_eq!(delivery["attempt_count"], 1);
        assert_eq!(delivery["attempts"][0]["status_code"], 200);
        assert_eq!(delivery["attempts"][0]["response_body"], "status 200");
        assert_eq!(delivery["report_id"], pushed["reports"][0]["id"]);

        // A duplicate push makes no second delivery.
        app.push_fixture(&tenant, "xml-mixed-multi.xml").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.received().len(), 1);
    }
);

backend_test!(
    async fn every_builtin_template_renders_the_report(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        let tenant = app.sign_up("basic").await;
        for template in ["json", "xml", "slack", "teams", "text"] {
            app.create_webhook(
                &tenant,
                webhook_to(&sink.url(&format!("/{template}")), template),
            )
            .await;
        }
        app.push_fixture(&tenant, "xml-mixed-multi.xml").await;
        let received = sink.wait_for(5, WAIT).await;
        let by_path = |path: &str| {
            received
                .iter()
                .find(|r| r.path == path)
                .unwrap_or_else(|| panic!("nothing at {path}"))
        };

        let xml = by_path("/xml");
        assert_eq!(
            xml.body,
            retarus("xml-mixed-multi.xml"),
            "the original body, byte for byte"
        );
        assert_eq!(xml.header("content-type"), Some("text/xml; charset=UTF-8"));

        let slack = by_path("/slack").json();
        assert!(
            slack["text"]
                .as_str()
                .is_some_and(|t| t.contains("FJKQ7T2M4805ZZBIELA1B2"))
        );
        assert_eq!(slack["blocks"][0]["type"], "header");
        assert!(
            slack["blocks"]
                .to_string()
                .contains("Destination number busy")
                || slack["blocks"].to_string().contains("The line was busy")
        );

        let teams = by_path("/teams").json();
        assert_eq!(teams["@type"], "MessageCard");
        assert_eq!(
            teams["sections"][0]["facts"].as_array().map(Vec::len),
            Some(3)
        );

        let text = by_path("/text");
        assert_eq!(
            text.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        let text = text.text();
        assert!(
            text.starts_with("Fax FJKQ7T2M4805ZZBIELA1B2: partial"),
            "{text}"
        );
        assert!(
            text.contains("+1 202 555 0143: BUSY (The line was busy)"),
            "{text}"
        );
        // The fixture's rendering has nothing to escape; the sample's remote CSID has.
        let preview: Value = app
            .api(Method::POST, "/templates/preview", &tenant.api_key)
            .json(&json!({"body": "{{report.recipients.0.remote_csid}}", "content_type": "text/plain"}))
            .send()
            .await
            .expect("preview")
            .json()
            .await
            .expect("json");
        assert_eq!(
            preview["body"], "ACME Legal & Co",
            "text is not HTML-escaped"
        );

        let json = by_path("/json").json();
        assert_eq!(
            json["data"]["recipients"][0]["remote_csid"], "ACME Legal & Co",
            "JSON is not HTML-escaped"
        );
    }
);

backend_test!(
    async fn filters_and_fan_out_decide_the_deliveries(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        let tenant = app.sign_up("basic").await;
        app.create_webhook(
            &tenant,
            json!({"url": sink.url("/failed-jobs"), "filter": {"statuses": ["failed"]}}),
        )
        .await;
        app.create_webhook(
            &tenant,
            json!({"url": sink.url("/line-problems"), "template": "text", "fan_out": "recipient", "filter": {"categories": ["line_problem"]}}),
        )
        .await;

        // Partial job: OK, BUSY and NOFAX_TO; not failed, two line problems.
        app.push_fixture(&tenant, "xml-mixed-multi.xml").await;
        let received = sink.wait_for(2, WAIT).await;
        assert!(received.iter().all(|r| r.path == "/line-problems"));
        let mut texts: Vec<String> = received.iter().map(|r| r.text()).collect();
        texts.sort();
        assert!(
            texts[0].starts_with("Fax FJKQ7T2M4805ZZBIELA1B2 to +1 202 555 0143: BUSY"),
            "{texts:?}"
        );
        assert!(
            texts[1].starts_with("Fax FJKQ7T2M4805ZZBIELA1B2 to +44 20 7946 0958: NOFAX_TO"),
            "{texts:?}"
        );

        // A failed job with one line problem: one delivery each.
        app.push_fixture(&tenant, "json-rest-failed-properties.json")
            .await;
        let received = sink.wait_for(4, WAIT).await;
        assert_eq!(
            received.iter().filter(|r| r.path == "/failed-jobs").count(),
            1
        );
        assert_eq!(
            received
                .iter()
                .filter(|r| r.path == "/line-problems")
                .count(),
            3
        );

        // A delivered job matches neither.
        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(sink.received().len(), 4);
        let deliveries = app.deliveries(&tenant, "").await;
        assert_eq!(deliveries.len(), 4);
        assert!(
            deliveries
                .iter()
                .filter(|d| d["recipient_index"].is_number())
                .count()
                == 3
        );
    }
);

backend_test!(
    async fn outbound_basic_bearer_and_oauth2_credentials_are_sent(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        let tenant = app.sign_up("basic").await;
        let basic = app
            .create_webhook(&tenant, json!({"url": sink.url("/basic"), "auth": {"type": "basic", "username": "relay", "password": "pa:ss"}}))
            .await;
        app.create_webhook(
            &tenant,
            json!({"url": sink.url("/bearer"), "auth": {"type": "bearer", "token": "tok-123"}}),
        )
        .await;
        assert_eq!(
            basic["auth"],
            json!({"type": "basic", "username": "relay"}),
            "no secret in the answer"
        );

        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        let received = sink.wait_for(2, WAIT).await;
        let header = |path: &str| {
            received
                .iter()
                .find(|r| r.path == path)
                .and_then(|r| r.header("authorization"))
                .map(str::to_owned)
        };
        assert_eq!(header("/basic").as_deref(), Some("Basic cmVsYXk6cGE6c3M="));
        assert_eq!(header("/bearer").as_deref(), Some("Bearer tok-123"));
        let listed = app.get_json("/webhooks", &tenant.api_key).await.to_string();
        assert!(
            !listed.contains("pa:ss") && !listed.contains("tok-123"),
            "secrets are never shown again"
        );
    }
);

backend_test!(
    async fn oauth2_tokens_are_fetched_cached_and_renewed_after_a_401(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        sink.expect_oauth_client("faxrelay-client", "client-secret");
        let tenant = app.sign_up("basic").await;
        app.create_webhook(
            &tenant,
            json!({"url": sink.url("/hook"), "auth": {"type": "oauth2", "token_url": sink.url("/token"), "client_id": "faxrelay-client", "client_secret": "client-secret", "scope": "fax.write"}}),
        )
        .await;
        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        sink.wait_for(1, WAIT).await;
        app.push_fixture(&tenant, "json-rest-ok.json").await;
        let received = sink.wait_for(2, WAIT).await;
        assert!(
            received
                .iter()
                .all(|r| r.header("authorization") == Some("Bearer token-0"))
        );
        assert_eq!(sink.tokens_issued(), 1, "the token is cached");

        sink.revoke_tokens();
        app.push_fixture(&tenant, "json-rest-failed-properties.json")
            .await;
        let received = sink.wait_for(4, WAIT).await;
        assert_eq!(
            received[2].header("authorization"),
            Some("Bearer token-0"),
            "refused with 401"
        );
        assert_eq!(
            received[3].header("authorization"),
            Some("Bearer token-1"),
            "a fresh token, in the same attempt"
        );
        assert_eq!(sink.tokens_issued(), 2);
        let id = received[3].header("webhook-id").expect("webhook-id");
        let delivery = app.wait_for_delivery(&tenant, id, "succeeded", WAIT).await;
        assert_eq!(
            delivery["attempt_count"], 1,
            "the renewal happened within one attempt"
        );
    }
);

backend_test!(
    async fn failures_are_retried_until_the_receiver_takes_it(backend: Backend) {
        let app = relay_app(backend)
            .configure(|c| c.retry_schedule = "0s,100ms,100ms,100ms".into())
            .spawn()
            .await;
        let sink = WebhookSink::start().await;
        sink.script(vec![Reply::status(500), Reply::status(502)]);
        let tenant = app.sign_up("basic").await;
        app.create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
            .await;
        app.push_fixture(&tenant, "xml-ok-single.xml").await;

        let received = sink.wait_for(3, WAIT).await;
        let ids: Vec<_> = received
            .iter()
            .map(|r| r.header("webhook-id").map(str::to_owned))
            .collect();
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "the same webhook-id on every attempt"
        );
        let id = ids[0].clone().expect("webhook-id");
        let delivery = app.wait_for_delivery(&tenant, &id, "succeeded", WAIT).await;
        let codes: Vec<Value> = delivery["attempts"]
            .as_array()
            .expect("attempts")
            .iter()
            .map(|a| a["status_code"].clone())
            .collect();
        assert_eq!(codes, [json!(500), json!(502), json!(200)]);
        assert_eq!(delivery["attempt_count"], 3);
    }
);

backend_test!(
    async fn a_delivery_dies_after_its_last_attempt_and_can_be_redriven(backend: Backend) {
        let app = relay_app(backend)
            .configure(|c| c.retry_schedule = "0s,100ms,100ms".into())
            .spawn()
            .await;
        let sink = WebhookSink::start().await;
        sink.reply_with(Reply::status(500));
        let tenant = app.sign_up("basic").await;
        let webhook = app
            .create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
            .await;
        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        let id = app.wait_for_deliveries(&tenant, 1, WAIT).await[0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let dead = app.wait_for_delivery(&tenant, &id, "dead", WAIT).await;
        assert_eq!(dead["attempt_count"], 3);
        assert_eq!(dead["last_status_code"], 500);
        assert!(dead["next_attempt_at"].is_null());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.received().len(), 3, "no attempt after the last");
        assert_eq!(app.deliveries(&tenant, "?status=dead").await.len(), 1);

        sink.reply_with(Reply::status(204));
        let webhook_id = webhook["id"].as_str().expect("id");
        let redrive = app
            .api(
                Method::POST,
                &format!("/webhooks/{webhook_id}/redrive"),
                &tenant.api_key,
            )
            .send()
            .await
            .expect("redrive");
        assert_eq!(redrive.status(), 202);
        assert_eq!(redrive.json::<Value>().await.expect("json")["redriven"], 1);
        let delivered = app.wait_for_delivery(&tenant, &id, "succeeded", WAIT).await;
        assert_eq!(delivered["attempt_count"], 4);

        // A delivered delivery is not retried; the report can be redelivered instead.
        let retry = app
            .api(
                Method::POST,
                &format!("/deliveries/{id}/retry"),
                &tenant.api_key,
            )
            .send()
            .await
            .expect("retry");
        problem(retry, 409).await;
        let report_id = delivered["report_id"].as_str().expect("report");
        let redelivered = app
            .api(
                Method::POST,
                &format!("/reports/{report_id}/redeliver"),
                &tenant.api_key,
            )
            .send()
            .await
            .expect("redeliver");
        assert_eq!(redelivered.status(), 201);
        sink.wait_for(5, WAIT).await;
        let of_report = app
            .get_json(&format!("/reports/{report_id}/deliveries"), &tenant.api_key)
            .await;
        assert_eq!(of_report["data"].as_array().map(Vec::len), Some(2));
    }
);

backend_test!(
    async fn a_dead_delivery_can_be_retried_by_hand(backend: Backend) {
        let app = relay_app(backend)
            .configure(|c| c.retry_schedule = "0s".into())
            .spawn()
            .await;
        let sink = WebhookSink::start().await;
        sink.script(vec![Reply::status(503)]);
        let tenant = app.sign_up("basic").await;
        app.create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
            .await;
        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        let id = app.wait_for_deliveries(&tenant, 1, WAIT).await[0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        app.wait_for_delivery(&tenant, &id, "dead", WAIT).await;
        let retry = app
            .api(
                Method::POST,
                &format!("/deliveries/{id}/retry"),
                &tenant.api_key,
            )
            .send()
            .await
            .expect("retry");
        assert_eq!(retry.status(), 202);
        let delivered = app.wait_for_delivery(&tenant, &id, "succeeded", WAIT).await;
        assert_eq!(delivered["attempt_count"], 2);
    }
);

backend_test!(
    async fn retry_after_is_honoured(backend: Backend) {
        let app = relay_app(backend)
            .configure(|c| c.retry_schedule = "0s,1h".into())
            .spawn()
            .await;
        let sink = WebhookSink::start().await;
        sink.script(vec![Reply::status(429).with_header("Retry-After", "1")]);
        let tenant = app.sign_up("basic").await;
        app.create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
            .await;
        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        let received = sink.wait_for(2, WAIT).await;
        let gap = received[1].at - received[0].at;
        assert!(
            gap >= Duration::from_millis(800) && gap < Duration::from_secs(10),
            "retried after {gap:?}, not after an hour"
        );
    }
);

backend_test!(
    async fn a_410_answer_disables_the_webhook(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        sink.reply_with(Reply::status(410));
        let tenant = app.sign_up("basic").await;
        let webhook = app
            .create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
            .await;
        let webhook_id = webhook["id"].as_str().expect("id");
        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        let id = app.wait_for_deliveries(&tenant, 1, WAIT).await[0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        app.wait_for_delivery(&tenant, &id, "dead", WAIT).await;
        let disabled = app
            .get_json(&format!("/webhooks/{webhook_id}"), &tenant.api_key)
            .await;
        assert_eq!(disabled["enabled"], false);
        assert!(
            disabled["disabled_reason"]
                .as_str()
                .is_some_and(|r| r.contains("410")),
            "{disabled}"
        );

        app.push_fixture(&tenant, "json-rest-ok.json").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            app.deliveries(&tenant, "").await.len(),
            1,
            "a disabled webhook gets no deliveries"
        );

        sink.reply_with(Reply::status(200));
        let enabled = app
            .api(
                Method::PATCH,
                &format!("/webhooks/{webhook_id}"),
                &tenant.api_key,
            )
            .json(&json!({"enabled": true}))
            .send()
            .await
            .expect("patch");
        let enabled: Value = enabled.json().await.expect("json");
        assert_eq!(enabled["enabled"], true);
        assert!(enabled["disabled_reason"].is_null());
    }
);

backend_test!(
    async fn a_rotated_secret_signs_alongside_the_old_one(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        let tenant = app.sign_up("basic").await;
        let webhook = app
            .create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
            .await;
        let old = webhook["signing_secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        let id = webhook["id"].as_str().expect("id");
        let rotated: Value = app
            .api(
                Method::POST,
                &format!("/webhooks/{id}/rotate-secret"),
                &tenant.api_key,
            )
            .send()
            .await
            .expect("rotate")
            .json()
            .await
            .expect("json");
        let new = rotated["signing_secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        assert_ne!(old, new);
        assert!(rotated["previous_secret_expires_at"].is_string());

        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        let request = &sink.wait_for(1, WAIT).await[0];
        let signatures = request.header("webhook-signature").expect("signatures");
        assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
        for secret in [&old, &new] {
            standardwebhooks::Webhook::new(secret)
                .expect("verifier")
                .verify(&request.body, &request.header_map())
                .expect("valid for each secret");
        }
    }
);

backend_test!(
    async fn the_test_endpoint_sends_a_signed_sample_and_reports_the_outcome(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        sink.script(vec![Reply::status(202)]);
        let tenant = app.sign_up("basic").await;
        let webhook = app
            .create_webhook(&tenant, webhook_to(&sink.url("/hook"), "slack"))
            .await;
        let id = webhook["id"].as_str().expect("id");
        let outcome: Value = app
            .api(
                Method::POST,
                &format!("/webhooks/{id}/test"),
                &tenant.api_key,
            )
            .send()
            .await
            .expect("test")
            .json()
            .await
            .expect("json");
        assert_eq!(outcome["success"], true, "{outcome}");
        assert_eq!(outcome["status_code"], 202);
        assert_eq!(outcome["response_excerpt"], "status 202");
        assert!(outcome["latency_ms"].is_number());
        let request = &sink.received()[0];
        standardwebhooks::Webhook::new(webhook["signing_secret"].as_str().expect("secret"))
            .expect("verifier")
            .verify(&request.body, &request.header_map())
            .expect("signed like a delivery");
        assert_eq!(request.header("webhook-id"), outcome["message_id"].as_str());
        assert!(request.json()["blocks"].is_array());
        assert!(
            app.deliveries(&tenant, "").await.is_empty(),
            "a test is not a delivery"
        );

        sink.reply_with(Reply::status(500));
        let failing: Value = app
            .api(
                Method::POST,
                &format!("/webhooks/{id}/test"),
                &tenant.api_key,
            )
            .send()
            .await
            .expect("test")
            .json()
            .await
            .expect("json");
        assert_eq!(failing["success"], false);
        assert_eq!(failing["status_code"], 500);
    }
);

backend_test!(
    async fn redirects_are_not_followed(backend: Backend) {
        let app = relay_app(backend)
            .configure(|c| c.retry_schedule = "0s".into())
            .spawn()
            .await;
        let sink = WebhookSink::start().await;
        sink.script(vec![
            Reply::status(307).with_header("Location", &sink.url("/elsewhere")),
        ]);
        let tenant = app.sign_up("basic").await;
        app.create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
            .await;
        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        let id = app.wait_for_deliveries(&tenant, 1, WAIT).await[0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let dead = app.wait_for_delivery(&tenant, &id, "dead", WAIT).await;
        assert_eq!(dead["last_status_code"], 307);
        assert!(
            sink.received().iter().all(|r| r.path == "/hook"),
            "the redirect was not followed"
        );
    }
);

backend_test!(
    async fn api_bodies_with_nul_characters_are_refused(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let tenant = app.sign_up("basic").await;
        let response = app
            .api(Method::POST, "/webhooks", &tenant.api_key)
            .header("content-type", "application/json")
            .body(r#"{"url": "http://127.0.0.1:9/x", "description": "a\u0000b"}"#)
            .send()
            .await
            .expect("post");
        assert_eq!(
            problem(response, 422).await["errors"][0]["field"],
            "description"
        );
        let oversized = app
            .api(Method::POST, "/api-keys", &tenant.api_key)
            .header("content-type", "application/json")
            .body(format!(r#"{{"name": "{}"}}"#, "x".repeat(300 * 1024)))
            .send()
            .await
            .expect("post");
        problem(oversized, 413).await;
    }
);

/// The rows a query found, as JSON objects.
async fn rows(app: &faxrelay_tests::TestApp, sql: &str) -> Vec<Value> {
    use sea_orm::{FromQueryResult, JsonValue, Statement};
    let db = app.store.connection();
    JsonValue::find_by_statement(Statement::from_string(db.get_database_backend(), sql))
        .all(db)
        .await
        .expect("reading rows")
}

backend_test!(
    async fn a_push_writes_its_report_recipients_and_outbox_rows_once(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        let tenant = app.sign_up("basic").await;
        let per_report = app
            .create_webhook(&tenant, json!({"url": sink.url("/report")}))
            .await;
        let per_recipient = app
            .create_webhook(
                &tenant,
                json!({"url": sink.url("/recipient"), "fan_out": "recipient"}),
            )
            .await;

        // No pages and no reference: the nullable columns stay NULL.
        let bare = json!({"jobId": "FJBARE0000000000000001", "recipientStatus": [
            {"number": "+49 89 111", "status": "OK", "reason": "OK"},
            {"number": "0049-89-222", "status": "BUSY", "reason": "BUSY"}
        ]});
        let full = json!({"jobId": "FJFULL0000000000000002", "pages": 4,
            "reference": {"customerDefinedId": "order-1"},
            "recipientStatus": [{"number": "+49 89 333", "status": "OK", "reason": "OK"}]});
        for body in [&bare, &full, &bare] {
            let answer = app
                .push_basic(&tenant, body.to_string().into_bytes(), "application/json")
                .await;
            assert_eq!(answer.status(), 200);
        }
        sink.wait_for(5, WAIT).await;

        assert_eq!(
            rows(
                &app,
                "SELECT job_id, pages, customer_defined_id, recipient_count FROM reports ORDER BY job_id"
            )
            .await,
            [
                json!({"job_id": "FJBARE0000000000000001", "pages": null, "customer_defined_id": null, "recipient_count": 2}),
                json!({"job_id": "FJFULL0000000000000002", "pages": 4, "customer_defined_id": "order-1", "recipient_count": 1}),
            ]
        );
        assert_eq!(
            rows(
                &app,
                "SELECT position, number_digits, status, category FROM report_recipients ORDER BY number_digits"
            )
            .await,
            [
                json!({"position": 0, "number_digits": "4989111", "status": "OK", "category": "delivered"}),
                json!({"position": 1, "number_digits": "4989222", "status": "BUSY", "category": "line_problem"}),
                json!({"position": 0, "number_digits": "4989333", "status": "OK", "category": "delivered"}),
            ]
        );
        // The repeated push made no deliveries: one per report, one per recipient.
        let deliveries = rows(
            &app,
            "SELECT d.recipient_position, r.job_id, w.url FROM deliveries d \
             JOIN reports r ON r.id = d.report_id JOIN webhooks w ON w.id = d.webhook_id",
        )
        .await;
        let mut found: Vec<(String, String, Value)> = deliveries
            .iter()
            .map(|row| {
                (
                    row["job_id"].as_str().unwrap_or_default().to_owned(),
                    row["url"].as_str().unwrap_or_default().to_owned(),
                    row["recipient_position"].clone(),
                )
            })
            .collect();
        found.sort_by_key(|row| format!("{row:?}"));
        let (report_url, recipient_url) = (
            per_report["url"].as_str().expect("url").to_owned(),
            per_recipient["url"].as_str().expect("url").to_owned(),
        );
        let mut expected = vec![
            (
                "FJBARE0000000000000001".to_owned(),
                report_url.clone(),
                Value::Null,
            ),
            (
                "FJBARE0000000000000001".to_owned(),
                recipient_url.clone(),
                json!(0),
            ),
            (
                "FJBARE0000000000000001".to_owned(),
                recipient_url.clone(),
                json!(1),
            ),
            ("FJFULL0000000000000002".to_owned(), report_url, Value::Null),
            ("FJFULL0000000000000002".to_owned(), recipient_url, json!(0)),
        ];
        expected.sort_by_key(|row| format!("{row:?}"));
        assert_eq!(found, expected);

        // Two jobs in one body: one stored body, answered for each report.
        let receipt = app.push_fixture(&tenant, "json-reports-list.json").await;
        let body = faxrelay_tests::fixtures::retarus("json-reports-list.json");
        for report in receipt["reports"].as_array().expect("reports") {
            let id = report["id"].as_str().expect("id");
            let raw = app
                .get(&format!("/reports/{id}/raw"), &tenant.api_key)
                .await;
            assert_eq!(raw.status(), 200);
            assert_eq!(raw.bytes().await.expect("body").as_ref(), body.as_slice());
        }
        assert_eq!(rows(&app, "SELECT id FROM push_bodies").await.len(), 1);
    }
);
