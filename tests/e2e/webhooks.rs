//! Managing webhooks and templates: validation, refusals, and tenant isolation.

use std::time::Duration;

use faxrelay_tests::relay::{relay_app, webhook_to};
use faxrelay_tests::sink::WebhookSink;
use faxrelay_tests::{Backend, TestApp, backend_test, problem};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

backend_test!(
    async fn webhooks_are_created_read_changed_and_deleted(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        let tenant = app.sign_up("basic").await;
        let created = app
            .create_webhook(
                &tenant,
                json!({"url": sink.url("/a"), "description": "ERP", "filter": {"statuses": ["failed"]}, "headers": {"X-Source": "fax"}, "retry_schedule": "0s,5s"}),
            )
            .await;
        let id = created["id"].as_str().expect("id");
        assert!(id.starts_with("whk_"));
        assert_eq!(created["template"], "json");
        assert_eq!(created["fan_out"], "report");
        assert_eq!(created["enabled"], true);
        assert_eq!(created["retry_schedule"], "0s,5s");
        assert_eq!(created["auth"], json!({"type": "none"}));

        let fetched = app
            .get_json(&format!("/webhooks/{id}"), &tenant.api_key)
            .await;
        assert!(
            fetched.get("signing_secret").is_none(),
            "the secret is shown once"
        );
        assert_eq!(fetched["headers"], json!({"X-Source": "fax"}));

        let patched = app
            .api(Method::PATCH, &format!("/webhooks/{id}"), &tenant.api_key)
            .json(&json!({"description": null, "template": "text", "retry_schedule": null, "enabled": false}))
            .send()
            .await
            .expect("patch");
        assert_eq!(patched.status(), 200);
        let patched: Value = patched.json().await.expect("json");
        assert_eq!(patched["template"], "text");
        assert!(patched["description"].is_null() && patched["retry_schedule"].is_null());
        assert_eq!(
            patched["url"], created["url"],
            "absent fields keep their value"
        );
        assert_eq!(patched["disabled_reason"], "disabled by the account");

        assert_eq!(
            app.get_json("/webhooks", &tenant.api_key).await["data"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        let deleted = app
            .api(Method::DELETE, &format!("/webhooks/{id}"), &tenant.api_key)
            .send()
            .await
            .expect("delete");
        assert_eq!(deleted.status(), 204);
        problem(
            app.get(&format!("/webhooks/{id}"), &tenant.api_key).await,
            404,
        )
        .await;
    }
);

backend_test!(
    async fn invalid_webhooks_are_refused_naming_the_field(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let tenant = app.sign_up("basic").await;
        let url = "https://127.0.0.1/hook";
        let cases = [
            (json!({}), "url"),
            (json!({"url": "not a url"}), "url"),
            (json!({"url": "ftp://127.0.0.1/x"}), "url"),
            (json!({"url": "http://user:pw@127.0.0.1/x"}), "url"),
            (json!({"url": url, "template": "nope"}), "template"),
            (
                json!({"url": url, "template": "tpl_00000000000000000000000000"}),
                "template",
            ),
            (json!({"url": url, "fan_out": "everyone"}), "fan_out"),
            (
                json!({"url": url, "filter": {"statuses": ["lost"]}}),
                "filter.statuses[0]",
            ),
            (
                json!({"url": url, "headers": {"Content-Type": "text/plain"}}),
                "headers.Content-Type",
            ),
            (
                json!({"url": url, "headers": {"X-Bad": "a\r\nb"}}),
                "headers.X-Bad",
            ),
            (
                json!({"url": url, "auth": {"type": "basic", "username": "a"}}),
                "auth.password",
            ),
            (
                json!({"url": url, "auth": {"type": "bearer", "token": ""}}),
                "auth.token",
            ),
            (
                json!({"url": url, "retry_schedule": "0s,forever"}),
                "retry_schedule",
            ),
        ];
        for (body, field) in cases {
            let response = app
                .api(Method::POST, "/webhooks", &tenant.api_key)
                .json(&body)
                .send()
                .await
                .expect("post");
            let problem = problem(response, 422).await;
            assert!(
                problem["errors"]
                    .as_array()
                    .is_some_and(|errors| errors.iter().any(|e| e["field"] == field)),
                "{body} should name `{field}`: {problem}"
            );
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_and_metadata_targets_are_refused_when_saved_and_when_sent() {
    // No `allow_private_targets`: the production default.
    let app = TestApp::spawn(Backend::Sqlite).await;
    let tenant = app.sign_up("basic").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/",
    ] {
        let response = app
            .api(Method::POST, "/webhooks", &tenant.api_key)
            .json(&json!({"url": url}))
            .send()
            .await
            .expect("post");
        let body = problem(response, 422).await;
        assert_eq!(body["errors"][0]["field"], "url", "{url}: {body}");
    }
    let token_url = json!({"url": "https://8.8.8.8/hook", "auth": {"type": "oauth2", "token_url": "http://127.0.0.1/token", "client_id": "a", "client_secret": "b"}});
    let response = app
        .api(Method::POST, "/webhooks", &tenant.api_key)
        .json(&token_url)
        .send()
        .await
        .expect("post");
    assert_eq!(
        problem(response, 422).await["errors"][0]["field"],
        "auth.token_url"
    );

    // A target that slipped past the check (stored directly) is refused at send time too.
    let sink = WebhookSink::start().await;
    let public = app
        .create_webhook(&tenant, json!({"url": "https://8.8.8.8/hook"}))
        .await;
    let id: faxrelay_core::ids::WebhookId = public["id"].as_str().expect("id").parse().expect("id");
    let db = app.store.connection();
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE webhooks SET url = $1 WHERE id = $2",
        [sink.url("/hook").into(), id.as_uuid().into()],
    ))
    .await
    .expect("pointing the webhook at loopback behind the API's back");
    app.push_fixture(&tenant, "xml-ok-single.xml").await;
    let deliveries = app.wait_for_deliveries(&tenant, 1, WAIT).await;
    let delivery_id = deliveries[0]["id"].as_str().expect("id");
    let mut attempts = Value::Null;
    for _ in 0..200 {
        let delivery = app
            .get_json(&format!("/deliveries/{delivery_id}"), &tenant.api_key)
            .await;
        if delivery["attempt_count"].as_u64() >= Some(1) {
            attempts = delivery["attempts"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = attempts[0]["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        error.contains("private"),
        "refused at send time: {attempts}"
    );
    assert!(
        sink.received().is_empty(),
        "nothing reached the loopback sink"
    );
}

backend_test!(
    async fn templates_are_validated_previewed_and_used(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        let tenant = app.sign_up("basic").await;
        let post = |body: Value| {
            app.api(Method::POST, "/templates", &tenant.api_key)
                .json(&body)
                .send()
        };

        let unclosed = post(json!({"name": "broken", "content_type": "text/plain", "body": "Job {{report.job_id}}\n{{#each report.recipients}}\n- {{number}}"})).await.expect("post");
        let body = problem(unclosed, 422).await;
        assert_eq!(body["errors"][0]["field"], "body");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("line ")),
            "{body}"
        );

        let bad_json = post(json!({"name": "bad", "content_type": "application/json", "body": "{\"job\": {{report.job_id}}}"})).await.expect("post");
        let body = problem(bad_json, 422).await;
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("invalid JSON")),
            "{body}"
        );

        let failing =
            post(json!({"name": "fails", "content_type": "text/plain", "body": "{{date}}"}))
                .await
                .expect("post");
        assert!(
            problem(failing, 422).await["detail"]
                .as_str()
                .is_some_and(|d| d.contains("sample report"))
        );

        let source = "{\"job\": \"{{report.job_id}}\", \"tenant\": \"{{tenant.name}}\", \"busy\": [{{#each report.recipients}}{{#if (eq status \"BUSY\")}}\"{{number}}\"{{/if}}{{/each}}], \"csid\": \"{{report.recipients.0.remote_csid}}\"}";
        let created =
            post(json!({"name": "short", "content_type": "application/json", "body": source}))
                .await
                .expect("post");
        assert_eq!(created.status(), 201);
        let template: Value = created.json().await.expect("json");
        let template_id = template["id"].as_str().expect("id").to_owned();
        let listed = app.get_json("/templates", &tenant.api_key).await;
        assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(listed["builtins"].as_array().map(Vec::len), Some(5));

        let report_id = app.push_fixture(&tenant, "xml-mixed-multi.xml").await["reports"][0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let preview: Value = app
            .api(Method::POST, "/templates/preview", &tenant.api_key)
            .json(&json!({"template_id": template_id, "report_id": report_id}))
            .send()
            .await
            .expect("preview")
            .json()
            .await
            .expect("json");
        let rendered: Value =
            serde_json::from_str(preview["body"].as_str().expect("body")).expect("JSON output");
        assert_eq!(
            rendered,
            json!({"job": "FJKQ7T2M4805ZZBIELA1B2", "tenant": "ACME Legal", "busy": ["+1 202 555 0143"], "csid": "ACME Legal & Co"})
        );

        let sample: Value = app
            .api(Method::POST, "/templates/preview", &tenant.api_key)
            .json(&json!({"body": "{{upper report.status}} {{report.recipients.0.remote_csid}}", "content_type": "text/html"}))
            .send()
            .await
            .expect("preview")
            .json()
            .await
            .expect("json");
        assert_eq!(
            sample["body"], "PARTIAL ACME Legal &amp; Co",
            "HTML is escaped for text/html"
        );
        let builtin: Value = app
            .api(Method::POST, "/templates/preview", &tenant.api_key)
            .json(&json!({"template_id": "text", "recipient": 1}))
            .send()
            .await
            .expect("preview")
            .json()
            .await
            .expect("json");
        assert!(
            builtin["body"]
                .as_str()
                .is_some_and(|b| b.contains("to +1 202 555 0143: BUSY")),
            "{builtin}"
        );
        let neither = app
            .api(Method::POST, "/templates/preview", &tenant.api_key)
            .json(&json!({}))
            .send()
            .await
            .expect("preview");
        problem(neither, 422).await;

        app.create_webhook(&tenant, webhook_to(&sink.url("/custom"), &template_id))
            .await;
        app.push_fixture(&tenant, "json-rest-failed-properties.json")
            .await;
        let request = &sink.wait_for(1, WAIT).await[0];
        assert_eq!(request.json()["job"], "FJLI3102O5BEPYOTB5LPC9");

        let in_use = app
            .api(
                Method::DELETE,
                &format!("/templates/{template_id}"),
                &tenant.api_key,
            )
            .send()
            .await
            .expect("delete");
        problem(in_use, 409).await;
        let updated = app
            .api(Method::PUT, &format!("/templates/{template_id}"), &tenant.api_key)
            .json(&json!({"name": "shorter", "content_type": "text/plain", "body": "{{report.job_id}}"}))
            .send()
            .await
            .expect("put");
        assert_eq!(updated.status(), 200);
        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        let received = sink.wait_for(2, WAIT).await;
        assert_eq!(
            received[1].text(),
            "FJIJPNJYN906EDIJNFGI5S",
            "the new version renders from now on"
        );
    }
);

backend_test!(
    async fn another_tenants_webhooks_templates_and_deliveries_answer_404(backend: Backend) {
        let app = relay_app(backend).spawn().await;
        let sink = WebhookSink::start().await;
        let alice = app.sign_up("basic").await;
        let bob = app.sign_up("basic").await;
        let webhook = app
            .create_webhook(&alice, webhook_to(&sink.url("/a"), "json"))
            .await;
        let webhook_id = webhook["id"].as_str().expect("id").to_owned();
        let template: Value = app
            .api(Method::POST, "/templates", &alice.api_key)
            .json(&json!({"name": "t", "content_type": "text/plain", "body": "{{report.job_id}}"}))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        let template_id = template["id"].as_str().expect("id").to_owned();
        let report_id = app.push_fixture(&alice, "xml-ok-single.xml").await["reports"][0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let delivery_id = app.wait_for_deliveries(&alice, 1, WAIT).await[0]["id"]
            .as_str()
            .expect("id")
            .to_owned();

        let requests = [
            (Method::GET, format!("/webhooks/{webhook_id}"), None),
            (
                Method::PATCH,
                format!("/webhooks/{webhook_id}"),
                Some(json!({"enabled": false})),
            ),
            (Method::DELETE, format!("/webhooks/{webhook_id}"), None),
            (
                Method::POST,
                format!("/webhooks/{webhook_id}/rotate-secret"),
                None,
            ),
            (Method::POST, format!("/webhooks/{webhook_id}/test"), None),
            (
                Method::POST,
                format!("/webhooks/{webhook_id}/redrive"),
                None,
            ),
            (Method::GET, format!("/templates/{template_id}"), None),
            (
                Method::PUT,
                format!("/templates/{template_id}"),
                Some(json!({"name": "x", "content_type": "text/plain", "body": "x"})),
            ),
            (Method::DELETE, format!("/templates/{template_id}"), None),
            (Method::GET, format!("/deliveries/{delivery_id}"), None),
            (
                Method::POST,
                format!("/deliveries/{delivery_id}/retry"),
                None,
            ),
            (
                Method::GET,
                format!("/reports/{report_id}/deliveries"),
                None,
            ),
            (
                Method::POST,
                format!("/reports/{report_id}/redeliver"),
                None,
            ),
        ];
        for (method, path, body) in requests {
            let mut request = app.api(method.clone(), &path, &bob.api_key);
            if let Some(body) = body {
                request = request.json(&body);
            }
            problem(request.send().await.expect("request"), 404).await;
        }
        let preview = app
            .api(Method::POST, "/templates/preview", &bob.api_key)
            .json(&json!({"template_id": template_id}))
            .send()
            .await
            .expect("preview");
        problem(preview, 404).await;
        let preview = app
            .api(Method::POST, "/templates/preview", &bob.api_key)
            .json(&json!({"template_id": "json", "report_id": report_id}))
            .send()
            .await
            .expect("preview");
        problem(preview, 404).await;
        let foreign_template = app
            .api(Method::POST, "/webhooks", &bob.api_key)
            .json(&json!({"url": sink.url("/b"), "template": template_id}))
            .send()
            .await
            .expect("post");
        problem(foreign_template, 422).await;
        let redeliver = app
            .api(
                Method::POST,
                &format!("/reports/{report_id}/redeliver"),
                &alice.api_key,
            )
            .json(&json!({"webhook_id": webhook_id}))
            .send()
            .await
            .expect("own redeliver");
        assert_eq!(redeliver.status(), 201);

        assert_eq!(
            app.get_json("/webhooks", &bob.api_key).await["data"],
            json!([])
        );
        assert_eq!(
            app.get_json("/templates", &bob.api_key).await["data"],
            json!([])
        );
        assert_eq!(
            app.get_json("/deliveries", &bob.api_key).await["data"],
            json!([])
        );
        assert_eq!(
            app.get_json(
                &format!("/deliveries?webhook_id={webhook_id}"),
                &bob.api_key
            )
            .await["data"],
            json!([])
        );
        // Alice's webhook is untouched.
        assert_eq!(
            app.get_json(&format!("/webhooks/{webhook_id}"), &alice.api_key)
                .await["enabled"],
            true
        );
    }
);
