//! Final-performance tables over runs: per config (runs that differ only in
//! their seed), the mean over seeds with a 95% confidence interval from
//! Student's t distribution, of the training return near the end of each
//! run and of its last greedy evaluation.

use std::path::PathBuf;

use crate::plot::{group_runs, read_curve, PlotError};

/// A mean over seeds and the half-width of its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Mean over seeds.
    pub mean: f64,
    /// Half-width of the 95% interval (0 with one seed).
    pub half_width: f64,
}

impl Interval {
    /// The interval of `xs`' mean: `t_{0.975, k-1} s / sqrt(k)`.
    pub fn of(xs: &[f64]) -> Self {
        let k = xs.len();
        let mean = murmur_train::buffer::mean(xs);
        let half_width = if k < 2 { 0.0 } else { t_975(k - 1) * murmur_train::buffer::std_dev(xs) / (k as f64).sqrt() };
        Self { mean, half_width }
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} ± {:.1}", self.mean, self.half_width)
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom.
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => 1.96 + 2.4 / df as f64, // within 0.003 of the exact value beyond 30
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct SummaryRow {
    /// Learner, simulator and seed count.
    pub label: String,
    /// Environment steps of the shortest run.
    pub steps: f64,
    /// Training return (sampled actions) averaged over each run's last
    /// `window` fraction of steps.
    pub training: Interval,
    /// Each run's last greedy evaluation, when every run has one.
    pub greedy: Option<Interval>,
    /// The share of battles its last greedy evaluation won (in %), on
    /// tasks with a win condition.
    pub greedy_win_rate: Option<Interval>,
    /// The per-seed training figures, in run order.
    pub per_seed: Vec<f64>,
    /// The run directories.
    pub dirs: Vec<PathBuf>,
}

/// Summarises `runs` (run directories), averaging each run's training
/// return over its last `window` fraction of environment steps.
pub fn summarise(runs: &[PathBuf], window: f64) -> Result<Vec<SummaryRow>, PlotError> {
    let window = window.clamp(0.0, 1.0);
    let mut rows = Vec::new();
    for group in group_runs(runs, "return_mean")? {
        let per_seed: Vec<f64> = group
            .runs
            .iter()
            .map(|c| {
                let end = c.steps[c.steps.len() - 1];
                let tail: Vec<f64> = c
                    .steps
                    .iter()
                    .zip(&c.values)
                    .filter(|(s, _)| **s >= end * (1.0 - window))
                    .map(|(_, v)| *v)
                    .collect();
                murmur_train::buffer::mean(&tail)
            })
            .collect();
        let last = |metric: &str| -> Option<Vec<f64>> {
            group.dirs.iter().map(|d| read_curve(d, metric).ok().map(|c| c.values[c.values.len() - 1])).collect()
        };
        let greedy = last("eval_return_mean");
        let wins = last("eval_win_rate").map(|w| w.iter().map(|x| 100.0 * x).collect::<Vec<_>>());
        rows.push(SummaryRow {
            label: group.label.clone(),
            steps: group.runs.iter().map(|c| c.steps[c.steps.len() - 1]).fold(f64::INFINITY, f64::min),
            training: Interval::of(&per_seed),
            greedy: greedy.map(|g| Interval::of(&g)),
            greedy_win_rate: wins.map(|w| Interval::of(&w)),
            per_seed,
            dirs: group.dirs,
        });
    }
    Ok(rows)
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[SummaryRow], window: f64) -> String {
    // Battles: the greedy win rate beside the greedy return.
    let wins = rows.iter().any(|r| r.greedy_win_rate.is_some());
    let (win_head, win_rule) = if wins { (" final greedy battles won, % |", "---|") } else { ("", "") };
    let mut out = format!(
        "| runs | steps | training return, last {:.0}% of steps | final greedy eval |{win_head} per seed (training) |\n|---|---|---|---|{win_rule}---|\n",
        window * 100.0
    );
    for r in rows {
        let greedy = r.greedy.map_or("-".to_string(), |g| g.to_string());
        let won = if wins {
            format!(" {} |", r.greedy_win_rate.map_or("-".to_string(), |w| w.to_string()))
        } else {
            String::new()
        };
        let seeds: Vec<String> = r.per_seed.iter().map(|v| format!("{v:.1}")).collect();
        out.push_str(&format!(
            "| {} | {:.0} | {} | {} |{won} {} |\n",
            r.label,
            r.steps,
            r.training,
            greedy,
            seeds.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_uses_students_t() {
        let i = Interval::of(&[1.0, 2.0, 3.0]);
        assert_eq!(i.mean, 2.0);
        // s = 1, k = 3: 4.303 / sqrt(3).
        assert!((i.half_width - 4.303 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(Interval::of(&[5.0]).half_width, 0.0);
        assert!((t_975(40) - 2.021).abs() < 0.003);
        assert!((t_975(120) - 1.980).abs() < 0.003);
    }
}
