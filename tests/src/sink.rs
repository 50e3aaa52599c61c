//! A local webhook receiver: records every request and answers what the test says. It
//! also plays an OAuth2 token endpoint, for webhooks with client-credentials auth.

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use tokio::sync::Notify;

/// A request the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Header names in lower case; repeated headers joined by ", ".
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The header map, for a Standard Webhooks verifier.
    pub fn header_map(&self) -> reqwest::header::HeaderMap {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::try_from(name.as_str()),
                reqwest::header::HeaderValue::from_str(value),
            ) {
                map.insert(name, value);
            }
        }
        map
    }
}

/// An answer the sink gives.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: format!("status {status}"),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

#[derive(Debug)]
struct State {
    received: Vec<Received>,
    script: VecDeque<Reply>,
    default: Reply,
    /// OAuth2: the client id and secret the token endpoint accepts.
    oauth_client: Option<(String, String)>,
    /// OAuth2: the tokens issued so far; the last one is valid on `/hook` paths.
    tokens_issued: Vec<String>,
    require_token: bool,
}

#[derive(Debug, Clone)]
pub struct WebhookSink {
    pub base: String,
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
}

impl WebhookSink {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            received: Vec::new(),
            script: VecDeque::new(),
            default: Reply::status(200),
            oauth_client: None,
            tokens_issued: Vec::new(),
            require_token: false,
        }));
        let arrived = Arc::new(Notify::new());
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the sink");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let data = web::Data::new((state.clone(), arrived.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .route("/token", web::post().to(token))
                .default_service(web::to(receive))
        })
        .workers(1)
        .listen(listener)
        .expect("listening")
        .run();
        tokio::spawn(server);
        Self {
            base,
            state,
            arrived,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers every request not scripted with `reply`.
    pub fn reply_with(&self, reply: Reply) {
        self.state().default = reply;
    }

    /// The next answers, in order.
    pub fn script(&self, replies: Vec<Reply>) {
        self.state().script.extend(replies);
    }

    /// Turns on the token endpoint for this client and requires its latest token.
    pub fn expect_oauth_client(&self, client_id: &str, client_secret: &str) {
        let mut state = self.state();
        state.oauth_client = Some((client_id.to_owned(), client_secret.to_owned()));
        state.require_token = true;
    }

    /// Makes every issued token invalid, as if the authorization server revoked them.
    pub fn revoke_tokens(&self) {
        let mut state = self.state();
        let count = state.tokens_issued.len();
        state.tokens_issued.push(format!("revoked-{count}"));
    }

    pub fn tokens_issued(&self) -> usize {
        self.state()
            .tokens_issued
            .iter()
            .filter(|t| t.starts_with("token-"))
            .count()
    }

    pub fn received(&self) -> Vec<Received> {
        self.state().received.clone()
    }

    /// Waits until at least `count` requests arrived (failing after `timeout`).
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "expected {count} requests within {timeout:?}, got {}: {received:#?}",
                received.len()
            );
            let _ = tokio::time::timeout(left, notified).await;
        }
    }
}

type Shared = web::Data<(Arc<Mutex<State>>, Arc<Notify>)>;

async fn receive(request: HttpRequest, body: web::Bytes, shared: Shared) -> HttpResponse {
    let (state, arrived) = shared.get_ref();
    let mut headers: HashMap<String, String> = HashMap::new();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| *v = format!("{v}, {value}"))
            .or_insert(value);
    }
    let reply = {
        let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
        state.received.push(Received {
            path: request.path().to_owned(),
            headers: headers.clone(),
            body: body.to_vec(),
            at: Instant::now(),
        });
        let token_ok = !state.require_token
            || state.tokens_issued.last().is_some_and(|token| {
                headers.get("authorization") == Some(&format!("Bearer {token}"))
            });
        if token_ok {
            state
                .script
                .pop_front()
                .unwrap_or_else(|| state.default.clone())
        } else {
            Reply::status(401)
        }
    };
    arrived.notify_waiters();
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).expect("a status"));
    for (name, value) in &reply.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    response.body(reply.body)
}

/// A minimal client-credentials token endpoint (HTTP Basic or form authentication).
async fn token(request: HttpRequest, body: web::Bytes, shared: Shared) -> HttpResponse {
    let (state, _) = shared.get_ref();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let basic = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|encoded| {
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded).ok()
        })
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    let presented = basic.or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    });
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || presented != state.oauth_client
    {
        return HttpResponse::Unauthorized().json(serde_json::json!({"error": "invalid_client"}));
    }
    let issued = state
        .tokens_issued
        .iter()
        .filter(|t| t.starts_with("token-"))
        .count();
    let token = format!("token-{issued}");
    state.tokens_issued.push(token.clone());
    HttpResponse::Ok().json(
        serde_json::json!({"access_token": token, "token_type": "bearer", "expires_in": 3600}),
    )
}
