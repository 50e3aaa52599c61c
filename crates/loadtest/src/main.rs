//! `faxrelay-loadtest`: measures a running faxrelay from the outside.
//!
//! - `push`: pushes unique Retarus reports at a fixed concurrency (closed loop) or a fixed
//!   rate (open loop) and prints pushes/s and latency percentiles.
//! - `relay`: the same with a webhook pointing at a receiver in this process, and prints
//!   push-to-receipt latency and deliveries/s as well.
//! - `drain`: builds a backlog while the receiver is down, then lets it drain and prints
//!   deliveries/s, with pushes going on meanwhile.
//!
//! `relay` and `drain` need a faxrelay that may deliver to this machine
//! (`FAXRELAY_ALLOW_PRIVATE_TARGETS=true`).
//! Every report is unique (its own job id), so each push is a real insert, not a duplicate.

mod receiver;
mod report;
mod stats;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::stats::Recorder;

#[derive(Debug, Parser)]
#[command(name = "faxrelay-loadtest", about = "Load tool for faxrelay")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Push unique reports and measure ingest throughput and latency.
    Push(PushArgs),
    /// Push and measure until each report reaches a local webhook receiver.
    Relay(RelayArgs),
    /// Measure how fast a backlog of deliveries drains.
    Drain(DrainArgs),
}

#[derive(Debug, Args)]
struct RelayArgs {
    #[command(flatten)]
    push: PushArgs,
    /// The webhook's template.
    #[arg(long, default_value = "json")]
    template: String,
}

#[derive(Debug, Args)]
struct DrainArgs {
    #[command(flatten)]
    target: Target,
    /// Deliveries to pile up before draining.
    #[arg(long, default_value_t = 10_000)]
    backlog: u64,
    /// Pushes per second while the backlog drains.
    #[arg(long, default_value_t = 100)]
    rate: u64,
}

#[derive(Debug, Args)]
struct Target {
    /// The faxrelay base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A sign-up token, if the deployment needs one.
    #[arg(long)]
    signup_token: Option<String>,
}

#[derive(Debug, Args)]
struct PushArgs {
    #[command(flatten)]
    target: Target,
    /// Concurrent pushes in flight (closed loop).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Pushes per second (open loop); overrides the closed loop.
    #[arg(long)]
    rate: Option<u64>,
    /// How long to push, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Warm-up before measuring, in seconds.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
}

/// A signed-up tenant to push to.
#[derive(Debug, Clone)]
struct PushTarget {
    url: String,
    user: String,
    password: String,
}

async fn sign_up(
    client: &reqwest::Client,
    target: &Target,
) -> anyhow::Result<(PushTarget, String)> {
    let mut body = json!({"name": "loadtest", "push_auth": "basic"});
    if let Some(token) = &target.signup_token {
        body["signup_token"] = json!(token);
    }
    let response = client
        .post(format!("{}/api/v1/tenants", target.url))
        .json(&body)
        .send()
        .await
        .with_context(|| format!("signing up at {}", target.url))?;
    if !response.status().is_success() {
        bail!(
            "sign-up failed: {} {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    let answer: Value = response.json().await?;
    let field = |name: &str| {
        answer["push"][name]
            .as_str()
            .map(str::to_owned)
            .context("sign-up answer lacks push setup")
    };
    Ok((
        PushTarget {
            url: field("url")?,
            user: field("username")?,
            password: field("password")?,
        },
        answer["api_key"].as_str().context("no api key")?.to_owned(),
    ))
}

fn client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(1))
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// An error with its causes.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn push_once(
    client: &reqwest::Client,
    target: &PushTarget,
    sequence: u64,
) -> Result<(), String> {
    let response = client
        .post(&target.url)
        .basic_auth(&target.user, Some(&target.password))
        .header("content-type", "application/json")
        .body(report::unique(sequence))
        .send()
        .await
        .map_err(|e| describe(&e))?;
    if response.status() == 200 {
        Ok(())
    } else {
        Err(format!("status {}", response.status()))
    }
}

/// When each measured push was sent, by sequence number.
type SendTimes = Arc<std::sync::Mutex<HashMap<u64, Instant>>>;

async fn push(args: PushArgs) -> anyhow::Result<()> {
    let concurrency = args.rate.map_or(args.concurrency, |_| 512);
    let client = client(concurrency)?;
    let (target, _) = sign_up(&client, &args.target).await?;
    let recorder = Recorder::new();
    let lateness = drive(&args, &client, &target, &recorder, None).await?;
    recorder.report(
        &format!("push ({})", mode(&args)),
        Duration::from_secs(args.seconds),
    );
    if let Some(lateness) = lateness {
        lateness.report_lateness();
    }
    Ok(())
}

fn mode(args: &PushArgs) -> String {
    match args.rate {
        Some(rate) => format!("open loop at {rate}/s"),
        None => format!("closed loop, {} connections", args.concurrency),
    }
}

