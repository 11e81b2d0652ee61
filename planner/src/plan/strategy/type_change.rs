//! Column type changes. PostgreSQL changes some types without a rewrite (measured:
//! varchar(n)→varchar(m≥n), varchar→text, text→varchar without a limit, numeric(p,s)→
//! numeric(p'≥p,s), numeric(p,s)→numeric): one brief `ALTER COLUMN ... TYPE`. Every other
//! change rewrites the table under ACCESS EXCLUSIVE, so it goes through a shadow column
//! ([`ShadowColumn`]):
//!
//! 1. expand: add `<col>_new` of the new type; a trigger keeps it in sync on INSERT/UPDATE
//!    through a conversion function that yields NULL for any value it cannot convert
//!    exactly (`plan::convert`);
//! 2. backfill: copy existing rows in batches through the same function;
//! 3. validate: prove every non-NULL value converted; rebuild indexes, unique and foreign
//!    keys of the column on the shadow (CONCURRENTLY / NOT VALID + VALIDATE);
//! 4. switch: one short transaction sets NOT NULL on the shadow, swaps the names, drops
//!    the trigger, moves defaults, index and constraint names;
//! 5. contract: drop the old column.

use super::*;
use crate::model::{BaseTypeExt as _, Column, Index, IndexKey, Table};
use crate::naming;
use crate::plan::convert::{self, Using};
use crate::sql::{ident, literal, qualified};
use crate::types::{BaseType, SqlType};

/// True when PostgreSQL 15 changes `from` into `to` without rewriting the table.
pub fn in_place(from: &SqlType, to: &SqlType) -> bool {
    if from.array != to.array {
        return false;
    }
    use BaseType::*;
    match (&from.base, &to.base) {
        (Varchar { length: Some(n) }, Varchar { length: Some(m) }) => m >= n,
        (Varchar { .. }, Varchar { length: None }) => true,
        (Varchar { .. }, Text) => true,
        (Text, Varchar { length: None }) => true,
        (
            Numeric {
                precision: Some(p),
                scale: s,
            },
            Numeric {
                precision: Some(q),
                scale: t,
            },
        ) => q >= p && s == t,
        (
            Numeric {
                precision: Some(_), ..
            },
            Numeric {
                precision: None, ..
            },
        ) => true,
        _ => false,
    }
}

/// Whether `@wes_convert(from:)` names `ty` (the column's type before the change): an SQL
/// type spelling, a GraphQL scalar, or an enum by its GraphQL or SQL name; `[]`/`[X]`
/// marks a list.
fn names_type(cx: &Ctx<'_>, from: &str, ty: &SqlType) -> bool {
    let text = from.trim();
    if let Ok(t) = crate::types::parse_sql_type(text) {
        return t == *ty;
    }
    let (inner, array) = match text.strip_suffix("[]") {
        Some(i) => (i.trim(), true),
        None => match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Some(i) => (i.trim().trim_end_matches('!'), true),
            None => (text.trim_end_matches('!'), false),
        },
    };
    if array != ty.array {
        return false;
    }
    match &ty.base {
        BaseType::Enum { schema, name } => {
            inner == name
                || inner == format!("{schema}.{name}")
                || cx
                    .old
                    .enum_type(schema, name)
                    .is_some_and(|e| e.graphql_name == inner)
        }
        base => crate::types::builtin_scalar(inner).as_ref() == Some(base),
    }
}

/// The author's conversion for this change, when `@wes_convert` is present and written for
/// the column's current type; a warning when it is present but does not apply.
fn chosen_conversion<'c>(
    cx: &mut Ctx<'_>,
    t: &Table,
    old: &Column,
    new: &'c Column,
) -> Option<Using<'c>> {
    let c = new.convert.as_ref()?;
    if names_type(cx, &c.from, &old.ty) {
        return Some(Using {
            column: &new.name,
            expr: &c.using,
        });
    }
    cx.warning(
        codes::CONVERSION_IGNORED,
        format!(
            "`@wes_convert` on {}.{} is written for a change from `{}`, but the column is {}; it is ignored",
            t.display_name(),
            new.name,
            c.from,
            old.ty
        ),
        format!("set `from: \"{}\"` if the conversion is meant for this change, or remove it", old.ty),
    );
    None
}

pub fn plan(cx: &mut Ctx<'_>, old_t: &Table, t: &Table, old: &Column, new: &Column) {
    if (old.is_sequence_backed() || new.is_sequence_backed())
        && !super::key_type::is_key(cx, old_t, t, old)
    {
        super::identity::refuse_type_change(cx, t, new);
        return;
    }
    // Before the in-place path: PostgreSQL refuses even those.
    if let Some(why) = unsupported_generated(old_t, old, new) {
        let help = "split the change: make the generated column plain (or remove it) first, change the type, then add the generated column back (`--allow table_rewrite`)";
        refuse(cx, t, old, new, &why, help);
        return;
    }
    // Even a change without rewrite rebuilds an index with expressions or a predicate
    // (PostgreSQL reuses only plain indexes), under ACCESS EXCLUSIVE.
    if let Some(what) =
        expression_index(old_t, &old.name).or_else(|| expression_index(t, &new.name))
    {
        let why = if in_place(&old.ty, &new.ty) {
            format!("{what} depends on it, and PostgreSQL rebuilds such an index under ACCESS EXCLUSIVE when the column's type changes")
        } else {
            shadow_drops(&what)
        };
        refuse(cx, t, old, new, &why, SPLIT);
        return;
    }
    let using = chosen_conversion(cx, t, old, new);
    if using.is_none() && in_place(&old.ty, &new.ty) {
        let spec = cx
            .on(
                t,
                StepKind::AlterColumnType,
                Some(&new.name),
                Phase::Expand,
                format!(
                    "Change {}.{} from {} to {} (no rewrite)",
                    t.display_name(),
                    new.name,
                    old.ty,
                    new.ty
                ),
                stmts(&[alter(t, Alter::ColumnType(&new.name, &new.ty))]),
            )
            .lock(t, LockMode::AccessExclusive)
            .requires(c_key(t, &new.name));
        let spec = spec.undo_by(in_place_back(cx, t, old, new));
        cx.push(spec);
        follow_up(cx, t, old, new);
        return;
    }
    if super::key_type::planned_with_its_key(cx, old_t, old, new) {
        return;
    }
    if super::key_type::is_key(cx, old_t, t, old) {
        super::key_type::plan(cx, old_t, t, old, new, using);
        return;
    }
    if let Some(why) = unsupported(cx, old_t, old) {
        refuse(cx, t, old, new, &why, SPLIT);
        return;
    }
    let Some(pk) = t.primary_key.clone() else {
        cx.error(
            codes::NO_KEY_FOR_BACKFILL,
            format!("changing {}.{} from {} to {} copies every row, but {} has no primary key to walk it in batches", t.display_name(), new.name, old.ty, new.ty, t.display_name()),
            "give the table a primary key (`@wes_pk`) first".to_string(),
        );
        return;
    };
    let shadow = ShadowColumn::new(old_t, t, old, new, pk.columns, using);
    if shadow.converts(cx) {
        shadow.plan(cx);
    }
}

