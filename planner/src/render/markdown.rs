//! A plan as a pull-request comment (GitHub-flavored Markdown): a one-line verdict, a
//! table of the tables touched, the steps by phase, the hazards with what to do, and the
//! SQL in a collapsed block. Text from the plan is escaped so it cannot break a table, a
//! code span or the SQL fence.

use super::{
    advice, blocking, clean, lock_name, phase_title, plural, short_hash, standing, verdict,
    Standing, Verdict,
};
use crate::plan::locks::{Blocking, Work};
use crate::plan::{HazardKind, Phase};
use crate::planfile::{PlanFile, PlanStep};
use crate::policy::HazardPolicy;
use std::fmt::Write as _;

/// Options of the Markdown rendering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// `--allow` and `--deny`.
    pub policy: HazardPolicy,
}

/// The plan as GitHub-flavoured Markdown for a pull-request comment: the verdict, the
/// per-table impact, and every step with its locks, hazards and SQL.
pub fn render(file: &PlanFile, opts: &MarkdownOptions) -> String {
    let mut o = String::new();
    let v = verdict(file, &opts.policy);
    let icon = match v {
        Verdict::Errors(_) => "⛔",
        Verdict::Refused { .. } => "🛑",
        Verdict::Review { .. } => "⚠️",
        Verdict::Safe { .. } | Verdict::NoChanges => "✅",
    };
    let _ = writeln!(o, "### {icon} {}\n", text(&v.summary()));
    let _ = writeln!(
        o,
        "Wesley migration plan {} → {} · {} in {} · plan {}",
        code(&short_hash(&file.from.schema_hash)),
        code(&short_hash(&file.to.schema_hash)),
        plural(file.steps.len(), "step"),
        plural(file.waves.len(), "wave"),
        code(&short_hash(&file.plan_hash)),
    );
    let errors: Vec<_> = file.diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        o.push_str("\n#### Errors\n\n");
        for d in errors {
            let _ = write!(o, "- **{}**: {}", text(&d.code), text(&d.message));
            if let Some(help) = &d.help {
                let _ = write!(o, " *{}*", text(help));
            }
            o.push('\n');
        }
    }
    if !file.tables.is_empty() {
        tables(&mut o, file);
    }
    if !file.steps.is_empty() {
        steps(&mut o, file, &opts.policy);
    }
    if file.hazards().next().is_some() {
        hazards(&mut o, file, &opts.policy);
    }
    policy_note(&mut o, file, &opts.policy);
    let undo = super::rollback_lines(file);
    if let Some((first, rest)) = undo.split_first() {
        let _ = writeln!(o, "\n**Rollback.** {}", text(first));
        for l in rest {
            let _ = writeln!(o, "- {}", text(l));
        }
    }
    if !file.steps.is_empty() {
        sql(&mut o, file);
    }
    o
}

fn tables(o: &mut String, file: &PlanFile) {
    o.push_str("\n| Table | Strongest lock | Reads blocked | Writes blocked | Work |\n");
    o.push_str("| --- | --- | --- | --- | --- |\n");
    let blocked = |b: &str| Blocking::parse(b).map_or_else(|| cell(b), |b| cell(b.describe()));
    for t in &file.tables {
        let work = if t.new_table {
            "new table".to_string()
        } else {
            Work::parse(&t.work).map_or_else(|| cell(&t.work), |w| cell(w.describe()))
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            code(&t.table),
            t.strongest_lock
                .as_deref()
                .map_or_else(|| "none".to_string(), |m| cell(&lock_name(m))),
            blocked(&t.reads_blocked),
            blocked(&t.writes_blocked),
            work
        );
    }
}

fn steps(o: &mut String, file: &PlanFile, policy: &HazardPolicy) {
    o.push_str("\n#### Steps\n");
    for (phase, steps) in super::phase_runs(file) {
        let title = Phase::parse(phase).map(phase_title).unwrap_or("");
        let mut name = clean(phase);
        if let Some(first) = name.get(..1) {
            name = first.to_uppercase() + &name[1..];
        }
        let _ = writeln!(o, "\n**{}**: {title}\n", text(&name));
        for (n, s) in steps {
            step(o, n, s, policy);
        }
    }
}

