//! `wesley apply` over TLS with libpq's `sslmode` rules, against a throwaway cluster that
//! accepts TCP connections on 127.0.0.1 only with TLS (`hostssl` lines alone in
//! pg_hba.conf), with a certificate authority and a server certificate made by the test.
//!
//! An event trigger records, for every DDL statement, the session's application name,
//! `SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()` and a setting given in the
//! connection's `options`: so each test sees from inside the database that both of
//! Wesley's connections (its own, named by `application_name`, and the psql sessions
//! running steps, `wesley-step`) were encrypted and got the options.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use wesley::cluster::{Cluster, ClusterOptions};
use wesley_e2e::exec::{database_in, has_ledger, live_hash, wesley_cmd, Run, Work, ALL_HAZARDS};
use wesley_e2e::pki::Ca;
use wesley_e2e::TestDb;

const OLD: &str = "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String!\n}\n";
const NEW: &str =
    "type Item @wes_table {\n  id: ID! @wes_pk\n  name: String!\n  note: String @wes_index\n}\n";
const PASSWORD: &str = "tls-pw-Zq81xv";

struct Tls {
    cluster: Cluster,
    /// ca.crt, other-ca.crt, client.crt, client.key, and an empty home directory.
    dir: tempfile::TempDir,
    client_key: Vec<u8>,
}

impl Tls {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let ca = Ca::new("Wesley test CA");
        let other = Ca::new("Some other CA");
        let server = ca.issue("localhost", &["localhost"], &["127.0.0.1"]);
        let client = ca.issue("certuser", &[], &[]);
        let cluster = Cluster::start(&ClusterOptions {
            tcp: true,
            settings: vec![
                "ssl = on".into(),
                "ssl_cert_file = '../server.crt'".into(),
                "ssl_key_file = '../server.key'".into(),
                "ssl_ca_file = '../ca.crt'".into(),
            ],
            hba: Some(
                "local all all trust\n\
                 hostssl all certuser 127.0.0.1/32 cert\n\
                 hostssl all pwuser 127.0.0.1/32 scram-sha-256\n\
                 hostssl all all 127.0.0.1/32 trust\n"
                    .into(),
            ),
            files: vec![
                ("server.crt".into(), server.cert_pem.clone()),
                ("server.key".into(), server.key_pem.clone()),
                ("ca.crt".into(), ca.cert_pem()),
            ],
            ..ClusterOptions::default()
        })
        .unwrap_or_else(|e| panic!("TLS test cluster: {e}"));
        cluster
            .psql(
                "postgres",
                &format!(
                    "CREATE ROLE certuser LOGIN SUPERUSER;\n\
                     CREATE ROLE pwuser LOGIN SUPERUSER PASSWORD '{PASSWORD}';\n"
                ),
            )
            .expect("roles");
        let dir = tempfile::Builder::new()
            .prefix("wesley-tls-")
            .tempdir()
            .expect("temp dir");
        let write = |name: &str, data: &[u8]| {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join(name);
            std::fs::write(&p, data).expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        };
        write("ca.crt", &ca.cert_pem());
        write("other-ca.crt", &other.cert_pem());
        write("client.crt", &client.cert_pem);
        write("client.key", &client.key_pem);
        std::fs::create_dir(dir.path().join("home")).expect("home");
        Tls {
            cluster,
            dir,
            client_key: client.key_pem,
        }
    })
}

fn cluster() -> &'static Cluster {
    &tls().cluster
}

/// A database with the old schema and the DDL log (in schema `wesley`, which drift
/// checks ignore).
fn setup(prefix: &str, work: &Work, log: bool) -> (TestDb, PathBuf) {
    let old = work.write(&format!("{prefix}.old.graphql"), OLD);
    let new = work.write(&format!("{prefix}.new.graphql"), NEW);
    let db = database_in(cluster(), prefix, work, &old, "");
    if log {
        db.psql(
            "CREATE SCHEMA wesley;\n\
             CREATE TABLE wesley.test_ddl_log (app text, ssl boolean, opt text, tag text);\n\
             CREATE FUNCTION wesley.test_ddl_log() RETURNS event_trigger LANGUAGE plpgsql AS $$\n\
             BEGIN\n\
               INSERT INTO wesley.test_ddl_log SELECT current_setting('application_name'),\n\
                 (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()),\n\
                 current_setting('wesley.test_opt', true), tg_tag;\n\
             END $$;\n\
             CREATE EVENT TRIGGER test_ddl_log ON ddl_command_end EXECUTE FUNCTION wesley.test_ddl_log();\n",
        );
    }
    let (plan, _) = work.plan(&old, &new, &format!("{prefix}.json"));
    (db, plan)
}

