use faxrelay_tests::{Backend, TestApp, backend_test, problem};
use reqwest::Method;

backend_test!(
    async fn bad_requests_get_problem_bodies_with_their_status(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;
        let signup = app.url("/api/v1/tenants");

        let malformed = app
            .client
            .post(&signup)
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .expect("post");
        let body = problem(malformed, 400).await;
        assert_eq!(body["type"], "urn:faxrelay:problem:malformed-request");

        let not_json = app
            .client
            .post(&signup)
            .header("content-type", "text/plain")
            .body("name=x")
            .send()
            .await
            .expect("post");
        problem(not_json, 415).await;

        let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(300 * 1024));
        let too_large = app
            .client
            .post(&signup)
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .expect("post");
        assert_eq!(
            problem(too_large, 413).await["type"],
            "urn:faxrelay:problem:payload-too-large"
        );

        let unknown = app
            .client
            .get(app.url("/api/v1/nothing-here"))
            .bearer_auth(&tenant.api_key)
            .send()
            .await
            .expect("get");
        assert_eq!(
            problem(unknown, 404).await["type"],
            "urn:faxrelay:problem:not-found"
        );
        problem(
            app.client
                .get(app.url("/nowhere"))
                .send()
                .await
                .expect("get"),
            404,
        )
        .await;

        let bad_filter = app
            .get(
                "/reports?status=exploded&limit=0&colour=red",
                &tenant.api_key,
            )
            .await;
        let body = problem(bad_filter, 422).await;
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert_eq!(fields, ["status", "limit", "colour"]);

        let bad_id = app.get("/reports/not-a-report-id", &tenant.api_key).await;
        problem(bad_id, 404).await;

        let rename = app
            .api(Method::PATCH, "/tenant", &tenant.api_key)
            .json(&serde_json::json!({"name": ""}))
            .send()
            .await
            .expect("patch");
        assert_eq!(problem(rename, 422).await["errors"][0]["field"], "name");
    }
);

backend_test!(
    async fn health_and_readiness_answer(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let health = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(health.status(), 200);
        let ready: serde_json::Value = app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz")
            .json()
            .await
            .expect("json");
        assert_eq!(
            ready,
            serde_json::json!({"status": "ok", "database": "ok", "queue": "ok"})
        );
        let tenant = app.sign_up("basic").await;
        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        let metrics = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        assert!(metrics.contains("faxrelay_pushes_total"), "{metrics}");
    }
);