fn step(o: &mut String, n: usize, s: &PlanStep, policy: &HazardPolicy) {
    let _ = write!(o, "{n}. {}", text(&s.summary));
    for l in &s.locks {
        let _ = write!(
            o,
            " · {}",
            code(&format!("{} {}", lock_name(&l.mode), l.relation))
        );
    }
    if !s.transactional {
        o.push_str(" · outside a transaction");
    }
    for (mark, which) in [("🛑", Standing::Refused), ("⚠️", Standing::Review)] {
        let kinds: Vec<String> = s
            .hazards
            .iter()
            .filter(|h| standing(h, policy) == which)
            .map(|h| text(&h.kind))
            .collect();
        if !kinds.is_empty() {
            let _ = write!(o, " · {mark} {}", kinds.join(", "));
        }
    }
    o.push('\n');
}

fn hazards(o: &mut String, file: &PlanFile, policy: &HazardPolicy) {
    o.push_str("\n#### Hazards\n");
    let number = |s: &PlanStep| {
        file.steps
            .iter()
            .position(|x| x.id == s.id)
            .map_or(0, |i| i + 1)
    };
    // Grouped by kind, known kinds in their documented order, then unknown ones.
    let mut kinds: Vec<&str> = file.hazards().map(|(_, h)| h.kind.as_str()).collect();
    let rank = |k: &str| HazardKind::parse(k).map_or(usize::MAX, |h| h as usize);
    kinds.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
    kinds.dedup();
    for kind in kinds {
        let known = HazardKind::parse(kind);
        let _ = write!(o, "\n**{}**", text(kind));
        if let Some(k) = known {
            let _ = write!(o, ": {}", k.describe());
        }
        o.push_str("\n\n");
        for (s, h) in file.hazards().filter(|(_, h)| h.kind == kind) {
            let mark = match standing(h, policy) {
                Standing::Refused => "🛑 refused",
                Standing::Allowed => "✅ allowed",
                Standing::Review => "⚠️ review",
            };
            let _ = writeln!(
                o,
                "- {mark} · step {} ({}): {}",
                number(s),
                code(&s.id),
                text(&h.message)
            );
        }
        if let Some(k) = known {
            let _ = writeln!(o, "\n*What to do:* {}", advice(k));
        }
    }
}

/// How the verdict was reached, and how a team accepts a reviewed refusal for one pull
/// request (docs/hazards.md).
fn policy_note(o: &mut String, file: &PlanFile, policy: &HazardPolicy) {
    if file.hazards().next().is_none() {
        return;
    }
    o.push_str("\n<details>\n<summary>How Wesley decides</summary>\n\n");
    o.push_str("🛑 **refuse**: irreversible, an outage or a security change (deleted data, a table rewrite, changed row-level security, code written for the old schema failing at once). The plan is refused (exit code 3) until the kind is accepted with `--allow`.\n\n");
    o.push_str("⚠️ **review**: long-running or backfilling steps, instant locks bounded by `lock_timeout`, rules the schema asked for (NOT NULL, CHECK, UNIQUE, foreign keys) that fail only writes breaking them. Shown here; they do not change the exit code unless denied with `--deny`.\n\n");
    if !policy.allowed_kinds().is_empty() || !policy.denied_kinds().is_empty() {
        let list = |k: &[HazardKind]| k.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            o,
            "This run: allowed {}; denied {}.\n",
            if policy.allowed_kinds().is_empty() {
                "none".to_string()
            } else {
                list(policy.allowed_kinds())
            },
            if policy.denied_kinds().is_empty() {
                "none".to_string()
            } else {
                list(policy.denied_kinds())
            }
        );
    }
    let refused = blocking(file, policy);
    if !refused.is_empty() {
        let mut names: Vec<&str> = refused.iter().map(|(_, h)| h.kind.as_str()).collect();
        names.sort_by_key(|k| HazardKind::parse(k).map_or(usize::MAX, |h| h as usize));
        names.dedup();
        let _ = writeln!(
            o,
            "To accept the refused hazards for this pull request once they are reviewed, add the label {} (one per kind) or run {}.\n",
            names
                .iter()
                .map(|n| code(&format!("wesley:allow:{n}")))
                .collect::<Vec<_>>()
                .join(", "),
            code(&format!("wesley plan --allow {}", names.join(",")))
        );
    }
    o.push_str("</details>\n");
}