/// Whether a change of `old` to `new` goes through a shadow column: the types differ and
/// either the author chose a conversion for it or PostgreSQL would rewrite the table.
/// Reports nothing (the change's own planning does).
pub(super) fn via_shadow(cx: &Ctx<'_>, old: &Column, new: &Column) -> bool {
    old.ty != new.ty
        && (new
            .convert
            .as_ref()
            .is_some_and(|c| names_type(cx, &c.from, &old.ty))
            || !in_place(&old.ty, &new.ty))
}

/// The author's conversion for a change of `old` to `new`, if any, with its warning when
/// it is written for another change ([`chosen_conversion`]).
pub(super) fn conversion_for<'c>(
    cx: &mut Ctx<'_>,
    t: &Table,
    old: &Column,
    new: &'c Column,
) -> Option<Using<'c>> {
    chosen_conversion(cx, t, old, new)
}

/// The inverse of an in-place type change: `ALTER COLUMN ... TYPE` back. Unless the way
/// back is in place too, PostgreSQL rewrites the table under ACCESS EXCLUSIVE, so the step
/// says so (and is refused unless allowed); it fails if rows written since do not fit the
/// old type.
fn in_place_back(cx: &Ctx<'_>, t: &Table, old: &Column, new: &Column) -> StepSpec {
    let tname = t.display_name();
    let back = alter(t, Alter::ColumnType(&new.name, &old.ty));
    let spec = |sql: Vec<String>| {
        cx.on(
            t,
            StepKind::AlterColumnType,
            Some(&new.name),
            Phase::Expand,
            format!(
                "Change {tname}.{} back from {} to {}",
                new.name, new.ty, old.ty
            ),
            stmts(&sql),
        )
        .lock(t, LockMode::AccessExclusive)
    };
    if in_place(&new.ty, &old.ty) {
        return spec(vec![back]);
    }
    // A cast to the narrower type rounds or cuts some values (numeric scale, varchar
    // length) without an error: under the table's lock, values written since that would
    // change stop the rollback first.
    let changed = format!(
        "{c} IS DISTINCT FROM {c}::{}",
        old.ty.to_sql(),
        c = ident(&new.name)
    );
    let mut spec = spec(vec![
        format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", t.qualified()),
        refuse_rows(
            t,
            &changed,
            &new.name,
            &format!("would change as {}", old.ty),
            "change them so they fit, then run the rollback again",
        ),
        back,
    ])
        .hazard(HazardKind::TableRewrite, format!("Changing {tname}.{} back to {} rewrites {tname}, and fails if a value written since does not fit {}.", new.name, old.ty, old.ty))
        .hazard(HazardKind::BlocksReads, format!("Reads of {tname} wait while it is rewritten."))
        .hazard(HazardKind::BlocksWrites, format!("Writes to {tname} wait while it is rewritten."));
    spec.step.rewrite = true;
    spec
}

/// Defaults, nullability and the comment that change together with an in-place type
/// change. (A shadow column gets its comment in the switch.)
fn follow_up(cx: &mut Ctx<'_>, t: &Table, old: &Column, new: &Column) {
    if old.comment != new.comment {
        super::comment::column(cx, t, new, old.comment.as_deref());
    }
    if old.default != new.default {
        match &new.default {
            Some(_) => super::defaults::set(cx, t, old, new),
            None => super::defaults::drop(cx, t, old),
        }
    }
    if old.nullable && !new.nullable {
        super::not_null::set(cx, t, old, new);
    } else if !old.nullable && new.nullable {
        super::not_null::drop(cx, t, new);
    }
}

/// How to get past most refusals: what depends on the column goes first.
const SPLIT: &str = "split the change: first remove what depends on the column, change its type, then add them back";

/// Error E0103: the type of `old` (a column of `t`) cannot change to `new`'s online.
fn refuse(cx: &mut Ctx<'_>, t: &Table, old: &Column, new: &Column, why: &str, help: &str) {
    cx.error(
        codes::UNSUPPORTED_TYPE_CHANGE,
        format!(
            "cannot change {}.{} from {} to {} online: {why}",
            t.display_name(),
            new.name,
            old.ty,
            new.ty
        ),
        help.to_string(),
    );
}

/// Why a generated column stops the type of `old` (of old table `t`) changing, if one does;
/// a column that becomes generated with the change counts too.
fn unsupported_generated(t: &Table, old: &Column, new: &Column) -> Option<String> {
    super::generated::blocks_type_change(t, old).or_else(|| {
        new.generated
            .is_some()
            .then(|| "it becomes a generated column".into())
    })
}

/// An index of `t` with expressions or a predicate that depends on column `c` (in a key,
/// an expression or the predicate), described: PostgreSQL rebuilds it under ACCESS
/// EXCLUSIVE whenever the column's type changes (`CheckIndexCompatible` reuses only plain
/// indexes; measured on PostgreSQL 15), and dropping the column drops it.
fn expression_index(t: &Table, c: &str) -> Option<String> {
    let in_predicate = |i: &Index| {
        i.predicate
            .as_deref()
            .is_some_and(|p| crate::expr::identifiers(p).iter().any(|w| w == c))
    };
    let i = t.indexes.iter().find(|i| {
        (i.has_expressions() || i.predicate.is_some())
            && (i.mentioned_columns(t).iter().any(|m| m == c) || in_predicate(i))
    })?;
    let what = match &i.predicate {
        Some(p) => format!("partial index {} ({} WHERE {p})", i.name, i.keys_label()),
        None => format!("expression index {} ({})", i.name, i.keys_label()),
    };
    Some(what)
}

/// Why index `what` (described) stops a shadow column from standing in for a column.
fn shadow_drops(what: &str) -> String {
    format!("{what} depends on it, and dropping the old column after the switch would drop that index (Wesley does not rebuild it over the shadow column)")
}

/// Why the shadow-column strategy cannot handle this column, if it cannot.
pub(super) fn unsupported(cx: &Ctx<'_>, t: &Table, c: &Column) -> Option<String> {
    if t.primary_key
        .as_ref()
        .is_some_and(|k| k.columns.contains(&c.name))
    {
        return Some("it is part of the primary key".into());
    }
    for o in &cx.old.tables {
        for f in &o.foreign_keys {
            if f.ref_schema == t.schema && f.ref_table == t.name && f.ref_columns.contains(&c.name)
            {
                return Some(format!(
                    "foreign key {} on {} references it",
                    f.name,
                    o.display_name()
                ));
            }
        }
    }
    blocks_shadow(t, c)
}

