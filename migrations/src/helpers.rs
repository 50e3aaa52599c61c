//! Statement builders the migrations share.

use sea_orm_migration::prelude::*;

/// A plain (non-unique) index.
pub async fn index<T, C, const N: usize>(
    manager: &SchemaManager<'_>,
    table: T,
    name: &str,
    columns: [C; N],
) -> Result<(), DbErr>
where
    T: IntoIden + 'static,
    C: IntoIden + 'static,
{
    let mut statement = Index::create().name(name).table(table).take();
    for column in columns {
        statement.col(column);
    }
    manager.create_index(statement).await
}

/// A foreign key whose rows go when the row they point to goes.
pub fn cascade(
    from_table: impl IntoIden + 'static,
    from: impl IntoIden + 'static,
    to_table: impl IntoIden + 'static,
    to: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from)
        .to(to_table, to)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}
