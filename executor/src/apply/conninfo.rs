//! libpq's connection parameters: every keyword libpq knows, read from a
//! `postgresql://` URI or a `key=value` string exactly as libpq reads them
//! (`conninfo_uri_parse` and `conninfo_parse` in `fe-connect.c`), completed from
//! the `PG*` environment variables, and the password file (`~/.pgpass`).
//!
//! No crate parses libpq's full grammar (multi-host URIs, every keyword, its
//! quoting rules) and tokio-postgres' own parser refuses keywords it does not
//! use (`sslrootcert`, `sslcert`, ...), so the grammar is written out here, with
//! `percent-encoding` for the URI escapes. Error messages name the offending
//! keyword or position, never a value (a value may be a password).

use crate::error::SettingsError;
use percent_encoding::percent_decode_str;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A libpq keyword: its name and the environment variable that gives its default.
pub struct Keyword {
    /// The keyword, e.g. `sslmode`.
    pub name: &'static str,
    /// Its environment variable, e.g. `PGSSLMODE`.
    pub env: Option<&'static str>,
}

const fn kw(name: &'static str, env: Option<&'static str>) -> Keyword {
    Keyword { name, env }
}

/// Every connection keyword of libpq 17 (and `requiressl`, still accepted by older
/// versions), in libpq's order.
pub const KEYWORDS: &[Keyword] = &[
    kw("service", Some("PGSERVICE")),
    kw("user", Some("PGUSER")),
    kw("password", Some("PGPASSWORD")),
    kw("passfile", Some("PGPASSFILE")),
    kw("channel_binding", Some("PGCHANNELBINDING")),
    kw("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    kw("dbname", Some("PGDATABASE")),
    kw("host", Some("PGHOST")),
    kw("hostaddr", Some("PGHOSTADDR")),
    kw("port", Some("PGPORT")),
    kw("client_encoding", Some("PGCLIENTENCODING")),
    kw("options", Some("PGOPTIONS")),
    kw("application_name", Some("PGAPPNAME")),
    kw("fallback_application_name", None),
    kw("keepalives", None),
    kw("keepalives_idle", None),
    kw("keepalives_interval", None),
    kw("keepalives_count", None),
    kw("tcp_user_timeout", None),
    kw("sslmode", Some("PGSSLMODE")),
    kw("sslnegotiation", Some("PGSSLNEGOTIATION")),
    kw("sslcompression", Some("PGSSLCOMPRESSION")),
    kw("sslcert", Some("PGSSLCERT")),
    kw("sslkey", Some("PGSSLKEY")),
    kw("sslcertmode", Some("PGSSLCERTMODE")),
    kw("sslpassword", None),
    kw("sslrootcert", Some("PGSSLROOTCERT")),
    kw("sslcrl", Some("PGSSLCRL")),
    kw("sslcrldir", Some("PGSSLCRLDIR")),
    kw("sslsni", Some("PGSSLSNI")),
    kw("requirepeer", Some("PGREQUIREPEER")),
    kw("require_auth", Some("PGREQUIREAUTH")),
    kw("ssl_min_protocol_version", Some("PGSSLMINPROTOCOLVERSION")),
    kw("ssl_max_protocol_version", Some("PGSSLMAXPROTOCOLVERSION")),
    kw("gssencmode", Some("PGGSSENCMODE")),
    kw("krbsrvname", Some("PGKRBSRVNAME")),
    kw("gsslib", Some("PGGSSLIB")),
    kw("gssdelegation", Some("PGGSSDELEGATION")),
    kw("replication", None),
    kw("target_session_attrs", Some("PGTARGETSESSIONATTRS")),
    kw("load_balance_hosts", Some("PGLOADBALANCEHOSTS")),
    kw("requiressl", Some("PGREQUIRESSL")),
];

/// The libpq keyword `name`, if libpq has it.
pub fn keyword(name: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.name == name)
}

/// Keyword → value, as given (before defaults).
pub type Params = BTreeMap<&'static str, String>;

fn store(p: &mut Params, name: &str, value: String, what: &str) -> Result<(), SettingsError> {
    let Some(k) = keyword(name) else {
        return Err(SettingsError(format!(
            "invalid connection option \"{name}\" in the {what}"
        )));
    };
    p.insert(k.name, value);
    Ok(())
}

