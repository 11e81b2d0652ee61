//! TLS for Wesley's own connection, with libpq's rules (`fe-secure-openssl.c`), on
//! OpenSSL like libpq itself, so that the Rust connection and the psql sessions accept
//! and refuse the same certificates, keys and revocation lists:
//!
//! - `sslrootcert` (default `~/.postgresql/root.crt`): when the file exists, the server's
//!   chain is verified against it alone in *every* mode (`require` then behaves like
//!   `verify-ca`); `verify-ca` and `verify-full` refuse to connect without it;
//!   `sslrootcert=system` uses the system's trusted roots and means `verify-full`.
//! - `verify-full` also checks the host name (subject alternative names, else the common
//!   name; a wildcard only as a whole first label); `verify-ca` does not.
//! - `sslcrl`/`sslcrldir` (default `~/.postgresql/root.crl`) revoke certificates.
//! - `sslcert`/`sslkey` (default `~/.postgresql/postgresql.{crt,key}`): a client
//!   certificate when the file exists; its key must not be readable by group or others.
//! - `ssl_min_protocol_version` (default TLSv1.2), `ssl_max_protocol_version`, `sslsni`.
//!
//! The fallbacks of `allow` and `prefer` are in `connect.rs`.
//!
//! Why OpenSSL (postgres-openssl) rather than rustls (tokio-postgres-rustls) or
//! native-tls (postgres-native-tls): psql's libpq is built on OpenSSL, and the two
//! connections of a run must agree on what they accept. With the same library the key
//! formats (PKCS#1, SEC1, PKCS#8), certificate parsing, host name matching (common name
//! when there is no DNS name, no partial wildcards), CRL checks and protocol versions
//! are libpq's. rustls/webpki refuses certificates libpq accepts (a common name without
//! subject alternative names, X.509 v1 roots) and reads no CRL files into its verifier
//! without custom code; `verify-ca` would need a hand-written verifier. native-tls
//! (OpenSSL underneath, but behind a portable API) takes client keys only as PKCS#8 or
//! PKCS#12 and has no CRLs. The
//! cost, OpenSSL's headers at build time (libssl-dev), is paid by scripts/install-deps;
//! the library itself is already on every machine that has psql.

use super::conninfo::Params;
use crate::error::{DbError, SettingsError};
use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::store::{X509Lookup, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::X509;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// libpq's `sslmode`, weakest first; the names are libpq's (`verify-ca`, ...).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, strum::IntoStaticStr, strum::EnumString,
)]
#[strum(serialize_all = "kebab-case")]
pub enum SslMode {
    /// Plain connections only.
    Disable,
    /// Plain first, TLS if the server insists.
    Allow,
    /// TLS first, plain if the server has none (libpq's default).
    Prefer,
    /// TLS, without checking the certificate (unless a root certificate file exists).
    Require,
    /// TLS with a certificate signed by a trusted root.
    VerifyCa,
    /// Like `VerifyCa`, and the certificate names the host.
    VerifyFull,
}

impl SslMode {
    /// Reads a libpq `sslmode` value.
    ///
    /// # Errors
    /// Any other text, with the accepted values listed.
    pub fn parse(s: &str) -> Result<SslMode, SettingsError> {
        s.parse().map_err(|_| SettingsError(format!("invalid sslmode value: \"{s}\" (disable, allow, prefer, require, verify-ca or verify-full)")))
    }

    /// libpq's name for the mode.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The resolved TLS settings of a connection.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `sslmode`.
    pub mode: SslMode,
    /// Why verification cannot work (raised when TLS is attempted).
    pub missing_root: Option<String>,
    /// The root certificate file that will be used (it exists), or `system`.
    pub rootcert: Option<PathBuf>,
    /// `sslrootcert=system`: the operating system's trusted roots.
    pub system_roots: bool,
    /// `sslcrl`: a certificate revocation list file.
    pub crl: Option<PathBuf>,
    /// `sslcrldir`: a directory of revocation lists (hashed names, as OpenSSL reads them).
    pub crldir: Option<PathBuf>,
    /// Client certificate and key (both exist).
    pub cert: Option<(PathBuf, PathBuf)>,
    /// `sslsni` (default on): send the host name in the handshake.
    pub sni: bool,
    /// `ssl_min_protocol_version` (libpq's default TLSv1.2).
    pub min: Option<SslVersion>,
    /// `ssl_max_protocol_version`.
    pub max: Option<SslVersion>,
    /// `sslnegotiation=direct` (PostgreSQL 17+): TLS without the SSLRequest round trip.
    pub direct: bool,
}

