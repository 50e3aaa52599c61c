use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "digest_nonce_uses")]
pub struct Model {
    /// `{nonce}:{nc}`: one row per use, so a second use of the pair conflicts.
    #[sea_orm(primary_key, auto_increment = false)]
    pub nonce_count: String,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