/// Parses a `postgresql://` (or `postgres://`) URI or a `key=value` connection string.
pub fn parse(s: &str) -> Result<Params, SettingsError> {
    let t = s.trim_start();
    if let Some(rest) = t
        .strip_prefix("postgresql://")
        .or_else(|| t.strip_prefix("postgres://"))
    {
        parse_uri(rest)
    } else if t.contains('=') {
        parse_kv(t)
    } else {
        Err("invalid database URL: expected a postgresql:// URI or key=value pairs".into())
    }
}

/// `key=value` pairs separated by whitespace; values may be single-quoted, and a
/// backslash escapes the next character, quoted or not.
fn parse_kv(s: &str) -> Result<Params, SettingsError> {
    let mut p = Params::new();
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    loop {
        while i < cs.len() && cs[i].is_whitespace() {
            i += 1;
        }
        if i >= cs.len() {
            return Ok(p);
        }
        let mut name = String::new();
        while i < cs.len() && cs[i] != '=' && !cs[i].is_whitespace() {
            name.push(cs[i]);
            i += 1;
        }
        while i < cs.len() && cs[i].is_whitespace() {
            i += 1;
        }
        if cs.get(i) != Some(&'=') {
            return Err(SettingsError(format!(
                "missing \"=\" after \"{name}\" in the connection string"
            )));
        }
        i += 1;
        while i < cs.len() && cs[i].is_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if cs.get(i) == Some(&'\'') {
            i += 1;
            loop {
                match cs.get(i) {
                    None => {
                        return Err(SettingsError(format!(
                            "unterminated quoted value of \"{name}\" in the connection string"
                        )))
                    }
                    Some('\\') => {
                        if let Some(&c) = cs.get(i + 1) {
                            value.push(c);
                        }
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < cs.len() && !cs[i].is_whitespace() {
                if cs[i] == '\\' {
                    if let Some(&c) = cs.get(i + 1) {
                        value.push(c);
                    }
                    i += 2;
                } else {
                    value.push(cs[i]);
                    i += 1;
                }
            }
        }
        store(&mut p, &name, value, "connection string")?;
    }
}

fn decode(s: &str, what: &str) -> Result<String, SettingsError> {
    // libpq refuses malformed escapes and %00 instead of passing them through.
    let b = s.as_bytes();
    for (i, _) in s.match_indices('%') {
        let ok = b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
        if !ok {
            return Err(SettingsError(format!(
                "invalid percent-encoded token in the {what} of the database URL"
            )));
        }
        if &s[i + 1..i + 3] == "00" {
            return Err(SettingsError(format!(
                "forbidden value %00 in the {what} of the database URL"
            )));
        }
    }
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| SettingsError(format!("the {what} of the database URL is not valid UTF-8")))
}

/// `[user[:password]@][host][:port][,...][/dbname][?param=value&...]`, after the scheme.
fn parse_uri(s: &str) -> Result<Params, SettingsError> {
    let mut p = Params::new();
    let mut rest = s;
    // User info: libpq looks for '@' before the first '/'.
    let upto = rest.find('/').unwrap_or(rest.len());
    if let Some(at) = rest[..upto].rfind('@') {
        let info = &rest[..at];
        let (user, password) = match info.split_once(':') {
            Some((u, pw)) => (u, Some(pw)),
            None => (info, None),
        };
        if !user.is_empty() {
            p.insert("user", decode(user, "user name")?);
        }
        if let Some(pw) = password {
            if !pw.is_empty() {
                p.insert("password", decode(pw, "password")?);
            }
        }
        rest = &rest[at + 1..];
    }
    // Hosts and ports, comma-separated; IPv6 addresses in brackets.
    let mut hosts: Vec<String> = Vec::new();
    let mut ports: Vec<String> = Vec::new();
    loop {
        let mut host = String::new();
        if let Some(r) = rest.strip_prefix('[') {
            let end = r
                .find(']')
                .ok_or("missing \"]\" after an IPv6 host address in the database URL")?;
            if end == 0 {
                return Err("empty IPv6 host address in brackets in the database URL".into());
            }
            host = r[..end].to_string();
            rest = &r[end + 1..];
        } else {
            let end = rest.find([':', '/', '?', ',']).unwrap_or(rest.len());
            if end > 0 {
                host = decode(&rest[..end], "host")?;
            }
            rest = &rest[end..];
        }
        let mut port = String::new();
        if let Some(r) = rest.strip_prefix(':') {
            let end = r.find(['/', '?', ',']).unwrap_or(r.len());
            port = decode(&r[..end], "port")?;
            rest = &r[end..];
        }
        hosts.push(host);
        ports.push(port);
        match rest.strip_prefix(',') {
            Some(r) => rest = r,
            None => break,
        }
    }
    if hosts.iter().any(|h| !h.is_empty()) || hosts.len() > 1 {
        p.insert("host", hosts.join(","));
    }
    if ports.iter().any(|h| !h.is_empty()) {
        p.insert("port", ports.join(","));
    }
    if let Some(r) = rest.strip_prefix('/') {
        let end = r.find('?').unwrap_or(r.len());
        if end > 0 {
            p.insert("dbname", decode(&r[..end], "database name")?);
        }
        rest = &r[end..];
    }
    if let Some(q) = rest.strip_prefix('?') {
        for pair in q.split('&').filter(|x| !x.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                format!(
                    "missing \"=\" in the URL query parameter \"{}\"",
                    pair.split('=').next().unwrap_or("")
                )
            })?;
            let k = decode(k, "query")?;
            let v = decode(v, "query")?;
            // libpq's JDBC-style alias.
            if k == "ssl" && v == "true" {
                p.insert("sslmode", "require".into());
                continue;
            }
            store(&mut p, &k, v, "database URL")?;
        }
    } else if !rest.is_empty() {
        return Err("unexpected text after the host part of the database URL".into());
    }
    Ok(p)
}

