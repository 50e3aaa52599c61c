//! Each push authentication method, accepted with a real client and refused when wrong.

use std::process::Command;
use std::time::Duration;

use faxrelay_tests::fixtures::retarus;
use faxrelay_tests::{Backend, Tenant, TestApp, backend_test, problem};
use reqwest::Method;
use serde_json::{Value, json};

const FIXTURE: &str = "json-rest-ok.json";

async fn report_count(app: &TestApp, tenant: &Tenant) -> usize {
    app.get_json("/reports", &tenant.api_key).await["data"]
        .as_array()
        .map_or(0, Vec::len)
}

/// Runs curl, the independent client, and returns the HTTP status and its verbose log.
fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-sS", "-v", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("curl is installed");
    let status = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (status, String::from_utf8_lossy(&output.stderr).into_owned())
}

fn fixture_path(name: &str) -> String {
    format!("@{}/fixtures/retarus/{name}", env!("CARGO_MANIFEST_DIR"))
}

backend_test!(
    async fn push_without_authentication_uses_the_secret_url(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("none").await;
        let response = app
            .client
            .post(tenant.push_url())
            .header("content-type", "application/json")
            .body(retarus(FIXTURE))
            .send()
            .await
            .expect("push");
        assert_eq!(response.status(), 200);
        let wrong = format!("{}x", tenant.push_url());
        let response = app
            .client
            .post(wrong)
            .header("content-type", "application/json")
            .body(retarus(FIXTURE))
            .send()
            .await
            .expect("push");
        problem(response, 404).await;
        assert_eq!(report_count(&app, &tenant).await, 1);
    }
);

backend_test!(
    async fn basic_push_is_accepted_with_its_credentials_and_refused_without(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;
        let (user, password) = (tenant.field("username"), tenant.field("password"));
        let url = tenant.push_url();

        let attempts = [
            app.client.post(&url),
            app.client
                .post(&url)
                .basic_auth(&user, Some("wrong-password")),
            app.client
                .post(&url)
                .basic_auth("someone-else", Some(&password)),
            app.client.post(&url).bearer_auth(&password),
        ];
        for attempt in attempts {
            let response = attempt
                .header("content-type", "application/json")
                .body(retarus(FIXTURE))
                .send()
                .await
                .expect("push");
            assert_eq!(
                response.headers()["www-authenticate"],
                r#"Basic realm="faxrelay", charset="UTF-8""#
            );
            problem(response, 401).await;
        }
        assert_eq!(
            report_count(&app, &tenant).await,
            0,
            "a refused push stores nothing"
        );
        let rejected = app.get_json("/rejected-pushes", &tenant.api_key).await;
        assert_eq!(rejected["data"], json!([]), "nor is it kept as rejected");

        let (status, _) = curl(&[
            "-u",
            &format!("{user}:{password}"),
            "-H",
            "content-type: application/json",
            "--data-binary",
            &fixture_path(FIXTURE),
            &url,
        ]);
        assert_eq!(status, 200);
        assert_eq!(report_count(&app, &tenant).await, 1);
    }
);

