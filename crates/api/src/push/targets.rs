//! A short-lived cache of push targets (who a push URL belongs to, with its credentials).
//!
//! Looking the target up costs two queries per push, and Retarus pushes in bursts; caching
//! it for a couple of seconds takes that load off the database. Credentials added or
//! changed meanwhile are never refused because of the cache: a push whose authentication
//! fails against a cached target is checked once more against a fresh one. A process that
//! deletes a credential, changes the method or deletes the tenant drops the tenant's entries
//! at once; other processes of a scaled-out deployment refuse a deleted credential within
//! the cache's lifetime.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use faxrelay_storage::push::PushTarget;
use faxrelay_storage::{StorageError, Store};

/// How long a looked-up target is reused.
pub const LIFETIME: Duration = Duration::from_secs(2);
/// Entries kept at most; beyond this the cache starts over (a flood of distinct keys
/// cannot grow it without bound).
const MAX_ENTRIES: usize = 10_000;

/// A target and whether it came from the cache.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    pub target: Arc<PushTarget>,
    pub cached: bool,
}

#[derive(Debug, Default)]
pub struct PushTargets {
    entries: RwLock<HashMap<String, (Instant, Arc<PushTarget>)>>,
}

impl PushTargets {
    /// The target of a push key, from the cache when fresh.
    pub(crate) async fn get(
        &self,
        store: &Store,
        push_key: &str,
    ) -> Result<Option<Lookup>, StorageError> {
        let now = Instant::now();
        let cached = self
            .read()
            .get(push_key)
            .filter(|(at, _)| now.duration_since(*at) < LIFETIME)
            .map(|(_, t)| t.clone());
        if let Some(target) = cached {
            return Ok(Some(Lookup {
                target,
                cached: true,
            }));
        }
        self.refresh(store, push_key).await.map(|found| {
            found.map(|target| Lookup {
                target,
                cached: false,
            })
        })
    }

    /// Looks the target up in the database, replacing any cached copy.
    pub(crate) async fn refresh(
        &self,
        store: &Store,
        push_key: &str,
    ) -> Result<Option<Arc<PushTarget>>, StorageError> {
        let found = store.push_target(push_key).await?.map(Arc::new);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        match &found {
            Some(target) => {
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
                entries.insert(push_key.to_owned(), (Instant::now(), target.clone()));
            }
            None => {
                entries.remove(push_key);
            }
        }
        Ok(found)
    }

    /// Forgets every cached target of a tenant.
    pub(crate) fn forget_tenant(&self, tenant: faxrelay_core::ids::TenantId) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, (_, target)| target.tenant.id != tenant);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, (Instant, Arc<PushTarget>)>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }
}
