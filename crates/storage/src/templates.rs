//! Tenants' handlebars templates.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use faxrelay_core::ids::{TemplateId, TenantId};
use sea_orm::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder};

use crate::entities::{template, webhook};
use crate::webhooks::WebhookRecord;
use crate::{StorageError, Store};

/// The most templates one tenant may hold.
pub const MAX_TEMPLATES_PER_TENANT: u64 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRecord {
    pub id: TemplateId,
    pub tenant_id: TenantId,
    pub name: String,
    pub content_type: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TemplateRecord {
    /// A key that changes whenever the template does, for caching its compiled form.
    pub fn version_key(&self) -> String {
        format!("{}@{}", self.id, self.updated_at.timestamp_micros())
    }
}

impl From<template::Model> for TemplateRecord {
    fn from(model: template::Model) -> Self {
        Self {
            id: TemplateId::from_uuid(model.id),
            tenant_id: TenantId::from_uuid(model.tenant_id),
            name: model.name,
            content_type: model.content_type,
            body: model.body,
            created_at: model.created_at,
            updated_at: model.updated_at,
        }
    }
}

/// A template's fields as written by the tenant.
#[derive(Debug, Clone)]
pub struct TemplateFields {
    pub name: String,
    pub content_type: String,
    pub body: String,
}

/// The result of deleting a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteTemplateOutcome {
    Deleted,
    NotFound,
    /// Refused: a webhook renders with it.
    InUse,
}

fn scoped(tenant: TenantId, id: TemplateId) -> sea_orm::Select<template::Entity> {
    template::Entity::find()
        .filter(template::Column::TenantId.eq(tenant.as_uuid()))
        .filter(template::Column::Id.eq(id.as_uuid()))
}

/// The tenant templates `hooks` render with (those not naming a built-in), by id.
pub(crate) async fn custom_templates<'a>(
    connection: &impl ConnectionTrait,
    hooks: impl Iterator<Item = &'a WebhookRecord>,
) -> Result<HashMap<TemplateId, TemplateRecord>, StorageError> {
    let (ids, tenants): (Vec<Uuid>, Vec<Uuid>) = hooks
        .filter_map(|hook| {
            hook.template
                .parse::<TemplateId>()
                .ok()
                .map(|id| (id.as_uuid(), hook.tenant_id.as_uuid()))
        })
        .unzip();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(template::Entity::find()
        .filter(template::Column::Id.is_in(ids))
        .filter(template::Column::TenantId.is_in(tenants))
        .all(connection)
        .await?
        .into_iter()
        .map(|model| (TemplateId::from_uuid(model.id), TemplateRecord::from(model)))
        .collect())
}

/// The tenant template `hook` renders with, from those `custom_templates` loaded; `None`
/// for a built-in.
pub(crate) fn template_of(
    hook: &WebhookRecord,
    templates: &HashMap<TemplateId, TemplateRecord>,
) -> Option<TemplateRecord> {
    let id = hook.template.parse::<TemplateId>().ok()?;
    templates.get(&id).cloned()
}

impl Store {
    /// Adds a template; `None` when the tenant holds [`MAX_TEMPLATES_PER_TENANT`].
    pub async fn create_template(
        &self,
        tenant: TenantId,
        fields: TemplateFields,
    ) -> Result<Option<TemplateRecord>, StorageError> {
        let count = template::Entity::find()
            .filter(template::Column::TenantId.eq(tenant.as_uuid()))
            .count(self.connection())
            .await?;
        if count >= MAX_TEMPLATES_PER_TENANT {
            return Ok(None);
        }
        let now = Utc::now();
        let model = template::ActiveModel {
            id: Set(TemplateId::generate().as_uuid()),
            tenant_id: Set(tenant.as_uuid()),
            name: Set(fields.name),
            content_type: Set(fields.content_type),
            body: Set(fields.body),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.connection())
        .await?;
        Ok(Some(model.into()))
    }

    pub async fn list_templates(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<TemplateRecord>, StorageError> {
        Ok(template::Entity::find()
            .filter(template::Column::TenantId.eq(tenant.as_uuid()))
            .order_by_asc(template::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(TemplateRecord::from)
            .collect())
    }

    pub async fn template(
        &self,
        tenant: TenantId,
        id: TemplateId,
    ) -> Result<Option<TemplateRecord>, StorageError> {
        Ok(scoped(tenant, id)
            .one(self.connection())
            .await?
            .map(TemplateRecord::from))
    }

    pub async fn update_template(
        &self,
        tenant: TenantId,
        id: TemplateId,
        fields: TemplateFields,
    ) -> Result<Option<TemplateRecord>, StorageError> {
        let Some(model) = scoped(tenant, id).one(self.connection()).await? else {
            return Ok(None);
        };
        let mut active: template::ActiveModel = model.into();
        active.name = Set(fields.name);
        active.content_type = Set(fields.content_type);
        active.body = Set(fields.body);
        active.updated_at = Set(Utc::now());
        Ok(Some(active.update(self.connection()).await?.into()))
    }

    pub async fn delete_template(
        &self,
        tenant: TenantId,
        id: TemplateId,
    ) -> Result<DeleteTemplateOutcome, StorageError> {
        let transaction = self.write_transaction().await?;
        if scoped(tenant, id).count(&*transaction).await? == 0 {
            return Ok(DeleteTemplateOutcome::NotFound);
        }
        let users = webhook::Entity::find()
            .filter(webhook::Column::TenantId.eq(tenant.as_uuid()))
            .filter(webhook::Column::Template.eq(id.to_string()))
            .count(&*transaction)
            .await?;
        if users > 0 {
            return Ok(DeleteTemplateOutcome::InUse);
        }
        template::Entity::delete_by_id(id.as_uuid())
            .exec(&*transaction)
            .await?;
        transaction.commit().await?;
        Ok(DeleteTemplateOutcome::Deleted)
    }
}
