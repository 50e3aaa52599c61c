//! Management API keys: random, stored as a SHA-256 hash, looked up by that hash.

use chrono::{DateTime, Duration, Utc};
use faxrelay_core::ids::{ApiKeyId, TenantId};
use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{Condition, QueryOrder};

use crate::entities::api_key;
use crate::tenants::lock_tenant;
use crate::{StorageError, Store};

/// `last_used_at` is refreshed at most this often, so that busy keys do not turn every
/// read into a write.
const LAST_USED_PRECISION: Duration = Duration::seconds(60);

/// The most API keys one tenant may hold.
pub const MAX_KEYS_PER_TENANT: u64 = 50;

/// An API key without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: Option<String>,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<api_key::Model> for ApiKeyRecord {
    fn from(model: api_key::Model) -> Self {
        Self {
            id: ApiKeyId::from_uuid(model.id),
            tenant_id: TenantId::from_uuid(model.tenant_id),
            name: model.name,
            prefix: model.prefix,
            created_at: model.created_at,
            last_used_at: model.last_used_at,
        }
    }
}

/// What is stored of a new key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: Option<String>,
    /// The first characters of the key, shown so a person can tell keys apart.
    pub prefix: String,
    pub key_hash: String,
}

impl NewApiKey {
    pub(crate) fn into_model(
        self,
        id: ApiKeyId,
        tenant_id: TenantId,
        now: DateTime<Utc>,
    ) -> api_key::Model {
        api_key::Model {
            id: id.as_uuid(),
            tenant_id: tenant_id.as_uuid(),
            name: self.name,
            prefix: self.prefix,
            key_hash: self.key_hash,
            created_at: now,
            last_used_at: None,
        }
    }
}

/// The result of deleting a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteKeyOutcome {
    Deleted,
    NotFound,
    /// Refused: a tenant without keys could never manage its account again.
    LastKey,
}

impl Store {
    /// The key with this hash, marking it used.
    pub async fn authenticate_api_key(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StorageError> {
        let Some(model) = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(key_hash))
            .one(self.connection())
            .await?
        else {
            return Ok(None);
        };
        let now = Utc::now();
        if model
            .last_used_at
            .is_none_or(|used| now - used > LAST_USED_PRECISION)
        {
            api_key::Entity::update_many()
                .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
                .filter(api_key::Column::Id.eq(model.id))
                .exec(self.connection())
                .await?;
        }
        Ok(Some(model.into()))
    }

    pub async fn list_api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKeyRecord>, StorageError> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(tenant.as_uuid()))
            .order_by_asc(api_key::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(ApiKeyRecord::from)
            .collect())
    }

    /// Adds a key; `None` when the tenant already holds [`MAX_KEYS_PER_TENANT`].
    pub async fn create_api_key(
        &self,
        tenant: TenantId,
        key: NewApiKey,
    ) -> Result<Option<ApiKeyRecord>, StorageError> {
        let transaction = self.write_transaction().await?;
        lock_tenant(&transaction, tenant).await?;
        let count = api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(tenant.as_uuid()))
            .count(&*transaction)
            .await?;
        if count >= MAX_KEYS_PER_TENANT {
            return Ok(None);
        }
        let model = key.into_model(ApiKeyId::generate(), tenant, Utc::now());
        let record = api_key::ActiveModel::from(model)
            .insert(&*transaction)
            .await?
            .into();
        transaction.commit().await?;
        Ok(Some(record))
    }

    pub async fn delete_api_key(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
    ) -> Result<DeleteKeyOutcome, StorageError> {
        let transaction = self.write_transaction().await?;
        lock_tenant(&transaction, tenant).await?;
        let scope = Condition::all().add(api_key::Column::TenantId.eq(tenant.as_uuid()));
        let keys = api_key::Entity::find()
            .filter(scope.clone())
            .count(&*transaction)
            .await?;
        let exists = api_key::Entity::find()
            .filter(scope.clone().add(api_key::Column::Id.eq(id.as_uuid())))
            .count(&*transaction)
            .await?
            > 0;
        let outcome = match (exists, keys) {
            (false, _) => DeleteKeyOutcome::NotFound,
            (true, 1) => DeleteKeyOutcome::LastKey,
            (true, _) => {
                api_key::Entity::delete_many()
                    .filter(scope.add(api_key::Column::Id.eq(id.as_uuid())))
                    .exec(&*transaction)
                    .await?;
                DeleteKeyOutcome::Deleted
            }
        };
        transaction.commit().await?;
        Ok(outcome)
    }
}
