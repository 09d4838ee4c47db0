//! Learning curves from run directories into a PNG.
//!
//! Runs whose configs are identical but for the seed (and the budget,
//! device and logging cadence) form one curve: the
//! mean over seeds with a band of one standard deviation, on a common grid
//! of environment steps. A single run is drawn as its (smoothed) curve.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use murmur_train::learner::LEARNERS;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// What can go wrong while plotting.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A run's file is missing or unreadable.
    #[error("{path}: {msg}")]
    Run {
        /// The offending file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// Drawing or writing the image failed.
    #[error("cannot draw {path}: {msg}")]
    Draw {
        /// The output file.
        path: PathBuf,
        /// The backend's message.
        msg: String,
    },
}

/// One run's curve: environment steps and the metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Environment steps of each row.
    pub steps: Vec<f64>,
    /// The metric at each row.
    pub values: Vec<f64>,
}

/// Runs sharing a config but for the seed.
#[derive(Debug, Clone)]
pub struct CurveGroup {
    /// Legend label: learner, environment, the settings that set it apart
    /// from groups of the same learner and environment, and the number of
    /// seeds.
    pub label: String,
    /// One curve per run.
    pub runs: Vec<Curve>,
    /// The run directories, in the order of `runs`.
    pub dirs: Vec<PathBuf>,
}

/// Reads column `metric` against `env_steps` from a run's `metrics.csv`,
/// skipping rows where it is blank.
pub fn read_curve(run: &Path, metric: &str) -> Result<Curve, PlotError> {
    let path = run.join("metrics.csv");
    let bad = |msg: String| PlotError::Run { path: path.clone(), msg };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or_else(|| bad("empty file".into()))?.split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let steps_col = col("env_steps").ok_or_else(|| bad("no `env_steps` column".into()))?;
    let metric_col =
        col(metric).ok_or_else(|| bad(format!("no `{metric}` column (columns: {})", header.join(", "))))?;
    let mut curve = Curve { steps: vec![], values: vec![] };
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let cell = |c: usize| cells.get(c).copied().unwrap_or("");
        if cell(metric_col).is_empty() {
            continue;
        }
        let parse =
            |c: usize| cell(c).parse::<f64>().map_err(|_| bad(format!("row {}: `{}` is not a number", i + 2, cell(c))));
        curve.steps.push(parse(steps_col)?);
        curve.values.push(parse(metric_col)?);
    }
    if curve.steps.is_empty() {
        return Err(bad(format!("no values of `{metric}` yet")));
    }
    Ok(curve)
}

/// Groups runs by their config with the seed removed.
pub fn group_runs(runs: &[PathBuf], metric: &str) -> Result<Vec<CurveGroup>, PlotError> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for run in runs {
        let cfg_path = run.join("config.toml");
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| PlotError::Run {
            path: cfg_path.clone(),
            msg: format!("cannot read: {e} (is this a run directory?)"),
        })?;
        let mut table: toml::Table = toml::from_str(&text)
            .map_err(|e| PlotError::Run { path: cfg_path.clone(), msg: e.message().to_string() })?;
        // Keys that change what is logged, not what is learned.
        for key in ["seed", "t_max", "device", "eval_interval", "eval_episodes", "save_interval"] {
            table.remove(key);
        }
        let learner = table.get("learner").and_then(|v| v.as_str()).unwrap_or("?").to_string();
        // Other learners' tables do not change this run (and runs written
        // before a learner existed lack its table).
        for other in LEARNERS.iter().filter(|l| l.name != learner) {
            table.remove(other.name);
        }
        let env_table = table.get("env");
        let field = |k: &str| env_table.and_then(|e| e.get(k)).and_then(|v| v.as_str());
        // A battle is named by its map ("battle 2s3z"), or "custom" for a
        // list of units.
        let custom = env_table.is_some_and(|e| e.get("allies").is_some());
        let env = match (field("name").unwrap_or("?"), field("map")) {
            ("battle", Some(map)) => format!("battle {map}"),
            ("battle", None) if custom => "battle (custom units)".to_string(),
            ("battle", None) => format!("battle {}", murmur_train::env::battle::DEFAULT_MAP),
            (name, _) => name.to_string(),
        };
        let key = toml::to_string(&table).unwrap_or_default();
        let entry = groups.entry(key).or_insert_with(|| Group {
            label: format!("{learner} on {env}"),
            settings: flatten(&table),
            runs: vec![],
            dirs: vec![],
        });
        entry.runs.push(read_curve(run, metric)?);
        entry.dirs.push(run.clone());
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    // Same label for different configs: name the settings that differ.
    let labels: Vec<String> = groups.iter().map(|g| g.label.clone()).collect();
    for (i, label) in labels.iter().enumerate() {
        let twins: Vec<usize> = (0..groups.len()).filter(|&j| labels[j] == *label).collect();
        if twins.len() > 1 {
            let differ = differing_settings(&groups, &twins, i);
            groups[i].label = format!("{label}, {differ}");
        }
    }
    Ok(groups
        .into_iter()
        .map(|g| {
            let n = g.runs.len();
            let label = format!("{} ({} seed{})", g.label, n, if n == 1 { "" } else { "s" });
            CurveGroup { label, runs: g.runs, dirs: g.dirs }
        })
        .collect())
}

