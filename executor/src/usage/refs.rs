//! What one statement reaches: the tables and columns it names, and the tables whose
//! every column a `*` reaches. Statements are parsed by libpg_query (PostgreSQL's own
//! grammar, through the `pg_query` crate), which also accepts the `$n` placeholders
//! pg_stat_statements leaves where constants were (`interval $1`); names are then
//! resolved against a [`Catalog`] with PostgreSQL's scoping rules: aliases hide table
//! names, inner queries see outer ones (correlated subqueries, `LATERAL`), CTEs shadow
//! tables, a bare column belongs to the innermost FROM item that has it.
//!
//! The walk goes over the parse tree as JSON (the protobuf tree serialised), so node kinds
//! it does not single out are searched generically: a column reference anywhere in an
//! expression is found even in syntax added after this was written.
//!
//! Errors lean towards "referenced": a bare name that matches a column of a table in
//! scope counts for that table even when PostgreSQL might have bound it elsewhere (an
//! inner derived table whose columns are unknown); a table name that several schemas have
//! counts for each.

use super::catalog::{Catalog, TableName};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What a statement is, for reports: application reads and writes count as use; DDL,
/// session and maintenance commands do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// SELECT, INSERT, UPDATE, DELETE, MERGE, COPY, TABLE, VALUES, TRUNCATE, LOCK, a
    /// cursor, EXPLAIN of one of them.
    Use,
    /// Anything else: DDL, SET/SHOW, transaction control, VACUUM/ANALYZE...
    Other,
}

/// The references of one statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refs {
    /// Columns named explicitly.
    pub columns: BTreeSet<(TableName, String)>,
    /// Every table the statement reads, writes or locks.
    pub tables: BTreeSet<TableName>,
    /// Tables whose every column a `*`, a whole-row reference (`row_to_json(t)`), an
    /// `INSERT` or `COPY` without a column list, or `TABLE t` reaches.
    pub stars: BTreeSet<TableName>,
}

/// The outcome of parsing one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A statement libpg_query parsed.
    Statement {
        /// Reads and writes of tables, or other commands.
        kind: Kind,
        /// The tables and columns it reaches.
        refs: Refs,
    },
    /// libpg_query rejected the text (the message); nothing is known about it.
    Unparsed(String),
}

/// Parses `sql` (one or more statements; pg_stat_statements stores one) and resolves its
/// references against `catalog`.
pub fn analyse(sql: &str, catalog: &Catalog) -> Parsed {
    let tree = match pg_query::parse(sql, 0) {
        Ok(t) => t,
        Err(e) => return Parsed::Unparsed(e.to_string()),
    };
    let json = match serde_json::to_value(&tree.protobuf) {
        Ok(j) => j,
        Err(e) => return Parsed::Unparsed(e.to_string()),
    };
    let mut w = Walker {
        catalog,
        refs: Refs::default(),
        star_log: Vec::new(),
    };
    let mut kind = Kind::Other;
    for raw in json["stmts"].as_array().into_iter().flatten() {
        if w.statement(&raw["stmt"], &Scope::root()) == Kind::Use {
            kind = Kind::Use;
        }
    }
    Parsed::Statement { kind, refs: w.refs }
}

/// The node kind and body of a `{"node": {"Kind": {...}}}` wrapper.
fn node(v: &Value) -> Option<(&str, &Value)> {
    let inner = v.get("node")?.as_object()?;
    inner.iter().next().map(|(k, b)| (k.as_str(), b))
}

