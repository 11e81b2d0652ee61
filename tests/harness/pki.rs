//! Certificates for the TLS tests, made with the `openssl` crate (the library Wesley's
//! own TLS uses): a certificate authority that signs server and client certificates.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

/// A certificate authority.
pub struct Ca {
    cert: X509,
    key: PKey<Private>,
}

fn new_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    PKey::from_ec_key(EcKey::generate(&group).expect("EC key")).expect("key")
}

fn builder(cn: &str, key: &PKey<Private>) -> X509Builder {
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_nid(Nid::COMMONNAME, cn).expect("CN");
    let name = name.build();
    let mut b = X509Builder::new().expect("builder");
    b.set_version(2).expect("version");
    let mut serial = BigNum::new().expect("bn");
    serial
        .rand(64, MsbOption::MAYBE_ZERO, false)
        .expect("serial");
    b.set_serial_number(&serial.to_asn1_integer().expect("serial"))
        .expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("not before");
    b.set_not_after(&Asn1Time::days_from_now(2).expect("time"))
        .expect("not after");
    b
}

/// A certificate and its private key, both PEM.
pub struct Issued {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl Ca {
    pub fn new(cn: &str) -> Ca {
        let key = new_key();
        let mut b = builder(cn, &key);
        b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
            .expect("bc");
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .expect("ku"),
        )
        .expect("ku");
        b.sign(&key, MessageDigest::sha256()).expect("sign");
        Ca {
            cert: b.build(),
            key,
        }
    }

    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().expect("pem")
    }

    /// A certificate for `cn`, with DNS names and IP addresses as subject alternative
    /// names (none: the common name alone, as for a client certificate).
    pub fn issue(&self, cn: &str, dns: &[&str], ips: &[&str]) -> Issued {
        let key = new_key();
        let mut b = builder(cn, &key);
        b.set_issuer_name(self.cert.subject_name()).expect("issuer");
        b.append_extension(BasicConstraints::new().build().expect("bc"))
            .expect("bc");
        b.append_extension(
            ExtendedKeyUsage::new()
                .server_auth()
                .client_auth()
                .build()
                .expect("eku"),
        )
        .expect("eku");
        if !dns.is_empty() || !ips.is_empty() {
            let mut san = SubjectAlternativeName::new();
            for d in dns {
                san.dns(d);
            }
            for i in ips {
                san.ip(i);
            }
            let ext = san
                .build(&b.x509v3_context(Some(&self.cert), None))
                .expect("san");
            b.append_extension(ext).expect("san");
        }
        b.sign(&self.key, MessageDigest::sha256()).expect("sign");
        Issued {
            cert_pem: b.build().to_pem().expect("pem"),
            key_pem: key.private_key_to_pem_pkcs8().expect("key pem"),
        }
    }
}
