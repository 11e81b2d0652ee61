//! Comments on tables and columns (GraphQL descriptions). `COMMENT ON TABLE` and
//! `COMMENT ON COLUMN` take SHARE UPDATE EXCLUSIVE on the table for an instant (measured
//! on PostgreSQL 15: reads and writes go on; only other SHARE UPDATE EXCLUSIVE holders,
//! such as VACUUM or `CREATE INDEX CONCURRENTLY`, wait). Adding, changing and removing
//! (`IS NULL`) are the same statement. A new table's comments are part of its
//! `CREATE TABLE` step, and a column whose type changes through a shadow column gets its
//! comment in the switch transaction (`type_change`).

use super::*;
use crate::ddl::{comment_on, CommentTarget};
use crate::model::Column;

/// What a step does to a comment, in words.
fn verb(text: Option<&str>) -> &'static str {
    match text {
        Some(_) => "Set",
        None => "Remove",
    }
}

/// The table's comment set to `t.comment` (removed when `None`); rollback sets `old` back.
pub fn table(cx: &mut Ctx<'_>, t: &Table, old: Option<&str>) {
    let text = t.comment.as_deref();
    let undo = cx
        .on(
            t,
            StepKind::SetComment,
            None,
            Phase::Expand,
            format!(
                "{} the comment on table {} as before",
                verb(old),
                t.display_name()
            ),
            stmts(&[comment_on(t, CommentTarget::Table, old)]),
        )
        .lock(t, LockMode::ShareUpdateExclusive);
    let spec = cx
        .on(
            t,
            StepKind::SetComment,
            None,
            Phase::Expand,
            format!("{} the comment on table {}", verb(text), t.display_name()),
            stmts(&[comment_on(t, CommentTarget::Table, text)]),
        )
        .lock(t, LockMode::ShareUpdateExclusive)
        .requires(t_key(t))
        .undo_by(undo);
    cx.push(spec);
}

/// The column's comment set to `c.comment` (removed when `None`), once the column exists
/// under its new name; rollback sets `old` back.
pub fn column(cx: &mut Ctx<'_>, t: &Table, c: &Column, old: Option<&str>) {
    let text = c.comment.as_deref();
    let undo = cx
        .on(
            t,
            StepKind::SetComment,
            Some(&c.name),
            Phase::Expand,
            format!(
                "{} the comment on column {}.{} as before",
                verb(old),
                t.display_name(),
                c.name
            ),
            stmts(&[comment_on(t, CommentTarget::Column(&c.name), old)]),
        )
        .lock(t, LockMode::ShareUpdateExclusive);
    let spec = cx
        .on(
            t,
            StepKind::SetComment,
            Some(&c.name),
            Phase::Expand,
            format!(
                "{} the comment on column {}.{}",
                verb(text),
                t.display_name(),
                c.name
            ),
            stmts(&[comment_on(t, CommentTarget::Column(&c.name), text)]),
        )
        .lock(t, LockMode::ShareUpdateExclusive)
        .requires(t_key(t))
        .requires(c_key(t, &c.name))
        .undo_by(undo);
    cx.push(spec);
}
