//! One statement timeout per step, whoever runs it: for every step and every inverse step
//! of every golden plan case, and for several timeout settings, `wesley apply` (the
//! executor's `step_timeout`) and the psql script (`SqlOptions::statement_timeout_for`)
//! give the same statement timeout. They once decided separately which steps are long,
//! and a full-table validation ran without a limit under one and with a minute under
//! the other.

use std::time::Duration;
use wesley::apply::connect::ConnInfo;
use wesley::apply::step_timeout;
use wesley::cmd::apply::RunArgs;
use wesley_e2e::exec::{load_schema, plan_cases};
use wesley_planner::plan;
use wesley_planner::planfile::{self, ValidPlan};
use wesley_planner::render::sql::SqlOptions;
use wesley_planner::timeout::Timeout;

#[test]
fn apply_and_the_sql_script_give_every_step_the_same_statement_timeout() {
    let ms = |d: Duration| Timeout::from_millis(d.as_millis() as u64);
    let settings = [
        (
            Duration::from_millis(200),
            Duration::from_secs(60),
            Duration::ZERO,
        ),
        (
            Duration::from_millis(100),
            Duration::from_secs(5),
            Duration::from_secs(3600),
        ),
        (
            Duration::ZERO,
            Duration::from_secs(30),
            Duration::from_secs(30),
        ),
    ];
    let conn = ConnInfo::resolve(Some("postgresql://localhost/timeouts")).expect("conn");
    let mut compared = 0;
    for dir in plan_cases() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let p = plan::plan(
            &load_schema(&dir.join("old.graphql")),
            &load_schema(&dir.join("new.graphql")),
        );
        let file = planfile::to_plan_file(&p);
        let valid = ValidPlan::from_file(file.clone()).expect("valid plan file");
        for (lock, short, long) in settings {
            let mut run = RunArgs::defaults();
            run.lock_timeout = lock;
            run.statement_timeout = short;
            run.long_statement_timeout = long;
            run.concurrent_lock_timeout = Duration::from_secs(1);
            let opts = run.options(conn.clone(), false, false).expect("options");
            let sql = SqlOptions::new(ms(lock), ms(short), ms(long)).expect("sql options");
            let pairs = valid
                .steps
                .iter()
                .zip(&file.steps)
                .chain(valid.rollback.iter().zip(&file.rollback));
            for (typed, wire) in pairs {
                assert_eq!(typed.id, wire.id);
                let apply = step_timeout(typed.timeout, &opts);
                let script = sql.statement_timeout_for(wire);
                assert_eq!(
                    ms(apply),
                    script,
                    "{name}: step {} ({}) runs with {apply:?} under wesley apply but {script} in the SQL script",
                    wire.id,
                    wire.timeout
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 300, "compared only {compared} steps");
}