backend_test!(
    async fn digest_push_works_with_curl_for_each_algorithm(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for (algorithms, expected) in [
            (json!(["MD5"]), "MD5"),
            (json!(["SHA-256"]), "SHA-256"),
            (json!(["SHA-256", "MD5"]), ""),
        ] {
            let tenant = app
                .sign_up_with(
                    json!({"name": "x", "push_auth": "digest", "digest_algorithms": algorithms}),
                )
                .await;
            let credentials = format!("{}:{}", tenant.field("username"), tenant.field("password"));
            let url = tenant.push_url();
            let (status, log) = curl(&[
                "--digest",
                "-u",
                &credentials,
                "-H",
                "content-type: application/json",
                "--data-binary",
                &fixture_path(FIXTURE),
                &url,
            ]);
            assert_eq!(status, 200, "{algorithms}: {log}");
            if !expected.is_empty() {
                assert!(
                    log.contains(&format!("algorithm={expected}")),
                    "curl used {expected}: {log}"
                );
            }
            let challenge_count = log.matches("< www-authenticate: Digest").count()
                + log.matches("< WWW-Authenticate: Digest").count();
            assert_eq!(
                challenge_count,
                algorithms.as_array().map_or(0, Vec::len),
                "one challenge per algorithm: {log}"
            );
            assert_eq!(report_count(&app, &tenant).await, 1);

            let (status, _) = curl(&[
                "--digest",
                "-u",
                &format!("{}:wrong", tenant.field("username")),
                "-H",
                "content-type: application/json",
                "--data-binary",
                &fixture_path(FIXTURE),
                &url,
            ]);
            assert_eq!(status, 401);
        }
    }
);

backend_test!(
    async fn digest_push_works_with_python_requests(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("digest").await;
        let script = r#"
import sys, requests
from requests.auth import HTTPDigestAuth
url, user, password, body = sys.argv[1:5]
session = requests.Session()
auth = HTTPDigestAuth(user, password)
statuses = [session.post(url, data=open(body, 'rb').read(), headers={'content-type': 'application/json'}, auth=auth).status_code for _ in range(2)]
wrong = requests.post(url, data=b'{}', headers={'content-type': 'application/json'}, auth=HTTPDigestAuth(user, 'nope')).status_code
print(' '.join(map(str, statuses + [wrong])))
"#;
        let body = format!("{}/fixtures/retarus/{FIXTURE}", env!("CARGO_MANIFEST_DIR"));
        let output = Command::new("python3")
            .args([
                "-c",
                script,
                &tenant.push_url(),
                &tenant.field("username"),
                &tenant.field("password"),
                &body,
            ])
            .output()
            .expect("python3 with requests is installed");
        let printed = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            printed.trim(),
            "200 200 401",
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            report_count(&app, &tenant).await,
            1,
            "the second push is a duplicate"
        );
    }
);

/// Pushes the fixture with an `Authorization` header as given.
async fn push_authorized(app: &TestApp, url: &str, authorization: &str) -> reqwest::Response {
    app.client
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", authorization)
        .body(retarus(FIXTURE))
        .send()
        .await
        .expect("push")
}

/// Answers a digest challenge with the `digest_auth` crate, an independent RFC 7616 client.
fn digest_answer(challenge: &str, user: &str, password: &str, uri: &str, body: &[u8]) -> String {
    let mut parsed = digest_auth::parse(challenge).expect("a parseable challenge");
    let context = digest_auth::AuthContext::new_post(user, password, uri, Some(body));
    parsed
        .respond(&context)
        .expect("an answer")
        .to_header_string()
}

/// The first `WWW-Authenticate` challenge of a refused push.
async fn challenge(app: &TestApp, url: &str) -> String {
    let response = app
        .client
        .post(url)
        .header("content-type", "application/json")
        .body(retarus(FIXTURE))
        .send()
        .await
        .expect("push");
    assert_eq!(response.status(), 401);
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .next()
        .expect("a challenge")
        .to_str()
        .expect("text")
        .to_owned()
}

backend_test!(
    async fn a_replayed_digest_nonce_is_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("digest").await;
        let url = tenant.push_url();
        let path = url::Url::parse(&url).expect("url").path().to_owned();
        let challenge = challenge(&app, &url).await;
        let authorization = digest_answer(
            &challenge,
            &tenant.field("username"),
            &tenant.field("password"),
            &path,
            &retarus(FIXTURE),
        );

        assert_eq!(
            push_authorized(&app, &url, &authorization).await.status(),
            200
        );
        // A replay is refused as one: not as a stale nonce a client may answer afresh.
        let refused_as_replay = |replay: &reqwest::Response| {
            replay
                .headers()
                .get("www-authenticate")
                .is_some_and(|h| !h.to_str().unwrap_or_default().contains("stale=true"))
        };
        let replay = push_authorized(&app, &url, &authorization).await;
        assert!(refused_as_replay(&replay));
        problem(replay, 401).await;

        // The same request replayed to another faxrelay process of the deployment.
        let other = app.start_role(faxrelay::Role::Api).await;
        let other_url = format!("http://{}{path}", other.address.expect("the API listens"));
        let replay = push_authorized(&app, &other_url, &authorization).await;
        assert!(refused_as_replay(&replay));
        problem(replay, 401).await;
        other.stop().await;
    }
);

