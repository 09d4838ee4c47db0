//! `murmur summary`: a Markdown table of final returns over seeds.

use std::path::PathBuf;

/// Arguments of `murmur summary`.
#[derive(Debug, clap::Args)]
pub struct SummaryArgs {
    /// Run directories; runs that differ only in their seed share a row.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Fraction of each run's last environment steps whose training
    /// returns are averaged.
    #[arg(long, default_value_t = 0.1)]
    pub window: f64,
}

pub fn run(args: SummaryArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.window > 0.0 && args.window <= 1.0, "--window must be within (0, 1], got {}", args.window);
    let rows = murmur::summary::summarise(&args.runs, args.window)?;
    print!("{}", murmur::summary::markdown(&rows, args.window));
    println!("\n(mean over seeds ± half-width of the 95% interval, Student's t)");
    Ok(())
}
