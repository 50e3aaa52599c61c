use faxrelay_core::crypto::sha256_hex;
use faxrelay_tests::{Backend, TestApp, backend_test, problem};
use reqwest::Method;
use sea_orm::{ConnectionTrait, FromQueryResult, JsonValue, Statement};
use serde_json::{Value, json};

/// Every row of a table as JSON text, to search for secrets.
async fn table_text(app: &TestApp, table: &str) -> String {
    let db = app.store.connection();
    let rows = JsonValue::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT * FROM {table}"),
    ))
    .all(db)
    .await
    .expect("reading a table");
    Value::Array(rows).to_string()
}

async fn count_rows(app: &TestApp, table: &str) -> i64 {
    let db = app.store.connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("counting")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("a count")
}

backend_test!(
    async fn sign_up_answers_credentials_that_fit_each_push_method(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for (method, retarus_name) in [
            ("none", "NONE"),
            ("basic", "HTTP_BASIC"),
            ("digest", "HTTP_DIGEST"),
            ("oauth2", "OAUTH2"),
        ] {
            let tenant = app.sign_up(method).await;
            assert!(tenant.id.starts_with("tnt_"), "{}", tenant.id);
            assert!(tenant.api_key.starts_with("frk_") && tenant.api_key.len() >= 40);
            let push = &tenant.push;
            assert_eq!(push["auth_method"], method);
            assert_eq!(push["retarus_auth_method"], retarus_name);
            assert!(
                push["credential_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("pcr_"))
            );
            let url = tenant.push_url();
            let key = url
                .strip_prefix(&format!("{}/push/", app.address))
                .expect("a push URL under the public URL");
            assert!(key.len() >= 22, "at least 128 random bits: {key}");
            let has = |field: &str| push.get(field).is_some();
            match method {
                "none" => assert!(
                    !has("username")
                        && !has("password")
                        && !has("client_id")
                        && !has("client_secret")
                ),
                "basic" => assert!(has("username") && has("password") && !has("client_secret")),
                "digest" => {
                    assert!(has("username") && has("password"));
                    assert_eq!(push["digest_algorithms"], json!(["SHA-256", "MD5"]));
                }
                "oauth2" => {
                    assert!(has("client_id") && has("client_secret") && !has("password"));
                    assert_eq!(push["token_url"], format!("{}/oauth2/token", app.address));
                }
                _ => unreachable!(),
            }
        }
    }
);

backend_test!(
    async fn secrets_are_shown_once_and_stored_only_as_hashes(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut secrets = Vec::new();
        for method in ["none", "basic", "digest", "oauth2"] {
            let tenant = app.sign_up(method).await;
            secrets.push(tenant.api_key.clone());
            for field in ["password", "client_secret"] {
                if let Some(secret) = tenant.push[field].as_str() {
                    secrets.push(secret.to_owned());
                }
            }
            if method == "none" {
                secrets.push(
                    tenant
                        .push_url()
                        .rsplit('/')
                        .next()
                        .expect("a key")
                        .to_owned(),
                );
            }
            // The tenant's own views never show a secret again.
            let views = [
                app.get_json("/tenant", &tenant.api_key).await,
                app.get_json("/push", &tenant.api_key).await,
                app.get_json("/api-keys", &tenant.api_key).await,
            ];
            for view in views {
                for secret in &secrets {
                    assert!(
                        !view.to_string().contains(secret.as_str()),
                        "{view} shows a secret"
                    );
                }
            }
        }
        let stored = [
            table_text(&app, "tenants").await,
            table_text(&app, "api_keys").await,
            table_text(&app, "push_credentials").await,
        ]
        .concat();
        for secret in &secrets {
            assert!(
                !stored.contains(secret.as_str()),
                "a secret is stored in plain text"
            );
        }
        // What is stored is the hash.
        assert!(
            stored.contains(&sha256_hex(&secrets[0])),
            "the API key is stored as its SHA-256"
        );
    }
);

backend_test!(
    async fn a_tenant_reads_renames_and_deletes_its_account(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;
        let other = app.sign_up("basic").await;
        app.push_fixture(&tenant, "xml-ok-single.xml").await;
        app.push_fixture(&other, "xml-ok-single.xml").await;
        // Two jobs in one body: the body is stored once, apart.
        app.push_fixture(&tenant, "json-reports-list.json").await;
        assert_eq!(count_rows(&app, "push_bodies").await, 1);

        let account = app.get_json("/tenant", &tenant.api_key).await;
        assert_eq!(account["id"], tenant.id.as_str());
        assert_eq!(account["name"], "ACME Legal");

        let renamed = app
            .api(Method::PATCH, "/tenant", &tenant.api_key)
            .json(&json!({"name": "  ACME Law  "}))
            .send()
            .await
            .expect("patch");
        assert_eq!(renamed.status(), 200);
        assert_eq!(
            renamed.json::<Value>().await.expect("json")["name"],
            "ACME Law"
        );
        assert_eq!(
            app.get_json("/tenant", &tenant.api_key).await["name"],
            "ACME Law"
        );

        let deleted = app
            .api(Method::DELETE, "/tenant", &tenant.api_key)
            .send()
            .await
            .expect("delete");
        assert_eq!(deleted.status(), 204);
        problem(app.get("/tenant", &tenant.api_key).await, 401).await;
        let push = app
            .push_basic(
                &tenant,
                faxrelay_tests::fixtures::retarus("xml-ok-single.xml"),
                "text/xml",
            )
            .await;
        problem(push, 404).await;

        // Every row of the deleted tenant is gone; the other tenant's rows stay.
        for table in [
            "tenants",
            "api_keys",
            "push_credentials",
            "reports",
            "report_recipients",
        ] {
            assert_eq!(count_rows(&app, table).await, 1, "{table}");
        }
        assert_eq!(count_rows(&app, "push_bodies").await, 0);
        assert_eq!(
            app.get_json("/reports", &other.api_key).await["data"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }
);

backend_test!(
    async fn sign_up_can_be_closed_or_need_a_token(backend: Backend) {
        let closed = TestApp::builder(backend)
            .configure(|c| c.signup = "closed".into())
            .spawn()
            .await;
        let response = closed
            .client
            .post(closed.url("/api/v1/tenants"))
            .json(&json!({"name": "x"}))
            .send()
            .await
            .expect("post");
        assert!(
            problem(response, 403).await["detail"]
                .as_str()
                .is_some_and(|d| d.contains("closed"))
        );

        let by_token = TestApp::builder(backend)
            .configure(|c| {
                c.signup = "token".into();
                c.signup_token = Some("let-me-in-please-1234".into());
            })
            .spawn()
            .await;
        let url = by_token.url("/api/v1/tenants");
        for body in [
            json!({"name": "x"}),
            json!({"name": "x", "signup_token": "wrong"}),
        ] {
            let response = by_token
                .client
                .post(&url)
                .json(&body)
                .send()
                .await
                .expect("post");
            problem(response, 403).await;
        }
        by_token
            .sign_up_with(json!({"name": "x", "signup_token": "let-me-in-please-1234"}))
            .await;
    }
);

backend_test!(
    async fn sign_up_refuses_invalid_fields_naming_them(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let url = app.url("/api/v1/tenants");
        let cases = [
            (json!({"name": "   "}), "name"),
            (json!({"name": "x".repeat(201)}), "name"),
            (json!({"push_auth": "basic"}), "name"),
            (json!({"name": "x", "push_auth": "kerberos"}), "push_auth"),
            (json!({"name": "x", "nmae": "typo"}), "nmae"),
            (
                json!({"name": "x", "digest_algorithms": []}),
                "digest_algorithms",
            ),
            (json!({"name": 42}), "name"),
            (json!([1, 2]), "body"),
        ];
        for (body, field) in cases {
            let response = app
                .client
                .post(&url)
                .json(&body)
                .send()
                .await
                .expect("post");
            let problem = problem(response, 422).await;
            assert_eq!(problem["type"], "urn:faxrelay:problem:invalid-fields");
            assert!(
                problem["errors"]
                    .as_array()
                    .is_some_and(|errors| errors.iter().any(|e| e["field"] == field)),
                "{body} should name `{field}`: {problem}"
            );
        }
    }
);

backend_test!(
    async fn migrations_can_run_twice(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.store.migrate().await.expect("a second run");
        app.store.migrate().await.expect("a third run");
        assert_eq!(app.store.pending_migrations().await.expect("status"), 0);
        app.sign_up("basic").await;
    }
);
