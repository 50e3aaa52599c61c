//! Helpers for delivery tests.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Backend, Tenant, TestApp, TestAppBuilder};

/// An app whose webhooks may point at this machine (the sink), with fast retries and
/// sweeps.
pub fn relay_app(backend: Backend) -> TestAppBuilder {
    TestApp::builder(backend).configure(|c| {
        c.allow_private_targets = true;
        c.retry_schedule = "0s,200ms,200ms".into();
        c.sweep_interval = "1s".into();
    })
}

impl TestApp {
    /// Creates a webhook and returns the answer (with `signing_secret`).
    pub async fn create_webhook(&self, tenant: &Tenant, body: Value) -> Value {
        let response = self
            .api(reqwest::Method::POST, "/webhooks", &tenant.api_key)
            .json(&body)
            .send()
            .await
            .expect("create webhook");
        let status = response.status();
        let answer: Value = response.json().await.expect("json");
        assert_eq!(status, 201, "creating a webhook: {answer}");
        answer
    }

    /// The tenant's deliveries (first page).
    pub async fn deliveries(&self, tenant: &Tenant, query: &str) -> Vec<Value> {
        let list = self
            .get_json(&format!("/deliveries{query}"), &tenant.api_key)
            .await;
        list["data"].as_array().cloned().unwrap_or_default()
    }

    /// Polls a delivery until it reaches `status` (failing after `timeout`).
    pub async fn wait_for_delivery(
        &self,
        tenant: &Tenant,
        id: &str,
        status: &str,
        timeout: Duration,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let delivery = self
                .get_json(&format!("/deliveries/{id}"), &tenant.api_key)
                .await;
            if delivery["status"] == status {
                return delivery;
            }
            assert!(
                Instant::now() < deadline,
                "delivery {id} did not become {status} within {timeout:?}: {delivery}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until the tenant has `count` deliveries and returns them.
    pub async fn wait_for_deliveries(
        &self,
        tenant: &Tenant,
        count: usize,
        timeout: Duration,
    ) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let deliveries = self.deliveries(tenant, "?limit=200").await;
            if deliveries.len() >= count {
                return deliveries;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} deliveries, have {}",
                deliveries.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A webhook body pointing at a sink path with the given template.
pub fn webhook_to(url: &str, template: &str) -> Value {
    json!({"url": url, "template": template})
}
