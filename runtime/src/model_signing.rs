//! Who may deploy a model to a swarm: an operator signs each deployed model
//! with an ed25519 key, and agents started with `--trust-model-key` run
//! only models signed by one of the keys they trust.
//!
//! The signature covers a domain tag, the swarm's name, the model's issue
//! time, its SHA-256, its format and its dimensions, so a signed model
//! cannot be replayed to another swarm, passed off as a newer one, or
//! swapped for another file. The SHA-256 alone proves integrity, not origin:
//! anyone can compute it.
//!
//! Key files are text: comment lines starting with `#`, then one line of 64
//! hexadecimal digits (the public key, or the private key's seed).

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::agent::hex;
use crate::spec::ActorSpec;
use crate::wire::{ModelFormat, ModelMsg};

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file does not hold a key.
    #[error("{}: expected one line of 64 hexadecimal digits ({what}), found {found}", path.display())]
    Format {
        /// The key file.
        path: PathBuf,
        /// Which key was expected.
        what: &'static str,
        /// What the file held instead.
        found: String,
    },
    /// The bytes are not a valid ed25519 public key.
    #[error("{}: not a valid ed25519 public key", path.display())]
    NotAKey {
        /// The key file.
        path: PathBuf,
    },
    /// Refused to replace an existing key.
    #[error("{} exists already: a signing key is never overwritten", path.display())]
    Exists {
        /// The key file.
        path: PathBuf,
    },
}

/// Why a model's signature is refused (the sentence an agent logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The model carries no signature, and this agent runs only signed ones.
    #[error("it is not signed, and this agent runs only models signed by a key it trusts")]
    Unsigned,
    /// Signed, by a key this agent does not trust.
    #[error("it is signed by key {0}, which this agent does not trust")]
    UnknownSigner(String),
    /// The signature does not match the model (altered, or forged).
    #[error("its signature does not match the model (altered in transit, or forged)")]
    BadSignature,
}

/// The bytes an operator signs for a model deployed to `swarm`: a domain
/// tag, then the swarm's name, the issue time, the hash, the format and the
/// dimensions.
pub fn signed_bytes(swarm: &str, issued: u64, sha256: &[u8; 32], format: ModelFormat, spec: &ActorSpec) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + swarm.len());
    out.extend_from_slice(b"murmur deployed model v1\0");
    out.extend_from_slice(&(swarm.len() as u64).to_le_bytes());
    out.extend_from_slice(swarm.as_bytes());
    out.extend_from_slice(&issued.to_le_bytes());
    out.extend_from_slice(sha256);
    out.extend_from_slice(format.name().as_bytes());
    out.push(0);
    for d in [spec.obs_dim, spec.n_actions, spec.n_agents, spec.hidden] {
        out.extend_from_slice(&(d as u64).to_le_bytes());
    }
    out
}

/// An operator's signing key.
pub struct ModelSigner {
    key: SigningKey,
}

impl std::fmt::Debug for ModelSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModelSigner({})", self.public_hex())
    }
}

impl ModelSigner {
    /// The key whose seed is `seed` (32 random bytes).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self { key: SigningKey::from_bytes(&seed) }
    }

    /// Reads a private key file (written by [`write_new`](Self::write_new)).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        Ok(Self::from_seed(read_key_file(path, "an ed25519 private key seed")?))
    }

    /// Writes a new key from `seed` to `private` (readable by its owner
    /// only) and its public half to `public`; refuses to overwrite either.
    pub fn write_new(seed: [u8; 32], private: &Path, public: &Path) -> Result<Self, KeyError> {
        for path in [private, public] {
            if path.exists() {
                return Err(KeyError::Exists { path: path.to_path_buf() });
            }
        }
        let signer = Self::from_seed(seed);
        write_private_file(
            private,
            &format!("# murmur model signing key (ed25519 seed): keep it private\n{}\n", hex(&seed)),
        )
        .map_err(|source| KeyError::Io { path: private.to_path_buf(), source })?;
        let text = format!(
            "# murmur model signing key, public half: give it to agents with --trust-model-key\n{}\n",
            signer.public_hex()
        );
        std::fs::write(public, text).map_err(|source| KeyError::Io { path: public.to_path_buf(), source })?;
        Ok(signer)
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex(self.key.verifying_key().as_bytes())
    }

    /// The public key.
    pub fn public(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs a model for `swarm` (see [`signed_bytes`]).
    pub fn sign(&self, swarm: &str, issued: u64, sha256: &[u8; 32], format: ModelFormat, spec: &ActorSpec) -> [u8; 64] {
        self.key.sign(&signed_bytes(swarm, issued, sha256, format, spec)).to_bytes()
    }
}

/// The keys an agent trusts to sign its swarm's models.
#[derive(Debug, Clone)]
pub struct ModelTrust {
    swarm: String,
    keys: Vec<VerifyingKey>,
}

impl ModelTrust {
    /// Trust the public keys in `paths` for models of `swarm`.
    pub fn load(swarm: &str, paths: &[PathBuf]) -> Result<Self, KeyError> {
        let keys = paths
            .iter()
            .map(|p| {
                let bytes = read_key_file(p, "an ed25519 public key")?;
                VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotAKey { path: p.clone() })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { swarm: swarm.to_string(), keys })
    }

    /// Trust these public keys for models of `swarm`.
    pub fn from_keys(swarm: &str, keys: &[[u8; 32]]) -> Self {
        let keys = keys.iter().filter_map(|k| VerifyingKey::from_bytes(k).ok()).collect();
        Self { swarm: swarm.to_string(), keys }
    }