/// Runs being gathered into one curve.
struct Group {
    label: String,
    /// The config's settings by dotted key (`lica.critic.lr`).
    settings: BTreeMap<String, String>,
    runs: Vec<Curve>,
    dirs: Vec<PathBuf>,
}

/// Most settings named in a legend label; more are counted.
const MAX_NAMED_SETTINGS: usize = 3;

/// `key = value` for each setting of group `i` that not all of `twins`
/// share (a setting a group lacks reads "unset"), at most
/// [`MAX_NAMED_SETTINGS`] of them and a count of the rest.
fn differing_settings(groups: &[Group], twins: &[usize], i: usize) -> String {
    let keys: std::collections::BTreeSet<&String> = twins.iter().flat_map(|&j| groups[j].settings.keys()).collect();
    let value = |j: usize, k: &str| groups[j].settings.get(k).map_or("unset", String::as_str);
    let differ: Vec<String> = keys
        .into_iter()
        .filter(|k| twins.iter().any(|&j| value(j, k) != value(i, k)))
        .map(|k| format!("{k} = {}", value(i, k)))
        .collect();
    let named = differ.iter().take(MAX_NAMED_SETTINGS).cloned().collect::<Vec<_>>().join(", ");
    match differ.len().saturating_sub(MAX_NAMED_SETTINGS) {
        0 => named,
        more => format!("{named} and {more} more"),
    }
}

