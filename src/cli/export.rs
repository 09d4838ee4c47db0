//! `murmur export`: a run's actor to a verified ONNX file.

use std::path::PathBuf;

/// Arguments of `murmur export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The run directory (holds checkpoints/).
    #[arg(long)]
    pub run: PathBuf,
    /// A checkpoint directory (or its name under the run's checkpoints/)
    /// [default: the run's latest].
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// The ONNX file to write.
    #[arg(long, short, default_value = "actor.onnx")]
    pub out: PathBuf,
    /// Also write the nano blob for the no_std policy (docs/nano.md).
    #[arg(long)]
    pub nano: Option<PathBuf>,
    /// Random sequences of the self-verification.
    #[arg(long, default_value_t = 64)]
    pub sequences: usize,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.sequences >= 1, "--sequences must be at least 1");
    let checkpoint = murmur::export::resolve_checkpoint(&args.run, args.checkpoint.as_deref())?;
    let settings = murmur::export::VerifySettings { sequences: args.sequences, ..Default::default() };
    let mut outputs = vec![(murmur::export::ModelFormat::Onnx, args.out.clone())];
    if let Some(nano) = &args.nano {
        outputs.push((murmur::export::ModelFormat::Nano, nano.clone()));
    }
    for (format, out) in outputs {
        let report = murmur::export::export(&checkpoint, &out, format, settings)?;
        print_report(&checkpoint, &report, settings.tolerance);
    }
    Ok(())
}

fn print_report(checkpoint: &std::path::Path, report: &murmur::export::ExportReport, tolerance: f64) {
    let v = report.verification;
    println!(
        "exported {} ({} on {}, {} environment steps) -> {} ({} bytes) in {:.2} s",
        checkpoint.display(),
        report.meta.learner,
        report.meta.environment,
        report.meta.env_steps,
        report.path.display(),
        report.bytes,
        report.seconds
    );
    println!(
        "verified over {} steps against the trained actor: max |probs diff| {:.1e}, max |hidden diff| {:.1e} (tolerance {:.0e})",
        v.steps, v.max_prob_error, v.max_hidden_error, tolerance
    );
}