fn version(v: &str, what: &str) -> Result<Option<SslVersion>, SettingsError> {
    Ok(Some(match v {
        "" => return Ok(None),
        "TLSv1" => SslVersion::TLS1,
        "TLSv1.1" => SslVersion::TLS1_1,
        "TLSv1.2" => SslVersion::TLS1_2,
        "TLSv1.3" => SslVersion::TLS1_3,
        _ => return Err(SettingsError(format!("invalid {what} value: \"{v}\""))),
    }))
}

fn exists(p: &Path) -> bool {
    std::fs::metadata(p).is_ok()
}

/// libpq's checks of a private key file.
fn check_key_file(key: &Path) -> Result<(), SettingsError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(key).map_err(|e| {
        format!(
            "certificate present, but not private key file \"{}\": {e}",
            key.display()
        )
    })?;
    if !meta.is_file() {
        return Err(SettingsError(format!(
            "private key file \"{}\" is not a regular file",
            key.display()
        )));
    }
    let mode = meta.mode();
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let bad =
        (Some(meta.uid()) == me && mode & 0o077 != 0) || (meta.uid() == 0 && mode & 0o037 != 0);
    if bad {
        return Err(SettingsError(format!("private key file \"{}\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root", key.display())));
    }
    Ok(())
}

impl Settings {
    /// From the connection parameters (after the environment was applied).
    pub fn from_params(p: &Params, home: Option<&Path>) -> Result<Settings, SettingsError> {
        let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let dot = |f: &str| home.map(|h| h.join(".postgresql").join(f));
        let root_given = get("sslrootcert");
        let system_roots = root_given == Some("system");
        let mode = match get("sslmode") {
            Some(m) => SslMode::parse(m)?,
            None if system_roots => SslMode::VerifyFull,
            None => SslMode::Prefer,
        };
        if system_roots && mode != SslMode::VerifyFull && mode != SslMode::Disable {
            return Err(SettingsError(format!(
                "weak sslmode \"{}\" may not be used with sslrootcert=system (use \"verify-full\")",
                mode.as_str()
            )));
        }
        let root_file = root_given.map(PathBuf::from).or_else(|| dot("root.crt"));
        let rootcert = match (&root_file, system_roots) {
            (_, true) => None,
            (Some(f), false) if exists(f) => Some(f.clone()),
            _ => None,
        };
        // Like libpq, only when TLS is attempted (never over a Unix-domain socket).
        let missing_root = (mode >= SslMode::VerifyCa && rootcert.is_none() && !system_roots)
            .then(|| format!("root certificate file \"{}\" does not exist; either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification", root_file.map(|f| f.display().to_string()).unwrap_or_default()));
        let crl = get("sslcrl")
            .map(PathBuf::from)
            .or_else(|| {
                if get("sslcrldir").is_none() {
                    dot("root.crl")
                } else {
                    None
                }
            })
            .filter(|f| exists(f));
        let crldir = get("sslcrldir").map(PathBuf::from).filter(|f| exists(f));
        let certmode = get("sslcertmode").unwrap_or("allow");
        let cert = match certmode {
            "disable" => None,
            "allow" => {
                let cert_file = get("sslcert").map(PathBuf::from).or_else(|| dot("postgresql.crt"));
                match cert_file.filter(|f| exists(f)) {
                    None => None,
                    Some(c) => {
                        let key = get("sslkey").map(PathBuf::from).or_else(|| dot("postgresql.key"));
                        let Some(key) = key else {
                            return Err("certificate present, but no private key file (sslkey)".into());
                        };
                        if key.to_string_lossy().contains(':') && !key.exists() {
                            return Err("sslkey names an OpenSSL engine key, which Wesley does not support; use a key file".into());
                        }
                        check_key_file(&key)?;
                        Some((c, key))
                    }
                }
            }
            "require" => return Err("sslcertmode=require is not supported by Wesley; use sslcertmode=allow (the default) with sslcert and sslkey".into()),
            other => return Err(SettingsError(format!("invalid sslcertmode value: \"{other}\""))),
        };
        let sni = get("sslsni").is_none_or(|v| v != "0");
        let min = version(
            get("ssl_min_protocol_version").unwrap_or("TLSv1.2"),
            "ssl_min_protocol_version",
        )?;
        let max = version(
            get("ssl_max_protocol_version").unwrap_or(""),
            "ssl_max_protocol_version",
        )?;
        let direct = match get("sslnegotiation").unwrap_or("postgres") {
            "postgres" => false,
            "direct" => {
                if mode < SslMode::Require {
                    return Err(SettingsError(format!("weak sslmode \"{}\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")", mode.as_str())));
                }
                true
            }
            other => {
                return Err(SettingsError(format!(
                    "invalid sslnegotiation value: \"{other}\""
                )))
            }
        };
        Ok(Settings {
            mode,
            missing_root,
            rootcert,
            system_roots,
            crl,
            crldir,
            cert,
            sni,
            min,
            max,
            direct,
        })
    }

    /// Whether the server's certificate chain is verified.
    pub fn verifies_chain(&self) -> bool {
        self.rootcert.is_some() || self.system_roots
    }

    /// The OpenSSL connector for these settings. `attempted` is set once the server
    /// agreed to TLS and the handshake started (for `prefer`'s fallback).
    ///
    /// # Errors
    /// [`DbError::Connection`]: no root certificate where verification needs one, or
    /// OpenSSL refusing a setting or a file.
    pub fn connector(&self, attempted: Arc<AtomicBool>) -> Result<Connector, DbError> {
        self.build_connector(attempted).map_err(DbError::Connection)
    }

    fn build_connector(&self, attempted: Arc<AtomicBool>) -> Result<Connector, String> {
        if let Some(e) = &self.missing_root {
            return Err(e.clone());
        }
        let e = |what: &str, err: openssl::error::ErrorStack| format!("{what}: {err}");
        let mut b =
            SslConnector::builder(SslMethod::tls_client()).map_err(|x| e("TLS setup", x))?;
        b.set_min_proto_version(self.min)
            .map_err(|x| e("ssl_min_protocol_version", x))?;
        b.set_max_proto_version(self.max)
            .map_err(|x| e("ssl_max_protocol_version", x))?;
        // Only the given roots (or, with sslrootcert=system, the system's): the builder's
        // default store holds the system's roots, which libpq never uses otherwise.
        let mut store = X509StoreBuilder::new().map_err(|x| e("TLS setup", x))?;
        if self.system_roots {
            store
                .set_default_paths()
                .map_err(|x| e("loading the system's trusted roots", x))?;
        }
        if let Some(root) = &self.rootcert {
            let pem = std::fs::read(root).map_err(|x| {
                format!(
                    "could not read root certificate file \"{}\": {x}",
                    root.display()
                )
            })?;
            let certs = X509::stack_from_pem(&pem).map_err(|x| {
                format!(
                    "could not read root certificate file \"{}\": {x}",
                    root.display()
                )
            })?;
            for c in certs {
                store.add_cert(c).map_err(|x| e("root certificate", x))?;
            }
        }
        if self.verifies_chain() && (self.crl.is_some() || self.crldir.is_some()) {
            if let Some(crl) = &self.crl {
                let lookup = store
                    .add_lookup(X509Lookup::file())
                    .map_err(|x| e("TLS setup", x))?;
                lookup.load_crl_file(crl, SslFiletype::PEM).map_err(|x| {
                    format!(
                        "SSL certificate revocation list file \"{}\" could not be loaded: {x}",
                        crl.display()
                    )
                })?;
            }
            if let Some(dir) = &self.crldir {
                let lookup = store
                    .add_lookup(X509Lookup::hash_dir())
                    .map_err(|x| e("TLS setup", x))?;
                lookup
                    .add_dir(&dir.to_string_lossy(), SslFiletype::PEM)
                    .map_err(|x| e("sslcrldir", x))?;
            }
            store
                .set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)
                .map_err(|x| e("TLS setup", x))?;
        }
        b.set_cert_store(store.build());
        b.set_verify(if self.verifies_chain() {
            SslVerifyMode::PEER
        } else {
            SslVerifyMode::NONE
        });
        if let Some((cert, key)) = &self.cert {
            b.set_certificate_chain_file(cert).map_err(|x| {
                format!(
                    "could not load client certificate file \"{}\": {x}",
                    cert.display()
                )
            })?;
            b.set_private_key_file(key, SslFiletype::PEM).map_err(|x| {
                format!("could not load private key file \"{}\": {x}", key.display())
            })?;
            b.check_private_key().map_err(|x| {
                format!(
                    "certificate does not match private key file \"{}\": {x}",
                    key.display()
                )
            })?;
        }
        let mut inner = postgres_openssl::MakeTlsConnector::new(b.build());
        let full = self.mode == SslMode::VerifyFull || self.system_roots;
        let sni = self.sni;
        inner.set_callback(move |cfg, _host| {
            cfg.set_verify_hostname(full);
            cfg.set_use_server_name_indication(sni);
            Ok(())
        });
        Ok(Connector { inner, attempted })
    }
}

/// postgres-openssl's connector, noting whether a handshake was attempted.
pub struct Connector {
    inner: postgres_openssl::MakeTlsConnector,
    attempted: Arc<AtomicBool>,
}

/// One connection's TLS handshake (made by [`Connector`]); records that TLS was tried,
/// so that a failure can say whether the server or the certificate refused.
pub struct Handshake {
    inner: postgres_openssl::TlsConnector,
    attempted: Arc<AtomicBool>,
}

impl<S> tokio_postgres::tls::MakeTlsConnect<S> for Connector
where
    S: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + Unpin
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    type Stream = postgres_openssl::TlsStream<S>;
    type TlsConnect = Handshake;
    type Error = openssl::error::ErrorStack;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Handshake, Self::Error> {
        let inner = <postgres_openssl::MakeTlsConnector as tokio_postgres::tls::MakeTlsConnect<
            S,
        >>::make_tls_connect(&mut self.inner, domain)?;
        Ok(Handshake {
            inner,
            attempted: self.attempted.clone(),
        })
    }
}

