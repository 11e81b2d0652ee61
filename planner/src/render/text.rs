//! A plan for a terminal: a header with the verdict, the steps by phase with a badge per
//! lock (red when it blocks reads, yellow when it blocks writes, green otherwise), hazards
//! under their steps, and a table per touched table at the end. ANSI colors only when
//! asked for.

use super::{
    clean, lock_name, phase_title, plural, short_hash, standing, verdict, Standing, Verdict,
};
use crate::plan::locks::{Blocking, Work};
use crate::plan::{LockMode, Phase};
use crate::planfile::{PlanFile, PlanLock, PlanStep};
use crate::policy::HazardPolicy;
use std::fmt::Write as _;

/// Options of the terminal rendering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextOptions {
    /// Use ANSI colors.
    pub color: bool,
    /// `--allow` and `--deny`.
    pub policy: HazardPolicy,
}

/// Lines are wrapped to this many characters.
const WIDTH: usize = 100;

const RED: &str = "31";
const GREEN: &str = "32";
const YELLOW: &str = "33";
const BOLD: &str = "1";
const DIM: &str = "2";

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// The plan for a terminal: the verdict, diagnostics, and the steps by phase with
/// their locks and hazards (coloured when `opts.color`).
pub fn render(file: &PlanFile, opts: &TextOptions) -> String {
    let p = Painter { color: opts.color };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} {} → {}: {} in {}",
        p.paint(BOLD, "Plan"),
        short_hash(&file.from.schema_hash),
        short_hash(&file.to.schema_hash),
        plural(file.steps.len(), "step"),
        plural(file.waves.len(), "wave")
    );
    let v = verdict(file, &opts.policy);
    let (label, code) = match v {
        Verdict::Errors(_) => ("error", RED),
        Verdict::Refused { .. } => ("refused", RED),
        Verdict::Review { .. } => ("review", YELLOW),
        Verdict::Safe { .. } | Verdict::NoChanges => ("ok", GREEN),
    };
    let _ = writeln!(
        o,
        "{}: {}",
        p.paint(&format!("{BOLD};{code}"), label),
        v.summary()
    );
    for d in &file.diagnostics {
        let (sev, code) = if d.is_error() {
            ("error", RED)
        } else {
            ("warning", YELLOW)
        };
        let _ = writeln!(
            o,
            "\n{}: {}",
            p.paint(
                &format!("{BOLD};{code}"),
                &format!("{sev}[{}]", clean(&d.code))
            ),
            clean(&d.message)
        );
        if let Some(help) = &d.help {
            wrapped(&mut o, "  = help: ", "          ", &clean(help));
        }
    }
    for (phase, steps) in super::phase_runs(file) {
        let title = Phase::parse(phase).map(phase_title).unwrap_or("");
        let _ = writeln!(
            o,
            "\n{} {}",
            p.paint(BOLD, &clean(phase)),
            p.paint(DIM, &format!("({title})"))
        );
        for (n, s) in steps {
            step(&mut o, &p, n, s, &opts.policy);
        }
    }
    if !file.tables.is_empty() {
        tables(&mut o, &p, file);
    }
    let undo = super::rollback_lines(file);
    if let Some((first, rest)) = undo.split_first() {
        let _ = writeln!(o);
        wrapped(
            &mut o,
            &format!("{} ", p.paint(BOLD, "rollback")),
            "  ",
            &clean(first),
        );
        for l in rest {
            wrapped(&mut o, "  - ", "    ", &clean(l));
        }
    }
    o
}

