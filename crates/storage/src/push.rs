//! Push credentials, the lookup of a push URL, and digest nonce bookkeeping.

use chrono::{DateTime, Duration, Utc};
use faxrelay_core::ids::{PushCredentialId, TenantId};
use faxrelay_core::push_auth::{DigestAlgorithm, PushAuthMethod, StoredCredential, push_key_hash};
use sea_orm::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, Condition, QueryOrder};

use crate::entities::{digest_nonce_use, push_credential, tenant};
use crate::error::corrupt;
use crate::tenants::{Tenant, lock_tenant};
use crate::{StorageError, Store};

/// `last_used_at` of a credential is refreshed at most this often.
const LAST_USED_PRECISION: Duration = Duration::seconds(60);

/// The most push credentials one tenant may hold at once (two suffice for a rotation).
pub const MAX_CREDENTIALS_PER_TENANT: u64 = 5;

/// A push credential: its identifiers, dates and stored hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushCredentialRecord {
    pub id: PushCredentialId,
    pub tenant_id: TenantId,
    pub method: PushAuthMethod,
    pub principal: Option<String>,
    pub stored: StoredCredential,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl TryFrom<push_credential::Model> for PushCredentialRecord {
    type Error = StorageError;

    fn try_from(model: push_credential::Model) -> Result<Self, StorageError> {
        Ok(Self {
            id: PushCredentialId::from_uuid(model.id),
            tenant_id: TenantId::from_uuid(model.tenant_id),
            method: model.method.parse().map_err(corrupt)?,
            principal: model.principal.clone(),
            stored: StoredCredential {
                principal: model.principal,
                secret_hash: model.secret_hash,
                key_hash: model.key_hash,
                ha1_md5: model.ha1_md5,
                ha1_sha256: model.ha1_sha256,
            },
            created_at: model.created_at,
            last_used_at: model.last_used_at,
        })
    }
}

/// What is stored of a new credential.
#[derive(Debug, Clone)]
pub struct NewPushCredential {
    pub method: PushAuthMethod,
    pub stored: StoredCredential,
}

impl NewPushCredential {
    pub(crate) fn into_model(
        self,
        id: PushCredentialId,
        tenant: TenantId,
        now: DateTime<Utc>,
    ) -> push_credential::Model {
        push_credential::Model {
            id: id.as_uuid(),
            tenant_id: tenant.as_uuid(),
            method: self.method.as_str().to_owned(),
            principal: self.stored.principal,
            secret_hash: self.stored.secret_hash,
            key_hash: self.stored.key_hash,
            ha1_md5: self.stored.ha1_md5,
            ha1_sha256: self.stored.ha1_sha256,
            created_at: now,
            last_used_at: None,
        }
    }
}

/// Who a push URL belongs to and the credentials that may push to it.
#[derive(Debug, Clone)]
pub struct PushTarget {
    pub tenant: Tenant,
    /// The live credentials of the tenant's current method.
    pub credentials: Vec<PushCredentialRecord>,
}

/// The result of deleting a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteCredentialOutcome {
    Deleted,
    NotFound,
    /// Refused: without a credential no push could be accepted.
    LastCredential,
}

impl Store {
    /// The tenant a push URL's key belongs to. For the authenticated methods the key is the
    /// tenant's routing key; for `none` it is one of the tenant's secret push keys, found by
    /// its hash. A key of the wrong kind for the tenant's current method finds nothing.
    pub async fn push_target(&self, push_key: &str) -> Result<Option<PushTarget>, StorageError> {
        let db = self.connection();
        if let Some(model) = tenant::Entity::find()
            .filter(tenant::Column::PushKey.eq(push_key))
            .one(db)
            .await?
        {
            let tenant = Tenant::try_from(model)?;
            if tenant.push_auth == PushAuthMethod::None {
                return Ok(None);
            }
            // Changing the method replaces every credential, so a stray one of another
            // method only exists mid-change; it must not authenticate.
            let credentials = self
                .push_credentials(tenant.id)
                .await?
                .into_iter()
                .filter(|credential| credential.method == tenant.push_auth)
                .collect();
            return Ok(Some(PushTarget {
                tenant,
                credentials,
            }));
        }
        let Some(credential) = push_credential::Entity::find()
            .filter(push_credential::Column::KeyHash.eq(push_key_hash(push_key)))
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let Some(tenant) = self
            .tenant(TenantId::from_uuid(credential.tenant_id))
            .await?
        else {
            return Ok(None);
        };
        if tenant.push_auth != PushAuthMethod::None {
            return Ok(None);
        }
        Ok(Some(PushTarget {
            tenant,
            credentials: vec![credential.try_into()?],
        }))
    }