    /// Whether `msg` is signed, by a trusted key, for this swarm, and
    /// unaltered.
    pub fn verify(&self, msg: &ModelMsg<'_>) -> Result<(), SignatureError> {
        if msg.signature.is_empty() {
            return Err(SignatureError::Unsigned);
        }
        let key = self.keys.iter().find(|k| k.as_bytes() == &msg.signer);
        let Some(key) = key else {
            return Err(SignatureError::UnknownSigner(hex(&msg.signer)));
        };
        let signature = Signature::from_slice(msg.signature).map_err(|_| SignatureError::BadSignature)?;
        let bytes = signed_bytes(&self.swarm, msg.issued, &msg.sha256, msg.format, &msg.spec);
        key.verify(&bytes, &signature).map_err(|_| SignatureError::BadSignature)
    }
}

fn read_key_file(path: &Path, what: &'static str) -> Result<[u8; 32], KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io { path: path.to_path_buf(), source })?;
    let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
    let bad = || KeyError::Format {
        path: path.to_path_buf(),
        what,
        found: if line.is_empty() { "no key line".into() } else { format!("{} characters", line.len()) },
    };
    if line.len() != 64 || !line.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&line[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Writes a new file readable by its owner only (a private key); refuses
/// to replace an existing file.
#[cfg(unix)]
pub fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())
}

/// Writes a new file (a private key); refuses to replace an existing one.
#[cfg(not(unix))]
pub fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::WIRE_VERSION;

    const SPEC: ActorSpec = ActorSpec { obs_dim: 4, n_actions: 3, n_agents: 2, hidden: 8 };

    fn message<'a>(signer: &ModelSigner, issued: u64, model: &'a [u8], sig: &'a [u8; 64]) -> ModelMsg<'a> {
        ModelMsg {
            version: WIRE_VERSION,
            sha256: [7; 32],
            spec: SPEC,
            format: ModelFormat::Nano,
            issued,
            signer: signer.public(),
            signature: sig,
            model,
        }
    }

    #[test]
    fn only_an_unaltered_model_signed_by_a_trusted_key_for_this_swarm_passes() {
        let operator = ModelSigner::from_seed([1; 32]);
        let stranger = ModelSigner::from_seed([2; 32]);
        let trust = ModelTrust::from_keys("lab", &[operator.public()]);
        let sig = operator.sign("lab", 10, &[7; 32], ModelFormat::Nano, &SPEC);
        let good = message(&operator, 10, b"model", &sig);
        assert_eq!(trust.verify(&good), Ok(()));

        // Anything the signature covers, changed: refused.
        let cases = [
            ModelMsg { issued: 11, ..good.clone() },
            ModelMsg { sha256: [8; 32], ..good.clone() },
            ModelMsg { format: ModelFormat::Onnx, ..good.clone() },
            ModelMsg { spec: ActorSpec { hidden: 9, ..SPEC }, ..good.clone() },
        ];
        for bad in &cases {
            assert_eq!(trust.verify(bad), Err(SignatureError::BadSignature), "{bad:?}");
        }
        // Signed for another swarm.
        assert_eq!(
            ModelTrust::from_keys("other", &[operator.public()]).verify(&good),
            Err(SignatureError::BadSignature)
        );
        // A flipped bit in the signature, or a truncated one.
        let mut flipped = sig;
        flipped[17] ^= 4;
        assert_eq!(trust.verify(&message(&operator, 10, b"model", &flipped)), Err(SignatureError::BadSignature));
        assert_eq!(
            trust.verify(&ModelMsg { signature: &sig[..63], ..good.clone() }),
            Err(SignatureError::BadSignature)
        );
        // Unsigned, or signed by a key not trusted (even correctly).
        assert_eq!(trust.verify(&ModelMsg { signature: &[], ..good.clone() }), Err(SignatureError::Unsigned));
        let theirs = stranger.sign("lab", 10, &[7; 32], ModelFormat::Nano, &SPEC);
        let forged = message(&stranger, 10, b"model", &theirs);
        assert!(matches!(trust.verify(&forged), Err(SignatureError::UnknownSigner(k)) if k == stranger.public_hex()));
        // Claiming the operator's key with the stranger's signature.
        assert_eq!(trust.verify(&ModelMsg { signer: operator.public(), ..forged }), Err(SignatureError::BadSignature));
    }

    #[test]
    fn key_files_round_trip_are_never_overwritten_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = (dir.path().join("op.key"), dir.path().join("op.pub"));
        let signer = ModelSigner::write_new([3; 32], &private, &public).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(ModelSigner::load(&private).unwrap().public(), signer.public());
        let trust = ModelTrust::load("lab", std::slice::from_ref(&public)).unwrap();
        let sig = signer.sign("lab", 1, &[7; 32], ModelFormat::Nano, &SPEC);
        assert_eq!(trust.verify(&message(&signer, 1, b"m", &sig)), Ok(()));
        assert!(matches!(
            ModelSigner::write_new([4; 32], &private, &dir.path().join("x.pub")),
            Err(KeyError::Exists { .. })
        ));
        assert_eq!(ModelSigner::load(&private).unwrap().public(), signer.public(), "the key changed");

        let bad = dir.path().join("bad.pub");
        std::fs::write(&bad, "# a comment\nabc\n").unwrap();
        let err = ModelTrust::load("lab", std::slice::from_ref(&bad)).unwrap_err().to_string();
        assert!(
            err.contains("bad.pub") && err.contains("64 hexadecimal digits") && err.contains("3 characters"),
            "{err}"
        );
        std::fs::write(&bad, "zz".repeat(32)).unwrap();
        assert!(matches!(ModelTrust::load("lab", std::slice::from_ref(&bad)), Err(KeyError::Format { .. })));
        let err = ModelTrust::load("lab", &[dir.path().join("missing.pub")]).unwrap_err().to_string();
        assert!(err.contains("missing.pub"), "{err}");
    }
}