/// `postgresql://USER@HOST:PORT/DB?PARAMS`.
fn url(user: &str, host: &str, db: &TestDb, params: &str) -> String {
    format!(
        "postgresql://{user}@{host}:{}/{}?{params}",
        cluster().port(),
        db.name
    )
}

/// `wesley apply` with `url`, HOME set to an empty directory (no ~/.postgresql files).
fn apply(work: &Work, plan: &Path, url: &str, env: &[(&str, &str)]) -> Run {
    let mut cmd = wesley_cmd(work.dir.path());
    cmd.args([
        "apply",
        &plan.display().to_string(),
        "--database-url",
        url,
        "--allow",
        ALL_HAZARDS,
        "--checkpoint-dir",
        &work.checkpoint_dir().display().to_string(),
        "--lock-wait",
        "5s",
    ])
    .env("HOME", tls().file("home"));
    for v in [
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGOPTIONS",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run wesley");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Distinct (application name, ssl, option) seen by the DDL log.
fn ddl_log(db: &TestDb) -> Vec<String> {
    db.psql("SELECT DISTINCT app || ' ssl=' || coalesce(ssl::text, 'null') || ' opt=' || coalesce(opt, '-') FROM wesley.test_ddl_log ORDER BY 1")
        .lines()
        .map(str::to_string)
        .collect()
}

const OPTIONS: &str = "options=-c%20wesley.test_opt%3Dvia-options";

#[test]
fn every_mode_that_can_encrypt_applies_over_tls() {
    let t = tls();
    let ca = t.file("ca.crt").display().to_string();
    for (name, params, env) in [
        // No sslmode at all: libpq's default `prefer`, which encrypts when it can.
        ("prefer", OPTIONS.to_string(), vec![]),
        ("require", format!("sslmode=require&{OPTIONS}"), vec![]),
        (
            "verify_ca",
            format!("sslmode=verify-ca&sslrootcert={ca}&{OPTIONS}"),
            vec![],
        ),
        (
            "verify_full",
            format!("sslmode=verify-full&sslrootcert={ca}&{OPTIONS}"),
            vec![],
        ),
        // The same settings from the environment, libpq's way.
        (
            "verify_full_env",
            String::new(),
            vec![
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", ca.as_str()),
                ("PGOPTIONS", "-c wesley.test_opt=via-options"),
            ],
        ),
    ] {
        let work = Work::new();
        let (db, plan) = setup(&format!("tls_{name}"), &work, true);
        let u = url(
            "postgres",
            "localhost",
            &db,
            &format!("{params}&application_name=deployer"),
        );
        apply(&work, &plan, &u, &env).expect_code(0, name);
        assert_eq!(
            ddl_log(&db),
            vec![
                "deployer ssl=true opt=via-options".to_string(),
                "wesley-step ssl=true opt=via-options".to_string()
            ],
            "{name}: both connections encrypted, with the options"
        );
    }
}

#[test]
fn key_value_connection_strings_take_libpq_parameters() {
    let t = tls();
    let work = Work::new();
    let (db, plan) = setup("tls_kv", &work, true);
    let conninfo = format!(
        "host=localhost port={} dbname={} user=postgres sslmode=verify-full sslrootcert='{}' options='-c wesley.test_opt=via-options' connect_timeout=5 target_session_attrs=read-write application_name=deployer",
        cluster().port(),
        db.name,
        t.file("ca.crt").display()
    );
    apply(&work, &plan, &conninfo, &[]).expect_code(0, "key=value string");
    assert_eq!(
        ddl_log(&db),
        vec![
            "deployer ssl=true opt=via-options".to_string(),
            "wesley-step ssl=true opt=via-options".to_string()
        ]
    );
}

/// A failed connection leaves the database as it was: no ledger, the old schema.
#[track_caller]
fn untouched(db: &TestDb, before: &str, what: &str) {
    assert!(!has_ledger(db), "{what}: the ledger was created");
    assert_eq!(live_hash(db), before, "{what}: the schema changed");
}

#[test]
fn a_wrong_ca_is_refused_before_anything_changes() {
    let t = tls();
    let other = t.file("other-ca.crt").display().to_string();
    for mode in ["verify-full", "verify-ca", "require"] {
        // `require` with a root certificate file verifies the chain too (libpq's rule).
        let work = Work::new();
        let (db, plan) = setup(
            &format!("tls_wrong_ca_{}", mode.replace('-', "_")),
            &work,
            false,
        );
        let before = live_hash(&db);
        let run = apply(
            &work,
            &plan,
            &url(
                "postgres",
                "localhost",
                &db,
                &format!("sslmode={mode}&sslrootcert={other}"),
            ),
            &[],
        );
        run.expect_code(1, mode);
        assert!(
            run.stderr
                .contains("the server's certificate was not accepted")
                && run.stderr.contains(&format!("sslmode={mode}"))
                && run.stderr.contains("other-ca.crt")
                && (run
                    .stderr
                    .contains("self-signed certificate in certificate chain")
                    || run
                        .stderr
                        .contains("unable to get local issuer certificate")),
            "{mode}: unclear error:\n{}",
            run.stderr
        );
        untouched(&db, &before, mode);
    }
}

#[test]
fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let t = tls();
    let ca = t.file("ca.crt").display().to_string();
    // The server's certificate names localhost and 127.0.0.1; connect to 127.0.0.1 under
    // another name (hostaddr gives the address, host the name to verify).
    let work = Work::new();
    let (db, plan) = setup("tls_wrong_name", &work, false);
    let before = live_hash(&db);
    let wrong = format!(
        "postgresql://postgres@db.wrong.example:{}/{}?hostaddr=127.0.0.1&sslrootcert={ca}",
        cluster().port(),
        db.name
    );
    let run = apply(&work, &plan, &format!("{wrong}&sslmode=verify-full"), &[]);
    run.expect_code(1, "verify-full, wrong name");
    assert!(
        run.stderr
            .contains("the server's certificate was not accepted")
            && run.stderr.contains("hostname mismatch"),
        "unclear error:\n{}",
        run.stderr
    );
    untouched(&db, &before, "verify-full, wrong name");
    apply(&work, &plan, &format!("{wrong}&sslmode=verify-ca"), &[])
        .expect_code(0, "verify-ca does not check the name");
    // An IP address as the host is checked against the certificate's IP addresses.
    let work = Work::new();
    let (db, plan) = setup("tls_ip_name", &work, false);
    apply(
        &work,
        &plan,
        &url(
            "postgres",
            "127.0.0.1",
            &db,
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        &[],
    )
    .expect_code(0, "verify-full to 127.0.0.1");
}

#[test]
fn disable_against_a_tls_only_server_fails_clearly() {
    let work = Work::new();
    let (db, plan) = setup("tls_disable", &work, false);
    let before = live_hash(&db);
    let run = apply(
        &work,
        &plan,
        &url("postgres", "localhost", &db, "sslmode=disable"),
        &[],
    );
    run.expect_code(1, "sslmode=disable");
    assert!(
        run.stderr.contains("no pg_hba.conf entry")
            && run.stderr.contains("no encryption")
            && run.stderr.contains("SQLSTATE 28000"),
        "unclear error:\n{}",
        run.stderr
    );
    untouched(&db, &before, "sslmode=disable");
    // `allow` starts without TLS and, refused, tries again with it.
    apply(
        &work,
        &plan,
        &url("postgres", "localhost", &db, "sslmode=allow"),
        &[],
    )
    .expect_code(0, "sslmode=allow");
}

#[test]
fn client_certificates_and_passwords_work_and_are_never_shown() {
    let t = tls();
    let ca = t.file("ca.crt").display().to_string();
    let key_body: Vec<String> = String::from_utf8_lossy(&t.client_key)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_string)
        .collect();
    // Client certificate authentication (pg_hba `cert`), for both connections.
    let work = Work::new();
    let (db, plan) = setup("tls_client_cert", &work, true);
    let u = url(
        "certuser",
        "localhost",
        &db,
        &format!(
            "sslmode=verify-full&sslrootcert={ca}&sslcert={}&sslkey={}&application_name=deployer&{OPTIONS}",
            t.file("client.crt").display(),
            t.file("client.key").display()
        ),
    );
    let run = apply(&work, &plan, &u, &[]);
    run.expect_code(0, "client certificate");
    assert_eq!(ddl_log(&db).len(), 2, "{:?}", ddl_log(&db));
    for line in &key_body {
        assert!(
            !run.stdout.contains(line.as_str()) && !run.stderr.contains(line.as_str()),
            "key material printed"
        );
    }
    // Without the certificate the server refuses, and says so.
    let work = Work::new();
    let (db, plan) = setup("tls_no_client_cert", &work, false);
    let run = apply(
        &work,
        &plan,
        &url(
            "certuser",
            "localhost",
            &db,
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        &[],
    );
    run.expect_code(1, "no client certificate");
    assert!(run.stderr.contains("SQLSTATE 28000"), "{}", run.stderr);
    // A password over TLS: right (in the URL, then in PGPASSWORD) and wrong; never printed.
    for (what, user_info, env, code) in [
        (
            "password in the URL",
            format!("pwuser:{PASSWORD}"),
            vec![],
            0,
        ),
        (
            "PGPASSWORD",
            "pwuser".to_string(),
            vec![("PGPASSWORD", PASSWORD)],
            0,
        ),
        (
            "wrong password",
            "pwuser:wrong-Zq81xv".to_string(),
            vec![],
            1,
        ),
    ] {
        let work = Work::new();
        let (db, plan) = setup(&format!("tls_pw_{code}_{}", what.len()), &work, false);
        let run = apply(
            &work,
            &plan,
            &url(
                &user_info,
                "localhost",
                &db,
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            &env,
        );
        run.expect_code(code, what);
        for secret in [PASSWORD, "wrong-Zq81xv"] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{what}: a password was printed"
            );
        }
        if code == 1 {
            assert!(run.stderr.contains("SQLSTATE 28P01"), "{}", run.stderr);
        }
    }
}

