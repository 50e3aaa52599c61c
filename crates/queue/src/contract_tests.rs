//! The behaviour both queues promise, run against each: the in-process queue always, and
//! Redis at `FAXRELAY_TEST_REDIS_URL` (default `redis://127.0.0.1:6379/0`), which must be
//! running: these tests fail, never skip, without it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use faxrelay_core::ids::DeliveryId;

use crate::{DispatchQueue, Due, EnqueueMode, MemoryQueue, RedisQueue, RedisQueueOptions};

const LEASE: Duration = Duration::from_secs(30);

fn test_prefix() -> String {
    format!("faxrelay-test-{}", faxrelay_core::crypto::random_token(8))
}

async fn redis_queue(shards: usize) -> RedisQueue {
    redis_queue_at(test_prefix(), shards).await
}

async fn redis_queue_at(prefix: String, shards: usize) -> RedisQueue {
    let url = std::env::var("FAXRELAY_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    RedisQueue::connect(&url, RedisQueueOptions { prefix, shards })
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} is required for these tests: {e}"))
}

fn now(id: DeliveryId) -> Due {
    Due { id, at: Utc::now() }
}

async fn due_entries_are_claimed_once(queue: &dyn DispatchQueue) {
    let ids: Vec<DeliveryId> = (0..5).map(|_| DeliveryId::generate()).collect();
    let items: Vec<Due> = ids.iter().copied().map(now).collect();
    queue
        .enqueue(&items, EnqueueMode::IfAbsent)
        .await
        .expect("enqueue");
    let first = queue.claim(3, LEASE).await.expect("claim");
    let second = queue.claim(10, LEASE).await.expect("claim");
    assert_eq!(first.len(), 3);
    assert_eq!(second.len(), 2);
    let mut all: Vec<_> = first.into_iter().chain(second).collect();
    all.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(all, expected);
    assert!(
        queue.claim(10, LEASE).await.expect("claim").is_empty(),
        "leased entries are not claimed again"
    );
    assert_eq!(queue.size().await.expect("len"), 5);
    for id in ids {
        queue.complete(id).await.expect("complete");
    }
    assert_eq!(queue.size().await.expect("len"), 0);
}

async fn future_entries_wait_until_due(queue: &dyn DispatchQueue) {
    let id = DeliveryId::generate();
    let at = Utc::now() + Duration::from_millis(300);
    queue
        .enqueue(&[Due { id, at }], EnqueueMode::IfAbsent)
        .await
        .expect("enqueue");
    assert!(queue.claim(10, LEASE).await.expect("claim").is_empty());
    let next = queue.next_due().await.expect("next due").expect("an entry");
    assert!((next - at).num_milliseconds().abs() <= 1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(queue.claim(10, LEASE).await.expect("claim"), vec![id]);
}

async fn an_expired_lease_makes_the_entry_due_again(queue: &dyn DispatchQueue) {
    let id = DeliveryId::generate();
    queue
        .enqueue(&[now(id)], EnqueueMode::IfAbsent)
        .await
        .expect("enqueue");
    assert_eq!(
        queue
            .claim(1, Duration::from_millis(100))
            .await
            .expect("claim"),
        vec![id]
    );
    assert!(queue.claim(1, LEASE).await.expect("claim").is_empty());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        queue.claim(1, LEASE).await.expect("claim"),
        vec![id],
        "a dead worker's lease ends"
    );
}

async fn enqueue_leaves_leased_and_waiting_entries_alone(queue: &dyn DispatchQueue) {
    let leased = DeliveryId::generate();
    queue
        .enqueue(&[now(leased)], EnqueueMode::IfAbsent)
        .await
        .expect("enqueue");
    assert_eq!(queue.claim(1, LEASE).await.expect("claim"), vec![leased]);
    queue
        .enqueue(&[now(leased)], EnqueueMode::Earlier)
        .await
        .expect("enqueue");
    assert!(
        queue.claim(1, LEASE).await.expect("claim").is_empty(),
        "a leased entry is not handed out twice"
    );

    let later = DeliveryId::generate();
    let in_an_hour = Utc::now() + Duration::from_secs(3600);
    queue
        .enqueue(
            &[Due {
                id: later,
                at: in_an_hour,
            }],
            EnqueueMode::IfAbsent,
        )
        .await
        .expect("enqueue");
    queue
        .enqueue(&[now(later)], EnqueueMode::IfAbsent)
        .await
        .expect("enqueue");
    assert!(
        queue.claim(1, LEASE).await.expect("claim").is_empty(),
        "if-absent keeps the waiting entry"
    );
    queue
        .enqueue(&[now(later)], EnqueueMode::Earlier)
        .await
        .expect("enqueue");
    assert_eq!(
        queue.claim(1, LEASE).await.expect("claim"),
        vec![later],
        "earlier moves it forward"
    );
}

