//! Row-level security: `@wes_rls` policies, `@wes_tenant` and `@wes_owner` (E0060 unknown
//! column, W0105 enabled without a policy), role lists, and the tables policy texts read
//! (E0062, with a "did you mean").

use super::arguments::{bool_arg, resolve_column, str_arg, string_list_arg};
use super::Draft;
use super::{p, Ctx, Obj};
use crate::diag::Code;
use crate::expr;
use crate::model::*;
use crate::naming::{self, derived_name};
use crate::sdl::directives::{arg, canonical_directive, Dir, DirectiveKind as K};
use crate::sdl::locate;
use crate::sql;
use graphql_parser::schema::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A list of role names. `public` (any case) means every role and is stored as an empty
/// list; `current_user`-style pseudo-roles are refused, because policies must name roles.
fn role_list(cx: &mut Ctx<'_>, d: &Dir<'_>, name: &str) -> Option<Vec<String>> {
    let list = string_list_arg(cx, d, &[name])?;
    let mut out = Vec::new();
    for r in list {
        let lower = r.to_ascii_lowercase();
        if lower == "public" {
            return Some(Vec::new());
        }
        if matches!(
            lower.as_str(),
            "current_user" | "current_role" | "session_user"
        ) {
            let pos = locate::arg_value(cx.src, p(d.position), name);
            cx.err(
                Code::E0040,
                pos,
                format!("`{r}` is not a role name; policies must name roles"),
                "list the roles the policy applies to, or `public` for every role",
            );
            continue;
        }
        if cx.check_ident(&r, "role", p(d.position)) {
            out.push(r);
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// Row-level security of `table` (type `o`) from its `@wes_rls`, `@wes_tenant` and
/// `@wes_owner` directives: whether it is enabled, and its policies.
pub(super) fn lower_rls(
    cx: &mut Ctx<'_>,
    table: &mut Table,
    o: &Obj<'_>,
    rls: Option<&Dir<'_>>,
    tenant: Option<&Dir<'_>>,
    owner: Option<&Dir<'_>>,
    field_cols: &BTreeMap<String, String>,
) {
    let tname = table.name.clone();
    let mut policies: Vec<Policy> = Vec::new();
    let mut enabled = false;
    let errors_before = cx.diags.iter().filter(|d| d.is_error()).count();
    let explicitly_disabled =
        rls.is_some_and(|d| matches!(arg(d, &["enabled"]), Some((_, Value::Boolean(false)))));
    if let Some(d) = rls {
        enabled = bool_arg(cx, d, &["enabled"]).unwrap_or(true);
        let all_roles = role_list(cx, d, "roles").unwrap_or_default();
        let base = str_arg(cx, d, &["name"]).unwrap_or_else(|| tname.clone());
        let ops = [
            ("select", "selectRoles", PolicyCommand::Select),
            ("insert", "insertRoles", PolicyCommand::Insert),
            ("update", "updateRoles", PolicyCommand::Update),
            ("delete", "deleteRoles", PolicyCommand::Delete),
        ];
        for (argname, roles_arg, cmd) in ops {
            let Some(text) = str_arg(cx, d, &[argname]) else {
                continue;
            };
            if cx
                .sql_fragment(d, argname, &text, true, &format!("the {argname} policy"))
                .is_none()
            {
                continue;
            }
            let roles = role_list(cx, d, roles_arg).unwrap_or_else(|| all_roles.clone());
            let text = text.trim().to_string();
            let (using, check) = match cmd {
                PolicyCommand::Insert => (None, Some(text)),
                PolicyCommand::Update => (Some(text.clone()), Some(text)),
                _ => (Some(text), None),
            };
            policies.push(Policy {
                name: derived_name(&base, &[argname], "policy"),
                command: cmd,
                restrictive: false,
                roles,
                using,
                check,
            });
        }
        let using = str_arg(cx, d, &["using"]);
        let check = str_arg(cx, d, &["check"]);
        if using.is_some() || check.is_some() {
            let u = using.filter(|u| {
                cx.sql_fragment(d, "using", u, true, "the policy's USING")
                    .is_some()
            });
            let c = check.filter(|c| {
                cx.sql_fragment(d, "check", c, true, "the policy's WITH CHECK")
                    .is_some()
            });
            policies.push(Policy {
                name: derived_name(&base, &["all"], "policy"),
                command: PolicyCommand::All,
                restrictive: false,
                roles: all_roles.clone(),
                using: u.map(|s| s.trim().to_string()),
                check: c.map(|s| s.trim().to_string()),
            });
        }
    }
    let setting_policy = |cx: &mut Ctx<'_>,
                          d: &Dir<'_>,
                          args: &[&str],
                          default_setting: &str,
                          suffix: &str|
     -> Option<(String, Policy)> {
        let col_arg = arg(d, args).map(|a| a.0.to_string());
        let Some(col) = str_arg(cx, d, args) else {
            cx.err(
                Code::E0040,
                p(d.position),
                format!("`@{}` needs `{}:` naming a column", d.name, args[0]),
                format!("write `@{}({}: \"org_id\")`", d.name, args[0]),
            );
            return None;
        };
        let Some(cname) = resolve_column(field_cols, &col) else {
            let pos =
                locate::arg_value(cx.src, p(d.position), col_arg.as_deref().unwrap_or(args[0]));
            let known: Vec<&str> = field_cols.keys().map(String::as_str).collect();
            cx.err(
                Code::E0060,
                pos,
                format!(
                    "`@{}` names column `{col}`, which `{}` does not have",
                    d.name, o.name
                ),
                format!("use one of: {}", known.join(", ")),
            );
            return None;
        };
        let setting = str_arg(cx, d, &["setting"]).unwrap_or_else(|| default_setting.to_string());
        let ty = table
            .columns
            .iter()
            .find(|c| c.name == cname)
            .map(|c| c.ty.to_sql())
            .unwrap_or_else(|| "text".into());
        let e = format!(
            "{} = NULLIF(current_setting({}, true), '')::{}",
            sql::ident(&cname),
            sql::literal(&setting),
            ty
        );
        Some((
            cname.clone(),
            Policy {
                name: derived_name(&tname, &[suffix], "policy"),
                command: PolicyCommand::All,
                restrictive: false,
                roles: vec![],
                using: Some(e.clone()),
                check: Some(e),
            },
        ))
    };
    let mut tenant_policy = None;
    if let Some(d) = tenant {
        enabled = true;
        tenant_policy = setting_policy(cx, d, &["by", "column"], "app.tenant_id", "tenant");
    }
    if let Some(d) = owner {
        enabled = true;
        if let Some((_, pol)) = setting_policy(cx, d, &["column", "by"], "app.user_id", "owner") {
            policies.push(pol);
        }
    }
    if let Some((_, mut pol)) = tenant_policy {
        // Tenant isolation always applies: alone it grants access within the tenant; with
        // other policies it is AND-ed with them.
        pol.restrictive = !policies.is_empty();
        policies.push(pol);
    }
    if explicitly_disabled && (tenant.is_some() || owner.is_some()) {
        enabled = false;
        let pos = rls.map(|d| p(d.position)).unwrap_or(p(o.position));
        cx.warn(
            Code::W0104,
            pos,
            format!("`@wes_rls(enabled: false)` keeps row-level security off on `{tname}`: its tenant/owner policies exist but have no effect"),
            "remove `enabled: false` to enforce them, or remove `@wes_tenant`/`@wes_owner`",
        );
    }
    let rls_errors = cx.diags.iter().filter(|d| d.is_error()).count() > errors_before;
    if enabled && policies.is_empty() && !rls_errors {
        let pos = rls.map(|d| p(d.position)).unwrap_or(p(o.position));
        cx.warn(Code::W0105, pos, format!("row-level security is enabled on `{tname}` without any policy: every row is hidden from roles that do not own the table"), "add `select:`/`insert:`/`update:`/`delete:` policies, `@wes_tenant` or `@wes_owner`");
    }
    table.rls_enabled = enabled;
    table.policies = policies;
}

/// Every table a policy text reads (after `FROM` or `JOIN`) must be one of this schema's,
/// and quoted when its name is a reserved word (E0062). Schema-qualified names are not
/// checked. `table_names` maps GraphQL type names to (schema, table), for the help.
pub(super) fn check_policy_relations(
    cx: &mut Ctx<'_>,
    drafts: &[Draft<'_, '_>],
    table_names: &BTreeMap<String, (String, String)>,
) {
    let all_tables: BTreeSet<String> = drafts.iter().map(|d| d.table.name.clone()).collect();
    for d in drafts {
        check_table_policies(cx, d, &all_tables, table_names);
    }
}

fn check_table_policies(
    cx: &mut Ctx<'_>,
    d: &Draft<'_, '_>,
    tables: &BTreeSet<String>,
    table_names: &BTreeMap<String, (String, String)>,
) {
    let Some(dir) = d
        .obj
        .directives
        .iter()
        .find(|x| canonical_directive(x.name) == Some(K::Rls))
    else {
        return;
    };
    for (argname, _) in &dir.arguments {
        let Some((_, Value::String(text))) = arg(dir, &[*argname]) else {
            continue;
        };
        let Ok(info) = expr::check(text) else {
            continue;
        };
        for (rel, off, quoted) in info.relations {
            if rel.contains('.') {
                continue;
            }
            if tables.contains(&rel) {
                if !quoted && naming::is_reserved(&rel) {
                    let pos = locate::in_string(cx.src, p(dir.position), argname, text, off);
                    cx.err(Code::E0062, pos, format!("table `{rel}` is a reserved word and must be quoted in SQL"), format!("write `{}` (escape the quotes inside the GraphQL string: `\\\"{rel}\\\"`)", sql::ident(&rel)));
                }
                continue;
            }
            let raw: String = text
                .chars()
                .skip(off)
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '"')
                .collect();
            let help = if let Some((_, t)) = table_names.get(raw.trim_matches('"')) {
                format!(
                    "`{raw}` is the GraphQL type; its table is `{t}`, written `{}` in SQL",
                    sql::ident(t)
                )
            } else if let Some(close) = closest(&rel, tables) {
                format!("did you mean `{close}`?")
            } else {
                "name a table defined in this schema, or qualify it with its schema".to_string()
            };
            let pos = locate::in_string(cx.src, p(dir.position), argname, text, off);
            cx.err(
                Code::E0062,
                pos,
                format!("policy refers to table `{rel}`, which this schema does not define"),
                help,
            );
        }
    }
}

/// The table whose name is closest to `name` (fewest single-character edits; the first in
/// name order on a tie), if it is close enough to be a typo: at most 3 edits, or a quarter
/// of the table name's length when that is more.
fn closest<'t>(name: &str, tables: &'t BTreeSet<String>) -> Option<&'t str> {
    tables
        .iter()
        .map(|t| (strsim::levenshtein(name, t), t))
        .filter(|(d, t)| *d <= 3.max(t.len() / 4))
        .min()
        .map(|(_, t)| t.as_str())
}

#[cfg(test)]
mod tests {
    use super::closest;
    use std::collections::BTreeSet;

    #[test]
    fn closest_table_is_a_likely_typo() {
        let tables: BTreeSet<String> = ["account", "org", "organization_membership", "orgs"]
            .map(String::from)
            .into();
        assert_eq!(closest("acount", &tables), Some("account"));
        // A tie goes to the first name: `org` and `orgs` are both one edit from `orgx`.
        assert_eq!(closest("orgx", &tables), Some("org"));
        // A long name allows a quarter of its length (23 bytes: 5 edits), a short one 3.
        let long = Some("organization_membership");
        assert_eq!(closest("oganizaton_mmbrshp", &tables), long);
        assert_eq!(closest("oganizaton_mmbrsh", &tables), None);
        assert_eq!(closest("invoice", &tables), None);
        // Edits count characters, not bytes.
        assert_eq!(closest("accöunt", &tables), Some("account"));
        assert_eq!(closest("x", &BTreeSet::new()), None);
    }
}