backend_test!(
    async fn an_expired_digest_nonce_is_answered_stale(backend: Backend) {
        let app = TestApp::builder(backend)
            .configure(|c| c.nonce_ttl = "1s".into())
            .spawn()
            .await;
        let tenant = app.sign_up("digest").await;
        let other = app.sign_up("digest").await;
        let url = tenant.push_url();
        let path = url::Url::parse(&url).expect("url").path().to_owned();
        let (user, password) = (tenant.field("username"), tenant.field("password"));

        // A nonce issued for another tenant is not accepted here.
        let foreign = challenge(&app, &other.push_url()).await;
        let authorization = digest_answer(&foreign, &user, &password, &path, &retarus(FIXTURE));
        let response = push_authorized(&app, &url, &authorization).await;
        assert!(
            !response.headers()["www-authenticate"]
                .to_str()
                .unwrap_or_default()
                .contains("stale")
        );
        problem(response, 401).await;

        let old = challenge(&app, &url).await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let authorization = digest_answer(&old, &user, &password, &path, &retarus(FIXTURE));
        let response = push_authorized(&app, &url, &authorization).await;
        assert_eq!(response.status(), 401);
        let fresh = response.headers()["www-authenticate"]
            .to_str()
            .expect("text")
            .to_owned();
        assert!(fresh.contains("stale=true"), "{fresh}");

        let authorization = digest_answer(&fresh, &user, &password, &path, &retarus(FIXTURE));
        let response = push_authorized(&app, &url, &authorization).await;
        assert_eq!(response.status(), 200);
    }
);

/// Asks the token endpoint with curl, authenticating by HTTP Basic.
fn token_with_curl(token_url: &str, client_id: &str, secret: &str) -> Value {
    let output = Command::new("curl")
        .args([
            "-sS",
            "-u",
            &format!("{client_id}:{secret}"),
            "-d",
            "grant_type=client_credentials",
            token_url,
        ])
        .output()
        .expect("curl");
    serde_json::from_slice(&output.stdout).expect("a JSON answer")
}

async fn push_with_token(app: &TestApp, tenant: &Tenant, token: &str) -> reqwest::Response {
    app.client
        .post(tenant.push_url())
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(retarus(FIXTURE))
        .send()
        .await
        .expect("push")
}