async fn reschedule_ends_the_lease(queue: &dyn DispatchQueue) {
    let id = DeliveryId::generate();
    queue
        .enqueue(&[now(id)], EnqueueMode::IfAbsent)
        .await
        .expect("enqueue");
    assert_eq!(queue.claim(1, LEASE).await.expect("claim"), vec![id]);
    queue.reschedule(id, Utc::now()).await.expect("reschedule");
    assert_eq!(queue.claim(1, LEASE).await.expect("claim"), vec![id]);
}

/// Work that must ring the doorbell: a new entry, or one given back due now.
async fn make_work(queue: &dyn DispatchQueue, rescheduled: bool) {
    let id = DeliveryId::generate();
    if rescheduled {
        queue.reschedule(id, Utc::now()).await.expect("reschedule");
    } else {
        queue
            .enqueue(&[now(id)], EnqueueMode::IfAbsent)
            .await
            .expect("enqueue");
    }
}

async fn work_wakes_a_waiting_worker(queue: Arc<dyn DispatchQueue>, rescheduled: bool) {
    let waiter = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            queue.wait_for_work(Duration::from_secs(10)).await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    make_work(queue.as_ref(), rescheduled).await;
    let waited = waiter.await.expect("waiter");
    assert!(
        waited < Duration::from_secs(5),
        "woken by the doorbell, not the timeout: {waited:?}"
    );
}

async fn entries_leased_on_enqueue_wait_for_their_lease(queue: &dyn DispatchQueue) {
    let (fresh, existing) = (DeliveryId::generate(), DeliveryId::generate());
    queue
        .enqueue(&[now(existing)], EnqueueMode::IfAbsent)
        .await
        .expect("enqueue");
    let leased = queue
        .enqueue_leased(&[fresh, existing], Duration::from_millis(200))
        .await
        .expect("lease");
    assert_eq!(leased, vec![fresh], "an existing entry is not taken over");
    assert_eq!(queue.claim(10, LEASE).await.expect("claim"), vec![existing]);
    assert!(
        queue
            .enqueue_leased(&[existing], LEASE)
            .await
            .expect("lease")
            .is_empty(),
        "a claimed entry is not leased twice"
    );
    assert!(
        queue.claim(10, LEASE).await.expect("claim").is_empty(),
        "the leased entry is held"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        queue.claim(10, LEASE).await.expect("claim"),
        vec![fresh],
        "due once the lease ends"
    );
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(#[tokio::test] async fn $name() { super::$name(&MemoryQueue::new()).await; })*
        }
        mod redis {
            use super::*;
            $(#[tokio::test] async fn $name() { super::$name(&redis_queue(1).await).await; })*
        }
        mod redis_sharded {
            use super::*;
            $(#[tokio::test] async fn $name() { super::$name(&redis_queue(4).await).await; })*
        }
    };
}

contract!(
    due_entries_are_claimed_once,
    future_entries_wait_until_due,
    an_expired_lease_makes_the_entry_due_again,
    enqueue_leaves_leased_and_waiting_entries_alone,
    reschedule_ends_the_lease,
    entries_leased_on_enqueue_wait_for_their_lease,
);

#[tokio::test]
async fn memory_enqueue_wakes_a_waiting_worker() {
    work_wakes_a_waiting_worker(Arc::new(MemoryQueue::new()), false).await;
}

#[tokio::test]
async fn memory_reschedule_to_now_wakes_a_waiting_worker() {
    work_wakes_a_waiting_worker(Arc::new(MemoryQueue::new()), true).await;
}

#[tokio::test]
async fn redis_enqueue_wakes_a_waiting_worker_in_another_process() {
    redis_work_wakes_a_waiting_worker_in_another_process(false).await;
}

#[tokio::test]
async fn redis_reschedule_to_now_wakes_a_waiting_worker_in_another_process() {
    redis_work_wakes_a_waiting_worker_in_another_process(true).await;
}

async fn redis_work_wakes_a_waiting_worker_in_another_process(rescheduled: bool) {
    // Two connections stand for two processes: the doorbell crosses via pub/sub.
    let prefix = test_prefix();
    let worker = Arc::new(redis_queue_at(prefix.clone(), 1).await);
    let api = redis_queue_at(prefix, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiter = {
        let worker = worker.clone();
        tokio::spawn(async move {
            // Drain the wake-up the subscription itself rings.
            worker.wait_for_work(Duration::from_millis(50)).await;
            let started = std::time::Instant::now();
            worker.wait_for_work(Duration::from_secs(10)).await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    make_work(&api, rescheduled).await;
    let waited = waiter.await.expect("waiter");
    assert!(
        waited < Duration::from_secs(5),
        "woken through Redis: {waited:?}"
    );
}