fn sql(o: &mut String, file: &PlanFile) {
    let mut body = String::new();
    for (i, s) in file.steps.iter().enumerate() {
        if i > 0 {
            body.push('\n');
        }
        let _ = writeln!(body, "-- {}. {}", i + 1, clean(&s.id));
        body.push_str(&s.sql);
        if !body.ends_with('\n') {
            body.push('\n');
        }
    }
    let fence = "`".repeat(longest_run(&body, '`').max(2) + 1);
    let _ = writeln!(
        o,
        "\n<details>\n<summary>SQL ({})</summary>\n\n{fence}sql\n{body}{fence}\n\n</details>",
        plural(file.steps.len(), "step")
    );
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for x in s.chars() {
        run = if x == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// Prose: control characters become spaces, Markdown and HTML punctuation is escaped
/// (`_` only at word edges, where it could start emphasis). Code spans written with
/// backticks stay code spans when the backticks pair up; otherwise they are escaped too.
fn text(s: &str) -> String {
    let s = clean(s);
    if s.matches('`').count() % 2 == 1 {
        return escape(&s, true);
    }
    s.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("`{part}`")
            } else {
                escape(part, false)
            }
        })
        .collect()
}

fn escape(s: &str, backticks: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        let word = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|c| c.is_alphanumeric())
        };
        let escape = match c {
            '\\' | '*' | '[' | ']' | '<' | '>' | '|' | '~' => true,
            '`' => backticks,
            '_' => !(word(i.checked_sub(1)) && word(Some(i + 1))),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A table cell: prose with every backtick escaped.
fn cell(s: &str) -> String {
    escape(&clean(s), true)
}

/// An inline code span that holds any text: a fence longer than any backtick run inside,
/// padded when the text starts or ends with a backtick, and `|` escaped for tables.
fn code(s: &str) -> String {
    let s = clean(s).replace('|', "\\|");
    let fence = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    #[test]
    fn comment() {
        let got = render(&fixture::sample(), &MarkdownOptions::default());
        expect_test::expect![[r####"
            ### 🛑 2 hazards need a decision: deletes_data, breaks_clients

            Wesley migration plan `sha256:696c598a4972` → `sha256:8434751da777` · 4 steps in 3 waves · plan `sha256:3d9ee65466ba`

            | Table | Strongest lock | Reads blocked | Writes blocked | Work |
            | --- | --- | --- | --- | --- |
            | `public.team` | ACCESS EXCLUSIVE | no | no | new table |
            | `public.user` | ACCESS EXCLUSIVE | for a lock wait (≤ lock_timeout per attempt) | for a lock wait (≤ lock_timeout per attempt) | proportional to table size |

            #### Steps

            **Expand**: additive changes the running application tolerates

            1. Create table public.team (2 columns, 0 indexes) · `ACCESS EXCLUSIVE public.team`
            2. Add column public.user.nick text · `ACCESS EXCLUSIVE public.user`
            3. Build index user_nick_idx on public.user (nick) concurrently · `SHARE UPDATE EXCLUSIVE public.user` · outside a transaction · ⚠️ long_running

            **Contract**: what the new schema no longer has is removed

            4. Drop column public.user.legacy · `ACCESS EXCLUSIVE public.user` · 🛑 deletes_data, breaks_clients

            #### Hazards

            **deletes_data**: data is removed for good

            - 🛑 refused · step 4 (`drop_column:public.user.legacy`): Dropping column public.user.legacy deletes its data for good. Deploy code that no longer reads or writes it first, and take a backup if the data may be needed.

            *What to do:* Make sure nothing needs the data any more, and take a backup if it might; dropped data cannot be recovered by Wesley.

            **breaks_clients**: running application code may fail until it is updated

            - 🛑 refused · step 4 (`drop_column:public.user.legacy`): From this step on, queries that name public.user.legacy fail (SQLSTATE 42703), and `SELECT *` returns one column less.

            *What to do:* Deploy application code that works with both the old and the new schema before applying this step.

            **long_running**: takes time proportional to the table's size

            - ⚠️ review · step 3 (`create_index:public.user.user_nick_idx`): Building index user_nick_idx reads public.user twice without blocking reads or writes; it takes time and I/O proportional to the table's size. An interrupted build leaves an INVALID index, which `wesley apply` drops and rebuilds.

            *What to do:* Expect it to take time on large tables; traffic continues, but do not cut the migration short.

            <details>
            <summary>How Wesley decides</summary>

            🛑 **refuse**: irreversible, an outage or a security change (deleted data, a table rewrite, changed row-level security, code written for the old schema failing at once). The plan is refused (exit code 3) until the kind is accepted with `--allow`.

            ⚠️ **review**: long-running or backfilling steps, instant locks bounded by `lock_timeout`, rules the schema asked for (NOT NULL, CHECK, UNIQUE, foreign keys) that fail only writes breaking them. Shown here; they do not change the exit code unless denied with `--deny`.

            To accept the refused hazards for this pull request once they are reviewed, add the label `wesley:allow:deletes_data`, `wesley:allow:breaks_clients` (one per kind) or run `wesley plan --allow deletes_data,breaks_clients`.

            </details>

            **Rollback.** `wesley rollback` undoes this plan until its first contract step runs (3 inverse steps).

            <details>
            <summary>SQL (4 steps)</summary>

            ```sql
            -- 1. create_table:public.team
            CREATE TABLE "public"."team" (
              "id" uuid NOT NULL,
              "title" text NOT NULL,
              CONSTRAINT "team_pkey" PRIMARY KEY ("id")
            );

            -- 2. add_column:public.user.nick
            ALTER TABLE "public"."user" ADD COLUMN "nick" text;

            -- 3. create_index:public.user.user_nick_idx
            CREATE INDEX CONCURRENTLY "user_nick_idx" ON "public"."user" USING btree ("nick");

            -- 4. drop_column:public.user.legacy
            ALTER TABLE "public"."user" DROP COLUMN "legacy";
            ```

            </details>
        "####]].assert_eq(&got);
    }

    #[test]
    fn safe_and_empty() {
        let opts = MarkdownOptions {
            policy: HazardPolicy::allowing(HazardKind::ALL),
        };
        let got = render(&fixture::sample(), &opts);
        assert!(
            got.starts_with("### ✅ Safe: 4 steps, 3 hazards allowed"),
            "{got}"
        );
        assert!(!got.contains("accept them with"), "{got}");
        let same = fixture::file(fixture::OLD, fixture::OLD);
        let got = render(&same, &MarkdownOptions::default());
        expect_test::expect![[r#"
            ### ✅ No changes: the schemas are equivalent

            Wesley migration plan `sha256:696c598a4972` → `sha256:696c598a4972` · 0 steps in 0 waves · plan `sha256:8581b59445ef`
        "#]].assert_eq(&got);
    }

    #[test]
    fn escaping() {
        assert_eq!(cell("a|b `c`"), "a\\|b \\`c\\`");
        assert_eq!(text("odd ` tick"), "odd \\` tick");
        assert_eq!(
            text("a|b `c*` *d* my_col _x_ <b>"),
            "a\\|b `c*` \\*d\\* my_col \\_x\\_ \\<b\\>"
        );
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x`y"), "``x`y``");
        assert_eq!(code("`y"), "`` `y ``");
        let mut f = fixture::sample();
        f.steps[0].sql = "SELECT '```';\n".into();
        let got = render(&f, &MarkdownOptions::default());
        assert!(got.contains("\n````sql\n"), "{got}");
    }
}
