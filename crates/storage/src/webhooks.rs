//! Tenants' webhooks.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use faxrelay_core::ids::{TenantId, WebhookId};
use faxrelay_core::webhook::{AuthConfig, FanOut, Filter};
use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder};

use crate::entities::webhook;
use crate::error::corrupt;
use crate::{StorageError, Store};

/// The most webhooks one tenant may hold.
pub const MAX_WEBHOOKS_PER_TENANT: u64 = 50;

/// A webhook as stored; secrets are sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub url: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub template: String,
    pub filter: Filter,
    pub fan_out: FanOut,
    pub headers: BTreeMap<String, String>,
    pub auth: AuthConfig,
    pub auth_secret_sealed: Option<String>,
    pub retry_schedule: Option<String>,
    pub signing_secret_sealed: String,
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<webhook::Model> for WebhookRecord {
    type Error = StorageError;

    fn try_from(model: webhook::Model) -> Result<Self, StorageError> {
        let auth = match model.auth_config {
            Some(config) => serde_json::from_value(config).map_err(corrupt)?,
            None => AuthConfig::None,
        };
        Ok(Self {
            id: WebhookId::from_uuid(model.id),
            tenant_id: TenantId::from_uuid(model.tenant_id),
            url: model.url,
            description: model.description,
            enabled: model.enabled,
            template: model.template,
            filter: serde_json::from_value(model.filter).map_err(corrupt)?,
            fan_out: model.fan_out.parse().map_err(corrupt)?,
            headers: serde_json::from_value(model.headers).map_err(corrupt)?,
            auth,
            auth_secret_sealed: model.auth_secret_sealed,
            retry_schedule: model.retry_schedule,
            signing_secret_sealed: model.signing_secret_sealed,
            previous_secret_sealed: model.previous_secret_sealed,
            previous_secret_expires_at: model.previous_secret_expires_at,
            disabled_reason: model.disabled_reason,
            failing_since: model.failing_since,
            last_success_at: model.last_success_at,
            created_at: model.created_at,
            updated_at: model.updated_at,
        })
    }
}

/// The settings of a webhook, as a tenant writes them.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    pub url: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub template: String,
    pub filter: Filter,
    pub fan_out: FanOut,
    pub headers: BTreeMap<String, String>,
    pub auth: AuthConfig,
    pub auth_secret_sealed: Option<String>,
    pub retry_schedule: Option<String>,
}

impl WebhookSettings {
    /// The settings a record has now, to start an update from.
    pub fn of(record: &WebhookRecord) -> Self {
        Self {
            url: record.url.clone(),
            description: record.description.clone(),
            enabled: record.enabled,
            template: record.template.clone(),
            filter: record.filter.clone(),
            fan_out: record.fan_out,
            headers: record.headers.clone(),
            auth: record.auth.clone(),
            auth_secret_sealed: record.auth_secret_sealed.clone(),
            retry_schedule: record.retry_schedule.clone(),
        }
    }

    fn apply(self, active: &mut webhook::ActiveModel) -> Result<(), StorageError> {
        active.url = Set(self.url);
        active.description = Set(self.description);
        active.enabled = Set(self.enabled);
        active.template = Set(self.template);
        active.filter = Set(serde_json::to_value(&self.filter).map_err(corrupt)?);
        active.fan_out = Set(self.fan_out.as_str().to_owned());
        active.headers = Set(serde_json::to_value(&self.headers).map_err(corrupt)?);
        active.auth_kind = Set(self.auth.kind().to_owned());
        active.auth_config = Set(Some(serde_json::to_value(&self.auth).map_err(corrupt)?));
        active.auth_secret_sealed = Set(self.auth_secret_sealed);
        active.retry_schedule = Set(self.retry_schedule);
        Ok(())
    }
}

