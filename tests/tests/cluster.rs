//! The throwaway PostgreSQL cluster the other end-to-end tests run against.

use wesley_e2e::{cluster, fresh_db, wesley_bin};

#[test]
fn databases_are_isolated() {
    let a = fresh_db("iso_a");
    let b = fresh_db("iso_b");
    assert_ne!(a.name, b.name);

    a.psql("CREATE TABLE widget (id int PRIMARY KEY, name text NOT NULL);");
    a.psql("INSERT INTO widget VALUES (1, 'sprocket');");
    assert_eq!(a.psql("SELECT id, name FROM widget;"), "1|sprocket\n");

    let visible = |db: &wesley_e2e::TestDb| {
        db.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'widget';")
    };
    assert_eq!(visible(&a), "1\n");
    assert_eq!(visible(&b), "0\n");
}

#[test]
fn psql_errors_come_back_with_their_text() {
    let db = fresh_db("errors");
    let err = db
        .try_psql("SELECT 1;\nSELECT * FROM no_such_table;\nSELECT 2;")
        .expect_err("querying a missing table must fail");
    assert!(
        err.contains(r#"relation "no_such_table" does not exist"#),
        "unexpected error text: {err}"
    );

    // ON_ERROR_STOP: nothing after the failing statement runs.
    let err = db
        .try_psql("CREATE TABLE t1 (x int);\nSELECT 1/0;\nCREATE TABLE t2 (x int);")
        .expect_err("division by zero must fail");
    assert!(
        err.contains("division by zero"),
        "unexpected error text: {err}"
    );
    assert_eq!(
        db.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE tablename IN ('t1', 't2');"),
        "t1\n"
    );
}

#[test]
fn connection_strings_point_at_the_database() {
    let db = fresh_db("Conn-Strings");
    assert!(db.name.starts_with("conn_strings_"), "{}", db.name);
    let c = cluster();
    let host = c.socket_dir().to_str().expect("socket dir is UTF-8");
    assert!(host.starts_with("/tmp/wesley-pg."), "{host}");
    assert!(
        db.url
            .starts_with("postgresql://postgres@%2Ftmp%2Fwesley-pg."),
        "{}",
        db.url
    );
    assert!(
        db.url.ends_with(&format!(":{}/{}", c.port(), db.name)),
        "{}",
        db.url
    );
    assert_eq!(
        db.conninfo,
        format!(
            "host={host} port={} user=postgres dbname={}",
            c.port(),
            db.name
        )
    );

    // psql accepts both forms.
    for target in [&db.url, &db.conninfo] {
        let out = std::process::Command::new(c.psql_program())
            .args([
                "-X",
                "-At",
                "-d",
                target,
                "-c",
                "SELECT current_database();",
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{}\n", db.name)
        );
    }
}

#[test]
fn odd_database_names_are_quoted() {
    let c = cluster();
    let name = format!("we\"ird name {}", std::process::id());
    c.create_database(&name)
        .expect("create database with quote and space");
    assert_eq!(
        c.psql(&name, "SELECT current_database();").unwrap(),
        format!("{name}\n")
    );
}

#[test]
fn streaming_psql_command() {
    use std::io::Write;
    use std::process::Stdio;

    let db = fresh_db("stream");
    let mut child = db
        .psql_command()
        .args(["-v", "ON_ERROR_STOP=1", "-At"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn psql");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"SELECT current_database();\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", db.name)
    );
}

#[test]
fn wesley_binary_is_built() {
    let bin = wesley_bin();
    assert!(bin.is_file(), "{}", bin.display());
}

/// The server is the bin dir's (`WESLEY_PG_BINDIR` when set): a test run against another
/// PostgreSQL version really runs against it, whichever psql client is used.
#[test]
fn the_server_is_the_one_in_the_bin_dir() {
    let c = cluster();
    let out = std::process::Command::new(c.bin_dir().join("postgres"))
        .arg("--version")
        .output()
        .expect("run postgres --version");
    let printed = String::from_utf8_lossy(&out.stdout);
    // "postgres (PostgreSQL) 18.4", or "... 15.18 (Debian 15.18-0+deb12u1)"
    let want = printed
        .trim()
        .split_once("(PostgreSQL) ")
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("unexpected postgres --version output: {printed}"));
    let db = fresh_db("version");
    assert_eq!(db.psql("SHOW server_version;").trim(), want);
}
