//! A webhook receiver for relay measurements: it notes when each report arrives.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::{App, HttpResponse, HttpServer, web};

/// Arrival times by report sequence number, and the status to answer.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    pub url: String,
    arrivals: Arc<Mutex<HashMap<u64, Instant>>>,
    answer: Arc<AtomicU16>,
    requests: Arc<AtomicU64>,
}

impl Receiver {
    pub fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let receiver = Self {
            url,
            arrivals: Arc::default(),
            answer: Arc::new(AtomicU16::new(200)),
            requests: Arc::default(),
        };
        let shared = web::Data::new(receiver.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .listen(listener)?
        .run();
        tokio::spawn(server);
        Ok(receiver)
    }

    /// Answer with this status from now on.
    pub fn answer(&self, status: u16) {
        self.answer.store(status, Ordering::Relaxed);
    }

    /// Every request, whatever it was answered.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn arrival(&self, sequence: u64) -> Option<Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&sequence)
            .copied()
    }
}

async fn receive(body: web::Bytes, receiver: web::Data<Receiver>) -> HttpResponse {
    receiver.requests.fetch_add(1, Ordering::Relaxed);
    let status = receiver.answer.load(Ordering::Relaxed);
    if status == 200
        && let Some(sequence) = crate::report::sequence_in(&body)
    {
        receiver
            .arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(sequence)
            .or_insert_with(Instant::now);
    }
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK),
    )
    .finish()
}
