//! Latency and error bookkeeping.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
struct Samples {
    latencies: Vec<Duration>,
    errors: BTreeMap<String, u64>,
}

/// Shared by every sender.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Samples>>);

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&self, latency: Duration, error: Option<String>) {
        let mut samples = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match error {
            None => samples.latencies.push(latency),
            Some(error) => *samples.errors.entry(error).or_default() += 1,
        }
    }

    /// Successful samples so far.
    pub fn count(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .latencies
            .len()
    }

    /// The `p`-quantile of the successful samples, in milliseconds.
    fn percentile(&self, p: f64) -> f64 {
        let mut samples = self.0.lock().unwrap_or_else(|p| p.into_inner());
        samples.latencies.sort();
        let n = samples.latencies.len();
        if n == 0 {
            return 0.0;
        }
        let index = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
        samples.latencies[index].as_secs_f64() * 1e3
    }

    /// Prints how late an open-loop sender was, from samples of its lateness.
    pub fn report_lateness(&self) {
        println!(
            "  (the sender went out after its slot by p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms)",
            self.percentile(0.50),
            self.percentile(0.99),
            self.percentile(1.0)
        );
    }

    /// Prints throughput and percentiles over `window`.
    pub fn report(&self, what: &str, window: Duration) {
        let [p50, p90, p99, max] = [0.50, 0.90, 0.99, 1.0].map(|p| self.percentile(p));
        let samples = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = samples.latencies.len();
        println!("{what}");
        println!(
            "  ok:         {n} in {:.0} s = {:.0}/s",
            window.as_secs_f64(),
            n as f64 / window.as_secs_f64()
        );
        println!("  latency ms: p50 {p50:.2}  p90 {p90:.2}  p99 {p99:.2}  max {max:.2}");
        let errors: u64 = samples.errors.values().sum();
        println!("  errors:     {errors}");
        for (error, count) in &samples.errors {
            println!("    {count} x {error}");
        }
    }
}
