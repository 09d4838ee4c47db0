//! `murmur keys`: the keys of a private swarm.

use std::path::PathBuf;

use murmur::pki;
use murmur::runtime::model_signing::ModelSigner;
use rand::TryRngCore;

/// Arguments of `murmur keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Make a private swarm's certificate authority: DIR/ca.pem (give it to
    /// every member) and DIR/ca.key (keep it where certificates are issued).
    Init {
        /// Where to write the files (created if missing).
        dir: PathBuf,
        /// The swarm's name, written into the authority's subject.
        #[arg(long, default_value = "murmur")]
        swarm: String,
    },
    /// Issue members' certificates from the authority in DIR: coordinator,
    /// robot-N (one per robot) or operator; DIR/NAME.pem and DIR/NAME.key
    /// each, for `--private DIR --member NAME`.
    Issue {
        /// The directory of `murmur keys init`.
        dir: PathBuf,
        /// Members' names.
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Make an operator's model signing key (ed25519): DIR/NAME.key
    /// (private, for `murmur deploy --sign`) and DIR/NAME.pub (for
    /// `murmur agent --trust-model-key`).
    Signer {
        /// Where to write the key files (created if missing).
        dir: PathBuf,
        /// The operator's name: the files' stem.
        #[arg(long, default_value = "operator")]
        name: String,
    },
}

pub fn run(args: KeysArgs) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::Init { dir, swarm } => {
            let ca = pki::init(&dir, &swarm)?;
            println!("wrote {} and {} (private)", ca.display(), dir.join("ca.key").display());
            println!("next: murmur keys issue {} coordinator robot-0 robot-1 ... operator", dir.display());
            Ok(())
        }
        KeysCommand::Issue { dir, members } => {
            // Check every name before writing anything.
            for m in &members {
                pki::member(m)?;
            }
            for m in &members {
                let cert = pki::issue(&dir, m)?;
                println!("wrote {} and its key (for --private {} --member {m})", cert.display(), dir.display());
            }
            Ok(())
        }
        KeysCommand::Signer { dir, name } => {
            anyhow::ensure!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "--name `{name}`: use letters, digits, `-` and `_`"
            );
            std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
            let mut seed = [0u8; 32];
            rand::rngs::OsRng
                .try_fill_bytes(&mut seed)
                .map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
            let (private, public) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
            let signer = ModelSigner::write_new(seed, &private, &public)?;
            println!("wrote {} (private: keep it on the operator's machine)", private.display());
            println!("wrote {} (public key {}: give it to every agent)", public.display(), signer.public_hex());
            Ok(())
        }
    }
}