/// What keeps a shadow column from standing in for `c` of the old table `t`, apart from
/// keys: objects over several columns, partial indexes, checks and policies that name it
/// (each would have to be rebuilt over the shadow, which Wesley does not do).
pub(super) fn blocks_shadow(t: &Table, c: &Column) -> Option<String> {
    if let Some(what) = expression_index(t, &c.name) {
        return Some(shadow_drops(&what));
    }
    let multi = |cols: &Vec<String>| cols.len() > 1 && cols.contains(&c.name);
    if t.uniques.iter().any(|u| multi(&u.columns))
        || t.indexes
            .iter()
            .any(|i| i.plain_columns().is_some_and(|k| multi(&k)))
        || t.foreign_keys.iter().any(|f| multi(&f.columns))
    {
        return Some("it is part of a multi-column index or constraint".into());
    }
    let mentions = |e: &str| crate::expr::identifiers(e).contains(&c.name);
    if t.checks.iter().any(|k| mentions(&k.expr)) {
        return Some("a check constraint mentions it".into());
    }
    if t.policies
        .iter()
        .any(|p| p.using.iter().chain(p.check.iter()).any(|e| mentions(e)))
    {
        return Some("a row-level security policy mentions it".into());
    }
    None
}

/// A `DO` block that fails while rows of `t` match `predicate`: `wesley: <n> rows of <t>
/// have values in <column> that <what>`, with a hint that shows the query that finds them
/// and says `then`.
fn refuse_rows(t: &Table, predicate: &str, column: &str, what: &str, then: &str) -> String {
    let tq = t.qualified();
    let tag = dollar_tag(predicate);
    format!(
        "DO {tag}\nBEGIN\n  IF EXISTS (SELECT 1 FROM {tq} WHERE {predicate}) THEN\n    RAISE EXCEPTION 'wesley: % rows of % have values in % that %', (SELECT count(*) FROM {tq} WHERE {predicate}), {tl}, {cl}, {wl}\n      USING HINT = {hint};\n  END IF;\nEND\n{tag}",
        tl = literal(&t.display_name()),
        cl = literal(column),
        wl = literal(what),
        hint = literal(&format!(
            "find them with: SELECT {} FROM {tq} WHERE {predicate}; {then}",
            ident(column)
        )),
    )
}

/// A dollar-quote tag that does not occur in `body`.
fn dollar_tag(body: &str) -> String {
    let mut n = 0;
    loop {
        let tag = if n == 0 {
            "$wesley$".to_string()
        } else {
            format!("$wesley{n}$")
        };
        if !body.contains(&tag) {
            return tag;
        }
        n += 1;
    }
}

/// One column's type change through a shadow column: the names it uses and one method
/// per step. Steps are chained through the ids the methods return.
pub struct ShadowColumn<'a> {
    old_t: &'a Table,
    t: &'a Table,
    old: &'a Column,
    new: &'a Column,
    key: Vec<String>,
    using: Option<Using<'a>>,
    /// `<col>_new`: the column of the new type until the switch.
    shadow: String,
    /// `<col>_old`: the old column after the switch, until the contract phase.
    old_name: String,
    /// The trigger function, and the conversion function (schema-qualified, quoted).
    sync_fn: String,
    conv_fn: String,
    trigger: String,
    /// The helper CHECK that proves the shadow NOT NULL before the switch.
    not_null_check: String,
    /// After the switch until the contract: the trigger (and its functions) that copy new
    /// values back into the old column, so that a rollback loses nothing.
    back_fn: String,
    back_conv_fn: String,
    back_trigger: String,
    /// Foreign keys from the column that are rebuilt elsewhere (by the type change of the
    /// key they reference, `key_type`), by name.
    skip_fks: Vec<String>,
    /// The column's unique constraint or unique index that is rebuilt elsewhere (by
    /// `key_type`, because foreign keys reference it), by name.
    skip_keys: Vec<String>,
    /// Statements of the switch that run once the shadow is NOT NULL, before the names
    /// are swapped (what moves a sequence from the old column to the shadow).
    before_swap: Vec<String>,
}

/// What [`ShadowColumn::prepare`] planned: the check step's id, the steps the switch
/// waits for, and the switch's statements and further tables it locks.
pub(super) struct Prepared {
    pub checked: String,
    pub ready: Vec<String>,
    pub switch_sql: Vec<String>,
    pub extra_locks: Vec<(String, String)>,
}

