//! `faxrelay-loadtest`: measures a running faxrelay from the outside.
//!
//! - `push`: pushes unique Retarus reports at a fixed concurrency (closed loop) or a fixed
//!   rate (open loop) and prints pushes/s and latency percentiles.
//!
//! Every report is unique (its own job id), so each push is a real insert, not a duplicate.

mod report;
mod stats;

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
        .map_err(|e| e.to_string())?;
    if response.status() == 200 {
        Ok(())
    } else {
        Err(format!("status {}", response.status()))
    }
}

async fn push(args: PushArgs) -> anyhow::Result<()> {
    let concurrency = args.rate.map_or(args.concurrency, |_| 512);
    let client = client(concurrency)?;
    let (target, _) = sign_up(&client, &args.target).await?;
    let sequence = Arc::new(AtomicU64::new(0));
    let recorder = Recorder::new();

    let warmup = Duration::from_secs(args.warmup);
    let measure = Duration::from_secs(args.seconds);
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + measure;

    match args.rate {
        None => {
            let mut workers = Vec::new();
            for _ in 0..args.concurrency {
                let (client, target, sequence, recorder) = (
                    client.clone(),
                    target.clone(),
                    sequence.clone(),
                    recorder.clone(),
                );
                workers.push(tokio::spawn(async move {
                    while Instant::now() < end {
                        let sent = Instant::now();
                        let result =
                            push_once(&client, &target, sequence.fetch_add(1, Ordering::Relaxed))
                                .await;
                        if sent >= measure_from {
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
            // Open loop: each push is due at its slot; latency counts from the slot, so a
            // stalled server shows in the figures instead of slowing the sender down.
            let interval = Duration::from_secs_f64(1.0 / rate as f64);
            let mut tasks = Vec::new();
            let mut due = started;
            while due < end {
                tokio::time::sleep_until(due.into()).await;
                let (client, target, sequence, recorder) = (
                    client.clone(),
                    target.clone(),
                    sequence.clone(),
                    recorder.clone(),
                );
                let slot = due;
                tasks.push(tokio::spawn(async move {
                    let result =
                        push_once(&client, &target, sequence.fetch_add(1, Ordering::Relaxed)).await;
                    if slot >= measure_from {
                        recorder.record(slot.elapsed(), result.err());
                    }
                }));
                due += interval;
            }
            for task in tasks {
                task.await?;
            }
        }
    }
    let mode = match args.rate {
        Some(rate) => format!("open loop at {rate}/s"),
        None => format!("closed loop, {} connections", args.concurrency),
    };
    recorder.report(&format!("push ({mode})"), measure);
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
        }
    })
}
