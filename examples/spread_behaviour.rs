//! What a recorded spread team does: landmarks covered at the end, agents
//! in contact, no-op share, from a dataset's observations and actions
//! (`murmur collect` or `murmur hil --record` writes one). The scripted
//! controller's figures, measured the same way, come from
//! `cargo run --release --example spread_oracle`.
//!
//! ```text
//! murmur collect --run runs/mappo_spread --greedy --episodes 1000 --out runs/mappo_spread_greedy
//! cargo run --release --example spread_behaviour -- runs/mappo_spread_greedy
//! ```

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use murmur::train::dataset::DatasetReader;
use murmur::train::env::SpreadBehaviour;

fn main() -> Result<()> {
    let dir: PathBuf = std::env::args().nth(1).context("usage: spread_behaviour DATASET_DIR")?.into();
    let reader = DatasetReader::open(&dir).with_context(|| format!("opening the dataset {}", dir.display()))?;
    let header = reader.header().clone();
    if header.environment != "spread" {
        bail!("{}: a dataset of {}, expected spread", dir.display(), header.environment);
    }
    let n = header.n_agents;
    // Spread's observation: velocity, position, landmarks, other agents, their messages.
    let landmarks = (header.obs_dim - 4 - 4 * (n - 1)) / 2;
    let (mut behaviour, mut returns) = (SpreadBehaviour::default(), Vec::new());
    for episode in reader.episodes()? {
        behaviour.episode_from_observations(&episode.obs, &episode.actions, n, landmarks);
        returns.push(episode.reward.iter().map(|&r| r as f64).sum::<f64>());
    }
    let mean = returns.iter().sum::<f64>() / returns.len().max(1) as f64;
    println!("{}: {} episodes, mean return {mean:.1}", dir.display(), returns.len());
    println!("{behaviour}");
    Ok(())
}