    pub async fn push_credentials(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<PushCredentialRecord>, StorageError> {
        push_credential::Entity::find()
            .filter(push_credential::Column::TenantId.eq(tenant.as_uuid()))
            .order_by_asc(push_credential::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(PushCredentialRecord::try_from)
            .collect()
    }

    /// The OAuth2 client with this id, for the token endpoint.
    pub async fn oauth2_client(
        &self,
        client_id: &str,
    ) -> Result<Option<PushCredentialRecord>, StorageError> {
        push_credential::Entity::find()
            .filter(push_credential::Column::Principal.eq(client_id))
            .filter(push_credential::Column::Method.eq(PushAuthMethod::OAuth2.as_str()))
            .one(self.connection())
            .await?
            .map(PushCredentialRecord::try_from)
            .transpose()
    }

    /// Adds a credential of the tenant's current method, for a rotation; `None` when the
    /// tenant already holds [`MAX_CREDENTIALS_PER_TENANT`].
    pub async fn add_push_credential(
        &self,
        tenant: TenantId,
        credential: NewPushCredential,
    ) -> Result<Option<PushCredentialRecord>, StorageError> {
        let transaction = self.write_transaction().await?;
        lock_tenant(&transaction, tenant).await?;
        let count = push_credential::Entity::find()
            .filter(push_credential::Column::TenantId.eq(tenant.as_uuid()))
            .count(&*transaction)
            .await?;
        if count >= MAX_CREDENTIALS_PER_TENANT {
            return Ok(None);
        }
        let model = credential.into_model(PushCredentialId::generate(), tenant, Utc::now());
        let record = push_credential::ActiveModel::from(model)
            .insert(&*transaction)
            .await?
            .try_into()?;
        transaction.commit().await?;
        Ok(Some(record))
    }

    pub async fn delete_push_credential(
        &self,
        tenant: TenantId,
        id: PushCredentialId,
    ) -> Result<DeleteCredentialOutcome, StorageError> {
        let transaction = self.write_transaction().await?;
        lock_tenant(&transaction, tenant).await?;
        let scope = Condition::all().add(push_credential::Column::TenantId.eq(tenant.as_uuid()));
        let total = push_credential::Entity::find()
            .filter(scope.clone())
            .count(&*transaction)
            .await?;
        let mine = scope.add(push_credential::Column::Id.eq(id.as_uuid()));
        let exists = push_credential::Entity::find()
            .filter(mine.clone())
            .count(&*transaction)
            .await?
            > 0;
        let outcome = match (exists, total) {
            (false, _) => DeleteCredentialOutcome::NotFound,
            (true, 1) => DeleteCredentialOutcome::LastCredential,
            (true, _) => {
                push_credential::Entity::delete_many()
                    .filter(mine)
                    .exec(&*transaction)
                    .await?;
                DeleteCredentialOutcome::Deleted
            }
        };
        transaction.commit().await?;
        Ok(outcome)
    }

    /// Switches the tenant to another method: every old credential is replaced by the new
    /// one, all at once.
    pub async fn set_push_method(
        &self,
        tenant: TenantId,
        digest_algorithms: &[DigestAlgorithm],
        credential: NewPushCredential,
    ) -> Result<Option<(Tenant, PushCredentialRecord)>, StorageError> {
        let transaction = self.write_transaction().await?;
        lock_tenant(&transaction, tenant).await?;
        let Some(model) = tenant::Entity::find_by_id(tenant.as_uuid())
            .one(&*transaction)
            .await?
        else {
            return Ok(None);
        };
        let mut active: tenant::ActiveModel = model.into();
        active.push_auth = Set(credential.method.as_str().to_owned());
        active.digest_algorithms = Set(DigestAlgorithm::format_list(digest_algorithms));
        active.updated_at = Set(Utc::now());
        let updated = active.update(&*transaction).await?;
        push_credential::Entity::delete_many()
            .filter(push_credential::Column::TenantId.eq(tenant.as_uuid()))
            .exec(&*transaction)
            .await?;
        let model = credential.into_model(PushCredentialId::generate(), tenant, Utc::now());
        let record = push_credential::ActiveModel::from(model)
            .insert(&*transaction)
            .await?
            .try_into()?;
        transaction.commit().await?;
        Ok(Some((updated.try_into()?, record)))
    }

    /// Notes that a credential authenticated a push (at most once a minute).
    pub async fn touch_push_credential(&self, id: PushCredentialId) -> Result<(), StorageError> {
        let now = Utc::now();
        push_credential::Entity::update_many()
            .col_expr(push_credential::Column::LastUsedAt, Expr::value(now))
            .filter(push_credential::Column::Id.eq(id.as_uuid()))
            .filter(
                Condition::any()
                    .add(push_credential::Column::LastUsedAt.is_null())
                    .add(push_credential::Column::LastUsedAt.lt(now - LAST_USED_PRECISION)),
            )
            .exec(self.connection())
            .await?;
        Ok(())
    }

    /// Records the use of a digest nonce with a nonce count. `false` when this pair was
    /// used before, by any process: a replay.
    pub async fn record_nonce_use(
        &self,
        nonce: &str,
        nonce_count: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let row = digest_nonce_use::ActiveModel {
            nonce_count: Set(format!("{nonce}:{nonce_count}")),
            expires_at: Set(expires_at),
        };
        let inserted = digest_nonce_use::Entity::insert(row)
            .on_conflict(
                OnConflict::column(digest_nonce_use::Column::NonceCount)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(self.connection())
            .await?;
        Ok(inserted == 1)
    }

    /// Forgets nonce uses whose nonces have expired: they can no longer be replayed anyway.
    pub async fn purge_expired_nonces(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let result = digest_nonce_use::Entity::delete_many()
            .filter(digest_nonce_use::Column::ExpiresAt.lt(now))
            .exec(self.connection())
            .await?;
        Ok(result.rows_affected)
    }
}
