//! A running faxrelay and a client for it.

use std::net::TcpListener;

use faxrelay::config::RawConfig;
use faxrelay::{Config, Role, Running};
use faxrelay_storage::Store;
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::backend::{Backend, TestDatabase, redis_url};

/// Rewrites the database URL a test app is given.
type UrlRewrite = Box<dyn FnOnce(&str) -> String + Send>;

/// How to start a test app.
pub struct TestAppBuilder {
    backend: Backend,
    raw: RawConfig,
    database_url_override: Option<UrlRewrite>,
    role: Role,
}

impl std::fmt::Debug for TestAppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAppBuilder")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl TestAppBuilder {
    /// Changes the configuration before start.
    pub fn configure(mut self, change: impl FnOnce(&mut RawConfig)) -> Self {
        change(&mut self.raw);
        self
    }

    /// Rewrites the database URL the app gets (e.g. to route it through a proxy).
    pub fn database_url(mut self, rewrite: impl FnOnce(&str) -> String + Send + 'static) -> Self {
        self.database_url_override = Some(Box::new(rewrite));
        self
    }

    /// Which parts run (default: API and worker, as `faxrelay serve`).
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    pub async fn spawn(self) -> TestApp {
        let (database, database_url) = TestDatabase::create(self.backend).await;
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a port");
        let address = format!("http://{}", listener.local_addr().expect("local address"));
        let mut raw = self.raw;
        raw.database_url = match self.database_url_override {
            Some(rewrite) => rewrite(&database_url),
            None => database_url.clone(),
        };
        if raw.public_url.is_none() {
            raw.public_url = Some(address.clone());
        }
        if self.backend == Backend::Postgres && raw.redis_url.is_none() {
            raw.redis_url = Some(redis_url());
        }
        let config = Config::from_raw(raw).unwrap_or_else(|e| panic!("{e}"));
        let running = faxrelay::start(&config, self.role, Some(listener))
            .await
            .unwrap_or_else(|e| panic!("starting faxrelay on {:?}: {e:#}", self.backend));
        // A separate connection for tests that look at stored rows directly.
        let store = Store::connect(&database_url, &Default::default())
            .await
            .expect("a test connection");
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        TestApp {
            address,
            client,
            backend: self.backend,
            config,
            store,
            running: Some(running),
            _database: database,
        }
    }
}

/// A faxrelay serving on a random port.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub backend: Backend,
    pub config: Config,
    /// The database, for looking at stored rows.
    pub store: Store,
    running: Option<Running>,
    _database: TestDatabase,
}

/// A signed-up tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub api_key: String,
    /// The `push` object of the sign-up answer.
    pub push: Value,
}

impl Tenant {
    pub fn push_url(&self) -> String {
        self.field("url")
    }

    /// A string field of the push setup.
    pub fn field(&self, name: &str) -> String {
        self.push[name]
            .as_str()
            .unwrap_or_else(|| panic!("push setup has no `{name}`: {}", self.push))
            .to_owned()
    }
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        let raw = RawConfig {
            listen: "127.0.0.1:0".to_owned(),
            secret_key: Some(faxrelay_core::crypto::MasterKey::generate().1),
            redis_prefix: format!("faxrelay-test-{}", uuid::Uuid::now_v7().simple()),
            http_workers: Some(2),
            log: "warn".to_owned(),
            ..RawConfig::default()
        };
        TestAppBuilder {
            backend,
            raw,
            database_url_override: None,
            role: Role::Serve,
        }
    }

    pub async fn spawn(backend: Backend) -> Self {
        Self::builder(backend).spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request to the management API with an API key.
    pub fn api(&self, method: reqwest::Method, path: &str, api_key: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(&format!("/api/v1{path}")))
            .bearer_auth(api_key)
    }

    pub async fn get(&self, path: &str, api_key: &str) -> Response {
        self.api(reqwest::Method::GET, path, api_key)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str, api_key: &str) -> Value {
        let response = self.get(path, api_key).await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    /// Signs a tenant up with a push method (`none`, `basic`, `digest`, `oauth2`).
    pub async fn sign_up(&self, push_auth: &str) -> Tenant {
        self.sign_up_with(json!({"name": "ACME Legal", "push_auth": push_auth}))
            .await
    }

    pub async fn sign_up_with(&self, body: Value) -> Tenant {
        let response = self
            .client
            .post(self.url("/api/v1/tenants"))
            .json(&body)
            .send()
            .await
            .expect("sign-up");
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(status, 201, "sign-up: {body}");
        Tenant {
            id: body["tenant"]["id"].as_str().expect("tenant id").to_owned(),
            api_key: body["api_key"].as_str().expect("api key").to_owned(),
            push: body["push"].clone(),
        }
    }

    /// Pushes a body with HTTP Basic credentials.
    pub async fn push_basic(&self, tenant: &Tenant, body: Vec<u8>, content_type: &str) -> Response {
        self.client
            .post(tenant.push_url())
            .basic_auth(tenant.field("username"), Some(tenant.field("password")))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("push")
    }

    /// Pushes a fixture with HTTP Basic credentials and expects it stored.
    pub async fn push_fixture(&self, tenant: &Tenant, fixture: &str) -> Value {
        let response = self
            .push_basic(
                tenant,
                crate::fixtures::retarus(fixture),
                crate::fixtures::content_type_of(fixture),
            )
            .await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(status, 200, "push of {fixture}: {body}");
        body
    }

    /// Stops the HTTP server and the worker (in-flight work finishes).
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    /// Stops faxrelay and starts it again on the same database and port, as an operator
    /// restarting the service would.
    pub async fn restart(&mut self) {
        self.stop().await;
        let address = self.address.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind(&address).expect("binding the same port again");
        let running = faxrelay::start(&self.config, Role::Serve, Some(listener))
            .await
            .expect("restarting faxrelay");
        self.running = Some(running);
    }

    /// Starts another faxrelay process's worth of `role` (e.g. a second worker) on the same
    /// database and queue.
    pub async fn start_role(&self, role: Role) -> Running {
        let listener = match role {
            Role::Worker => None,
            _ => Some(TcpListener::bind("127.0.0.1:0").expect("a port")),
        };
        faxrelay::start(&self.config, role, listener)
            .await
            .expect("starting another faxrelay")
    }
}

/// Reads a problem body and checks its shape.
pub async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "expected {status}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("a problem body");
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("urn:faxrelay:problem:")),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}
