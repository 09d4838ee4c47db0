//! `murmur plot`: learning curves of runs into a PNG.

use std::path::PathBuf;

/// Arguments of `murmur plot`.
#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// Run directories; runs that differ only in their seed share a curve
    /// (mean and one standard deviation).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Output PNG.
    #[arg(short, long, default_value = "curves.png")]
    pub output: PathBuf,
    /// metrics.csv column to plot (e.g. return_mean, eval_return_mean).
    #[arg(long, default_value = "return_mean")]
    pub metric: String,
}

pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    let groups = murmur::plot::plot_runs(&args.runs, &args.metric, &args.output)?;
    for g in &groups {
        let finals: Vec<f64> = g.runs.iter().map(|c| c.values[c.values.len() - 1]).collect();
        println!(
            "{}: final {} {:.2} (per run: {:?})",
            g.label,
            args.metric,
            murmur::train::buffer::mean(&finals),
            finals
        );
    }
    println!("wrote {}", args.output.display());
    Ok(())
}
