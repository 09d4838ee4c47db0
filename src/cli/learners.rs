//! `murmur learners`: the learners murmur trains, read from the registry.

use murmur_train::learner::LEARNERS;

/// Arguments of `murmur learners`.
#[derive(Debug, clap::Args)]
pub struct LearnersArgs {
    /// Print the names only, one a line (for scripts).
    #[arg(long)]
    pub names: bool,
}

pub fn run(args: LearnersArgs) -> anyhow::Result<()> {
    for kind in LEARNERS {
        if args.names {
            println!("{}", kind.name);
        } else {
            println!("{:<6} {}  (configs/{}_<simulator>.toml)", kind.name, kind.summary, kind.name);
        }
    }
    Ok(())
}
