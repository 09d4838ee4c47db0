//! `murmur keys`: the keys of a private swarm.

use std::path::PathBuf;

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
