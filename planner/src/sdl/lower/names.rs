//! Names: PostgreSQL's identifier rules for every name a schema gives (E0014 over 63
//! bytes, E0015 empty) and the namespaces names share (E0061 two objects, one name).
//! Two types mapping to one table (E0011) and two fields to one column (E0012) are found
//! where those names are made, in `definitions` and `table`.

use super::definitions::DefKind;
use super::Ctx;
use crate::diag::{Code, Pos};
use crate::model::Schema;
use crate::naming::MAX_IDENT_BYTES;
use std::collections::{BTreeMap, BTreeSet};

impl Ctx<'_> {
    /// Checks a name PostgreSQL will store (`what` says which, for the message): empty or
    /// with a NUL is E0015, over 63 bytes E0014 (PostgreSQL would cut it). True when fine.
    pub(super) fn check_ident(&mut self, name: &str, what: &str, pos: Pos) -> bool {
        if name.is_empty() || name.contains('\0') {
            self.err(
                Code::E0015,
                pos,
                format!("{what} name is empty or contains a NUL character"),
                "give it a non-empty name",
            );
            return false;
        }
        if name.len() > MAX_IDENT_BYTES {
            self.err(
                Code::E0014,
                pos,
                format!(
                    "{what} name `{name}` is {} bytes long; PostgreSQL keeps only the first 63",
                    name.len()
                ),
                "choose a shorter name (or set one with `name:`)",
            );
            return false;
        }
        true
    }
}

/// Names that share one PostgreSQL namespace must differ: relations (tables, indexes,
/// including those behind primary keys and unique constraints) and types (tables and
/// enums) per schema; constraints per table.
pub(super) fn check_name_collisions(
    cx: &mut Ctx<'_>,
    schema: &Schema,
    kinds: &BTreeMap<String, (DefKind, Pos)>,
) {
    let pos_of_type = |name: &str| kinds.get(name).map(|k| k.1).unwrap_or_default();
    let mut relations: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut claim = |cx: &mut Ctx<'_>, schema: &str, name: &str, what: String, pos: Pos| {
        let key = (schema.to_string(), name.to_string());
        if let Some(prev) = relations.get(&key) {
            cx.err(
                Code::E0061,
                pos,
                format!("{what} is named `{name}`, like {prev}"),
                "PostgreSQL needs distinct names here: set another name with `name:`",
            );
        } else {
            relations.insert(key, what);
        }
    };
    for e in &schema.enums {
        claim(
            cx,
            &e.schema,
            &e.name,
            format!("enum `{}`", e.graphql_name),
            pos_of_type(&e.graphql_name),
        );
    }
    for t in &schema.tables {
        let pos = pos_of_type(&t.graphql_name);
        claim(cx, &t.schema, &t.name, format!("table `{}`", t.name), pos);
        if let Some(pk) = &t.primary_key {
            claim(
                cx,
                &t.schema,
                &pk.name,
                format!("the primary key of `{}`", t.name),
                pos,
            );
        }
        for u in &t.uniques {
            claim(
                cx,
                &t.schema,
                &u.name,
                format!("unique constraint on `{}`", t.name),
                pos,
            );
        }
        for i in &t.indexes {
            claim(
                cx,
                &t.schema,
                &i.name,
                format!("index on `{}`", t.name),
                pos,
            );
        }
        let mut cons: BTreeSet<&str> = BTreeSet::new();
        let names = t
            .primary_key
            .iter()
            .map(|k| k.name.as_str())
            .chain(t.uniques.iter().map(|u| u.name.as_str()))
            .chain(t.foreign_keys.iter().map(|f| f.name.as_str()))
            .chain(t.checks.iter().map(|c| c.name.as_str()));
        for n in names {
            if !cons.insert(n) {
                cx.err(
                    Code::E0061,
                    pos,
                    format!("two constraints of `{}` are named `{n}`", t.name),
                    "give them distinct names with `name:`",
                );
            }
        }
        let mut pols: BTreeSet<&str> = BTreeSet::new();
        for pol in &t.policies {
            if !pols.insert(&pol.name) {
                cx.err(
                    Code::E0061,
                    pos,
                    format!("two policies of `{}` are named `{}`", t.name, pol.name),
                    "give them distinct names",
                );
            }
        }
    }
}