/// Pushes for the warm-up and the measured window, recording the latency of measured
/// pushes and, if asked, when each was sent. An open loop answers how late its sender went
/// out after each slot.
async fn drive(
    args: &PushArgs,
    client: &reqwest::Client,
    target: &PushTarget,
    recorder: &Recorder,
    send_times: Option<SendTimes>,
) -> anyhow::Result<Option<Recorder>> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let note = move |sequence: u64, sent: Instant| {
        if let Some(times) = &send_times {
            times
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(sequence, sent);
        }
    };

    let warmup = Duration::from_secs(args.warmup);
    let measure = Duration::from_secs(args.seconds);
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + measure;

    match args.rate {
        None => {
            let mut workers = Vec::new();
            for _ in 0..args.concurrency {
                let (client, target, recorder, note) = (
                    client.clone(),
                    target.clone(),
                    recorder.clone(),
                    note.clone(),
                );
                workers.push(tokio::spawn(async move {
                    while Instant::now() < end {
                        let sent = Instant::now();
                        let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
                        let result = push_once(&client, &target, sequence).await;
                        if sent >= measure_from {
                            // Only a stored push is waited for at the receiver.
                            if result.is_ok() {
                                note(sequence, sent);
                            }
                            recorder.record(sent.elapsed(), result.err());
                        }
                    }
                }));
            }
            for worker in workers {
                worker.await?;
            }
        }
        Some(rate) => {
            // Open loop: each push goes out at its slot whether or not earlier ones were
            // answered, so a stalled server shows in the figures instead of slowing the
            // sender down. Latency counts from when the push went out: tokio's timer wakes
            // the sender up to a millisecond after the slot, which is the load tool's own
            // delay, not the server's. How late the sender was is printed beside.
            let interval = Duration::from_secs_f64(1.0 / rate as f64);
            let mut tasks = Vec::new();
            let mut due = started;
            let lateness = Recorder::new();
            while due < end {
                tokio::time::sleep_until(due.into()).await;
                let (client, target, recorder) = (client.clone(), target.clone(), recorder.clone());
                let sent = Instant::now();
                let measured = due >= measure_from;
                let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
                if measured {
                    lateness.record(sent.saturating_duration_since(due), None);
                }
                let note = note.clone();
                tasks.push(tokio::spawn(async move {
                    let result = push_once(&client, &target, sequence).await;
                    if measured {
                        if result.is_ok() {
                            note(sequence, sent);
                        }
                        recorder.record(sent.elapsed(), result.err());
                    }
                }));
                due += interval;
            }
            for task in tasks {
                task.await?;
            }
            return Ok(Some(lateness));
        }
    }
    Ok(None)
}

/// Creates a webhook to `url` for the tenant of `api_key`.
async fn create_webhook(
    client: &reqwest::Client,
    base: &str,
    api_key: &str,
    body: Value,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(api_key)
        .json(&body)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!(
            "creating the webhook failed: {} {} (does the server allow private targets? FAXRELAY_ALLOW_PRIVATE_TARGETS=true)",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    let answer: Value = response.json().await?;
    answer["id"]
        .as_str()
        .map(str::to_owned)
        .context("no webhook id")
}

/// Whether a webhook has deliveries not attempted yet, or with an attempt in flight.
async fn has_pending(
    client: &reqwest::Client,
    base: &str,
    api_key: &str,
    webhook: &str,
) -> anyhow::Result<bool> {
    let response = client
        .get(format!(
            "{base}/api/v1/deliveries?webhook_id={webhook}&status=pending&limit=1"
        ))
        .bearer_auth(api_key)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("listing deliveries failed: {}", response.status());
    }
    let answer: Value = response.json().await?;
    Ok(answer["data"]
        .as_array()
        .is_some_and(|data| !data.is_empty()))
}