/// The environment, readable in tests without touching the process's own.
pub trait Env {
    /// The variable's value, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment (empty values count as unset, as in libpq).
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// Fills what the string did not set from the `PG*` variables (libpq's order: the
/// connection string, then the environment, then built-in defaults, which the caller
/// applies).
pub fn with_env(mut p: Params, env: &dyn Env) -> Result<Params, SettingsError> {
    // A service (pg_service.conf) comes before the environment, as in libpq.
    let service = p
        .get("service")
        .cloned()
        .or_else(|| env.var("PGSERVICE"))
        .filter(|s| !s.is_empty());
    if let Some(name) = service {
        for (k, v) in service_params(&name, env)? {
            p.entry(k).or_insert(v);
        }
        p.remove("service");
    }
    for k in KEYWORDS {
        if k.name == "service" {
            continue;
        }
        if p.contains_key(k.name) {
            continue;
        }
        if let Some(v) = k.env.and_then(|e| env.var(e)) {
            p.insert(k.name, v);
        }
    }
    // PGREQUIRESSL=1 is an old spelling of sslmode=require (only without sslmode).
    if let Some(r) = p.remove("requiressl") {
        if r.starts_with('1') && !p.contains_key("sslmode") {
            p.insert("sslmode", "require".into());
        }
    }
    Ok(p)
}

/// Debian's libpq looks for the system-wide service file here (`pg_config --sysconfdir`).
const SYSCONFDIR: &str = "/etc/postgresql-common";

/// The parameters of service `name`: from the user's service file (`PGSERVICEFILE`, else
/// `~/.pg_service.conf`), else from `pg_service.conf` in `PGSYSCONFDIR`.
fn service_params(name: &str, env: &dyn Env) -> Result<Vec<(&'static str, String)>, SettingsError> {
    let user_file = env
        .var("PGSERVICEFILE")
        .map(PathBuf::from)
        .or_else(|| home(env).map(|h| h.join(".pg_service.conf")));
    let sys_file = PathBuf::from(env.var("PGSYSCONFDIR").unwrap_or_else(|| SYSCONFDIR.into()))
        .join("pg_service.conf");
    for file in user_file.iter().chain(std::iter::once(&sys_file)) {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if let Some(found) = parse_service_file(&text, name, file)? {
            return Ok(found);
        }
    }
    Err(SettingsError(format!(
        "definition of service \"{name}\" not found"
    )))
}

/// libpq's service file: `[name]` sections of `keyword=value` lines, `#` comments.
fn parse_service_file(
    text: &str,
    name: &str,
    file: &Path,
) -> Result<Option<Vec<(&'static str, String)>>, SettingsError> {
    let mut out = None::<Vec<(&'static str, String)>>;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if out.is_some() {
                break;
            }
            if section == name {
                out = Some(Vec::new());
            }
            continue;
        }
        let Some(found) = out.as_mut() else { continue };
        let Some((k, v)) = line.split_once('=') else {
            return Err(SettingsError(format!(
                "syntax error in service file \"{}\", line {}",
                file.display(),
                n + 1
            )));
        };
        let k = k.trim();
        if k == "service" {
            return Err(SettingsError(format!(
                "nested service specifications not supported in service file \"{}\", line {}",
                file.display(),
                n + 1
            )));
        }
        let Some(kw) = keyword(k) else {
            return Err(SettingsError(format!(
                "invalid connection option \"{k}\" in service file \"{}\", line {}",
                file.display(),
                n + 1
            )));
        };
        found.push((kw.name, v.trim().to_string()));
    }
    Ok(out)
}

