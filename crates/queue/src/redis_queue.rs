//! The Redis queue, shared by every faxrelay process of a deployment.
//!
//! Two sorted sets per shard, scored by milliseconds since the epoch: `due` holds waiting
//! entries by due time, `leased` holds claimed entries by lease end. Each operation is one
//! Lua script, so it is atomic however many workers run. Keys carry a hash tag per shard
//! (`{prefix:N}`), so each shard's pair lives on one Redis Cluster slot.
//!
//! Idle workers wait on a process-local doorbell; a pub/sub subscription rings it when any
//! process enqueues, so work is picked up within milliseconds, without polling.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use faxrelay_core::ids::DeliveryId;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Client, Script};
use tokio::sync::Notify;

use crate::{DispatchQueue, Due, EnqueueMode, QueueError};

/// Adds an entry unless it is leased. ARGV: mode (`nx` or `lt`), then score/id pairs.
const ENQUEUE: &str = r"
local added = 0
for i = 2, #ARGV, 2 do
  local score, id = ARGV[i], ARGV[i + 1]
  if not redis.call('ZSCORE', KEYS[2], id) then
    if ARGV[1] == 'lt' then
      added = added + redis.call('ZADD', KEYS[1], 'LT', 'CH', score, id)
    else
      added = added + redis.call('ZADD', KEYS[1], 'NX', score, id)
    end
  end
end
return added
";

/// Returns expired leases to `due`, then leases up to ARGV[3] due entries until ARGV[2].
const CLAIM: &str = r"
local now, lease_end, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, max)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[1], now, id)
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, max)
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], lease_end, id)
end
return ids
";

/// Adds entries as leased until ARGV[1] unless they exist; returns the ids added.
const ENQUEUE_LEASED: &str = r"
local leased = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  if not redis.call('ZSCORE', KEYS[1], id) and not redis.call('ZSCORE', KEYS[2], id) then
    redis.call('ZADD', KEYS[2], ARGV[1], id)
    table.insert(leased, id)
  end
end
return leased
";

/// Ends a lease and waits again until ARGV[2].
const RESCHEDULE: &str = r"
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
";

/// Settings of the Redis queue.
#[derive(Debug, Clone)]
pub struct RedisQueueOptions {
    /// Prefix of every key and channel, so several deployments (or test runs) can share
    /// one Redis.
    pub prefix: String,
    /// Number of shards (sorted-set pairs) the entries spread over.
    pub shards: usize,
}

impl Default for RedisQueueOptions {
    fn default() -> Self {
        Self {
            prefix: "faxrelay".to_owned(),
            shards: 1,
        }
    }
}

#[derive(Debug, Clone)]
struct Shard {
    due: String,
    leased: String,
}