fn list(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn string(v: &Value) -> Option<&str> {
    match node(v) {
        Some(("String", s)) => s["sval"].as_str(),
        _ => None,
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// What a FROM item stands for.
#[derive(Debug, Clone)]
enum Source {
    /// A table of the catalog (several when an unqualified name is in several schemas).
    Tables(Vec<TableName>),
    /// A subquery, CTE, function or table not in the catalog, with its column names when
    /// known.
    Other(Option<Vec<String>>),
}

#[derive(Debug, Clone)]
struct Item {
    /// The alias, or the table's own name.
    name: String,
    /// True when `name` is an alias (the table's own name is then hidden).
    aliased: bool,
    /// Tables whose columns a `*` inside this derived item passes through under their own
    /// names (`FROM (SELECT * FROM product) p`: `p.id` names product's `id`).
    through: Vec<TableName>,
    /// The schema when the name is the table's own and was written qualified; matches a
    /// `schema.table.column` reference.
    schema: Option<String>,
    source: Source,
}

/// The FROM items and CTEs one query level sees.
#[derive(Debug, Clone, Default)]
struct Scope<'p> {
    parent: Option<&'p Scope<'p>>,
    items: Vec<Item>,
    /// Each CTE's column names (when known) and the tables its stars pass through.
    ctes: BTreeMap<String, (Option<Vec<String>>, Vec<TableName>)>,
}

impl<'p> Scope<'p> {
    fn root() -> Scope<'static> {
        Scope::default()
    }

    fn child(&'p self) -> Scope<'p> {
        Scope {
            parent: Some(self),
            items: Vec::new(),
            ctes: BTreeMap::new(),
        }
    }

    fn cte(&self, name: &str) -> Option<&(Option<Vec<String>>, Vec<TableName>)> {
        self.ctes
            .get(name)
            .or_else(|| self.parent.and_then(|p| p.cte(name)))
    }
}

struct Walker<'c> {
    catalog: &'c Catalog,
    refs: Refs,
    /// Every star in walk order, so a subquery's can be told apart.
    star_log: Vec<TableName>,
}

impl Walker<'_> {
    /// One statement node; returns its kind.
    fn statement(&mut self, stmt: &Value, scope: &Scope<'_>) -> Kind {
        let Some((kind, body)) = node(stmt) else {
            return Kind::Other;
        };
        match kind {
            "SelectStmt" => {
                self.select(body, scope);
                Kind::Use
            }
            "InsertStmt" => {
                self.insert(body, scope);
                Kind::Use
            }
            "UpdateStmt" => {
                self.update(body, scope);
                Kind::Use
            }
            "DeleteStmt" => {
                self.delete(body, scope);
                Kind::Use
            }
            "MergeStmt" => {
                self.merge(body, scope);
                Kind::Use
            }
            "CopyStmt" => {
                if body["relation"].is_object() {
                    let tables = self.target(&body["relation"], scope);
                    let cols: Vec<&str> = list(&body["attlist"]).filter_map(string).collect();
                    self.columns_of(&tables, &cols);
                }
                if !body["query"].is_null() {
                    self.statement(&body["query"], scope);
                }
                Kind::Use
            }
            "TruncateStmt" | "LockStmt" => {
                for r in list(&body["relations"]) {
                    if let Some(("RangeVar", rv)) = node(r) {
                        self.target(rv, scope);
                    }
                }
                Kind::Use
            }
            "ExplainStmt" | "DeclareCursorStmt" => {
                self.statement(&body["query"], scope);
                Kind::Use
            }
            "CreateTableAsStmt" => {
                self.statement(&body["query"], scope);
                Kind::Use
            }
            _ => Kind::Other,
        }
    }

    /// Marks every column of `tables` as reached (a `*`).
    fn star(&mut self, tables: &[TableName]) {
        self.refs.stars.extend(tables.iter().cloned());
        self.star_log.extend(tables.iter().cloned());
    }

    /// Walks a subquery; returns the tables stars inside it reached.
    fn derived(&mut self, q: &Value, scope: &Scope<'_>) -> Vec<TableName> {
        let before = self.star_log.len();
        self.statement(q, scope);
        let mut t = self.star_log.split_off(before);
        t.sort();
        t.dedup();
        self.star_log.extend(t.iter().cloned());
        t
    }

    /// The named columns of the tables (an empty list: all of them, as a column-less
    /// INSERT or COPY).
    fn columns_of(&mut self, tables: &[TableName], cols: &[&str]) {
        if cols.is_empty() {
            self.star(tables);
        }
        for t in tables {
            for c in cols {
                if self.catalog.has_column(t, c) {
                    self.refs.columns.insert((t.clone(), c.to_string()));
                }
            }
        }
    }

    /// The table of an INSERT/UPDATE/DELETE/MERGE/COPY (a bare RangeVar), recorded.
    fn target(&mut self, rv: &Value, _scope: &Scope<'_>) -> Vec<TableName> {
        let schema = text(&rv["schemaname"]);
        let tables = self
            .catalog
            .lookup((!schema.is_empty()).then_some(schema), text(&rv["relname"]));
        self.refs.tables.extend(tables.iter().cloned());
        tables
    }

    /// The FROM item of a RangeVar (a table or a CTE).
    fn range_var(&mut self, rv: &Value, scope: &Scope<'_>) -> Item {
        let schema = text(&rv["schemaname"]);
        let rel = text(&rv["relname"]).to_string();
        let alias = text(&rv["alias"]["aliasname"]);
        let alias_cols: Vec<String> = list(&rv["alias"]["colnames"])
            .filter_map(string)
            .map(str::to_string)
            .collect();
        let name = if alias.is_empty() {
            rel.clone()
        } else {
            alias.to_string()
        };
        if schema.is_empty() {
            if let Some((cols, through)) = scope.cte(&rel) {
                let cols = if alias_cols.is_empty() {
                    cols.clone()
                } else {
                    Some(alias_cols)
                };
                return Item {
                    name,
                    aliased: !alias.is_empty(),
                    through: through.clone(),
                    schema: None,
                    source: Source::Other(cols),
                };
            }
        }
        let tables = self
            .catalog
            .lookup((!schema.is_empty()).then_some(schema), &rel);
        self.refs.tables.extend(tables.iter().cloned());
        Item {
            name,
            aliased: !alias.is_empty(),
            through: Vec::new(),
            schema: (alias.is_empty() && !schema.is_empty()).then(|| schema.to_string()),
            source: if tables.is_empty() {
                Source::Other(None)
            } else {
                Source::Tables(tables)
            },
        }
    }

    /// Adds the items of one FROM entry to `scope` (a join adds both sides).
    fn add_from_item(&mut self, v: &Value, scope: &mut Scope<'_>) {
        let Some((kind, body)) = node(v) else {
            return;
        };
        match kind {
            "RangeVar" => {
                let item = self.range_var(body, scope);
                scope.items.push(item);
            }
            "JoinExpr" => {
                self.add_from_item(&body["larg"], scope);
                let left = scope.items.len();
                self.add_from_item(&body["rarg"], scope);
                let using: Vec<String> = list(&body["using_clause"])
                    .filter_map(string)
                    .map(str::to_string)
                    .collect();
                if body["is_natural"].as_bool() == Some(true) {
                    // The columns both sides have.
                    let names = |items: &[Item]| -> BTreeSet<String> {
                        items
                            .iter()
                            .flat_map(|i| self.item_columns(i).unwrap_or_default())
                            .collect()
                    };
                    let common: Vec<String> = names(&scope.items[..left])
                        .intersection(&names(&scope.items[left..]))
                        .cloned()
                        .collect();
                    self.use_columns(&scope.items, &common);
                } else {
                    self.use_columns(&scope.items, &using);
                }
                if !body["quals"].is_null() {
                    self.expr(&body["quals"], scope);
                }
            }
            "RangeSubselect" => {
                let (cols, through) = {
                    let lateral = body["lateral"].as_bool() == Some(true);
                    let outer = if lateral {
                        scope.clone()
                    } else {
                        Scope {
                            parent: scope.parent,
                            items: Vec::new(),
                            ctes: scope.ctes.clone(),
                        }
                    };
                    let through = self.derived(&body["subquery"], &outer);
                    (self.output_names(&body["subquery"]), through)
                };
                scope.items.push(Item {
                    name: text(&body["alias"]["aliasname"]).to_string(),
                    aliased: true,
                    through,
                    schema: None,
                    source: Source::Other(alias_columns(&body["alias"]).or(cols)),
                });
            }
            "RangeFunction" => {
                for f in list(&body["functions"]) {
                    if let Some(("List", l)) = node(f) {
                        for e in list(&l["items"]) {
                            self.expr(e, scope);
                        }
                    }
                }
                let alias = text(&body["alias"]["aliasname"]).to_string();
                let cols = alias_columns(&body["alias"]).unwrap_or_else(|| vec![alias.clone()]);
                scope.items.push(Item {
                    name: alias,
                    aliased: true,
                    through: Vec::new(),
                    schema: None,
                    source: Source::Other(Some(cols)),
                });
            }
            _ => {
                // Table functions, XMLTABLE, JSON_TABLE...: expressions in scope, columns unknown.
                self.expr(v, scope);
                scope.items.push(Item {
                    name: text(&body["alias"]["aliasname"]).to_string(),
                    aliased: true,
                    through: Vec::new(),
                    schema: None,
                    source: Source::Other(None),
                });
            }
        }
    }

    fn item_columns(&self, item: &Item) -> Option<Vec<String>> {
        match &item.source {
            Source::Tables(ts) => Some(
                ts.iter()
                    .flat_map(|t| self.catalog.columns(t).unwrap_or_default().to_vec())
                    .collect(),
            ),
            Source::Other(cols) => cols.clone(),
        }
    }

    /// Bare column names (USING, NATURAL) used from whichever items have them.
    fn use_columns(&mut self, items: &[Item], names: &[String]) {
        for n in names {
            for i in items {
                if let Source::Tables(ts) = &i.source {
                    for t in ts {
                        if self.catalog.has_column(t, n) {
                            self.refs.columns.insert((t.clone(), n.clone()));
                        }
                    }
                }
            }
        }
    }

    /// A WITH clause: each CTE's query is walked (a recursive one sees itself), and its
    /// name shadows tables for the rest of the statement.
    fn with(&mut self, with: &Value, scope: &mut Scope<'_>) {
        let recursive = with["recursive"].as_bool() == Some(true);
        for cte in list(&with["ctes"]) {
            let Some(("CommonTableExpr", c)) = node(cte) else {
                continue;
            };
            let name = text(&c["ctename"]).to_string();
            let alias_cols: Vec<String> = list(&c["aliascolnames"])
                .filter_map(string)
                .map(str::to_string)
                .collect();
            if recursive {
                let cols = (!alias_cols.is_empty()).then(|| alias_cols.clone());
                scope.ctes.insert(name.clone(), (cols, Vec::new()));
            }
            let through = self.derived(&c["ctequery"], scope);
            let cols = if alias_cols.is_empty() {
                self.output_names(&c["ctequery"])
            } else {
                Some(alias_cols)
            };
            scope.ctes.insert(name, (cols, through));
        }
    }

    fn select(&mut self, s: &Value, outer: &Scope<'_>) {
        let mut scope = outer.child();
        if s["with_clause"].is_object() {
            self.with(&s["with_clause"], &mut scope);
        }
        if s["larg"].is_object() {
            // The arms are SelectStmt bodies (not wrapped in a node).
            self.select(&s["larg"], &scope);
            self.select(&s["rarg"], &scope);
            // ORDER BY and LIMIT of a set operation name its output columns.
            self.expr(&s["sort_clause"], &scope);
            return;
        }
        for v in list(&s["values_lists"]) {
            self.expr(v, &scope);
        }
        for f in list(&s["from_clause"]) {
            self.add_from_item(f, &mut scope);
        }
        for key in [
            "target_list",
            "distinct_clause",
            "where_clause",
            "group_clause",
            "having_clause",
            "window_clause",
            "sort_clause",
            "limit_offset",
            "limit_count",
        ] {
            self.expr(&s[key], &scope);
        }
    }

    fn returning(&mut self, s: &Value, scope: &Scope<'_>) {
        // PostgreSQL 18's grammar wraps the list (`returning_clause.exprs`); older
        // libpg_query versions had `returning_list`.
        self.exprs(&s["returning_clause"]["exprs"], scope);
        self.exprs(&s["returning_list"], scope);
    }

    fn target_item(&mut self, rv: &Value, scope: &Scope<'_>) -> (Vec<TableName>, Item) {
        let tables = self.target(rv, scope);
        let schema = text(&rv["schemaname"]);
        let alias = text(&rv["alias"]["aliasname"]);
        let item = Item {
            name: if alias.is_empty() {
                text(&rv["relname"]).to_string()
            } else {
                alias.to_string()
            },
            aliased: !alias.is_empty(),
            through: Vec::new(),
            schema: (alias.is_empty() && !schema.is_empty()).then(|| schema.to_string()),
            source: if tables.is_empty() {
                Source::Other(None)
            } else {
                Source::Tables(tables.clone())
            },
        };
        (tables, item)
    }

    /// Names of SET / INSERT column lists: `ResTarget.name`.
    fn set_names(list_v: &Value) -> Vec<String> {
        list(list_v)
            .filter_map(|t| match node(t) {
                Some(("ResTarget", r)) => Some(text(&r["name"]).to_string()),
                _ => None,
            })
            .filter(|n| !n.is_empty())
            .collect()
    }

    fn insert(&mut self, s: &Value, outer: &Scope<'_>) {
        let mut scope = outer.child();
        if s["with_clause"].is_object() {
            self.with(&s["with_clause"], &mut scope);
        }
        let (tables, item) = self.target_item(&s["relation"], &scope);
        let cols = Self::set_names(&s["cols"]);
        let cols_ref: Vec<&str> = cols.iter().map(String::as_str).collect();
        if s["select_stmt"].is_null() {
            // DEFAULT VALUES: no column is named.
        } else {
            self.columns_of(&tables, &cols_ref);
            self.statement(&s["select_stmt"], &scope);
        }
        let mut target = scope.child();
        target.items.push(item.clone());
        let oc = &s["on_conflict_clause"];
        if oc.is_object() {
            // `excluded` is the row proposed for insertion: the target's columns.
            target.items.push(Item {
                name: "excluded".into(),
                aliased: true,
                through: Vec::new(),
                schema: None,
                source: item.source.clone(),
            });
            for e in list(&oc["infer"]["index_elems"]) {
                if let Some(("IndexElem", ie)) = node(e) {
                    let n = text(&ie["name"]);
                    if n.is_empty() {
                        self.expr(&ie["expr"], &target);
                    } else {
                        self.columns_of(&tables, &[n]);
                    }
                }
            }
            self.expr(&oc["infer"]["where_clause"], &target);
            let set = Self::set_names(&oc["target_list"]);
            let set_ref: Vec<&str> = set.iter().map(String::as_str).collect();
            if !set_ref.is_empty() {
                self.columns_of(&tables, &set_ref);
            }
            self.exprs(&oc["target_list"], &target);
            self.expr(&oc["where_clause"], &target);
        }
        self.returning(s, &target);
    }

    fn update(&mut self, s: &Value, outer: &Scope<'_>) {
        let mut scope = outer.child();
        if s["with_clause"].is_object() {
            self.with(&s["with_clause"], &mut scope);
        }
        let (tables, item) = self.target_item(&s["relation"], &scope);
        scope.items.push(item);
        for f in list(&s["from_clause"]) {
            self.add_from_item(f, &mut scope);
        }
        let set = Self::set_names(&s["target_list"]);
        let set_ref: Vec<&str> = set.iter().map(String::as_str).collect();
        if !set_ref.is_empty() {
            self.columns_of(&tables, &set_ref);
        }
        self.exprs(&s["target_list"], &scope);
        self.expr(&s["where_clause"], &scope);
        self.returning(s, &scope);
    }

    fn delete(&mut self, s: &Value, outer: &Scope<'_>) {
        let mut scope = outer.child();
        if s["with_clause"].is_object() {
            self.with(&s["with_clause"], &mut scope);
        }
        let (_, item) = self.target_item(&s["relation"], &scope);
        scope.items.push(item);
        for f in list(&s["using_clause"]) {
            self.add_from_item(f, &mut scope);
        }
        self.expr(&s["where_clause"], &scope);
        self.returning(s, &scope);
    }

    fn merge(&mut self, s: &Value, outer: &Scope<'_>) {
        let mut scope = outer.child();
        if s["with_clause"].is_object() {
            self.with(&s["with_clause"], &mut scope);
        }
        let (tables, item) = self.target_item(&s["relation"], &scope);
        scope.items.push(item);
        self.add_from_item(&s["source_relation"], &mut scope);
        self.expr(&s["join_condition"], &scope);
        for w in list(&s["merge_when_clauses"]) {
            let Some(("MergeWhenClause", m)) = node(w) else {
                continue;
            };
            let set = Self::set_names(&m["target_list"]);
            let set_ref: Vec<&str> = set.iter().map(String::as_str).collect();
            // INSERT without a column list fills every column.
            if m["command_type"].as_i64() == Some(CMD_INSERT) || !set_ref.is_empty() {
                self.columns_of(&tables, &set_ref);
            }
            self.expr(&m["condition"], &scope);
            self.exprs(&m["target_list"], &scope);
            self.exprs(&m["values"], &scope);
        }
        self.returning(s, &scope);
    }

    /// Output column names of a query, when they can be told from its text.
    fn output_names(&self, q: &Value) -> Option<Vec<String>> {
        let (kind, s) = node(q)?;
        if kind != "SelectStmt" {
            return None;
        }
        if s["larg"].is_object() {
            let larg = serde_json::json!({ "node": { "SelectStmt": s["larg"] } });
            return self.output_names(&larg);
        }
        let mut out = Vec::new();
        for t in list(&s["target_list"]) {
            let (_, r) = node(t)?;
            let name = text(&r["name"]);
            if !name.is_empty() {
                out.push(name.to_string());
                continue;
            }
            match node(&r["val"]) {
                Some(("ColumnRef", c)) => {
                    let fields: Vec<&Value> = list(&c["fields"]).collect();
                    match fields.last().and_then(|f| node(f)) {
                        Some(("String", v)) => out.push(text(&v["sval"]).to_string()),
                        // A star: the columns are those of the tables it covers.
                        _ => return None,
                    }
                }
                Some(("FuncCall", f)) => {
                    let n = list(&f["funcname"]).filter_map(string).last()?;
                    out.push(n.to_string());
                }
                _ => out.push("?column?".into()),
            }
        }
        Some(out)
    }

    fn exprs(&mut self, v: &Value, scope: &Scope<'_>) {
        for e in list(v) {
            self.expr(e, scope);
        }
    }

    /// Any expression tree: column references resolved, subqueries walked in a scope of
    /// their own, everything else searched.
    fn expr(&mut self, v: &Value, scope: &Scope<'_>) {
        match v {
            Value::Array(a) => {
                for x in a {
                    self.expr(x, scope);
                }
            }
            Value::Object(o) => {
                if let Some((kind, body)) = node(v) {
                    match kind {
                        "ColumnRef" => return self.column_ref(body, scope),
                        "SubLink" => {
                            self.expr(&body["testexpr"], scope);
                            self.statement(&body["subselect"], scope);
                            return;
                        }
                        "SelectStmt" | "InsertStmt" | "UpdateStmt" | "DeleteStmt" | "MergeStmt" => {
                            self.statement(v, scope);
                            return;
                        }
                        _ => {}
                    }
                }
                for x in o.values() {
                    self.expr(x, scope);
                }
            }
            _ => {}
        }
    }

    fn column_ref(&mut self, c: &Value, scope: &Scope<'_>) {
        let mut names: Vec<&str> = Vec::new();
        let mut star = false;
        for f in list(&c["fields"]) {
            match node(f) {
                Some(("String", s)) => names.push(text(&s["sval"])),
                Some(("AStar", _)) => star = true,
                _ => {}
            }
        }
        if star {
            match names.as_slice() {
                [] => {
                    // `*`: every item of the innermost level.
                    let tables: Vec<TableName> = scope
                        .items
                        .iter()
                        .filter_map(|i| match &i.source {
                            Source::Tables(t) => Some(t.clone()),
                            _ => None,
                        })
                        .flatten()
                        .collect();
                    self.star(&tables);
                }
                qual => {
                    if let Some(Source::Tables(t)) = find_item(scope, qual).map(|i| &i.source) {
                        let t = t.clone();
                        self.star(&t);
                    }
                }
            }
            return;
        }
        let Some((&column, qual)) = names.split_last() else {
            return;
        };
        if qual.is_empty() {
            self.bare(column, scope);
            return;
        }
        match find_item(scope, qual) {
            Some(item) => {
                let ts = match &item.source {
                    Source::Tables(ts) => ts.clone(),
                    Source::Other(_) => item.through.clone(),
                };
                for t in ts {
                    if self.catalog.has_column(&t, column) {
                        self.refs.columns.insert((t, column.to_string()));
                    }
                }
            }
            None => {
                // `(composite).field` or `table.column.field`: try one level shorter.
                if qual.len() > 1 {
                    if let Some(Source::Tables(ts)) =
                        find_item(scope, &qual[..qual.len() - 1]).map(|i| &i.source)
                    {
                        let ts = ts.clone();
                        let c = qual[qual.len() - 1];
                        for t in ts {
                            if self.catalog.has_column(&t, c) {
                                self.refs.columns.insert((t, c.to_string()));
                            }
                        }
                    }
                }
            }
        }
    }

    /// A bare name: the innermost level whose items have such a column; else a whole-row
    /// reference to an item of that name (`row_to_json(t)`); else nothing we know
    /// (an output alias in ORDER BY, a column of a table outside the catalog).
    fn bare(&mut self, column: &str, scope: &Scope<'_>) {
        let mut level = Some(scope);
        while let Some(s) = level {
            let mut found = false;
            for item in &s.items {
                match &item.source {
                    Source::Tables(ts) => {
                        for t in ts {
                            if self.catalog.has_column(t, column) {
                                self.refs.columns.insert((t.clone(), column.to_string()));
                                found = true;
                            }
                        }
                    }
                    Source::Other(cols) => {
                        if cols.as_ref().is_some_and(|c| c.iter().any(|c| c == column)) {
                            found = true;
                        }
                        for t in &item.through {
                            if self.catalog.has_column(t, column) {
                                self.refs.columns.insert((t.clone(), column.to_string()));
                                found = true;
                            }
                        }
                    }
                }
            }
            if found {
                return;
            }
            level = s.parent;
        }
        if let Some(Source::Tables(ts)) = find_item(scope, &[column]).map(|i| &i.source) {
            let ts = ts.clone();
            self.star(&ts);
        }
    }
}

