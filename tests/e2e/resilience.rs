//! Nothing accepted is lost: restarts, a flushed Redis, several workers, a crashed worker.

use std::collections::HashSet;
use std::time::Duration;

use faxrelay::Role;
use faxrelay_queue::{DispatchQueue, RedisQueue, RedisQueueOptions};
use faxrelay_tests::relay::{relay_app, webhook_to};
use faxrelay_tests::sink::{Reply, WebhookSink};
use faxrelay_tests::{Backend, redis_url};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_mode_delivers_pending_deliveries_after_a_restart() {
    let mut app = relay_app(Backend::Sqlite)
        .configure(|c| c.retry_schedule = "0s,1s".into())
        .spawn()
        .await;
    let sink = WebhookSink::start().await;
    sink.reply_with(Reply::status(503));
    let tenant = app.sign_up("basic").await;
    app.create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
        .await;
    app.push_fixture(&tenant, "xml-ok-single.xml").await;
    sink.wait_for(1, WAIT).await;
    app.stop().await;

    // While faxrelay is down, the receiver recovers; the retry is in SQLite only.
    sink.reply_with(Reply::status(200));
    app.restart().await;
    let received = sink.wait_for(2, WAIT).await;
    assert_eq!(
        received[0].header("webhook-id"),
        received[1].header("webhook-id")
    );
    let id = received[1].header("webhook-id").expect("id").to_owned();
    app.wait_for_delivery(&tenant, &id, "succeeded", WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushed_redis_loses_no_delivery() {
    // Database 15 of the test Redis is this test's alone: the flush touches nothing else.
    let redis = {
        let mut url = url::Url::parse(&redis_url()).expect("url");
        url.set_path("/15");
        url.to_string()
    };
    let redis_for_app = redis.clone();
    let app = relay_app(Backend::Postgres)
        .configure(move |c| {
            c.redis_url = Some(redis_for_app);
            c.retry_schedule = "0s,3s".into();
        })
        .spawn()
        .await;
    let sink = WebhookSink::start().await;
    sink.reply_with(Reply::status(500));
    let tenant = app.sign_up("basic").await;
    app.create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
        .await;
    app.push_fixture(&tenant, "xml-ok-single.xml").await;
    let first = sink.wait_for(1, WAIT).await;
    // Flush only once the retry is queued (it is, right after the failure is recorded):
    // otherwise the retry could be queued after the flush and arrive without any recovery.
    let id = first[0].header("webhook-id").expect("id").to_owned();
    app.wait_for_delivery(&tenant, &id, "failed", WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let client = redis::Client::open(redis.as_str()).expect("a Redis client");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let _: () = redis::cmd("FLUSHDB")
        .query_async(&mut connection)
        .await
        .expect("FLUSHDB");
    sink.reply_with(Reply::status(200));

    let received = sink.wait_for(2, WAIT).await;
    assert_eq!(received[1].header("webhook-id"), Some(id.as_str()));
    app.wait_for_delivery(&tenant, &id, "succeeded", WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_redis_deliver_each_delivery_once() {
    let app = relay_app(Backend::Postgres).spawn().await;
    let second_worker = app.start_role(Role::Worker).await;
    let sink = WebhookSink::start().await;
    let tenant = app.sign_up("basic").await;
    app.create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
        .await;
    let pushes = (0..60).map(|i| {
        let body = serde_json::json!({"jobId": format!("FJTWO{i:04}"), "recipientStatus": [{"number": "+4989", "status": "OK"}]});
        app.push_basic(&tenant, body.to_string().into_bytes(), "application/json")
    });
    for response in futures_util::future::join_all(pushes).await {
        assert_eq!(response.status(), 200);
    }
    let received = sink.wait_for(60, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = sink.received().len().max(received.len());
    let ids: HashSet<String> = sink
        .received()
        .iter()
        .filter_map(|r| r.header("webhook-id").map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 60);
    assert_eq!(received, 60, "no delivery was sent twice");
    second_worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_workers_deliveries_are_taken_over_when_its_lease_ends() {
    // The API alone: deliveries wait in Redis.
    let app = relay_app(Backend::Postgres).role(Role::Api).spawn().await;
    let sink = WebhookSink::start().await;
    let tenant = app.sign_up("basic").await;
    app.create_webhook(&tenant, webhook_to(&sink.url("/hook"), "json"))
        .await;
    app.push_fixture(&tenant, "xml-ok-single.xml").await;

    // A worker claims the delivery with a short lease, then dies without a word.
    let options = RedisQueueOptions {
        prefix: app.config.redis_prefix.clone(),
        shards: app.config.redis_shards,
    };
    let crashed = RedisQueue::connect(&redis_url(), options)
        .await
        .expect("Redis");
    let mut claimed = Vec::new();
    for _ in 0..100 {
        claimed = crashed
            .claim(10, Duration::from_secs(2))
            .await
            .expect("claim");
        if !claimed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(claimed.len(), 1, "the crashed worker held the delivery");
    drop(crashed);

    let worker = app.start_role(Role::Worker).await;
    let started = std::time::Instant::now();
    let received = sink.wait_for(1, WAIT).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "not before the lease ended"
    );
    assert_eq!(
        received[0].header("webhook-id"),
        Some(claimed[0].to_string().as_str())
    );
    worker.stop().await;
}
