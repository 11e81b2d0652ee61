//! A generic seeder: SQL that inserts sample rows into every table of a model, respecting
//! foreign keys, unique columns and column types, so plans are applied to tables that
//! have data.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use wesley_planner::model::{Schema, Table};
use wesley_planner::sql::{ident, literal, qualified};
use wesley_planner::types::BaseType;

/// Tables in an order where referenced tables come first (self references ignored).
/// Tables that reference each other in a cycle come together, in schema order: their
/// nullable foreign keys stay NULL where the referenced rows do not exist yet.
fn fk_order(schema: &Schema) -> Vec<&Table> {
    // An edge from each table to the tables it references; Tarjan's algorithm returns the
    // strongly connected components referenced-first (reverse topological order).
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..schema.tables.len()).map(|i| g.add_node(i)).collect();
    for (i, t) in schema.tables.iter().enumerate() {
        for f in &t.foreign_keys {
            let target = schema
                .tables
                .iter()
                .position(|o| o.schema == f.ref_schema && o.name == f.ref_table);
            if let Some(j) = target.filter(|&j| j != i) {
                g.update_edge(nodes[i], nodes[j], ());
            }
        }
    }
    tarjan_scc(&g)
        .into_iter()
        .flat_map(|mut scc| {
            scc.sort_by_key(|n| g[*n]);
            scc
        })
        .map(|n| &schema.tables[g[n]])
        .collect()
}

fn value(schema: &Schema, base: &BaseType) -> String {
    match base {
        BaseType::SmallInt | BaseType::Integer | BaseType::BigInt | BaseType::Numeric { .. } => {
            "g".into()
        }
        BaseType::Real | BaseType::Double => "g + 0.5".into(),
        BaseType::Money => "g::money".into(),
        BaseType::Text | BaseType::Citext => "'v' || g".into(),
        BaseType::Varchar { length } | BaseType::Char { length } => match length {
            Some(n) => format!("left('v' || g, {n})"),
            None => "'v' || g".into(),
        },
        BaseType::Boolean => "g % 2 = 0".into(),
        BaseType::Uuid => "gen_random_uuid()".into(),
        BaseType::Date => "date '2024-01-01' + g".into(),
        BaseType::Time { .. } | BaseType::TimeTz { .. } => {
            "time '00:00' + g * interval '1 minute'".into()
        }
        BaseType::Timestamp { .. } | BaseType::TimestampTz { .. } => {
            "timestamp '2024-01-01' + g * interval '1 minute'".into()
        }
        BaseType::Interval { .. } => "g * interval '1 second'".into(),
        BaseType::Bit { length } => format!("(g % 2)::bit({})", length.unwrap_or(1)),
        BaseType::VarBit { length } => format!(
            "substr(((g % 256)::bit(8))::text, 1, {})::varbit",
            length.unwrap_or(8).min(8)
        ),
        BaseType::Json | BaseType::Jsonb => "jsonb_build_object('n', g)".into(),
        BaseType::Bytea => "decode(lpad(to_hex(g), 2, '0'), 'hex')".into(),
        BaseType::Inet | BaseType::Cidr => "('10.0.0.' || (g % 250))::inet".into(),
        BaseType::MacAddr => "'08:00:2b:01:02:03'::macaddr".into(),
        BaseType::TsVector => "to_tsvector('v' || g)".into(),
        BaseType::Xml => "xmlelement(name v, g)".into(),
        BaseType::Enum { schema: s, name } => {
            let first = schema
                .enum_type(s, name)
                .and_then(|e| e.values.first().cloned())
                .unwrap_or_default();
            format!("{}::{}", literal(&first), qualified(s, name))
        }
    }
}