pub(crate) fn scoped(tenant: TenantId, id: WebhookId) -> sea_orm::Select<webhook::Entity> {
    webhook::Entity::find()
        .filter(webhook::Column::TenantId.eq(tenant.as_uuid()))
        .filter(webhook::Column::Id.eq(id.as_uuid()))
}

impl Store {
    /// Adds a webhook; `None` when the tenant holds [`MAX_WEBHOOKS_PER_TENANT`].
    pub async fn create_webhook(
        &self,
        tenant: TenantId,
        settings: WebhookSettings,
        signing_secret_sealed: String,
    ) -> Result<Option<WebhookRecord>, StorageError> {
        let count = webhook::Entity::find()
            .filter(webhook::Column::TenantId.eq(tenant.as_uuid()))
            .count(self.connection())
            .await?;
        if count >= MAX_WEBHOOKS_PER_TENANT {
            return Ok(None);
        }
        let now = Utc::now();
        let mut active = webhook::ActiveModel {
            id: Set(WebhookId::generate().as_uuid()),
            tenant_id: Set(tenant.as_uuid()),
            signing_secret_sealed: Set(signing_secret_sealed),
            previous_secret_sealed: Set(None),
            previous_secret_expires_at: Set(None),
            disabled_reason: Set(None),
            failing_since: Set(None),
            last_success_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        settings.apply(&mut active)?;
        Ok(Some(active.insert(self.connection()).await?.try_into()?))
    }

    pub async fn list_webhooks(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<WebhookRecord>, StorageError> {
        webhook::Entity::find()
            .filter(webhook::Column::TenantId.eq(tenant.as_uuid()))
            .order_by_asc(webhook::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(WebhookRecord::try_from)
            .collect()
    }

    pub async fn webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
    ) -> Result<Option<WebhookRecord>, StorageError> {
        scoped(tenant, id)
            .one(self.connection())
            .await?
            .map(WebhookRecord::try_from)
            .transpose()
    }

    /// Replaces a webhook's settings. Enabling a webhook clears why it was disabled and
    /// its failure streak.
    pub async fn update_webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
        settings: WebhookSettings,
    ) -> Result<Option<WebhookRecord>, StorageError> {
        let Some(model) = scoped(tenant, id).one(self.connection()).await? else {
            return Ok(None);
        };
        let was_enabled = model.enabled;
        let mut active: webhook::ActiveModel = model.into();
        if settings.enabled && !was_enabled {
            active.disabled_reason = Set(None);
            active.failing_since = Set(None);
        }
        if !settings.enabled && was_enabled {
            active.disabled_reason = Set(Some("disabled by the account".to_owned()));
        }
        settings.apply(&mut active)?;
        active.updated_at = Set(Utc::now());
        Ok(Some(active.update(self.connection()).await?.try_into()?))
    }

    pub async fn delete_webhook(
        &self,
        tenant: TenantId,
        id: WebhookId,
    ) -> Result<bool, StorageError> {
        let result = webhook::Entity::delete_many()
            .filter(webhook::Column::TenantId.eq(tenant.as_uuid()))
            .filter(webhook::Column::Id.eq(id.as_uuid()))
            .exec(self.connection())
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Installs a new signing secret; the current one keeps signing until `previous_until`.
    pub async fn rotate_signing_secret(
        &self,
        tenant: TenantId,
        id: WebhookId,
        new_sealed: String,
        previous_until: DateTime<Utc>,
    ) -> Result<Option<WebhookRecord>, StorageError> {
        let Some(model) = scoped(tenant, id).one(self.connection()).await? else {
            return Ok(None);
        };
        let current = model.signing_secret_sealed.clone();
        let mut active: webhook::ActiveModel = model.into();
        active.previous_secret_sealed = Set(Some(current));
        active.previous_secret_expires_at = Set(Some(previous_until));
        active.signing_secret_sealed = Set(new_sealed);
        active.updated_at = Set(Utc::now());
        Ok(Some(active.update(self.connection()).await?.try_into()?))
    }
}