#[test]
fn several_hosts_are_tried_in_turn() {
    let t = tls();
    let ca = t.file("ca.crt").display().to_string();
    let dead = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let work = Work::new();
    let (db, plan) = setup("tls_hosts", &work, true);
    let hosts = format!(
        "postgresql://postgres@localhost:{dead},localhost:{}/{}?sslmode=verify-full&sslrootcert={ca}&application_name=deployer&{OPTIONS}",
        cluster().port(),
        db.name
    );
    // Nothing listens on the first port: the second host serves Wesley and psql.
    apply(&work, &plan, &hosts, &[]).expect_code(0, "second host");
    assert_eq!(
        ddl_log(&db),
        vec![
            "deployer ssl=true opt=via-options".to_string(),
            "wesley-step ssl=true opt=via-options".to_string()
        ]
    );
    // target_session_attrs: the only live server is a primary, not a standby.
    let work = Work::new();
    let (db, plan) = setup("tls_standby", &work, false);
    let before = live_hash(&db);
    let run = apply(
        &work,
        &plan,
        &format!(
            "postgresql://postgres@localhost:{dead},localhost:{}/{}?target_session_attrs=standby",
            cluster().port(),
            db.name
        ),
        &[],
    );
    run.expect_code(1, "no standby");
    assert!(
        run.stderr.contains(&format!("localhost:{dead}"))
            && run.stderr.contains("server is not a standby"),
        "each host's reason:\n{}",
        run.stderr
    );
    untouched(&db, &before, "no standby");
}