/// Every leaf of `table` by its dotted key, its value as TOML writes it.
fn flatten(table: &toml::Table) -> BTreeMap<String, String> {
    fn walk(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
        for (k, v) in table {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                toml::Value::Table(t) => walk(&key, t, out),
                v => {
                    out.insert(key, v.to_string());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", table, &mut out);
    out
}

/// Trailing moving average over `window` points.
pub fn smooth(values: &[f64], window: usize) -> Vec<f64> {
    let w = window.max(1);
    let mut sum = 0.0;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            sum += v;
            if i >= w {
                sum -= values[i - w];
            }
            sum / (i + 1).min(w) as f64
        })
        .collect()
}

/// Linear interpolation of a curve at `x` (clamped to its ends).
pub fn interpolate(c: &Curve, x: f64) -> f64 {
    let i = c.steps.partition_point(|&s| s < x);
    if i == 0 {
        return c.values[0];
    }
    if i >= c.steps.len() {
        return c.values[c.values.len() - 1];
    }
    let (x0, x1, y0, y1) = (c.steps[i - 1], c.steps[i], c.values[i - 1], c.values[i]);
    if x1 == x0 {
        y1
    } else {
        y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    }
}

/// Mean and standard deviation over a group's runs on a common grid of
/// `points` environment-step values, up to the shortest run's end; each run
/// smoothed over `window` rows first. Returns (steps, mean, std).
pub fn aggregate(group: &CurveGroup, points: usize, window: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let smoothed: Vec<Curve> =
        group.runs.iter().map(|c| Curve { steps: c.steps.clone(), values: smooth(&c.values, window) }).collect();
    let start = smoothed.iter().map(|c| c.steps[0]).fold(f64::NEG_INFINITY, f64::max);
    let end = smoothed.iter().map(|c| c.steps[c.steps.len() - 1]).fold(f64::INFINITY, f64::min);
    let n = points.max(2);
    let xs: Vec<f64> = (0..n).map(|k| start + (end - start) * k as f64 / (n - 1) as f64).collect();
    let (mut mean, mut std) = (vec![], vec![]);
    for &x in &xs {
        let ys: Vec<f64> = smoothed.iter().map(|c| interpolate(c, x)).collect();
        mean.push(murmur_train::buffer::mean(&ys));
        std.push(murmur_train::buffer::std_dev(&ys));
    }
    (xs, mean, std)
}

/// Draws `runs`' curves of `metric` into the PNG `out` (written atomically).
pub fn plot_runs(runs: &[PathBuf], metric: &str, out: &Path) -> Result<Vec<CurveGroup>, PlotError> {
    plot_runs_with(runs, metric, &[], out)
}

/// Like [`plot_runs`], with labelled horizontal reference lines (e.g. a
/// baseline's return, or what the swarm scored over the network).
pub fn plot_runs_with(
    runs: &[PathBuf],
    metric: &str,
    references: &[(String, f64)],
    out: &Path,
) -> Result<Vec<CurveGroup>, PlotError> {
    let groups = group_runs(runs, metric)?;
    let tmp = out.with_file_name(format!(
        ".{}.tmp-{}.png",
        out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let draw_err = |e: String| PlotError::Draw { path: out.to_path_buf(), msg: e };
    // The font ships inside the binary: plots need no system fonts.
    let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT);
    draw(&groups, metric, references, &tmp).map_err(draw_err)?;
    std::fs::rename(&tmp, out).map_err(|e| draw_err(e.to_string()))?;
    Ok(groups)
}

fn draw(groups: &[CurveGroup], metric: &str, references: &[(String, f64)], path: &Path) -> Result<(), String> {
    let series: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = groups
        .iter()
        .map(|g| {
            let rows = g.runs.iter().map(|c| c.steps.len()).min().unwrap_or(1);
            aggregate(g, rows.clamp(2, 300), (rows / 50).max(1))
        })
        .collect();
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for (xs, m, s) in &series {
        x_max = x_max.max(xs.last().copied().unwrap_or(1.0));
        for (mi, si) in m.iter().zip(s) {
            y_min = y_min.min(mi - si);
            y_max = y_max.max(mi + si);
        }
    }
    for (_, y) in references {
        y_min = y_min.min(*y);
        y_max = y_max.max(*y);
    }
    let pad = ((y_max - y_min) * 0.05).max(1e-6);
    let root = BitMapBackend::new(path, (1000, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("murmur: {metric}"), ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, (y_min - pad)..(y_max + pad))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("environment steps")
        .y_desc(metric)
        .x_label_formatter(&|x| if *x >= 1e6 { format!("{:.1}M", x / 1e6) } else { format!("{:.0}k", x / 1e3) })
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(|e| e.to_string())?;
    for (k, ((xs, mean, std), g)) in series.iter().zip(groups).enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let band: Vec<(f64, f64)> = xs
            .iter()
            .zip(mean.iter().zip(std))
            .map(|(x, (m, s))| (*x, m + s))
            .chain(xs.iter().rev().zip(mean.iter().rev().zip(std.iter().rev())).map(|(x, (m, s))| (*x, m - s)))
            .collect();
        chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.2)))).map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(xs.iter().copied().zip(mean.iter().copied()), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(g.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
    }
    for (k, (label, y)) in references.iter().enumerate() {
        let color = Palette99::pick(groups.len() + k).to_rgba();
        let (y, x_end) = (*y, x_max);
        let dashes = (0..40).map(move |i| {
            let x0 = x_end * f64::from(i) / 40.0;
            PathElement::new(vec![(x0, y), (x0 + x_end / 80.0, y)], color.stroke_width(2))
        });
        chart
            .draw_series(dashes)
            .map_err(|e| e.to_string())?
            .label(format!("{label}: {y:.1}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn battles_are_labelled_by_their_map() {
        let dir = tempfile::tempdir().unwrap();
        let run = |name: &str, env: &str| {
            let d = dir.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("config.toml"), format!("learner = \"mappo\"\n[env]\n{env}\n")).unwrap();
            std::fs::write(d.join("metrics.csv"), "env_steps,return_mean\n100,1.5\n").unwrap();
            d
        };
        let runs = [
            run("a", "name = \"battle\"\nmap = \"2s3z\""),
            run("b", "name = \"battle\""),
            run("c", "name = \"battle\"\nallies = [\"marine\"]\nenemies = [\"zealot\"]"),
        ];
        let mut labels: Vec<String> = group_runs(&runs, "return_mean").unwrap().into_iter().map(|g| g.label).collect();
        labels.sort();
        assert_eq!(
            labels,
            ["mappo on battle (custom units) (1 seed)", "mappo on battle 2s3z (1 seed)", "mappo on battle 3m (1 seed)"]
        );
    }

    #[test]
    fn configs_that_share_a_label_are_told_apart_by_what_differs() {
        let dir = tempfile::tempdir().unwrap();
        let run = |name: &str, lr: &str, seed: u64| {
            let d = dir.path().join(name);
            std::fs::create_dir_all(&d).unwrap();
            let config =
                format!("learner = \"lica\"\nseed = {seed}\n[env]\nname = \"spread\"\n[lica.critic]\nlr = {lr}\n");
            std::fs::write(d.join("config.toml"), config).unwrap();
            std::fs::write(d.join("metrics.csv"), "env_steps,return_mean\n100,1.5\n").unwrap();
            d
        };
        let runs = [run("a1", "0.0005", 1), run("a2", "0.0005", 2), run("b1", "0.0001", 1)];
        let mut labels: Vec<String> = group_runs(&runs, "return_mean").unwrap().into_iter().map(|g| g.label).collect();
        labels.sort();
        assert_eq!(
            labels,
            ["lica on spread, lica.critic.lr = 0.0001 (1 seed)", "lica on spread, lica.critic.lr = 0.0005 (2 seeds)"]
        );
    }

    #[test]
    fn smoothing_interpolation_and_aggregation() {
        assert_eq!(smooth(&[1.0, 3.0, 5.0, 7.0], 2), vec![1.0, 2.0, 4.0, 6.0]);
        let c = Curve { steps: vec![0.0, 10.0, 20.0], values: vec![0.0, 10.0, 0.0] };
        assert_eq!(interpolate(&c, 5.0), 5.0);
        assert_eq!(interpolate(&c, 15.0), 5.0);
        assert_eq!(interpolate(&c, 99.0), 0.0);
        let g = CurveGroup {
            label: "x".into(),
            runs: vec![c.clone(), Curve { steps: vec![0.0, 20.0], values: vec![2.0, 2.0] }],
            dirs: vec![],
        };
        let (xs, m, s) = aggregate(&g, 3, 1);
        assert_eq!(xs, vec![0.0, 10.0, 20.0]);
        assert_eq!(m, vec![1.0, 6.0, 1.0]);
        assert!((s[1] - (32.0f64).sqrt()).abs() < 1e-12);
    }
}