/// `INSERT ... SELECT ... FROM generate_series(1, rows)` for every table.
pub fn seed_sql(schema: &Schema, rows: usize) -> String {
    let mut out = String::new();
    for t in fk_order(schema) {
        // The primary key's value is computed once per row, so that a self-referencing
        // foreign key can point a row at itself (valid even when the column is NOT NULL).
        let pk = t
            .primary_key
            .as_ref()
            .filter(|k| k.columns.len() == 1)
            .map(|k| k.columns[0].clone());
        let mut self_key = "NULL".to_string();
        let mut cols = Vec::new();
        let mut exprs = Vec::new();
        let mut joins = String::new();
        // A foreign key over several columns to another table: one join that pairs row
        // `g` with a referenced row, each column taking its part (to its own table: NULL).
        for (k, f) in t.foreign_keys.iter().enumerate() {
            if f.columns.len() < 2 || (f.ref_schema == t.schema && f.ref_table == t.name) {
                continue;
            }
            let parts: Vec<String> = f
                .ref_columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} AS v{i}", ident(c)))
                .collect();
            let order: Vec<String> = f.ref_columns.iter().map(|c| ident(c)).collect();
            joins.push_str(&format!(
                " LEFT JOIN (SELECT {}, row_number() OVER (ORDER BY {}) AS n FROM {}) f{k} ON f{k}.n = base.g",
                parts.join(", "),
                order.join(", "),
                qualified(&f.ref_schema, &f.ref_table)
            ));
        }
        for (k, c) in t.columns.iter().enumerate() {
            // PostgreSQL computes a generated column and refuses any other value.
            if c.generated.is_some() {
                continue;
            }
            let fk = t
                .foreign_keys
                .iter()
                .find(|f| f.columns == [c.name.clone()]);
            let part = t.foreign_keys.iter().enumerate().find_map(|(j, f)| {
                let i = f.columns.iter().position(|x| *x == c.name)?;
                (f.columns.len() > 1).then_some((j, i, f))
            });
            let expr = if c.ty.array {
                "'{}'".to_string()
            } else if let Some((j, i, f)) = part {
                if f.ref_schema == t.schema && f.ref_table == t.name {
                    "NULL".to_string()
                } else {
                    format!("f{j}.v{i}")
                }
            } else if pk.as_deref() == Some(c.name.as_str()) {
                self_key = value(schema, &c.ty.base);
                "base.wesley_self".to_string()
            } else if let Some(f) = fk {
                if f.ref_schema == t.schema && f.ref_table == t.name {
                    if pk.as_deref() == Some(f.ref_columns[0].as_str()) {
                        "base.wesley_self".to_string()
                    } else {
                        "NULL".to_string()
                    }
                } else {
                    let alias = format!("r{k}");
                    joins.push_str(&format!(
                        " LEFT JOIN (SELECT {col} AS v, row_number() OVER (ORDER BY {col}) AS n FROM {tbl}) {alias} ON {alias}.n = base.g",
                        col = ident(&f.ref_columns[0]),
                        tbl = qualified(&f.ref_schema, &f.ref_table)
                    ));
                    format!("{alias}.v")
                }
            } else {
                value(schema, &c.ty.base)
            };
            cols.push(ident(&c.name));
            exprs.push(expr);
        }
        // Every column gets a value, identity columns too: `GENERATED ALWAYS` ones only
        // take it with `OVERRIDING SYSTEM VALUE`.
        let overriding = if t
            .columns
            .iter()
            .any(|c| c.identity.is_some_and(|i| i.always))
        {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        out.push_str(&format!(
            "INSERT INTO {} ({}){overriding} SELECT {} FROM (SELECT g, {self_key} AS wesley_self FROM generate_series(1, {rows}) g) base{joins};\n",
            t.qualified(),
            cols.join(", "),
            exprs.join(", ")
        ));
        // The sequences of identity and serial columns move past the values just
        // inserted, so that later inserts that leave the column out do not collide.
        for c in &t.columns {
            let ascending = c.identity.map_or(c.serial.is_some(), |i| i.increment > 0);
            if ascending && !c.ty.array {
                out.push_str(&format!(
                    "SELECT setval(pg_get_serial_sequence({}, {}), GREATEST((SELECT max({}) FROM {}), 1));\n",
                    literal(&t.qualified()),
                    literal(&c.name),
                    ident(&c.name),
                    t.qualified()
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<String> {
        let (schema, diags) = wesley_planner::sdl::parse("t.graphql", src);
        let schema = schema.unwrap_or_else(|| panic!("{diags:#?}"));
        fk_order(&schema).iter().map(|t| t.name.clone()).collect()
    }

    #[test]
    fn referenced_tables_first_and_cycles_together() {
        let order = names(
            r#"
            type C @wes_table { id: ID! @wes_pk  bId: ID @wes_fk(ref: "B.id") }
            type X @wes_table { id: ID! @wes_pk  yId: ID @wes_fk(ref: "Y.id") }
            type B @wes_table { id: ID! @wes_pk  aId: ID @wes_fk(ref: "A.id")  parentId: ID @wes_fk(ref: "B.id") }
            type Y @wes_table { id: ID! @wes_pk  xId: ID @wes_fk(ref: "X.id") }
            type A @wes_table { id: ID! @wes_pk }
            "#,
        );
        let at = |n: &str| order.iter().position(|o| o == n).unwrap();
        assert_eq!(order.len(), 5, "{order:?}");
        assert!(at("a") < at("b") && at("b") < at("c"), "{order:?}");
        assert_eq!(at("x").abs_diff(at("y")), 1, "{order:?}");
        assert!(at("x") < at("y"), "a cycle keeps schema order: {order:?}");
    }
}
