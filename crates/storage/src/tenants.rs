//! Tenants: sign-up, the tenant's own view, rename, delete.

use chrono::{DateTime, Utc};
use faxrelay_core::ids::{ApiKeyId, PushCredentialId, TenantId};
use faxrelay_core::push_auth::{DigestAlgorithm, PushAuthMethod};
use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseTransaction, QuerySelect};

use crate::api_keys::{ApiKeyRecord, NewApiKey};
use crate::entities::{api_key, push_credential, tenant};
use crate::error::corrupt;
use crate::push::{NewPushCredential, PushCredentialRecord};
use crate::{StorageError, Store};

/// A tenant as the services see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub push_auth: PushAuthMethod,
    /// The routing key of the push URL for the authenticated methods. With the `none`
    /// method the URL carries a secret push key instead (see `push`).
    pub push_key: String,
    pub digest_algorithms: Vec<DigestAlgorithm>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<tenant::Model> for Tenant {
    type Error = StorageError;

    fn try_from(model: tenant::Model) -> Result<Self, StorageError> {
        Ok(Self {
            id: TenantId::from_uuid(model.id),
            name: model.name,
            push_auth: model.push_auth.parse().map_err(corrupt)?,
            push_key: model.push_key,
            digest_algorithms: DigestAlgorithm::parse_list(&model.digest_algorithms)
                .map_err(corrupt)?,
            created_at: model.created_at,
            updated_at: model.updated_at,
        })
    }
}

/// What sign-up stores.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub push_auth: PushAuthMethod,
    pub push_key: String,
    pub digest_algorithms: Vec<DigestAlgorithm>,
}

impl Store {
    /// Creates a tenant with its first API key and push credential, all or nothing.
    pub async fn create_tenant(
        &self,
        new: NewTenant,
        key: NewApiKey,
        credential: NewPushCredential,
    ) -> Result<(Tenant, ApiKeyRecord, PushCredentialRecord), StorageError> {
        let now = Utc::now();
        let tenant_id = TenantId::generate();
        let transaction = self.write_transaction().await?;
        let tenant = tenant::ActiveModel {
            id: Set(tenant_id.as_uuid()),
            name: Set(new.name),
            push_auth: Set(new.push_auth.as_str().to_owned()),
            push_key: Set(new.push_key),
            digest_algorithms: Set(DigestAlgorithm::format_list(&new.digest_algorithms)),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&*transaction)
        .await?;
        let key = api_key::ActiveModel::from(key.into_model(ApiKeyId::generate(), tenant_id, now))
            .insert(&*transaction)
            .await?;
        let credential = push_credential::ActiveModel::from(credential.into_model(
            PushCredentialId::generate(),
            tenant_id,
            now,
        ))
        .insert(&*transaction)
        .await?;
        transaction.commit().await?;
        Ok((tenant.try_into()?, key.into(), credential.try_into()?))
    }

    pub async fn tenant(&self, id: TenantId) -> Result<Option<Tenant>, StorageError> {
        tenant::Entity::find_by_id(id.as_uuid())
            .one(self.connection())
            .await?
            .map(Tenant::try_from)
            .transpose()
    }

    pub async fn rename_tenant(
        &self,
        id: TenantId,
        name: String,
    ) -> Result<Option<Tenant>, StorageError> {
        let Some(model) = tenant::Entity::find_by_id(id.as_uuid())
            .one(self.connection())
            .await?
        else {
            return Ok(None);
        };
        let mut active: tenant::ActiveModel = model.into();
        active.name = Set(name);
        active.updated_at = Set(Utc::now());
        Ok(Some(active.update(self.connection()).await?.try_into()?))
    }

    /// Deletes the tenant and, by cascade, every row it owns.
    pub async fn delete_tenant(&self, id: TenantId) -> Result<bool, StorageError> {
        let result = tenant::Entity::delete_by_id(id.as_uuid())
            .exec(self.connection())
            .await?;
        Ok(result.rows_affected > 0)
    }
}

/// Locks the tenant's row until the transaction ends (PostgreSQL; SQLite's write
/// transactions are serialized anyway), so that checks such as "is this the last key?"
/// and the writes that rely on them cannot interleave with another request's.
pub(crate) async fn lock_tenant(
    transaction: &DatabaseTransaction,
    tenant: TenantId,
) -> Result<(), StorageError> {
    tenant::Entity::find_by_id(tenant.as_uuid())
        .lock_exclusive()
        .one(transaction)
        .await?;
    Ok(())
}
