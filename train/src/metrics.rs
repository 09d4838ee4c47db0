//! `metrics.csv`: one row per update, columns fixed by the first row.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Appends rows of named values to a CSV file, flushing each row so a
/// killed run keeps every finished update.
pub struct MetricsWriter {
    path: PathBuf,
    out: BufWriter<File>,
    columns: Option<Vec<String>>,
}

impl MetricsWriter {
    /// Opens `path` for appending; an existing header fixes the columns.
    pub fn open(path: &Path) -> Result<Self> {
        let columns = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.lines().next().map(|h| h.split(',').map(str::to_string).collect()));
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(Error::io(path))?;
        Ok(Self { path: path.to_path_buf(), out: BufWriter::new(file), columns })
    }

    /// Writes one row; `None` values are left blank. The first row written
    /// to a new file also writes the header.
    pub fn write(&mut self, row: &[(&str, Option<f64>)]) -> Result<()> {
        let columns = self.columns.get_or_insert_with(|| row.iter().map(|(k, _)| k.to_string()).collect());
        let mut line = String::new();
        if self.out.get_ref().metadata().map(|m| m.len() == 0).unwrap_or(false) {
            line.push_str(&columns.join(","));
            line.push('\n');
        }
        let cells: Vec<String> = columns
            .iter()
            .map(|c| row.iter().find(|(k, _)| k == c).and_then(|(_, v)| *v).map(|v| format!("{v}")).unwrap_or_default())
            .collect();
        line.push_str(&cells.join(","));
        line.push('\n');
        self.out.write_all(line.as_bytes()).and_then(|()| self.out.flush()).map_err(Error::io(&self.path))
    }
}

/// Keeps only the rows of `path` whose first column (environment steps) is
/// at most `env_steps`: on resume, rows after the checkpoint are replayed.
pub fn truncate_after(path: &Path, env_steps: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let mut kept = String::new();
    for (i, line) in text.lines().enumerate() {
        let step = line.split(',').next().and_then(|s| s.parse::<f64>().ok());
        if i == 0 || step.is_some_and(|s| s <= env_steps as f64) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    crate::fsio::write_atomic(path, kept.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_once_blank_cells_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.csv");
        let mut w = MetricsWriter::open(&p).unwrap();
        w.write(&[("env_steps", Some(100.0)), ("ret", Some(-1.5)), ("eval", None)]).unwrap();
        w.write(&[("env_steps", Some(200.0)), ("eval", Some(3.0)), ("ret", Some(-1.0))]).unwrap();
        drop(w);
        let mut w = MetricsWriter::open(&p).unwrap();
        w.write(&[("env_steps", Some(300.0)), ("ret", Some(0.5)), ("eval", None)]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "env_steps,ret,eval\n100,-1.5,\n200,-1,3\n300,0.5,\n");
        truncate_after(&p, 200).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "env_steps,ret,eval\n100,-1.5,\n200,-1,3\n");
    }
}
