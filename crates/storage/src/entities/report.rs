use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub job_id: String,
    pub dedupe_key: String,
    pub received_at: DateTimeUtc,
    pub format: String,
    pub status: String,
    pub pages: Option<i32>,
    pub customer_defined_id: Option<String>,
    pub recipient_count: i32,
    /// The normalized `FaxReport`.
    pub document: Json,
    pub raw_content_type: String,
    /// The push body; empty when `body_id` names the row of `push_bodies` that holds it.
    pub raw_body: Vec<u8>,
    pub body_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