impl<S> tokio_postgres::tls::TlsConnect<S> for Handshake
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    type Stream = postgres_openssl::TlsStream<S>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = <postgres_openssl::TlsConnector as tokio_postgres::tls::TlsConnect<S>>::Future;

    fn connect(self, stream: S) -> Self::Future {
        self.attempted.store(true, Ordering::SeqCst);
        self.inner.connect(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::conninfo::parse;

    #[test]
    fn modes_and_root_certificates_follow_libpq() {
        let dir = std::env::temp_dir().join(format!("wesley-tls-{}", std::process::id()));
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let s = Settings::from_params(&parse("host=h").unwrap(), Some(&home)).unwrap();
        assert_eq!(s.mode, SslMode::Prefer);
        assert!(!s.verifies_chain());
        let s = Settings::from_params(&parse("host=h sslmode=verify-ca").unwrap(), Some(&home))
            .unwrap();
        let e = s.connector(Arc::default()).err().unwrap();
        assert!(e.to_string().contains("root.crt"), "{e}");
        // A root certificate file that exists turns on chain verification in any mode.
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let s = Settings::from_params(
            &parse(&format!(
                "host=h sslmode=require sslrootcert={}",
                ca.display()
            ))
            .unwrap(),
            Some(&home),
        )
        .unwrap();
        assert!(s.verifies_chain());
        // ... but a missing one only matters for verify-*.
        let s = Settings::from_params(
            &parse("sslmode=require sslrootcert=/nonexistent").unwrap(),
            Some(&home),
        )
        .unwrap();
        assert!(!s.verifies_chain());
        let s = Settings::from_params(&parse("sslrootcert=system").unwrap(), Some(&home)).unwrap();
        assert_eq!(s.mode, SslMode::VerifyFull);
        assert!(Settings::from_params(
            &parse("sslrootcert=system sslmode=require").unwrap(),
            Some(&home)
        )
        .is_err());
        assert!(Settings::from_params(&parse("sslmode=bogus").unwrap(), Some(&home)).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn client_keys_readable_by_others_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("wesley-tls-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (crt, key) = (dir.join("c.crt"), dir.join("c.key"));
        std::fs::write(&crt, "x").unwrap();
        std::fs::write(&key, "x").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let p = parse(&format!(
            "sslcert={} sslkey={}",
            crt.display(),
            key.display()
        ))
        .unwrap();
        let e = Settings::from_params(&p, None).unwrap_err();
        assert!(e.to_string().contains("group or world access"), "{e}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Settings::from_params(&p, None).unwrap().cert.is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