/// The user's home directory (libpq: `$HOME`, else the password database).
pub fn home(env: &dyn Env) -> Option<PathBuf> {
    env.var("HOME").map(PathBuf::from)
}

/// libpq's `passwordFromFile`: the first line of the password file that matches the
/// host, port, database and user (`*` matches anything; `\` escapes `:` and `\`).
/// The file is ignored, as by libpq, when it is readable by group or others.
pub fn pgpass_lookup(
    file: &Path,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(file).ok()?;
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    // 'localhost' matches a socket connection to the default socket directory.
    let host = if host.is_empty() || host == DEFAULT_SOCKET_DIR {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields: Vec<String> = vec![String::new()];
        let mut cs = line.chars();
        while let Some(c) = cs.next() {
            match c {
                '\\' => {
                    if let Some(n) = cs.next() {
                        fields.last_mut().expect("field").push(n);
                    }
                }
                ':' if fields.len() < 5 => fields.push(String::new()),
                c => fields.last_mut().expect("field").push(c),
            }
        }
        if fields.len() != 5 {
            continue;
        }
        let m = |f: &str, v: &str| f == "*" || f == v;
        if m(&fields[0], host)
            && m(&fields[1], &port)
            && m(&fields[2], dbname)
            && m(&fields[3], user)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

/// Debian's libpq default socket directory.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn uri_with_every_part_and_libpq_parameters() {
        let p = parse("postgresql://app:p%40ss@db.example:6543/prod?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=deploy&connect_timeout=7&target_session_attrs=read-write&options=-c%20search_path%3Dx").unwrap();
        assert_eq!(p["user"], "app");
        assert_eq!(p["password"], "p@ss");
        assert_eq!(p["host"], "db.example");
        assert_eq!(p["port"], "6543");
        assert_eq!(p["dbname"], "prod");
        assert_eq!(p["sslmode"], "verify-full");
        assert_eq!(p["sslrootcert"], "/etc/ca.pem");
        assert_eq!(p["application_name"], "deploy");
        assert_eq!(p["connect_timeout"], "7");
        assert_eq!(p["target_session_attrs"], "read-write");
        assert_eq!(p["options"], "-c search_path=x");
    }

    #[test]
    fn uri_hosts_sockets_and_ipv6() {
        let p = parse("postgres://h1:5433,[::1]:5434,h3/db").unwrap();
        assert_eq!(p["host"], "h1,::1,h3");
        assert_eq!(p["port"], "5433,5434,");
        let p = parse("postgresql://%2Fvar%2Frun%2Fpostgresql/db").unwrap();
        assert_eq!(p["host"], "/var/run/postgresql");
        let p = parse("postgresql:///db?host=/tmp/s&port=7").unwrap();
        assert_eq!(p["host"], "/tmp/s");
        assert_eq!(p["port"], "7");
        assert!(!parse("postgresql://").unwrap().contains_key("host"));
        assert_eq!(
            parse("postgresql://h?ssl=true").unwrap()["sslmode"],
            "require"
        );
    }

    #[test]
    fn key_value_quoting() {
        let p =
            parse(r"host=/tmp  port = 5 password='it\'s a \\ secret' options=-c\ x=1 dbname=''")
                .unwrap();
        assert_eq!(p["host"], "/tmp");
        assert_eq!(p["port"], "5");
        assert_eq!(p["password"], r"it's a \ secret");
        assert_eq!(p["options"], "-c x=1");
        assert_eq!(p["dbname"], "");
    }

    #[test]
    fn unknown_keywords_and_bad_syntax_are_refused_without_values() {
        let e = parse("host=x sslmod=require").unwrap_err();
        assert!(e.to_string().contains("\"sslmod\""), "{e}");
        let e = parse("postgresql://h/db?bogus=1").unwrap_err();
        assert!(e.to_string().contains("\"bogus\""), "{e}");
        let e = parse("host=x password='s3cret").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(parse("postgresql://u:%zz@h/d").is_err());
        assert!(parse("postgresql://u@h/d%00").is_err());
        assert!(parse("just-a-name").is_err());
        assert!(parse("host").is_err());
    }

    #[test]
    fn environment_fills_the_gaps() {
        let p = with_env(
            parse("host=a sslmode=disable").unwrap(),
            &env(&[
                ("PGHOST", "b"),
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", "/ca"),
                ("PGOPTIONS", "-c x=1"),
                ("PGCONNECT_TIMEOUT", "3"),
                ("PGAPPNAME", ""),
            ]),
        )
        .unwrap();
        assert_eq!(p["host"], "a");
        assert_eq!(p["sslmode"], "disable");
        assert_eq!(p["sslrootcert"], "/ca");
        assert_eq!(p["options"], "-c x=1");
        assert_eq!(p["connect_timeout"], "3");
        assert!(!p.contains_key("application_name"));
        let p = with_env(Params::new(), &env(&[("PGREQUIRESSL", "1")])).unwrap();
        assert_eq!(p["sslmode"], "require");
    }

    #[test]
    fn service_files_come_between_the_string_and_the_environment() {
        let dir = std::env::temp_dir().join(format!("wesley-service-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("services");
        std::fs::write(
            &f,
            "# comment\n[other]\nhost=nope\n\n[prod]\nhost = db.example\nport=6543\nsslmode=verify-full\n[later]\nhost=x\n",
        )
        .unwrap();
        let e = env(&[
            ("PGSERVICEFILE", f.to_str().unwrap()),
            ("PGSYSCONFDIR", dir.to_str().unwrap()),
            ("PGPORT", "1111"),
            ("PGUSER", "app"),
        ]);
        let p = with_env(parse("service=prod port=7777").unwrap(), &e).unwrap();
        assert_eq!(p["host"], "db.example");
        assert_eq!(p["port"], "7777");
        assert_eq!(p["sslmode"], "verify-full");
        assert_eq!(p["user"], "app");
        assert!(!p.contains_key("service"));
        let mut e2 = e.clone();
        e2.insert("PGSERVICE".into(), "prod".into());
        assert_eq!(with_env(Params::new(), &e2).unwrap()["port"], "6543");
        let err = with_env(parse("service=missing").unwrap(), &e).unwrap_err();
        assert!(err.to_string().contains("\"missing\" not found"), "{err}");
        std::fs::write(&f, "[bad]\nbogus=1\n").unwrap();
        assert!(with_env(parse("service=bad").unwrap(), &e).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn password_file_lookup() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("wesley-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("pgpass");
        std::fs::write(
            &f,
            "# comment\nother:*:*:*:no\ndb.example:6543:prod:app:a\\:b\\\\c\n*:*:*:app:fallback\n",
        )
        .unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            pgpass_lookup(&f, "db.example", 6543, "prod", "app").as_deref(),
            Some("a:b\\c")
        );
        assert_eq!(
            pgpass_lookup(&f, DEFAULT_SOCKET_DIR, 5432, "x", "app").as_deref(),
            Some("fallback")
        );
        assert_eq!(pgpass_lookup(&f, "h", 1, "x", "nobody"), None);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(pgpass_lookup(&f, "h", 1, "x", "app"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
