use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub enabled: bool,
    /// A built-in template's name or a template id.
    pub template: String,
    pub filter: Json,
    pub fan_out: String,
    pub headers: Json,
    pub auth_kind: String,
    /// The public part of the auth settings (`AuthConfig`).
    pub auth_config: Option<Json>,
    /// The password, token or client secret, sealed with the deployment key.
    pub auth_secret_sealed: Option<String>,
    pub retry_schedule: Option<String>,
    pub signing_secret_sealed: String,
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTimeUtc>,
    pub last_success_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
