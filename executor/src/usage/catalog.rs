//! The tables and columns statements are resolved against: from a schema file's model
//! (`wesley usage --schema`) or from a live catalog as a run reads it (`wesley apply`, which
//! has just checked that the database is the schema its plan starts from).

use crate::apply::drift::Live;
use std::collections::BTreeMap;
use wesley_planner::model::Schema;

/// A table by schema and name, both as PostgreSQL stores them (case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName {
    /// The schema.
    pub schema: String,
    /// The table.
    pub name: String,
}

impl TableName {
    /// A name from its two parts.
    pub fn new(schema: &str, name: &str) -> TableName {
        TableName {
            schema: schema.to_string(),
            name: name.to_string(),
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// Every table's columns, in the table's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    tables: BTreeMap<TableName, Vec<String>>,
    /// Schemas an unqualified table name is looked up in, in order (PostgreSQL's default
    /// `search_path` reaches `public`).
    search_path: Vec<String>,
}

impl Catalog {
    /// A catalog of tables and their columns (names as PostgreSQL stores them).
    pub fn new(tables: impl IntoIterator<Item = (TableName, Vec<String>)>) -> Catalog {
        Catalog {
            tables: tables.into_iter().collect(),
            search_path: vec!["public".to_string()],
        }
    }

    /// The tables of a schema file's model.
    pub fn from_model(schema: &Schema) -> Catalog {
        Catalog::new(schema.tables.iter().map(|t| {
            (
                TableName::new(&t.schema, &t.name),
                t.columns.iter().map(|c| c.name.clone()).collect(),
            )
        }))
    }

    /// The tables of a live catalog as a run reads it (`schema.table` names; schema names
    /// hold no dot).
    pub fn from_live(live: &Live) -> Catalog {
        Catalog::new(live.tables().iter().map(|t| {
            let (s, n) = t.name.split_once('.').unwrap_or(("public", &t.name));
            (TableName::new(s, n), t.columns.clone())
        }))
    }

    /// Every table and its columns.
    pub fn tables(&self) -> impl Iterator<Item = (&TableName, &Vec<String>)> {
        self.tables.iter()
    }

    /// The columns of `t`, if it is in the catalog.
    pub fn columns(&self, t: &TableName) -> Option<&[String]> {
        self.tables.get(t).map(Vec::as_slice)
    }

    /// Whether `t` has a column named exactly `column`.
    pub fn has_column(&self, t: &TableName, column: &str) -> bool {
        self.columns(t)
            .is_some_and(|c| c.iter().any(|n| n == column))
    }

    /// The tables a name in a FROM clause can mean. Qualified: that table, if the schema
    /// has it. Unqualified: the first schema of the search path that has it, else every
    /// schema's table of that name (a statement sent with another `search_path`: each is
    /// counted as reached, the safe direction for a check before a drop).
    pub fn lookup(&self, schema: Option<&str>, name: &str) -> Vec<TableName> {
        if let Some(s) = schema {
            let t = TableName::new(s, name);
            return if self.tables.contains_key(&t) {
                vec![t]
            } else {
                vec![]
            };
        }
        for s in &self.search_path {
            let t = TableName::new(s, name);
            if self.tables.contains_key(&t) {
                return vec![t];
            }
        }
        self.tables
            .keys()
            .filter(|t| t.name == name)
            .cloned()
            .collect()
    }
}