backend_test!(
    async fn oauth2_tokens_are_issued_for_client_credentials_and_accepted_on_pushes(
        backend: Backend,
    ) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("oauth2").await;
        let (client_id, secret, token_url) = (
            tenant.field("client_id"),
            tenant.field("client_secret"),
            tenant.field("token_url"),
        );

        let by_basic = token_with_curl(&token_url, &client_id, &secret);
        assert_eq!(by_basic["token_type"], "Bearer");
        assert_eq!(by_basic["expires_in"], 3600);
        let token = by_basic["access_token"].as_str().expect("a token");
        assert_eq!(push_with_token(&app, &tenant, token).await.status(), 200);

        let by_form = app
            .client
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", &secret),
            ])
            .send()
            .await
            .expect("token");
        assert_eq!(by_form.status(), 200);
        assert_eq!(by_form.headers()["cache-control"], "no-store");
        let token = by_form.json::<Value>().await.expect("json")["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        assert_eq!(push_with_token(&app, &tenant, &token).await.status(), 200);

        type Form<'a> = Vec<(&'a str, &'a str)>;
        let cases: [(Form, u16, &str); 5] = [
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", &client_id),
                    ("client_secret", "wrong"),
                ],
                401,
                "invalid_client",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", "cid_unknown"),
                    ("client_secret", &secret),
                ],
                401,
                "invalid_client",
            ),
            (
                vec![
                    ("grant_type", "password"),
                    ("client_id", &client_id),
                    ("client_secret", &secret),
                ],
                400,
                "unsupported_grant_type",
            ),
            (
                vec![("client_id", &client_id), ("client_secret", &secret)],
                400,
                "invalid_request",
            ),
            (
                vec![("grant_type", "client_credentials")],
                401,
                "invalid_client",
            ),
        ];
        for (form, status, error) in cases {
            let response = app
                .client
                .post(&token_url)
                .form(&form)
                .send()
                .await
                .expect("token");
            assert_eq!(response.status(), status, "{form:?}");
            assert_eq!(
                response.json::<Value>().await.expect("json")["error"],
                error,
                "{form:?}"
            );
        }

        let missing = app
            .client
            .post(tenant.push_url())
            .header("content-type", "application/json")
            .body(retarus(FIXTURE))
            .send()
            .await
            .expect("push");
        assert_eq!(
            missing.headers()["www-authenticate"],
            r#"Bearer realm="faxrelay""#
        );
        problem(missing, 401).await;
    }
);

backend_test!(
    async fn expired_forged_and_foreign_tokens_are_refused(backend: Backend) {
        let app = TestApp::builder(backend)
            .configure(|c| c.token_ttl = "1s".into())
            .spawn()
            .await;
        let tenant = app.sign_up("oauth2").await;
        let other = app.sign_up("oauth2").await;
        let token_of = |t: &Tenant| {
            token_with_curl(
                &t.field("token_url"),
                &t.field("client_id"),
                &t.field("client_secret"),
            )["access_token"]
                .as_str()
                .expect("token")
                .to_owned()
        };

        let foreign = token_of(&other);
        let response = push_with_token(&app, &tenant, &foreign).await;
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap_or_default()
                .contains(r#"error="invalid_token""#)
        );
        problem(response, 401).await;

        let token = token_of(&tenant);
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        problem(push_with_token(&app, &tenant, &forged).await, 401).await;
        // A token that names no algorithm must not pass either.
        let mut parts = token.split('.');
        let (_, claims) = (parts.next(), parts.next().expect("claims"));
        let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{claims}.");
        problem(push_with_token(&app, &tenant, &unsigned).await, 401).await;

        assert_eq!(push_with_token(&app, &tenant, &token).await.status(), 200);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let expired = push_with_token(&app, &tenant, &token).await;
        assert!(
            expired.headers()["www-authenticate"]
                .to_str()
                .unwrap_or_default()
                .contains("expired")
        );
        problem(expired, 401).await;
    }
);

