//! What a hardware-in-the-loop run reports: per episode and overall.

use std::fmt;
use std::time::Duration;

use crate::collector::Rejections;

/// One finished episode.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeSummary {
    /// Episode number.
    pub episode: u64,
    /// Steps executed.
    pub steps: usize,
    /// Sum of the team rewards.
    pub episode_return: f64,
    /// Why the episode is incomplete (`None`: every robot took part
    /// throughout).
    pub incomplete_reason: Option<String>,
    /// Deadline misses per robot in this episode.
    pub deadline_misses: Vec<u64>,
    /// Whether the team won, for tasks with a win condition.
    pub won: Option<bool>,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HilSummary {
    /// Every episode, in order.
    pub episodes: Vec<EpisodeSummary>,
    /// Per-step latency (observations out to last answer or deadline),
    /// microseconds, one value per step.
    pub step_us: Vec<f32>,
    /// Payloads refused on the action keys.
    pub rejected: Rejections,
    /// Realtime steps whose tick came later than the period allows (the
    /// coordinator itself was late).
    pub overruns: u64,
    /// Inputs the robot bridge refused (malformed or impossible poses).
    pub bridge_refused: u64,
    /// Wall time of the episodes.
    pub wall: Duration,
}

impl HilSummary {
    /// Deadline misses per robot over the run.
    pub fn deadline_misses(&self) -> Vec<u64> {
        let n = self.episodes.first().map_or(0, |e| e.deadline_misses.len());
        (0..n).map(|i| self.episodes.iter().map(|e| e.deadline_misses[i]).sum()).collect()
    }

    /// Steps executed over the run.
    pub fn steps(&self) -> usize {
        self.episodes.iter().map(|e| e.steps).sum()
    }

    /// The `q`-quantile (0..=1, nearest rank) of the step latency, in
    /// microseconds; 0 without steps.
    pub fn step_latency_us(&self, q: f64) -> f64 {
        quantile(&self.step_us, q)
    }
}

/// The `q`-quantile (nearest rank) of `xs`; 0 for an empty slice.
pub fn quantile(xs: &[f32], q: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(f32::total_cmp);
    let rank = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).clamp(1, v.len());
    f64::from(v[rank - 1])
}

impl fmt::Display for HilSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let returns: Vec<f64> = self.episodes.iter().map(|e| e.episode_return).collect();
        let mean = murmur_train::buffer::mean(&returns);
        let complete = self.episodes.iter().filter(|e| e.incomplete_reason.is_none()).count();
        let secs = self.wall.as_secs_f64();
        writeln!(
            f,
            "{} episodes ({complete} complete), {} steps in {secs:.1} s ({:.0} steps/s)",
            self.episodes.len(),
            self.steps(),
            self.steps() as f64 / secs.max(1e-9)
        )?;
        writeln!(f, "  mean return:       {mean:.3}")?;
        let wins: Vec<bool> = self.episodes.iter().filter_map(|e| e.won).collect();
        if let Some(rate) = murmur_train::buffer::win_rate(&wins) {
            let won = wins.iter().filter(|&&w| w).count();
            writeln!(f, "  won:               {won} of {} ({:.1}%)", wins.len(), 100.0 * rate)?;
        }
        writeln!(
            f,
            "  step latency:      p50 {:.0} us, p99 {:.0} us",
            self.step_latency_us(0.5),
            self.step_latency_us(0.99)
        )?;
        let misses = self.deadline_misses();
        writeln!(f, "  deadline misses:   {} in all, per robot {misses:?}", misses.iter().sum::<u64>())?;
        if self.bridge_refused > 0 {
            writeln!(
                f,
                "  refused by bridge: {} (malformed or impossible robot inputs, never applied)",
                self.bridge_refused
            )?;
        }
        let r = self.rejected;
        write!(
            f,
            "  refused payloads:  {} ({} malformed, {} out of turn, {} unknown robot, {} duplicate)",
            r.total(),
            r.malformed,
            r.out_of_turn,
            r.unknown_agent,
            r.duplicate
        )?;
        if self.overruns > 0 {
            write!(f, "\n  realtime overruns: {}", self.overruns)?;
        }
        for e in self.episodes.iter().filter(|e| e.incomplete_reason.is_some()) {
            write!(f, "\n  episode {} incomplete: {}", e.episode, e.incomplete_reason.as_deref().unwrap_or(""))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let xs: Vec<f32> = (1..=100).rev().map(|x| x as f32).collect();
        assert_eq!(quantile(&xs, 0.5), 50.0);
        assert_eq!(quantile(&xs, 0.99), 99.0);
        assert_eq!(quantile(&xs, 1.0), 100.0);
        assert_eq!(quantile(&xs, 0.0), 1.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn misses_add_up_per_robot() {
        let ep = |m: Vec<u64>| EpisodeSummary {
            episode: 1,
            steps: 25,
            episode_return: -1.0,
            incomplete_reason: None,
            deadline_misses: m,
            won: None,
        };
        let s = HilSummary { episodes: vec![ep(vec![1, 0, 2]), ep(vec![0, 0, 3])], ..Default::default() };
        assert_eq!(s.deadline_misses(), [1, 0, 5]);
        assert_eq!(s.steps(), 50);
    }
}