async fn relay(args: RelayArgs) -> anyhow::Result<()> {
    let push_args = &args.push;
    let concurrency = push_args.rate.map_or(push_args.concurrency, |_| 512);
    let client = client(concurrency)?;
    let (target, api_key) = sign_up(&client, &push_args.target).await?;
    let receiver = receiver::Receiver::start()?;
    create_webhook(
        &client,
        &push_args.target.url,
        &api_key,
        json!({"url": receiver.url, "template": args.template}),
    )
    .await?;

    let send_times: SendTimes = Arc::default();
    let pushes = Recorder::new();
    let lateness = drive(
        push_args,
        &client,
        &target,
        &pushes,
        Some(send_times.clone()),
    )
    .await?;
    let pushed_at = Instant::now();

    // Wait for the stragglers: until all arrived, or nothing arrived for five seconds.
    let expected: Vec<(u64, Instant)> = send_times
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(s, t)| (*s, *t))
        .collect();
    let (mut last_count, mut last_progress) = (0, Instant::now());
    loop {
        let arrived = expected
            .iter()
            .filter(|(sequence, _)| receiver.arrival(*sequence).is_some())
            .count();
        if arrived == expected.len() || last_progress.elapsed() > Duration::from_secs(5) {
            break;
        }
        if arrived > last_count {
            (last_count, last_progress) = (arrived, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let receipts = Recorder::new();
    let mut last_arrival = pushed_at;
    for (sequence, sent) in &expected {
        match receiver.arrival(*sequence) {
            Some(at) => {
                receipts.record(at.saturating_duration_since(*sent), None);
                last_arrival = last_arrival.max(at);
            }
            None => receipts.record(Duration::ZERO, Some("not delivered".to_owned())),
        }
    }
    let window = Duration::from_secs(push_args.seconds);
    pushes.report(&format!("push ({})", mode(push_args)), window);
    receipts.report("push to receipt at the webhook", window);
    if let Some(lateness) = lateness {
        lateness.report_lateness();
    }
    let delivered_window = window + last_arrival.saturating_duration_since(pushed_at);
    println!(
        "  delivered:  {} of {} in {:.1} s = {:.0}/s (until the last arrived)",
        receipts.count(),
        expected.len(),
        delivered_window.as_secs_f64(),
        receipts.count() as f64 / delivered_window.as_secs_f64()
    );
    Ok(())
}

async fn drain(args: DrainArgs) -> anyhow::Result<()> {
    let client = client(64)?;
    let (target, api_key) = sign_up(&client, &args.target).await?;
    let receiver = receiver::Receiver::start()?;
    receiver.answer(503);
    let webhook = create_webhook(
        &client,
        &args.target.url,
        &api_key,
        json!({"url": receiver.url, "template": "json", "retry_schedule": "0s,1h"}),
    )
    .await?;

    // Build the backlog: every report gets one failed attempt, its retry an hour away.
    println!(
        "building a backlog of {} deliveries (the receiver answers 503)...",
        args.backlog
    );
    let next = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for _ in 0..32 {
        let (client, target, next, backlog) =
            (client.clone(), target.clone(), next.clone(), args.backlog);
        senders.push(tokio::spawn(async move {
            loop {
                let sequence = next.fetch_add(1, Ordering::Relaxed);
                if sequence >= backlog {
                    return Ok::<(), String>(());
                }
                push_once(&client, &target, sequence).await?;
            }
        }));
    }
    for sender in senders {
        // Every backlog push must be stored, or the drain would wait for it in vain.
        sender
            .await?
            .map_err(|error| anyhow::anyhow!("a backlog push failed: {error}"))?;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while receiver.requests() < args.backlog && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The receiver has answered every first attempt; the last outcomes may still be on
    // their way to the database. Redrive takes failed deliveries, not ones in flight.
    while has_pending(&client, &args.target.url, &api_key, &webhook).await?
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Drain: the receiver is back, every failed delivery is redriven, pushes go on.
    receiver.answer(200);
    let pushes = Recorder::new();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let background = {
        let (client, target, pushes, stop, rate) = (
            client.clone(),
            target.clone(),
            pushes.clone(),
            stop.clone(),
            args.rate,
        );
        // An open loop as in `drive`: latency counts from when a push went out.
        tokio::spawn(async move {
            let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
            let mut sequence = 1_000_000_000u64;
            let mut due = Instant::now();
            let mut in_flight = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep_until(due.into()).await;
                let (client, target, pushes) = (client.clone(), target.clone(), pushes.clone());
                let sent = Instant::now();
                in_flight.push(tokio::spawn(async move {
                    let result = push_once(&client, &target, sequence).await;
                    pushes.record(sent.elapsed(), result.err());
                }));
                sequence += 1;
                due += interval;
            }
            in_flight
        })
    };
    let started = Instant::now();
    let response = client
        .post(format!(
            "{}/api/v1/webhooks/{webhook}/redrive",
            args.target.url
        ))
        .bearer_auth(&api_key)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("redrive failed: {}", response.status());
    }
    let backlog_done = loop {
        let drained = (0..args.backlog)
            .filter(|s| receiver.arrival(*s).is_some())
            .count() as u64;
        if drained >= args.backlog {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!(
                "the backlog did not drain within 10 minutes ({drained} of {})",
                args.backlog
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.store(true, Ordering::Relaxed);
    // The slowest pushes of the window count too.
    for push in background.await? {
        push.await?;
    }
    println!("drain");
    println!(
        "  backlog:    {} deliveries in {:.2} s = {:.0}/s",
        args.backlog,
        backlog_done.as_secs_f64(),
        args.backlog as f64 / backlog_done.as_secs_f64()
    );
    pushes.report(
        &format!("pushes during the drain (open loop at {}/s)", args.rate),
        backlog_done,
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Two threads: enough to drive the server without taking every core from it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Push(args) => push(args).await,
            Command::Relay(args) => relay(args).await,
            Command::Drain(args) => drain(args).await,
        }
    })
}