impl<'a> ShadowColumn<'a> {
    pub fn new(
        old_t: &'a Table,
        t: &'a Table,
        old: &'a Column,
        new: &'a Column,
        key: Vec<String>,
        using: Option<Using<'a>>,
    ) -> ShadowColumn<'a> {
        let col = &new.name;
        let taken = |n: &str| {
            old_t.columns.iter().any(|c| c.name == n) || t.columns.iter().any(|c| c.name == n)
        };
        let mut shadow = naming::fit(&format!("{col}_new"));
        let mut old_name = naming::fit(&format!("{col}_old"));
        let mut n = 2;
        while taken(&shadow) || taken(&old_name) {
            shadow = naming::fit(&format!("{col}_new{n}"));
            old_name = naming::fit(&format!("{col}_old{n}"));
            n += 1;
        }
        let not_null_check = super::not_null::check_name(t, &shadow);
        ShadowColumn {
            old_t,
            t,
            old,
            new,
            key,
            using,
            sync_fn: qualified(
                &t.schema,
                &naming::fit(&format!("wesley_sync_{}_{}", t.name, col)),
            ),
            conv_fn: qualified(
                &t.schema,
                &naming::fit(&format!("wesley_cast_{}_{}", t.name, col)),
            ),
            trigger: naming::fit(&format!("wesley_sync_{col}")),
            back_fn: qualified(
                &t.schema,
                &naming::fit(&format!("wesley_back_{}_{}", t.name, col)),
            ),
            back_conv_fn: qualified(
                &t.schema,
                &naming::fit(&format!("wesley_uncast_{}_{}", t.name, col)),
            ),
            back_trigger: naming::fit(&format!("wesley_back_{col}")),
            shadow,
            old_name,
            not_null_check,
            skip_fks: Vec::new(),
            skip_keys: Vec::new(),
            before_swap: Vec::new(),
        }
    }

    /// Runs `sql` in the switch once the shadow is NOT NULL, before the names are swapped.
    pub(super) fn before_swap(mut self, sql: Vec<String>) -> Self {
        self.before_swap = sql;
        self
    }

    /// Leaves foreign key `name` (from this column) to whoever rebuilds it.
    pub(super) fn without_foreign_key(mut self, name: &str) -> Self {
        self.skip_fks.push(name.to_string());
        self
    }

    /// Leaves the column's unique constraint or unique index `name` to whoever rebuilds it.
    pub(super) fn without_key(mut self, name: &str) -> Self {
        self.skip_keys.push(name.to_string());
        self
    }

    /// The column's type before the change.
    pub(super) fn old_type(&self) -> &SqlType {
        &self.old.ty
    }

    /// The column's type after the change.
    pub(super) fn new_type(&self) -> &SqlType {
        &self.new.ty
    }

    /// The column's name (the same before and after the change).
    pub(super) fn column_name(&self) -> &str {
        &self.new.name
    }

    /// The shadow column's name (`<col>_new`) until the switch.
    pub(super) fn shadow_name(&self) -> &str {
        &self.shadow
    }

    /// Whether there is a conversion; reports error E0103 with how to give one if not.
    pub(super) fn converts(&self, cx: &mut Ctx<'_>) -> bool {
        let Err(why) = self.conversion() else {
            return true;
        };
        let (t, old, new) = (self.t, self.old, self.new);
        cx.error(
            codes::UNSUPPORTED_TYPE_CHANGE,
            format!(
                "cannot change {}.{} from {} to {}: {why}",
                t.display_name(),
                new.name,
                old.ty,
                new.ty
            ),
            format!(
                "say how values convert: `@wes_convert(from: \"{}\", using: \"<an SQL expression over {}>\")` on the field",
                old.ty, new.name
            ),
        );
        false
    }

    /// The conversion function and its probe ([`convert::function`]).
    fn conversion(&self) -> Result<(String, String), String> {
        let tag = dollar_tag(self.using.map(|u| u.expr).unwrap_or(""));
        convert::function(&self.conv_fn, &self.old.ty, &self.new.ty, self.using, &tag)
    }

    /// The exact conversion back from the new type to the old one ([`convert::function`]),
    /// if there is one: the old column is then kept in step after the switch.
    fn back_conversion(&self) -> Option<(String, String)> {
        convert::function(
            &self.back_conv_fn,
            &self.new.ty,
            &self.old.ty,
            None,
            "$wesley$",
        )
        .ok()
    }

    /// The statements that copy every new value back into the old column, in the switch.
    fn back_sync(&self) -> Option<Vec<String>> {
        let (conv, probe) = self.back_conversion()?;
        let body = format!(
            "BEGIN\n  NEW.{} := {}(NEW.{});\n  RETURN NEW;\nEND\n",
            ident(&self.old_name),
            self.back_conv_fn,
            ident(&self.new.name)
        );
        let tag = dollar_tag(&body);
        Some(vec![
            conv,
            probe,
            format!("CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {tag}\n{body}{tag}", self.back_fn),
            format!("CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION {}()", ident(&self.back_trigger), self.t.qualified(), self.back_fn),
        ])
    }

    /// Drops what [`Self::back_sync`] made.
    fn drop_back_sync(&self) -> Vec<String> {
        vec![
            format!(
                "DROP TRIGGER {} ON {}",
                ident(&self.back_trigger),
                self.t.qualified()
            ),
            format!("DROP FUNCTION {}()", self.back_fn),
            format!(
                "DROP FUNCTION {}({})",
                self.back_conv_fn,
                self.new.ty.to_sql()
            ),
        ]
    }

    fn tname(&self) -> String {
        self.t.display_name()
    }

    /// Single-column, non-partial indexes of the column that the new schema keeps: the
    /// old definition and the target's.
    fn moved_indexes(&self) -> impl Iterator<Item = (&'a Index, &'a Index)> + '_ {
        self.old_t
            .indexes
            .iter()
            .filter(|i| {
                i.keys == [IndexKey::Column(self.old.name.clone())]
                    && !self.skip_keys.contains(&i.name)
            })
            .filter_map(|i| Some((i, self.t.indexes.iter().find(|x| x.name == i.name)?)))
    }

    /// Single-column unique constraints of the column that the new schema keeps: the old
    /// definition and the target's.
    fn moved_uniques(
        &self,
    ) -> impl Iterator<Item = (&'a crate::model::Unique, &'a crate::model::Unique)> + '_ {
        self.old_t
            .uniques
            .iter()
            .filter(|u| u.columns == [self.old.name.clone()] && !self.skip_keys.contains(&u.name))
            .filter_map(|u| Some((u, self.t.uniques.iter().find(|x| x.name == u.name)?)))
    }

    /// Single-column foreign keys from the column that the new schema keeps: the target's
    /// definitions.
    fn moved_foreign_keys(&self) -> impl Iterator<Item = &'a crate::model::ForeignKey> + '_ {
        self.old_t
            .foreign_keys
            .iter()
            .filter(|f| f.columns == [self.old.name.clone()] && !self.skip_fks.contains(&f.name))
            .filter_map(|f| self.t.foreign_keys.iter().find(|x| x.name == f.name))
    }

    /// Plans every step; returns the id of the switch.
    pub fn plan(&self, cx: &mut Ctx<'_>) -> String {
        let Prepared {
            ready,
            mut switch_sql,
            extra_locks,
            ..
        } = self.prepare(cx);
        let back = self.back_sync();
        switch_sql.extend(back.iter().flatten().cloned());
        let switched = self.switch(cx, switch_sql, &extra_locks, &ready, back.is_some());
        self.contract(cx, &switched, back.is_some());
        switched
    }

    /// Plans every step before the switch (shadow, trigger, backfill, check, NOT NULL,
    /// indexes and keys rebuilt on the shadow) and returns what the switch needs.
    pub(super) fn prepare(&self, cx: &mut Ctx<'_>) -> Prepared {
        let added = self.add_column(cx);
        let synced = self.sync_trigger(cx, &added);
        let filled = self.backfill(cx, &synced);
        let checked = self.check(cx, &filled);
        let mut ready = vec![checked.clone()];
        ready.extend(self.not_null(cx, &checked));
        let mut switch_sql = self.switch_head();
        let mut extra_locks = Vec::new();
        ready.extend(self.indexes(cx, &checked, &mut switch_sql));
        ready.extend(self.uniques(cx, &checked, &mut switch_sql));
        ready.extend(self.foreign_keys(cx, &checked, &mut switch_sql, &mut extra_locks));
        Prepared {
            checked,
            ready,
            switch_sql,
            extra_locks,
        }
    }

    fn add_column(&self, cx: &mut Ctx<'_>) -> String {
        let mut add = cx
            .on(
                self.t,
                StepKind::AddShadowColumn,
                Some(&self.shadow),
                Phase::Expand,
                format!(
                    "Add shadow column {}.{} {} (instant)",
                    self.tname(),
                    self.shadow,
                    self.new.ty
                ),
                stmts(&[alter(
                    self.t,
                    Alter::AddBareColumn(&self.shadow, &self.new.ty),
                )]),
            )
            .lock(self.t, LockMode::AccessExclusive)
            .undo_by(
                cx.on(
                    self.t,
                    StepKind::DropColumn,
                    Some(&self.shadow),
                    Phase::Contract,
                    format!("Drop the shadow column {}.{}", self.tname(), self.shadow),
                    stmts(&[alter(self.t, Alter::DropColumnIfExists(&self.shadow))]),
                )
                .lock(self.t, LockMode::AccessExclusive),
            );
        if let Some(k) = self.new.ty.base.enum_key() {
            add = add.requires(k);
        }
        cx.push(add)
    }

    fn sync_trigger(&self, cx: &mut Ctx<'_>, after: &str) -> String {
        let (conv, probe) = self
            .conversion()
            .expect("conversion checked before planning");
        let col = &self.new.name;
        // The backfill's own UPDATE (run by `wesley apply` under BACKFILL_SETTING) fills a
        // shadow still NULL with the same conversion of the same row version: nothing to
        // do again. Every other write is converted, whatever it writes to the shadow.
        let body = format!(
            "BEGIN\n  IF TG_OP = 'UPDATE' AND OLD.{s} IS NULL AND NEW.{s} IS NOT NULL AND current_setting({}, true) = 'on' THEN\n    RETURN NEW;\n  END IF;\n  NEW.{s} := {}(NEW.{});\n  RETURN NEW;\nEND\n",
            literal(crate::plan::BACKFILL_SETTING),
            self.conv_fn,
            ident(&self.old.name),
            s = ident(&self.shadow),
        );
        let tag = dollar_tag(&body);
        let how = match self.using {
            Some(u) => format!("with the conversion `{}`", u.expr),
            None => "exactly".to_string(),
        };
        let spec = cx
            .on(self.t, StepKind::CreateSyncTrigger, Some(col), Phase::Expand, format!("Keep {} in sync with {col} on every insert and update", self.shadow), stmts(&[
                conv,
                probe,
                format!("CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {tag}\n{body}{tag}", self.sync_fn),
                format!("CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION {}()", ident(&self.trigger), self.t.qualified(), self.sync_fn),
            ]))
            .lock(self.t, LockMode::ShareRowExclusive)
            .undo_by(
                cx.on(self.t, StepKind::DropSyncTrigger, Some(col), Phase::Contract, format!("Drop the trigger that keeps {} in sync, if it is still there", self.shadow), stmts(&[
                    format!("DROP TRIGGER IF EXISTS {} ON {}", ident(&self.trigger), self.t.qualified()),
                    format!("DROP FUNCTION IF EXISTS {}()", self.sync_fn),
                    format!("DROP FUNCTION IF EXISTS {}({})", self.conv_fn, self.old.ty.to_sql()),
                ]))
                .lock(self.t, LockMode::AccessExclusive),
            )
            .hazard(HazardKind::BlocksWrites, format!("Creating the sync trigger takes SHARE ROW EXCLUSIVE on {t} for an instant; afterwards every write to {t} also converts {col} to {} {how}, which costs a little. A value that does not convert is never refused: it leaves {} NULL, and the check step reports it.", self.new.ty, self.shadow, t = self.tname()))
            .after(after);
        cx.push(spec)
    }

    /// `<shadow> IS NULL AND <old> IS NOT NULL`: rows not (yet) converted.
    fn missing(&self) -> String {
        format!(
            "{} IS NULL AND {} IS NOT NULL",
            ident(&self.shadow),
            ident(&self.old.name)
        )
    }

    fn backfill(&self, cx: &mut Ctx<'_>, after: &str) -> String {
        let set = format!(
            "{} = {}({})",
            ident(&self.shadow),
            self.conv_fn,
            ident(&self.old.name)
        );
        let predicate = self.missing();
        let spec = cx
            .on(self.t, StepKind::Backfill, Some(&self.shadow), Phase::Backfill, format!("Copy {} into {} as {} in batches of {DEFAULT_BATCH_SIZE}", self.new.name, self.shadow, self.new.ty), stmts(&[format!("UPDATE {} SET {set} WHERE {predicate}", self.t.qualified())]))
            .lock(self.t, LockMode::RowExclusive)
            .scan()
            .hazard(HazardKind::NeedsBackfill, format!("Every row of {t} is updated to fill {}, in batches of {DEFAULT_BATCH_SIZE} rows, each its own short transaction: writes continue, but it takes time proportional to the table's size and creates dead rows for VACUUM. Values that do not convert to {} exactly stay NULL and are reported by the next step.", self.shadow, self.new.ty, t = self.tname()))
            .backfill(Backfill { schema: self.t.schema.clone(), table: self.t.name.clone(), key: self.key.clone(), set, predicate, batch_size: DEFAULT_BATCH_SIZE })
            .after(after)
            .undo_nothing();
        cx.push(spec)
    }

    /// Proves every non-NULL value converted; otherwise fails with the count and a query
    /// that finds the rows, and the switch never runs.
    fn check(&self, cx: &mut Ctx<'_>, after: &str) -> String {
        let predicate = self.missing();
        let what = match self.using {
            Some(u) => format!("do not convert with `{}`", u.expr),
            None => "do not convert exactly".to_string(),
        };
        let check_sql = refuse_rows(
            self.t,
            &predicate,
            &self.old.name,
            &format!("{what} to {}", self.new.ty),
            "fix the values (or say how to convert them with @wes_convert and re-plan), then resume",
        );
        let spec = cx
            .on(self.t, StepKind::CheckBackfill, Some(&self.shadow), Phase::Validate, format!("Check that every value of {}.{} converted {}", self.tname(), self.old.name, if self.using.is_some() { "" } else { "exactly" }).trim_end().to_string(), stmts(&[check_sql]))
            .lock(self.t, LockMode::AccessShare)
            .scan()
            .hazard(HazardKind::LongRunning, format!("Reads all of {} once to prove every value converted; reads and writes continue. If any value did not convert, the step fails with their number and a query that finds them, and nothing after it runs.", self.tname()))
            .after(after)
            .undo_nothing();
        cx.push(spec)
    }

    /// NOT NULL on the shadow: the NOT VALID check comes only once every row is proven
    /// converted (it is enforced on every UPDATE, so earlier it could refuse writes).
    fn not_null(&self, cx: &mut Ctx<'_>, checked: &str) -> Option<String> {
        if self.new.nullable {
            return None;
        }
        let tname = self.tname();
        let s = cx
            .on(
                self.t,
                StepKind::AddNotNullCheck,
                Some(&self.shadow),
                Phase::Validate,
                format!(
                    "Add CHECK ({} IS NOT NULL) NOT VALID on {tname}",
                    self.shadow
                ),
                stmts(&[alter(
                    self.t,
                    Alter::AddNotNullCheck {
                        name: &self.not_null_check,
                        column: &self.shadow,
                    },
                )]),
            )
            .lock(self.t, LockMode::AccessExclusive)
            .after(checked)
            .undo_by(
                cx.on(
                    self.t,
                    StepKind::DropCheck,
                    Some(&self.not_null_check),
                    Phase::Contract,
                    format!(
                        "Drop the helper check {} on {tname}, if it is still there",
                        self.not_null_check
                    ),
                    stmts(&[alter(
                        self.t,
                        Alter::DropConstraintIfExists(&self.not_null_check),
                    )]),
                )
                .lock(self.t, LockMode::AccessExclusive),
            );
        let n = cx.push(s);
        let v = cx
            .on(
                self.t,
                StepKind::ValidateConstraint,
                Some(&self.not_null_check),
                Phase::Validate,
                format!("Validate that no row of {tname} has {} NULL", self.shadow),
                stmts(&[alter(
                    self.t,
                    Alter::ValidateConstraint(&self.not_null_check),
                )]),
            )
            .lock(self.t, LockMode::ShareUpdateExclusive)
            .scan()
            .hazard(
                HazardKind::LongRunning,
                format!("Validating reads all of {tname}; reads and writes continue."),
            )
            .after(&n)
            .after(checked)
            .undo_nothing();
        Some(cx.push(v))
    }

    /// The start of the switch transaction: NOT NULL is set on the shadow while it still
    /// has its own name, right after the check that proves it (so PostgreSQL, and linters
    /// such as squawk, see that no scan is needed); then the names are swapped and the
    /// trigger and functions dropped, and the column's default and comment set on it.
    fn switch_head(&self) -> Vec<String> {
        let tq = self.t.qualified();
        let mut sql = Vec::new();
        if !self.new.nullable {
            sql.push(alter(self.t, Alter::SetNotNull(&self.shadow)));
            sql.push(alter(self.t, Alter::DropConstraint(&self.not_null_check)));
        }
        sql.extend(self.before_swap.iter().cloned());
        sql.push(alter(
            self.t,
            Alter::RenameColumn {
                from: &self.old.name,
                to: &self.old_name,
            },
        ));
        sql.push(alter(
            self.t,
            Alter::RenameColumn {
                from: &self.shadow,
                to: &self.new.name,
            },
        ));
        sql.push(format!("DROP TRIGGER {} ON {tq}", ident(&self.trigger)));
        sql.push(format!("DROP FUNCTION {}()", self.sync_fn));
        sql.push(format!(
            "DROP FUNCTION {}({})",
            self.conv_fn,
            self.old.ty.to_sql()
        ));
        if !self.old.nullable {
            sql.push(alter(self.t, Alter::DropNotNull(&self.old_name)));
        }
        if let Some(d) = &self.new.default {
            sql.push(alter(self.t, Alter::SetDefault(&self.new.name, d.sql())));
        }
        // A comment belongs to the column it was set on: the shadow has none of its own.
        if let Some(c) = &self.new.comment {
            sql.push(crate::ddl::comment_on(
                self.t,
                crate::ddl::CommentTarget::Column(&self.new.name),
                Some(c),
            ));
        }
        sql
    }

    /// Single-column, non-partial indexes of the column: built on the shadow, renamed at
    /// the switch.
    fn indexes(
        &self,
        cx: &mut Ctx<'_>,
        checked: &str,
        switch_sql: &mut Vec<String>,
    ) -> Vec<String> {
        let mut ready = Vec::new();
        for (i, target) in self.moved_indexes() {
            let tmp = Index {
                name: naming::fit(&format!("{}_new", target.name)),
                keys: vec![IndexKey::Column(self.shadow.clone())],
                ..target.clone()
            };
            // The old index already enforced what this one does: no new hazard for clients.
            let b = super::index::build_step(cx, self.t, &tmp, Phase::Validate).after(checked);
            ready.push(cx.push(b));
            switch_sql.push(crate::ddl::rename_index(
                &self.t.schema,
                &i.name,
                &naming::fit(&format!("{}_old", i.name)),
            ));
            switch_sql.push(crate::ddl::rename_index(
                &self.t.schema,
                &tmp.name,
                &target.name,
            ));
        }
        ready
    }

    /// Single-column unique constraints: a unique index on the shadow, attached at the
    /// switch.
    fn uniques(
        &self,
        cx: &mut Ctx<'_>,
        checked: &str,
        switch_sql: &mut Vec<String>,
    ) -> Vec<String> {
        let mut ready = Vec::new();
        for (u, target) in self.moved_uniques() {
            let tmp = naming::fit(&format!("{}_new", u.name));
            let built = super::unique::unique_index_step(
                cx,
                self.t,
                &tmp,
                std::slice::from_ref(&self.shadow),
                target.nulls_not_distinct,
                Phase::Validate,
            )
            .after(checked);
            ready.push(cx.push(built));
            switch_sql.push(alter(self.t, Alter::DropConstraint(&u.name)));
            switch_sql.push(alter(
                self.t,
                Alter::AddUniqueUsingIndex {
                    name: &u.name,
                    index: &tmp,
                },
            ));
        }
        ready
    }

    /// Single-column foreign keys from the column: re-created on the shadow NOT VALID,
    /// validated, and renamed at the switch.
    fn foreign_keys(
        &self,
        cx: &mut Ctx<'_>,
        checked: &str,
        switch_sql: &mut Vec<String>,
        extra_locks: &mut Vec<(String, String)>,
    ) -> Vec<String> {
        let mut ready = Vec::new();
        let tname = self.tname();
        for target in self.moved_foreign_keys() {
            let tmp = crate::model::ForeignKey {
                name: naming::fit(&format!("{}_new", target.name)),
                columns: vec![self.shadow.clone()],
                ..target.clone()
            };
            let add_fk = cx
                .on(
                    self.t,
                    StepKind::AddForeignKey,
                    Some(&tmp.name),
                    Phase::Validate,
                    format!(
                        "Add foreign key {} on {tname} ({}) NOT VALID",
                        tmp.name, self.shadow
                    ),
                    stmts(&super::foreign_key::referenced_first(
                        self.t,
                        &tmp,
                        LockMode::ShareRowExclusive,
                        crate::ddl::add_foreign_key(self.t, &tmp, true),
                    )),
                )
                .lock(self.t, LockMode::ShareRowExclusive)
                .lock_rel(&tmp.ref_schema, &tmp.ref_table, LockMode::ShareRowExclusive)
                .after(checked)
                .undo_by(
                    cx.on(
                        self.t,
                        StepKind::DropForeignKey,
                        Some(&tmp.name),
                        Phase::Contract,
                        format!(
                            "Drop foreign key {} on {tname}, if it is still there",
                            tmp.name
                        ),
                        stmts(&[alter(self.t, Alter::DropConstraintIfExists(&tmp.name))]),
                    )
                    .lock(self.t, LockMode::AccessExclusive)
                    .lock_rel(
                        &tmp.ref_schema,
                        &tmp.ref_table,
                        LockMode::AccessExclusive,
                    ),
                );
            let add_fk = cx.push(add_fk);
            let v = cx
                .on(self.t, StepKind::ValidateConstraint, Some(&tmp.name), Phase::Validate, format!("Validate foreign key {} on {tname}", tmp.name), stmts(&[alter(self.t, Alter::ValidateConstraint(&tmp.name))]))
                .lock(self.t, LockMode::ShareUpdateExclusive)
                .lock_rel(&tmp.ref_schema, &tmp.ref_table, LockMode::RowShare)
                .scan()
                .hazard(
                    HazardKind::LongRunning,
                    format!(
                        "Validating foreign key {} reads all of {tname}; reads and writes continue.",
                        tmp.name
                    ),
                )
                .after(&add_fk)
                .undo_nothing();
            ready.push(cx.push(v));
            switch_sql.push(alter(self.t, Alter::DropConstraint(&target.name)));
            switch_sql.push(alter(
                self.t,
                Alter::RenameConstraint {
                    from: &tmp.name,
                    to: &target.name,
                },
            ));
            extra_locks.push((target.ref_schema.clone(), target.ref_table.clone()));
        }
        ready
    }

    fn switch(
        &self,
        cx: &mut Ctx<'_>,
        sql: Vec<String>,
        extra_locks: &[(String, String)],
        ready: &[String],
        kept_in_step: bool,
    ) -> String {
        let col = &self.new.name;
        let tname = self.tname();
        let mut sw = cx
            .on(self.t, StepKind::SwapColumns, Some(col), Phase::Switch, format!("Swap {col} and {} on {tname} in one short transaction ({} → {})", self.shadow, self.old.ty, self.new.ty), stmts(&sql))
            .lock(self.t, LockMode::AccessExclusive)
            .hazard(HazardKind::BreaksClients, format!("From this step on, {tname}.{col} has type {} instead of {}, and it is the last column of {tname}: code written for the old column must be ready for the new type{}, and `SELECT *` returns the columns in a new order, and `INSERT ... VALUES` without a column list puts values in the wrong columns. The old values stay in {} until the contract phase.", self.new.ty, self.old.ty, narrowing_note(&self.old.ty, &self.new.ty), self.old_name))
            .provides(c_key(self.t, col));
        for (s, r) in extra_locks {
            sw = sw.lock_rel(s, r, LockMode::AccessExclusive);
        }
        for r in ready {
            sw = sw.after(r);
        }
        if kept_in_step {
            for u in self.switch_back(cx) {
                sw = sw.undo_by(u);
            }
        } else {
            sw = sw.undo_refuses(format!(
                "after the switch, values written to {tname}.{col} are not copied back to {}: there is no exact conversion from {} to {}",
                self.old_name, self.new.ty, self.old.ty
            ));
        }
        cx.push(sw)
    }

    /// The inverse of the switch, while the old column is still there and kept in step
    /// by the back trigger: prove that every value came back and keep it so with a NOT
    /// VALID check (its NOT NULL for a NOT NULL column), rebuild its unique and foreign
    /// keys under `<name>_old`, then one short transaction that swaps the names back and
    /// moves indexes and constraints back. Later inverses drop the shadow and what was
    /// built on it.
    fn switch_back(&self, cx: &Ctx<'_>) -> Vec<StepSpec> {
        let t = self.t;
        let tname = self.tname();
        let col = &self.new.name;
        let mut steps = Vec::new();
        let mut sql = Vec::new();
        let mut locks: Vec<(String, String)> = Vec::new();
        // Every value written since the switch must have come back: a value the old type
        // cannot hold left the old column NULL. Checked (with a count and a query), then
        // enforced by a NOT VALID check until the swap, so that no write in between can
        // lose one either; for a NOT NULL old column that check is its NOT NULL.
        let predicate = format!(
            "{} IS NULL AND {} IS NOT NULL",
            ident(&self.old_name),
            ident(col)
        );
        let check_sql = refuse_rows(
            t,
            &predicate,
            col,
            &format!("do not convert back to {}", self.old.ty),
            "change or remove them, then run the rollback again",
        );
        steps.push(
            cx.on(t, StepKind::CheckBackfill, Some(&self.old_name), Phase::Validate, format!("Check that every value of {tname}.{col} was copied back into {}", self.old_name), stmts(&[check_sql]))
                .lock(t, LockMode::AccessShare)
                .scan()
                .hazard(HazardKind::LongRunning, format!("Reads all of {tname} once; reads and writes continue. If a value written since the switch does not fit {}, the rollback stops here with their number and a query that finds them.", self.old.ty)),
        );
        let (check, add) = if self.old.nullable {
            let name = naming::fit(&format!("{}_{}_back_check", t.name, self.old_name));
            let expr = format!(
                "{} IS NOT NULL OR {} IS NULL",
                ident(&self.old_name),
                ident(col)
            );
            let add = alter(
                t,
                Alter::AddCheckNotValid {
                    name: &name,
                    expr: &expr,
                },
            );
            (name, add)
        } else {
            let name = super::not_null::check_name(t, &self.old_name);
            let add = alter(
                t,
                Alter::AddNotNullCheck {
                    name: &name,
                    column: &self.old_name,
                },
            );
            (name, add)
        };
        steps.push(
            cx.on(t, StepKind::AddCheck, Some(&check), Phase::Validate, format!("Add CHECK on {tname} NOT VALID: every value of {col} written from now on has its copy in {}", self.old_name), stmts(&[add]))
                .lock(t, LockMode::AccessExclusive)
                .review(HazardKind::BreaksClients, format!("Until the swap back, writes of {col} values that do not fit {} fail (SQLSTATE 23514).", self.old.ty)),
        );
        steps.push(
            cx.on(
                t,
                StepKind::ValidateConstraint,
                Some(&check),
                Phase::Validate,
                format!("Validate {check} on {tname}"),
                stmts(&[alter(t, Alter::ValidateConstraint(&check))]),
            )
            .lock(t, LockMode::ShareUpdateExclusive)
            .scan()
            .hazard(
                HazardKind::LongRunning,
                format!("Validating reads all of {tname}; reads and writes continue."),
            ),
        );
        if !self.old.nullable {
            sql.push(alter(t, Alter::SetNotNull(&self.old_name)));
        }
        sql.push(alter(t, Alter::DropConstraint(&check)));
        sql.extend(self.drop_back_sync());
        sql.push(alter(
            t,
            Alter::RenameColumn {
                from: col,
                to: &self.shadow,
            },
        ));
        sql.push(alter(
            t,
            Alter::RenameColumn {
                from: &self.old_name,
                to: &self.old.name,
            },
        ));
        if !self.new.nullable {
            // Old code does not write the shadow: it must take NULL until it is dropped.
            sql.push(alter(t, Alter::DropNotNull(&self.shadow)));
        }
        for (i, target) in self.moved_indexes() {
            let tmp = naming::fit(&format!("{}_new", target.name));
            sql.push(crate::ddl::rename_index(&t.schema, &target.name, &tmp));
            sql.push(crate::ddl::rename_index(
                &t.schema,
                &naming::fit(&format!("{}_old", i.name)),
                &i.name,
            ));
        }
        for (u, _) in self.moved_uniques() {
            let back = naming::fit(&format!("{}_old", u.name));
            let mut build = super::unique::unique_index_step(
                cx,
                t,
                &back,
                std::slice::from_ref(&self.old_name),
                u.nulls_not_distinct,
                Phase::Validate,
            );
            build
                .step
                .hazards
                .retain(|h| h.kind != HazardKind::BreaksClients);
            steps.push(build);
            sql.push(alter(t, Alter::DropConstraint(&u.name)));
            sql.push(alter(
                t,
                Alter::AddUniqueUsingIndex {
                    name: &u.name,
                    index: &back,
                },
            ));
        }
        for target in self.moved_foreign_keys() {
            let back = crate::model::ForeignKey {
                name: naming::fit(&format!("{}_old", target.name)),
                columns: vec![self.old_name.clone()],
                ..target.clone()
            };
            steps.push(
                cx.on(
                    t,
                    StepKind::AddForeignKey,
                    Some(&back.name),
                    Phase::Validate,
                    format!(
                        "Add foreign key {} on {tname} ({}) NOT VALID",
                        back.name, self.old_name
                    ),
                    stmts(&super::foreign_key::referenced_first(
                        t,
                        &back,
                        LockMode::ShareRowExclusive,
                        crate::ddl::add_foreign_key(t, &back, true),
                    )),
                )
                .lock(t, LockMode::ShareRowExclusive)
                .lock_rel(
                    &back.ref_schema,
                    &back.ref_table,
                    LockMode::ShareRowExclusive,
                ),
            );
            steps.push(
                cx.on(t, StepKind::ValidateConstraint, Some(&back.name), Phase::Validate, format!("Validate foreign key {} on {tname}", back.name), stmts(&[alter(t, Alter::ValidateConstraint(&back.name))]))
                    .lock(t, LockMode::ShareUpdateExclusive)
                    .lock_rel(&back.ref_schema, &back.ref_table, LockMode::RowShare)
                    .scan()
                    .hazard(HazardKind::LongRunning, format!("Validating foreign key {} reads all of {tname}; reads and writes continue.", back.name)),
            );
            sql.push(alter(t, Alter::DropConstraint(&target.name)));
            sql.push(alter(
                t,
                Alter::RenameConstraint {
                    from: &back.name,
                    to: &target.name,
                },
            ));
            locks.push((target.ref_schema.clone(), target.ref_table.clone()));
        }
        let mut swap = cx
            .on(t, StepKind::SwapColumns, Some(col), Phase::Switch, format!("Swap {col} and {} on {tname} back in one short transaction ({} → {})", self.old_name, self.new.ty, self.old.ty), stmts(&sql))
            .lock(t, LockMode::AccessExclusive)
            .review(HazardKind::BreaksClients, format!("From this step on, {tname}.{col} has type {} again: code written for {} must be rolled back first.", self.old.ty, self.new.ty));
        for (s, r) in &locks {
            if (s, r) != (&t.schema, &t.name) {
                swap = swap.lock_rel(s, r, LockMode::AccessExclusive);
            }
        }
        steps.push(swap);
        steps
    }

    /// Drops the old column after `switched`; with `back_synced`, also the trigger that
    /// kept it in step.
    pub(super) fn contract(&self, cx: &mut Ctx<'_>, switched: &str, back_synced: bool) {
        let tname = self.tname();
        let col = &self.new.name;
        let mut drop = cx
            .on(
                self.t,
                StepKind::DropColumn,
                Some(&self.old_name),
                Phase::Contract,
                format!(
                    "Drop the old column {tname}.{} ({})",
                    self.old_name, self.old.ty
                ),
                stmts(&[alter(self.t, Alter::DropColumn(&self.old_name))]),
            )
            .lock(self.t, LockMode::AccessExclusive)
            .after(switched);
        if back_synced {
            let mut sql = self.drop_back_sync();
            sql.push(alter(self.t, Alter::DropColumn(&self.old_name)));
            drop.step.sql = stmts(&sql);
        }
        drop = match self.using {
            // The author's conversion may map or drop information on purpose: the old
            // values are the only copy of what it did not keep.
            Some(u) => drop.hazard(HazardKind::DeletesData, format!("Drops {tname}.{}, the old {} values of {col}, which were converted with `{}` and may hold what that conversion did not keep. Keep it until you are sure nothing is lost that you need.", self.old_name, self.old.ty, u.expr)),
            // Every value was proven to convert exactly: nothing is lost.
            None => drop,
        };
        if let Some(k) = self.old.ty.base.enum_key() {
            drop = drop.requires(k);
        }
        cx.push(drop);
    }
}

/// What old code may newly see fail after a change of type, for the switch's hazard.
fn narrowing_note(old: &SqlType, new: &SqlType) -> &'static str {
    use BaseType::*;
    match (&old.base, &new.base) {
        (Varchar { length: Some(a) }, Varchar { length: Some(b) }) if b < a => {
            " (writes of longer values now fail)"
        }
        (Text | Varchar { length: None }, Varchar { length: Some(_) } | Char { .. }) => {
            " (writes of longer values now fail)"
        }
        (f, t) if f.is_textual() && !t.is_textual() => {
            " (writes of values that do not parse as the new type now fail)"
        }
        _ => "",
    }
}