backend_test!(
    async fn two_credentials_work_during_a_rotation(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;
        let added = app
            .api(Method::POST, "/push/credentials", &tenant.api_key)
            .send()
            .await
            .expect("add");
        assert_eq!(added.status(), 201);
        let added: Value = added.json().await.expect("json");
        assert_eq!(
            added["url"], tenant.push["url"],
            "the URL stays; the credential changes"
        );
        let new = Tenant {
            push: added.clone(),
            ..tenant.clone()
        };

        let settings = app.get_json("/push", &tenant.api_key).await;
        assert_eq!(settings["credentials"].as_array().map(Vec::len), Some(2));
        assert_eq!(settings["url"], tenant.push["url"]);
        assert!(!settings.to_string().contains(&new.field("password")));

        assert_eq!(
            app.push_basic(&tenant, retarus("xml-ok-single.xml"), "text/xml")
                .await
                .status(),
            200
        );
        assert_eq!(
            app.push_basic(&new, retarus("json-rest-ok.json"), "application/json")
                .await
                .status(),
            200
        );

        let old_id = tenant.field("credential_id");
        let deleted = app
            .api(
                Method::DELETE,
                &format!("/push/credentials/{old_id}"),
                &tenant.api_key,
            )
            .send()
            .await
            .expect("delete");
        assert_eq!(deleted.status(), 204);
        problem(
            app.push_basic(
                &tenant,
                retarus("json-faxjobreport.json"),
                "application/json",
            )
            .await,
            401,
        )
        .await;
        assert_eq!(
            app.push_basic(&new, retarus("json-faxjobreport.json"), "application/json")
                .await
                .status(),
            200
        );

        let last = app
            .api(
                Method::DELETE,
                &format!("/push/credentials/{}", new.field("credential_id")),
                &tenant.api_key,
            )
            .send()
            .await
            .expect("delete");
        problem(last, 409).await;
    }
);

backend_test!(
    async fn secret_push_urls_rotate_like_credentials(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("none").await;
        let added: Value = app
            .api(Method::POST, "/push/credentials", &tenant.api_key)
            .send()
            .await
            .expect("add")
            .json()
            .await
            .expect("json");
        let new_url = added["url"].as_str().expect("url").to_owned();
        assert_ne!(new_url, tenant.push_url());
        assert!(
            app.get_json("/push", &tenant.api_key).await["url"].is_null(),
            "secret URLs are shown once"
        );
        for url in [tenant.push_url(), new_url.clone()] {
            let response = app
                .client
                .post(&url)
                .header("content-type", "application/json")
                .body(retarus(FIXTURE))
                .send()
                .await
                .expect("push");
            assert_eq!(response.status(), 200);
        }
        let old_id = tenant.field("credential_id");
        app.api(
            Method::DELETE,
            &format!("/push/credentials/{old_id}"),
            &tenant.api_key,
        )
        .send()
        .await
        .expect("delete");
        let response = app
            .client
            .post(tenant.push_url())
            .header("content-type", "application/json")
            .body(retarus(FIXTURE))
            .send()
            .await
            .expect("push");
        problem(response, 404).await;
    }
);

backend_test!(
    async fn changing_the_method_replaces_the_credentials(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let tenant = app.sign_up("basic").await;
        let changed = app
            .api(Method::PUT, "/push", &tenant.api_key)
            .json(&json!({"auth_method": "digest", "digest_algorithms": ["MD5"]}))
            .send()
            .await
            .expect("put");
        assert_eq!(changed.status(), 200);
        let changed: Value = changed.json().await.expect("json");
        assert_eq!(changed["auth_method"], "digest");
        assert_eq!(changed["digest_algorithms"], json!(["MD5"]));
        assert_eq!(changed["url"], tenant.push["url"]);

        let refused = app
            .push_basic(&tenant, retarus(FIXTURE), "application/json")
            .await;
        assert!(
            refused.headers()["www-authenticate"]
                .to_str()
                .unwrap_or_default()
                .starts_with("Digest ")
        );
        problem(refused, 401).await;
        let credentials = format!(
            "{}:{}",
            changed["username"].as_str().expect("user"),
            changed["password"].as_str().expect("password")
        );
        let (status, _) = curl(&[
            "--digest",
            "-u",
            &credentials,
            "-H",
            "content-type: application/json",
            "--data-binary",
            &fixture_path(FIXTURE),
            &tenant.push_url(),
        ]);
        assert_eq!(status, 200);

        let invalid = app
            .api(Method::PUT, "/push", &tenant.api_key)
            .json(&json!({"auth_method": "ntlm"}))
            .send()
            .await
            .expect("put");
        assert_eq!(
            problem(invalid, 422).await["errors"][0]["field"],
            "auth_method"
        );
    }
);
