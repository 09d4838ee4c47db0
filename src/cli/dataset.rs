//! `murmur dataset`: work with recorded episode datasets (docs/dataset.md).

use std::path::PathBuf;

use anyhow::Context;
use murmur::hw::mcap_export::dataset_to_mcap;

/// Arguments of `murmur dataset`.
#[derive(Debug, clap::Args)]
pub struct DatasetArgs {
    #[command(subcommand)]
    command: DatasetCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DatasetCommand {
    /// Convert a dataset into one MCAP file for Foxglove, `ros2 bag` or
    /// the Python `mcap` reader (per robot its steps, the team's rewards
    /// and critic values; schemas inside the file).
    Mcap {
        /// The dataset directory (with manifest.json).
        dir: PathBuf,
        /// The MCAP file to write [default: DIR/episodes.mcap].
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
}

pub fn run(args: DatasetArgs) -> anyhow::Result<()> {
    match args.command {
        DatasetCommand::Mcap { dir, out } => {
            let out = out.unwrap_or_else(|| dir.join("episodes.mcap"));
            let summary =
                dataset_to_mcap(&dir, &out).with_context(|| format!("converting dataset {} to MCAP", dir.display()))?;
            println!("{}: {} episodes, {} messages", out.display(), summary.episodes, summary.messages);
            Ok(())
        }
    }
}
