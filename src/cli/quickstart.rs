pub fn run(_a: QuickstartArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {}