fn step(o: &mut String, p: &Painter, n: usize, s: &PlanStep, policy: &HazardPolicy) {
    let number = format!("{n:>4}. ");
    wrapped(o, &number, "      ", &clean(&s.summary));
    let mut line: Vec<String> = s.locks.iter().map(|l| badge(p, l)).collect();
    line.push(p.paint(DIM, &clean(&s.id)));
    if !s.transactional {
        line.push(p.paint(DIM, "(outside a transaction)"));
    }
    let _ = writeln!(o, "      {}", line.join(" "));
    for h in &s.hazards {
        let (mark, note, code) = match standing(h, policy) {
            Standing::Refused => ("!", "refused", RED),
            Standing::Allowed => ("-", "allowed", DIM),
            Standing::Review => ("~", "review", YELLOW),
        };
        let head = format!("{mark} {} ({note}): ", clean(&h.kind));
        let first = format!("      {}", p.paint(code, &head));
        let width = 6 + head.chars().count();
        wrap_into(o, &first, width, "        ", &clean(&h.message));
    }
}

/// `[ACCESS EXCLUSIVE public.user]`, colored by what the lock blocks.
fn badge(p: &Painter, l: &PlanLock) -> String {
    let code = if l.blocks_reads {
        RED
    } else if l.blocks_writes {
        YELLOW
    } else {
        GREEN
    };
    p.paint(
        code,
        &format!("[{} {}]", lock_name(&l.mode), clean(&l.relation)),
    )
}

fn tables(o: &mut String, p: &Painter, file: &PlanFile) {
    let _ = writeln!(o, "\n{}", p.paint(BOLD, "Tables"));
    let header = [
        "TABLE",
        "STRONGEST LOCK",
        "READS BLOCKED",
        "WRITES BLOCKED",
        "WORK",
        "STEPS",
    ];
    let rows: Vec<[String; 6]> = file
        .tables
        .iter()
        .map(|t| {
            [
                clean(&t.table),
                t.strongest_lock
                    .as_deref()
                    .map_or_else(|| "none".to_string(), lock_name),
                blocked(&t.reads_blocked),
                blocked(&t.writes_blocked),
                if t.new_table {
                    "new table".to_string()
                } else {
                    Work::parse(&t.work)
                        .map_or_else(|| clean(&t.work), |w| w.describe().to_string())
                },
                t.steps.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut out = String::from("  ");
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i] + 2 - visible_len(cell);
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_string()
    };
    let _ = writeln!(
        o,
        "{}",
        line(header.iter().map(|h| p.paint(DIM, h)).collect())
    );
    let color = |b: &str| match Blocking::parse(b) {
        Some(Blocking::None) => GREEN,
        Some(Blocking::LockWait) => YELLOW,
        _ => RED,
    };
    for (r, t) in rows.into_iter().zip(&file.tables) {
        let lock = t.strongest_lock.as_deref().and_then(LockMode::parse);
        let code = match lock {
            Some(_) if t.new_table => GREEN,
            Some(m) if m.blocks_reads() => RED,
            Some(m) if m.blocks_writes() => YELLOW,
            _ => GREEN,
        };
        let mut cells = r.to_vec();
        cells[1] = p.paint(code, &cells[1]);
        cells[2] = p.paint(color(&t.reads_blocked), &cells[2]);
        cells[3] = p.paint(color(&t.writes_blocked), &cells[3]);
        let _ = writeln!(o, "{}", line(cells));
    }
    let _ = writeln!(
        o,
        "  {}",
        p.paint(
            DIM,
            "A lock wait lasts at most lock_timeout per attempt; \"while read\" lasts as long as the table takes to scan or rewrite."
        )
    );
}

/// A table cell for [`Blocking`]: `no`, `lock wait`, `while read`.
fn blocked(b: &str) -> String {
    match Blocking::parse(b) {
        Some(Blocking::None) => "no".into(),
        Some(Blocking::LockWait) => "lock wait".into(),
        Some(Blocking::TableSize) => "while read".into(),
        None => clean(b),
    }
}

/// Characters that show on screen (ANSI sequences excluded).
fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match c {
            '\x1b' => in_escape = true,
            'm' if in_escape => in_escape = false,
            _ if in_escape => {}
            _ => n += 1,
        }
    }
    n
}

/// Writes `first` + `text`, wrapped at [`WIDTH`], continuation lines indented by `indent`.
fn wrapped(o: &mut String, first: &str, indent: &str, text: &str) {
    wrap_into(o, first, first.chars().count(), indent, text);
}