/// `MergeWhenClause.command_type` of an INSERT (protobuf `CmdType`).
const CMD_INSERT: i64 = 4;

fn alias_columns(alias: &Value) -> Option<Vec<String>> {
    let cols: Vec<String> = list(&alias["colnames"])
        .filter_map(string)
        .map(str::to_string)
        .collect();
    (!cols.is_empty()).then_some(cols)
}

/// The FROM item a qualifier names, innermost level first: `alias`, `table`, or
/// `schema.table` (of an unaliased item written with its schema, or any unaliased table).
fn find_item<'s>(scope: &'s Scope<'_>, qual: &[&str]) -> Option<&'s Item> {
    let mut level = Some(scope);
    while let Some(s) = level {
        for item in &s.items {
            let hit = match qual {
                [n] => item.name == *n,
                [sch, n] => {
                    item.name == *n
                        && !item.aliased
                        && match (&item.schema, &item.source) {
                            (Some(s2), _) => s2 == sch,
                            (None, Source::Tables(ts)) => ts.iter().any(|t| t.schema == *sch),
                            _ => false,
                        }
                }
                [_, sch, n] => {
                    item.name == *n
                        && !item.aliased
                        && item.schema.as_deref().is_none_or(|s| s == *sch)
                }
                _ => false,
            };
            if hit {
                return Some(item);
            }
        }
        level = s.parent;
    }
    None
}
