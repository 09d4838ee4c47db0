//! A private swarm's certificates (`murmur keys init` and `murmur keys
//! issue`): one certificate authority per swarm, and a certificate per
//! member (the coordinator, each robot with its id in the subject, an
//! operator) signed by it. Zenoh's mutual TLS admits only holders of a
//! certificate from the swarm's authority (`murmur_runtime::swarm`'s
//! `PrivateSwarm`).
//!
//! Files in the directory: `ca.pem` and `ca.key` (the authority; the key
//! stays on the machine that issues certificates), `NAME.pem` and
//! `NAME.key` per member. Private keys are written readable by their owner
//! only, and no file is ever overwritten.

use std::path::{Path, PathBuf};

use murmur_runtime::access_control::Member;
use murmur_runtime::model_signing::write_private_file;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};

/// Why a certificate cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Refused to replace an existing file.
    #[error("{} exists already: keys and certificates are never overwritten", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The member's name is not one murmur knows.
    #[error("`{0}` is not a swarm member's name: use coordinator, robot-N (N = 0, 1, ...) or operator[-NAME]")]
    Name(String),
    /// Generating, parsing or signing failed.
    #[error("{what}: {source}")]
    Certificate {
        /// What was being done.
        what: String,
        /// The error.
        source: rcgen::Error,
    },
}

/// The authority's certificate file in `dir`.
pub fn ca_certificate(dir: &Path) -> PathBuf {
    dir.join("ca.pem")
}

/// Member `name`'s certificate and private key files in `dir`.
pub fn member_files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")))
}

/// The member named `name`: `coordinator`, `robot-N` with N written
/// canonically, or `operator` / `operator-NAME`.
pub fn member(name: &str) -> Result<Member, PkiError> {
    Member::parse(name).ok_or_else(|| PkiError::Name(name.to_string()))
}

fn cert_err(what: &str) -> impl Fn(rcgen::Error) -> PkiError + '_ {
    move |source| PkiError::Certificate { what: what.to_string(), source }
}

/// Makes the swarm's certificate authority in `dir` (`ca.pem`, `ca.key`).
pub fn init(dir: &Path, swarm: &str) -> Result<PathBuf, PkiError> {
    std::fs::create_dir_all(dir).map_err(|source| PkiError::Io { path: dir.to_path_buf(), source })?;
    let (cert_path, key_path) = (ca_certificate(dir), dir.join("ca.key"));
    refuse_existing(&[&cert_path, &key_path])?;
    let key = KeyPair::generate().map_err(cert_err("generating the authority's key"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, format!("murmur swarm {swarm} authority"));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = params.self_signed(&key).map_err(cert_err("signing the authority's certificate"))?;
    write_private(&key_path, &key.serialize_pem())?;
    write_public(&cert_path, &cert.pem())?;
    Ok(cert_path)
}

/// Issues member `name`'s certificate in `dir`, signed by the authority
/// there; returns the certificate's path.
pub fn issue(dir: &Path, name: &str) -> Result<PathBuf, PkiError> {
    let member = member(name)?;
    let read = |p: PathBuf| std::fs::read_to_string(&p).map_err(|source| PkiError::Io { path: p, source });
    let ca_pem = read(ca_certificate(dir))?;
    let ca_key = KeyPair::from_pem(&read(dir.join("ca.key"))?).map_err(cert_err("reading ca.key"))?;
    let ca_params = CertificateParams::from_ca_cert_pem(&ca_pem).map_err(cert_err("reading ca.pem"))?;
    let ca = ca_params.self_signed(&ca_key).map_err(cert_err("loading the authority"))?;
    let (cert_path, key_path) = member_files(dir, name);
    refuse_existing(&[&cert_path, &key_path])?;
    let key = KeyPair::generate().map_err(cert_err("generating the member's key"))?;
    let mut params = CertificateParams::default();
    // Access control knows a member by its role, the common name (every
    // operator is `operator`); the member's own name is its unit. Peers
    // check the chain to the swarm's authority, not host names (robots move
    // between addresses).
    params.distinguished_name.push(DnType::CommonName, member.common_name());
    params.distinguished_name.push(DnType::OrganizationalUnitName, name);
    params.subject_alt_names = vec![SanType::DnsName(name.try_into().map_err(cert_err("the member's name"))?)];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = params.signed_by(&key, &ca, &ca_key).map_err(cert_err("signing the member's certificate"))?;
    write_private(&key_path, &key.serialize_pem())?;
    write_public(&cert_path, &cert.pem())?;
    Ok(cert_path)
}

fn refuse_existing(paths: &[&Path]) -> Result<(), PkiError> {
    match paths.iter().find(|p| p.exists()) {
        Some(p) => Err(PkiError::Exists { path: p.to_path_buf() }),
        None => Ok(()),
    }
}

fn write_public(path: &Path, text: &str) -> Result<(), PkiError> {
    std::fs::write(path, text).map_err(|source| PkiError::Io { path: path.to_path_buf(), source })
}

fn write_private(path: &Path, text: &str) -> Result<(), PkiError> {
    write_private_file(path, text).map_err(|source| PkiError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authority_issues_member_certificates_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), "lab").unwrap();
        let cert = issue(dir.path(), "robot-3").unwrap();
        let pem = std::fs::read_to_string(&cert).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("robot-3.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(init(dir.path(), "lab"), Err(PkiError::Exists { .. })));
        assert!(matches!(issue(dir.path(), "robot-3"), Err(PkiError::Exists { .. })));
        assert!(matches!(issue(dir.path(), "robot-03"), Err(PkiError::Name(_))));
        let err = issue(&dir.path().join("nowhere"), "robot-1").unwrap_err().to_string();
        assert!(err.contains("ca.pem"), "{err}");
    }

    #[test]
    fn a_certificate_names_its_role_for_access_control_and_its_member() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), "lab").unwrap();
        for (name, role) in [("operator-ana", "operator"), ("robot-3", "robot-3"), ("coordinator", "coordinator")] {
            let pem = std::fs::read_to_string(issue(dir.path(), name).unwrap()).unwrap();
            let params = CertificateParams::from_ca_cert_pem(&pem).unwrap();
            let field = |t: DnType| match params.distinguished_name.get(&t) {
                Some(rcgen::DnValue::Utf8String(s)) => s.clone(),
                other => panic!("{name}: {t:?} is {other:?}"),
            };
            assert_eq!((field(DnType::CommonName), field(DnType::OrganizationalUnitName)), (role.into(), name.into()));
        }
    }
}