/// A TCP port on 127.0.0.1 that accepts connections and never answers.
fn silent_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

#[test]
fn connect_timeout_gives_up_on_a_silent_host() {
    let silent = silent_port();
    let work = Work::new();
    let (db, plan) = setup("tls_timeout", &work, false);
    let before = live_hash(&db);
    let started = std::time::Instant::now();
    let run = apply(
        &work,
        &plan,
        &format!(
            "postgresql://postgres@127.0.0.1:{silent}/{}?connect_timeout=2&sslmode=require",
            db.name
        ),
        &[],
    );
    let took = started.elapsed();
    run.expect_code(1, "a silent host");
    assert!(run.stderr.contains("timeout expired"), "{}", run.stderr);
    assert!(
        took >= std::time::Duration::from_secs(2) && took < std::time::Duration::from_secs(20),
        "gave up after {took:?}"
    );
    untouched(&db, &before, "a silent host");
    // With another host after it, the run goes on there once the first has timed out.
    let started = std::time::Instant::now();
    apply(
        &work,
        &plan,
        &format!(
            "postgresql://postgres@127.0.0.1:{silent},localhost:{}/{}?connect_timeout=2&sslmode=require",
            cluster().port(),
            db.name
        ),
        &[],
    )
    .expect_code(0, "silent host, then a live one");
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
}

#[test]
fn a_service_from_pg_service_conf_gives_both_connections_their_settings() {
    let t = tls();
    let work = Work::new();
    let (db, plan) = setup("tls_service", &work, true);
    let services = work.write(
        "pg_service.conf",
        &format!(
            "[deploy]\nhost=localhost\nport={}\nuser=postgres\nsslmode=verify-full\nsslrootcert={}\noptions=-c wesley.test_opt=via-options\napplication_name=deployer\n",
            cluster().port(),
            t.file("ca.crt").display()
        ),
    );
    let services = services.display().to_string();
    apply(
        &work,
        &plan,
        &format!("service=deploy dbname={}", db.name),
        &[("PGSERVICEFILE", services.as_str())],
    )
    .expect_code(0, "service");
    assert_eq!(
        ddl_log(&db),
        vec![
            "deployer ssl=true opt=via-options".to_string(),
            "wesley-step ssl=true opt=via-options".to_string()
        ]
    );
}
