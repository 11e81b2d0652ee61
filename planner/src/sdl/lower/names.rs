//! Names: PostgreSQL's identifier rules for every name a schema gives (E0014 over 63
//! bytes, E0015 empty) and the namespaces names share (E0061 two objects, one name).
//! Two types mapping to one table (E0011) and two fields to one column (E0012) are found
//! where those names are made, in `definitions` and `table`.

use super::definitions::DefKind;
use super::Ctx;
use crate::diag::{Code, Pos};
use crate::model::Schema;
use crate::naming::MAX_IDENT_BYTES;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    // What holds a relation or type name, described only when another claims it too.
    #[derive(Clone, Copy)]
    enum Holder<'a> {
        Enum(&'a str),
        Table(&'a str),
        PrimaryKey(&'a str),
        Unique(&'a str),
        Index(&'a str),
    }
    impl std::fmt::Display for Holder<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Holder::Enum(n) => write!(f, "enum `{n}`"),
                Holder::Table(n) => write!(f, "table `{n}`"),
                Holder::PrimaryKey(t) => write!(f, "the primary key of `{t}`"),
                Holder::Unique(t) => write!(f, "unique constraint on `{t}`"),
                Holder::Index(t) => write!(f, "index on `{t}`"),
            }
        }
    }
    type Names<'s> = HashMap<(&'s str, &'s str), Holder<'s>>;
    fn claim<'s>(
        cx: &mut Ctx<'_>,
        relations: &mut Names<'s>,
        key: (&'s str, &'s str),
        what: Holder<'s>,
        pos: Pos,
    ) {
        match relations.get(&key) {
            Some(prev) => cx.err(
                Code::E0061,
                pos,
                format!("{what} is named `{}`, like {prev}", key.1),
                "PostgreSQL needs distinct names here: set another name with `name:`",
            ),
            None => {
                relations.insert(key, what);
            }
        }
    }
    let mut relations: Names<'_> = HashMap::new();
    let rel = &mut relations;
    for e in &schema.enums {
        claim(
            cx,
            rel,
            (&e.schema, &e.name),
            Holder::Enum(&e.graphql_name),
            pos_of_type(&e.graphql_name),
        );
    }
    for t in &schema.tables {
        let pos = pos_of_type(&t.graphql_name);
        claim(cx, rel, (&t.schema, &t.name), Holder::Table(&t.name), pos);
        if let Some(pk) = &t.primary_key {
            claim(
                cx,
                rel,
                (&t.schema, &pk.name),
                Holder::PrimaryKey(&t.name),
                pos,
            );
        }
        for u in &t.uniques {
            claim(cx, rel, (&t.schema, &u.name), Holder::Unique(&t.name), pos);
        }
        for i in &t.indexes {
            claim(cx, rel, (&t.schema, &i.name), Holder::Index(&t.name), pos);
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
