//! A tenant never sees or touches another tenant's data: foreign ids answer 404.

use faxrelay_tests::fixtures::retarus;
use faxrelay_tests::{Backend, TestApp, backend_test, problem};
use reqwest::Method;
use serde_json::json;

backend_test!(
    async fn another_tenants_ids_answer_404_on_every_endpoint(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let alice = app.sign_up("basic").await;
        let bob = app.sign_up("basic").await;
        let report_id = app.push_fixture(&alice, "xml-ok-single.xml").await["reports"][0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        problem(
            app.push_basic(&alice, b"<bad/>".to_vec(), "text/xml").await,
            400,
        )
        .await;
        let rejected_id = app.get_json("/rejected-pushes", &alice.api_key).await["data"][0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let credential_id = alice.field("credential_id");

        for path in [
            format!("/reports/{report_id}"),
            format!("/reports/{report_id}/raw"),
            format!("/rejected-pushes/{rejected_id}/raw"),
        ] {
            problem(app.get(&path, &bob.api_key).await, 404).await;
            assert_eq!(app.get(&path, &alice.api_key).await.status(), 200, "{path}");
        }
        let delete = app
            .api(
                Method::DELETE,
                &format!("/push/credentials/{credential_id}"),
                &bob.api_key,
            )
            .send()
            .await
            .expect("delete");
        problem(delete, 404).await;

        assert_eq!(
            app.get_json("/reports", &bob.api_key).await["data"],
            json!([])
        );
        assert_eq!(
            app.get_json("/reports?job_id=FJIJPNJYN906EDIJNFGI5S", &bob.api_key)
                .await["data"],
            json!([])
        );
        assert_eq!(
            app.get_json("/rejected-pushes", &bob.api_key).await["data"],
            json!([])
        );
        let settings = app.get_json("/push", &bob.api_key).await;
        assert!(!settings.to_string().contains(&credential_id));

        // Bob's credentials do not open Alice's push URL.
        let crossed = app
            .client
            .post(alice.push_url())
            .basic_auth(bob.field("username"), Some(bob.field("password")))
            .header("content-type", "text/xml")
            .body(retarus("xml-mixed-multi.xml"))
            .send()
            .await
            .expect("push");
        problem(crossed, 401).await;
    }
);
