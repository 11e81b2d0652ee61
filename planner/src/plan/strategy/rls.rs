//! Row-level security and policies. `ENABLE ROW LEVEL SECURITY`, `CREATE/ALTER/DROP POLICY`
//! take ACCESS EXCLUSIVE for an instant (measured). RLS is enabled only after the table's
//! new policies exist, and disabled before old ones are dropped, so there is never a
//! window in which every row is denied.

use super::*;
use crate::ddl;
use crate::model::Policy;
use crate::sql::{ident, ident_list};

/// What a policy command lets roles do, in words.
fn verb(cmd: crate::model::PolicyCommand) -> &'static str {
    use crate::model::PolicyCommand::*;
    match cmd {
        All => "read or change",
        Select => "read",
        Insert => "insert",
        Update => "update",
        Delete => "delete",
    }
}

fn authz(spec: StepSpec, cx: &Ctx<'_>, t: &Table, message: String) -> StepSpec {
    if cx.is_new_table(t) {
        spec
    } else {
        spec.hazard(HazardKind::AuthzChange, message)
    }
}

/// Tables and columns a policy expression reads, as dependency keys.
fn policy_requires(cx: &Ctx<'_>, mut spec: StepSpec, t: &Table, p: &Policy) -> StepSpec {
    for text in p.using.iter().chain(p.check.iter()) {
        for k in super::check::expr_columns(t, text) {
            spec = spec.requires(k);
        }
        if let Ok(info) = crate::expr::check(text) {
            for (rel, _, _) in info.relations {
                if let Some(other) = cx
                    .new
                    .tables
                    .iter()
                    .find(|x| x.name == rel || x.display_name() == rel)
                {
                    spec = spec.requires(t_key(other));
                }
            }
        }
    }
    spec
}

pub fn enable(cx: &mut Ctx<'_>, t: &Table) {
    let spec = cx
        .on(
            t,
            StepKind::EnableRls,
            None,
            Phase::Expand,
            format!("Enable row-level security on {}", t.display_name()),
            stmts(&[ddl::enable_rls(t)]),
        )
        .lock(t, LockMode::AccessExclusive)
        .requires(format!("policies:{}.{}", t.schema, t.name));
    let spec = authz(spec, cx, t, format!("Row-level security is enabled on {}: roles that do not own the table see and change only rows their policies allow ({}). Check that the application sets what the policies read.", t.display_name(), if t.policies.len() == 1 { "1 policy".to_string() } else { format!("{} policies", t.policies.len()) }));
    let undo = cx
        .on(
            t,
            StepKind::DisableRls,
            None,
            Phase::Expand,
            format!("Disable row-level security on {} again", t.display_name()),
            stmts(&[ddl::disable_rls(t)]),
        )
        .lock(t, LockMode::AccessExclusive)
        .review(
            HazardKind::AuthzChange,
            format!(
                "Row-level security is disabled on {} again, as before the plan.",
                t.display_name()
            ),
        );
    let spec = spec.undo_by(undo);
    cx.push(spec);
}

pub fn disable(cx: &mut Ctx<'_>, t: &Table) {
    let spec = cx
        .on(
            t,
            StepKind::DisableRls,
            None,
            Phase::Expand,
            format!("Disable row-level security on {}", t.display_name()),
            stmts(&[ddl::disable_rls(t)]),
        )
        .lock(t, LockMode::AccessExclusive)
        .provides(format!("rls_off:{}.{}", t.schema, t.name));
    let spec = authz(spec, cx, t, format!("Row-level security is disabled on {}: every role with table privileges sees and changes every row.", t.display_name()));
    let undo = cx
        .on(
            t,
            StepKind::EnableRls,
            None,
            Phase::Expand,
            format!("Enable row-level security on {} again", t.display_name()),
            stmts(&[ddl::enable_rls(t)]),
        )
        .lock(t, LockMode::AccessExclusive)
        .review(
            HazardKind::AuthzChange,
            format!(
                "Row-level security is enabled on {} again, as before the plan.",
                t.display_name()
            ),
        );
    let spec = spec.undo_by(undo);
    cx.push(spec);
}

