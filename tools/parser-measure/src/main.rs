//! Parses every statement of the corpus, as pg_stat_statements stores it, with both
//! parsers: accepted as stored, accepted once `$n` placeholders are written as string
//! literals, and (for sqlparser) whether its re-printed tree fingerprints like the
//! original in PostgreSQL's own parser.

use std::time::Instant;

fn statements(corpus: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in corpus.lines() {
        if line.starts_with("--") || line.trim().is_empty() { continue; }
        cur.push_str(line);
        cur.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(cur.trim().trim_end_matches(';').to_string());
            cur.clear();
        }
    }
    out
}

/// `$n` outside quotes -> `'$n'`.
fn rewrite(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut o = String::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c == '\'' || c == '"' {
            let q = c; let s = i; i += 1;
            while i < b.len() { if b[i] as char == q { if i + 1 < b.len() && b[i+1] as char == q { i += 2; continue; } break; } i += 1; }
            i = (i + 1).min(b.len());
            o.push_str(&sql[s..i]);
        } else if c == '$' && i + 1 < b.len() && b[i+1].is_ascii_digit() && (i == 0 || !(b[i-1].is_ascii_alphanumeric() || b[i-1] == b'_')) {
            let s = i; i += 1;
            while i < b.len() && b[i].is_ascii_digit() { i += 1; }
            o.push('\''); o.push_str(&sql[s..i]); o.push('\'');
        } else { o.push(c); i += 1; }
    }
    o
}

fn sqlp(sql: &str) -> Result<String, String> {
    use sqlparser::dialect::PostgreSqlDialect;
    sqlparser::parser::Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("; "))
        .map_err(|e| e.to_string())
}

fn main() {
    let corpus = std::fs::read_to_string(std::env::args().nth(1).expect("corpus file")).unwrap();
    let url = std::env::args().nth(2).expect("connection string");
    let stmts = statements(&corpus);
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut normalised = Vec::new();
    for s in &stmts {
        db.simple_query("SELECT pg_stat_statements_reset()").unwrap();
        if let Err(e) = db.simple_query(s) { eprintln!("FAILED {s}: {e}"); }
        let rows = db.query("SELECT query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements_reset%'", &[]).unwrap();
        let q: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if q.len() != 1 { eprintln!("{} entries for {s}: {q:?}", q.len()); }
        normalised.push(q.into_iter().next().unwrap_or_default());
    }
    let n = normalised.len();
    let (mut sp_raw, mut sp_rw, mut pq_raw, mut pq_rw, mut faithful, mut faithful_base) = (0, 0, 0, 0, 0, 0);
    let mut sp_time = std::time::Duration::ZERO;
    let mut pq_time = std::time::Duration::ZERO;
    for q in &normalised {
        let rw = rewrite(q);
        let t = Instant::now();
        let a = sqlp(q); let b = if a.is_ok() { a.clone() } else { sqlp(&rw) };
        sp_time += t.elapsed();
        let t = Instant::now();
        let c = pg_query::parse(q, 0); let d = if c.is_ok() { pg_query::parse(q, 0) } else { pg_query::parse(&rw, 0) };
        pq_time += t.elapsed();
        if a.is_ok() { sp_raw += 1 }
        if b.is_ok() { sp_rw += 1 } else { println!("sqlparser rejects: {q}\n    {}", b.clone().unwrap_err()); }
        if c.is_ok() { pq_raw += 1 }
        if d.is_ok() { pq_rw += 1 } else { println!("pg_query rejects: {q}\n    {:?}", d.as_ref().err()); }
        if !a.is_ok() { println!("sqlparser raw rejects: {q}\n    {}", a.clone().unwrap_err()); }
        if !c.is_ok() { println!("pg_query raw rejects: {q}"); }
        // Fidelity: PostgreSQL's parser fingerprints sqlparser's re-printed tree.
        if let (Ok(printed), Ok(_)) = (&b, &d) {
            faithful_base += 1;
            let src = if a.is_ok() { q.clone() } else { rw.clone() };
            let f0 = pg_query::fingerprint(&src, 0, 0).map(|f| f.hex);
            let f1 = pg_query::fingerprint(printed, 0, 0).map(|f| f.hex);
            if f0.is_ok() && f0 == f1 { faithful += 1 } else { println!("sqlparser tree differs:\n    {src}\n    {printed}"); }
        }
    }
    println!("statements {n}");
    println!("sqlparser: raw {sp_raw}/{n}, with rewrite {sp_rw}/{n}, faithful {faithful}/{faithful_base}, {:?}/stmt", sp_time / n as u32);
    println!("pg_query: raw {pq_raw}/{n}, with rewrite {pq_rw}/{n}, {:?}/stmt", pq_time / n as u32);
}
