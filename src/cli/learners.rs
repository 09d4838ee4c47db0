//! `murmur learners`: the learners murmur trains, read from the registry.

use murmur_train::learner::registry::BatchSource;
use murmur_train::learner::LEARNERS;

/// Arguments of `murmur learners`.
#[derive(Debug, clap::Args)]
pub struct LearnersArgs {
    /// Print the names only, one a line (for scripts).
    #[arg(long)]
    pub names: bool,
    /// Only the learners that learn from their own rollouts.
    #[arg(long, conflicts_with = "offline")]
    pub online: bool,
    /// Only the learners that learn from a recorded dataset.
    #[arg(long)]
    pub offline: bool,
}

pub fn run(args: LearnersArgs) -> anyhow::Result<()> {
    let wanted = |source: BatchSource| match source {
        BatchSource::Rollouts => !args.offline,
        BatchSource::Dataset => !args.online,
    };
    for kind in LEARNERS.iter().filter(|k| wanted(k.source)) {
        if args.names {
            println!("{}", kind.name);
        } else {
            let how = match kind.source {
                BatchSource::Rollouts => "online ",
                BatchSource::Dataset => "offline",
            };
            println!("{:<6} {how} {}  (configs/{}_<simulator>.toml)", kind.name, kind.summary, kind.name);
        }
    }
    Ok(())
}