pub fn add_policy(cx: &mut Ctx<'_>, t: &Table, p: &Policy) {
    let spec = cx
        .on(
            t,
            StepKind::CreatePolicy,
            Some(&p.name),
            Phase::Expand,
            format!(
                "Create {} policy {} on {}",
                p.command.sql(),
                p.name,
                t.display_name()
            ),
            stmts(&[ddl::create_policy(t, p)]),
        )
        .lock(t, LockMode::AccessExclusive)
        .provides(format!("policies:{}.{}", t.schema, t.name))
        .undo_by(
            cx.on(
                t,
                StepKind::DropPolicy,
                Some(&p.name),
                Phase::Contract,
                format!("Drop policy {} on {} again", p.name, t.display_name()),
                stmts(&[format!(
                    "DROP POLICY IF EXISTS {} ON {}",
                    ident(&p.name),
                    t.qualified()
                )]),
            )
            .lock(t, LockMode::AccessExclusive)
            .review(
                HazardKind::AuthzChange,
                format!(
                    "Policy {} on {} is dropped again, as before the plan.",
                    p.name,
                    t.display_name()
                ),
            ),
        );
    let spec = policy_requires(cx, spec, t, p);
    let spec = authz(
        spec,
        cx,
        t,
        format!(
            "Policy {} changes which rows of {} roles can {}.",
            p.name,
            t.display_name(),
            verb(p.command)
        ),
    );
    cx.push(spec);
}

pub fn drop_policy(cx: &mut Ctx<'_>, t: &Table, p: &Policy) {
    let mut spec = cx
        .on(
            t,
            StepKind::DropPolicy,
            Some(&p.name),
            Phase::Contract,
            format!("Drop policy {} on {}", p.name, t.display_name()),
            stmts(&[ddl::drop_policy(t, p)]),
        )
        .lock(t, LockMode::AccessExclusive)
        .requires(format!("rls_off:{}.{}", t.schema, t.name));
    for w in p
        .using
        .iter()
        .chain(p.check.iter())
        .flat_map(|e| crate::expr::identifiers(e))
    {
        spec = spec.requires(c_key(t, &w));
    }
    let spec = authz(
        spec,
        cx,
        t,
        format!(
            "Dropping policy {} on {} removes the access it granted.",
            p.name,
            t.display_name()
        ),
    );
    cx.push(spec);
}

pub fn alter_policy(cx: &mut Ctx<'_>, t: &Table, old: &Policy, new: &Policy) {
    let sql = if old.command != new.command || old.restrictive != new.restrictive {
        // ALTER POLICY cannot change these: replace it in one transaction (no window).
        vec![ddl::drop_policy(t, old), ddl::create_policy(t, new)]
    } else {
        let roles = if new.roles.is_empty() {
            "PUBLIC".to_string()
        } else {
            ident_list(&new.roles)
        };
        let mut s = format!(
            "ALTER POLICY {} ON {} TO {roles}",
            ident(&new.name),
            t.qualified()
        );
        if let Some(u) = &new.using {
            s.push_str(&format!(" USING ({u})"));
        }
        if let Some(c) = &new.check {
            s.push_str(&format!(" WITH CHECK ({c})"));
        }
        vec![s]
    };
    let spec = cx
        .on(
            t,
            StepKind::AlterPolicy,
            Some(&new.name),
            Phase::Expand,
            format!("Change policy {} on {}", new.name, t.display_name()),
            stmts(&sql),
        )
        .lock(t, LockMode::AccessExclusive)
        .provides(format!("policies:{}.{}", t.schema, t.name))
        .undo_by(
            cx.on(
                t,
                StepKind::AlterPolicy,
                Some(&old.name),
                Phase::Expand,
                format!("Change policy {} on {} back", old.name, t.display_name()),
                stmts(&[ddl::drop_policy(t, new), ddl::create_policy(t, old)]),
            )
            .lock(t, LockMode::AccessExclusive)
            .review(
                HazardKind::AuthzChange,
                format!(
                    "Policy {} on {} is as before the plan again.",
                    old.name,
                    t.display_name()
                ),
            ),
        );
    let spec = policy_requires(cx, spec, t, new);
    let spec = authz(
        spec,
        cx,
        t,
        format!(
            "Policy {} on {} changes which rows roles can {}.",
            new.name,
            t.display_name(),
            verb(new.command)
        ),
    );
    cx.push(spec);
}
