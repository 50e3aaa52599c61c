use faxrelay_tests::{Backend, TestApp, backend_test};
use serde_json::Value;

const COMMITTED_SPEC: &str = include_str!("../../openapi/openapi.json");

backend_test!(
    async fn the_served_spec_is_the_committed_one(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let served: Value = app
            .client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .expect("spec")
            .json()
            .await
            .expect("json");
        let committed: Value =
            serde_json::from_str(COMMITTED_SPEC).expect("the committed spec is JSON");
        assert!(
            served == committed,
            "openapi/openapi.json is out of date: run `cargo run -q -p faxrelay -- openapi > openapi/openapi.json`"
        );
        assert_eq!(served["openapi"], "3.1.0");
        assert!(served["components"]["securitySchemes"]["api_key"].is_object());
        for path in [
            "/push/{push_key}",
            "/oauth2/token",
            "/api/v1/tenants",
            "/api/v1/reports",
            "/api/v1/push/credentials/{id}",
        ] {
            assert!(served["paths"][path].is_object(), "{path} is documented");
        }
    }
);

backend_test!(
    async fn the_docs_ui_is_served_without_external_assets(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let redirect = app.client.get(app.url("/docs")).send().await.expect("docs");
        assert_eq!(redirect.status(), 308);
        assert_eq!(redirect.headers()["location"], "/docs/");

        let page = app
            .client
            .get(app.url("/docs/"))
            .send()
            .await
            .expect("docs page");
        assert_eq!(page.status(), 200);
        let html = page.text().await.expect("html");
        let assets: Vec<String> = ["src=\"", "href=\""]
            .iter()
            .flat_map(|attribute| {
                html.split(attribute)
                    .skip(1)
                    .filter_map(|rest| rest.split('"').next())
                    .map(str::to_owned)
            })
            .collect();
        assert!(
            assets.len() >= 3,
            "the page loads its scripts and styles: {assets:?}"
        );
        for asset in assets {
            assert!(!asset.contains("//"), "{asset} is external");
            let url = app.url(&format!("/docs/{}", asset.trim_start_matches("./")));
            let response = app.client.get(&url).send().await.expect("asset");
            assert_eq!(response.status(), 200, "{url}");
            let body = response.text().await.unwrap_or_default();
            assert!(
                !body.contains("://unpkg.com") && !body.contains("cdn.jsdelivr"),
                "{url} loads from a CDN"
            );
        }
    }
);