pub struct RedisQueue {
    connection: ConnectionManager,
    shards: Vec<Shard>,
    channel: String,
    next_shard: AtomicUsize,
    doorbell: Arc<Notify>,
    enqueue: Script,
    enqueue_leased: Script,
    claim: Script,
    reschedule: Script,
    listener: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("shards", &self.shards)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisQueue {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

fn unavailable(error: redis::RedisError) -> QueueError {
    QueueError::Unavailable(error.to_string())
}

fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn parse_id(text: &str) -> Result<DeliveryId, QueueError> {
    text.parse()
        .map_err(|_| QueueError::Protocol(format!("`{text}` is not a delivery id")))
}

impl RedisQueue {
    /// Connects to `url` (`redis://host:port/db`; the database number is honoured) and
    /// subscribes to the doorbell channel.
    pub async fn connect(url: &str, options: RedisQueueOptions) -> Result<Self, QueueError> {
        let client = Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(unavailable)?;
        let shards = (0..options.shards.max(1))
            .map(|n| Shard {
                due: format!("{{{}:{n}}}:due", options.prefix),
                leased: format!("{{{}:{n}}}:leased", options.prefix),
            })
            .collect();
        let channel = format!("{}:doorbell", options.prefix);
        let doorbell = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(client, channel.clone(), doorbell.clone()));
        Ok(Self {
            connection,
            shards,
            channel,
            next_shard: AtomicUsize::new(0),
            doorbell,
            enqueue: Script::new(ENQUEUE),
            enqueue_leased: Script::new(ENQUEUE_LEASED),
            claim: Script::new(CLAIM),
            reschedule: Script::new(RESCHEDULE),
            listener,
        })
    }

    fn shard_of(&self, id: DeliveryId) -> &Shard {
        let index = (id.as_uuid().as_u128() % self.shards.len() as u128) as usize;
        &self.shards[index]
    }
}

/// Rings the local doorbell for every message on the channel; resubscribes after a lost
/// connection.
async fn listen(client: Client, channel: String, doorbell: Arc<Notify>) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&channel).await.is_ok() {
                    // Anything enqueued while we were not listening is picked up now.
                    doorbell.notify_one();
                    let mut messages = pubsub.on_message();
                    while messages.next().await.is_some() {
                        doorbell.notify_one();
                    }
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "queue doorbell subscription failed; retrying")
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[async_trait]
impl DispatchQueue for RedisQueue {
    async fn enqueue(&self, items: &[Due], mode: EnqueueMode) -> Result<(), QueueError> {
        if items.is_empty() {
            return Ok(());
        }
        let mode = match mode {
            EnqueueMode::IfAbsent => "nx",
            EnqueueMode::Earlier => "lt",
        };
        let mut connection = self.connection.clone();
        for shard in &self.shards {
            let mine: Vec<&Due> = items
                .iter()
                .filter(|item| self.shard_of(item.id).due == shard.due)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let mut invocation = self.enqueue.key(&shard.due);
            invocation.key(&shard.leased).arg(mode);
            for item in mine {
                invocation.arg(millis(item.at)).arg(item.id.to_string());
            }
            let _: i64 = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
        }
        self.doorbell.notify_one();
        let _: i64 = connection
            .publish(&self.channel, "1")
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn claim(&self, max: usize, lease: Duration) -> Result<Vec<DeliveryId>, QueueError> {
        let now = Utc::now();
        let lease_end = now + lease;
        let mut connection = self.connection.clone();
        let start = self.next_shard.fetch_add(1, Ordering::Relaxed);
        let mut claimed = Vec::new();
        for offset in 0..self.shards.len() {
            if claimed.len() >= max {
                break;
            }
            let shard = &self.shards[(start + offset) % self.shards.len()];
            let ids: Vec<String> = self
                .claim
                .key(&shard.due)
                .key(&shard.leased)
                .arg(millis(now))
                .arg(millis(lease_end))
                .arg(max - claimed.len())
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            for id in ids {
                claimed.push(parse_id(&id)?);
            }
        }
        Ok(claimed)
    }

    async fn enqueue_leased(
        &self,
        ids: &[DeliveryId],
        lease: Duration,
    ) -> Result<Vec<DeliveryId>, QueueError> {
        let lease_end = millis(Utc::now() + lease);
        let mut connection = self.connection.clone();
        let mut leased = Vec::with_capacity(ids.len());
        for shard in &self.shards {
            let mine: Vec<&DeliveryId> = ids
                .iter()
                .filter(|id| self.shard_of(**id).due == shard.due)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let mut invocation = self.enqueue_leased.key(&shard.due);
            invocation.key(&shard.leased).arg(lease_end);
            for id in mine {
                invocation.arg(id.to_string());
            }
            let added: Vec<String> = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            for id in added {
                leased.push(parse_id(&id)?);
            }
        }
        Ok(leased)
    }

    async fn complete(&self, id: DeliveryId) -> Result<(), QueueError> {
        let shard = self.shard_of(id);
        let member = id.to_string();
        let mut connection = self.connection.clone();
        redis::pipe()
            .atomic()
            .zrem(&shard.leased, &member)
            .ignore()
            .zrem(&shard.due, &member)
            .ignore()
            .exec_async(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn reschedule(&self, id: DeliveryId, at: DateTime<Utc>) -> Result<(), QueueError> {
        let shard = self.shard_of(id);
        let mut connection = self.connection.clone();
        let _: i64 = self
            .reschedule
            .key(&shard.due)
            .key(&shard.leased)
            .arg(id.to_string())
            .arg(millis(at))
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        // Due now (a busy worker gave it back): idle workers anywhere should take it.
        if at <= Utc::now() {
            self.doorbell.notify_one();
            let _: i64 = connection
                .publish(&self.channel, "1")
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, QueueError> {
        let mut connection = self.connection.clone();
        let mut earliest: Option<i64> = None;
        for shard in &self.shards {
            for key in [&shard.due, &shard.leased] {
                let first: Vec<(String, f64)> = connection
                    .zrange_withscores(key, 0, 0)
                    .await
                    .map_err(unavailable)?;
                if let Some((_, score)) = first.first() {
                    let score = *score as i64;
                    earliest = Some(earliest.map_or(score, |e| e.min(score)));
                }
            }
        }
        Ok(earliest.and_then(|ms| Utc.timestamp_millis_opt(ms).single()))
    }

    async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.doorbell.notified()).await;
    }

    async fn size(&self) -> Result<u64, QueueError> {
        let mut connection = self.connection.clone();
        let mut total = 0u64;
        for shard in &self.shards {
            let due: u64 = connection.zcard(&shard.due).await.map_err(unavailable)?;
            let leased: u64 = connection.zcard(&shard.leased).await.map_err(unavailable)?;
            total += due + leased;
        }
        Ok(total)
    }

    async fn ping(&self) -> Result<(), QueueError> {
        let mut connection = self.connection.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
