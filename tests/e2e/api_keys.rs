use faxrelay_tests::{Backend, TestApp, backend_test, problem};
use reqwest::Method;
use serde_json::{Value, json};

backend_test!(
    async fn api_keys_are_created_listed_and_revoked_at_once(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;

        let created = app
            .api(Method::POST, "/api-keys", &tenant.api_key)
            .json(&json!({"name": "billing job"}))
            .send()
            .await
            .expect("post");
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.expect("json");
        let new_key = created["key"].as_str().expect("the key").to_owned();
        assert!(new_key.starts_with(created["prefix"].as_str().expect("prefix")));
        assert_eq!(created["name"], "billing job");

        // An empty body makes an unnamed key.
        let unnamed = app
            .api(Method::POST, "/api-keys", &tenant.api_key)
            .send()
            .await
            .expect("post");
        assert_eq!(unnamed.status(), 201);

        app.get_json("/tenant", &new_key).await;
        let list = app.get_json("/api-keys", &tenant.api_key).await;
        let keys = list["data"].as_array().expect("keys");
        assert_eq!(keys.len(), 3);
        assert!(
            !list.to_string().contains(&new_key),
            "the list never shows a key"
        );
        let listed = keys
            .iter()
            .find(|k| k["id"] == created["id"])
            .expect("the new key is listed");
        assert!(
            listed["last_used_at"].is_string(),
            "use is recorded: {listed}"
        );

        let id = created["id"].as_str().expect("id");
        let revoked = app
            .api(Method::DELETE, &format!("/api-keys/{id}"), &tenant.api_key)
            .send()
            .await
            .expect("delete");
        assert_eq!(revoked.status(), 204);
        problem(app.get("/tenant", &new_key).await, 401).await;
        app.get_json("/tenant", &tenant.api_key).await;

        let again = app
            .api(Method::DELETE, &format!("/api-keys/{id}"), &tenant.api_key)
            .send()
            .await
            .expect("delete");
        problem(again, 404).await;
    }
);

backend_test!(
    async fn the_last_api_key_cannot_be_revoked(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;
        let list = app.get_json("/api-keys", &tenant.api_key).await;
        let id = list["data"][0]["id"].as_str().expect("id");
        let response = app
            .api(Method::DELETE, &format!("/api-keys/{id}"), &tenant.api_key)
            .send()
            .await
            .expect("delete");
        problem(response, 409).await;
        app.get_json("/tenant", &tenant.api_key).await;
    }
);

backend_test!(
    async fn missing_wrong_and_malformed_keys_get_401(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.sign_up("basic").await;
        let url = app.url("/api/v1/reports");
        let requests = [
            app.client.get(&url),
            app.client
                .get(&url)
                .bearer_auth("frk_thisIsNotAKeyThatExistsAnywhere0000000000"),
            app.client.get(&url).bearer_auth("not-even-the-right-shape"),
            app.client.get(&url).basic_auth("user", Some("pass")),
            app.client.get(&url).header("authorization", "Bearer"),
        ];
        for request in requests {
            let response = request.send().await.expect("request");
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="faxrelay""#));
            problem(response, 401).await;
        }
    }
);

backend_test!(
    async fn another_tenants_key_ids_answer_404(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let alice = app.sign_up("basic").await;
        let bob = app.sign_up("basic").await;
        let alice_keys = app.get_json("/api-keys", &alice.api_key).await;
        let alice_key_id = alice_keys["data"][0]["id"].as_str().expect("id").to_owned();

        let response = app
            .api(
                Method::DELETE,
                &format!("/api-keys/{alice_key_id}"),
                &bob.api_key,
            )
            .send()
            .await
            .expect("delete");
        problem(response, 404).await;
        let bob_keys = app.get_json("/api-keys", &bob.api_key).await;
        assert!(!bob_keys.to_string().contains(&alice_key_id));
        app.get_json("/tenant", &alice.api_key).await;
    }
);