fn wrap_into(o: &mut String, first: &str, first_width: usize, indent: &str, text: &str) {
    let mut line = first.to_string();
    let mut width = first_width;
    let mut empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = word.chars().count();
        if !empty && width + 1 + len > WIDTH {
            o.push_str(line.trim_end());
            o.push('\n');
            line = indent.to_string();
            width = indent.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
            width += 1;
        }
        line.push_str(word);
        width += len;
        empty = false;
    }
    o.push_str(line.trim_end());
    o.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    #[test]
    fn plain() {
        let got = render(&fixture::sample(), &TextOptions::default());
        expect_test::expect![[r#"
            Plan sha256:696c598a4972 → sha256:8434751da777: 4 steps in 3 waves
            refused: 2 hazards need a decision: deletes_data, breaks_clients

            expand (additive changes the running application tolerates)
               1. Create table public.team (2 columns, 0 indexes)
                  [ACCESS EXCLUSIVE public.team] create_table:public.team
               2. Add column public.user.nick text
                  [ACCESS EXCLUSIVE public.user] add_column:public.user.nick
               3. Build index user_nick_idx on public.user (nick) concurrently
                  [SHARE UPDATE EXCLUSIVE public.user] create_index:public.user.user_nick_idx (outside a transaction)
                  ~ long_running (review): Building index user_nick_idx reads public.user twice without blocking
                    reads or writes; it takes time and I/O proportional to the table's size. An interrupted
                    build leaves an INVALID index, which `wesley apply` drops and rebuilds.

            contract (what the new schema no longer has is removed)
               4. Drop column public.user.legacy
                  [ACCESS EXCLUSIVE public.user] drop_column:public.user.legacy
                  ! deletes_data (refused): Dropping column public.user.legacy deletes its data for good. Deploy
                    code that no longer reads or writes it first, and take a backup if the data may be needed.
                  ! breaks_clients (refused): From this step on, queries that name public.user.legacy fail
                    (SQLSTATE 42703), and `SELECT *` returns one column less.

            Tables
              TABLE        STRONGEST LOCK    READS BLOCKED  WRITES BLOCKED  WORK                        STEPS
              public.team  ACCESS EXCLUSIVE  no             no              new table                   1
              public.user  ACCESS EXCLUSIVE  lock wait      lock wait       proportional to table size  3
              A lock wait lasts at most lock_timeout per attempt; "while read" lasts as long as the table takes to scan or rewrite.

            rollback `wesley rollback` undoes this plan until its first contract step runs (3 inverse steps).
        "#]].assert_eq(&got);
    }

    #[test]
    fn allowed_hazards() {
        let opts = TextOptions {
            color: false,
            policy: HazardPolicy::allowing(&[crate::plan::HazardKind::DeletesData]),
        };
        let got = render(&fixture::sample(), &opts);
        assert!(got.contains("- deletes_data (allowed): "), "{got}");
        assert!(got.contains("~ long_running (review): "), "{got}");
        assert!(
            got.contains("refused: 1 hazard needs a decision: breaks_clients"),
            "{got}"
        );
    }

    #[test]
    fn colors() {
        let opts = TextOptions {
            color: true,
            policy: HazardPolicy::default(),
        };
        let got = render(&fixture::sample(), &opts);
        assert!(
            got.contains("\x1b[31m[ACCESS EXCLUSIVE public.user]\x1b[0m"),
            "{got}"
        );
        assert!(
            got.contains("\x1b[32m[SHARE UPDATE EXCLUSIVE public.user]\x1b[0m"),
            "{got}"
        );
        assert!(!render(&fixture::sample(), &TextOptions::default()).contains('\x1b'));
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let mut f = fixture::sample();
        f.steps[0].summary = "x\x1b[2J\ny".into();
        let got = render(&f, &TextOptions::default());
        assert!(!got.contains('\x1b'));
    }
}
