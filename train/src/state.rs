//! What a run needs beyond its networks' parameters to continue exactly
//! where it stopped: optimiser moments, target-update counters, search
//! states. Named tensors, saved beside a checkpoint's networks as
//! `training_state.safetensors`; counters are stored as int64 tensors,
//! real-valued state as float64.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use crate::{CheckpointProblem, Error, Result};

/// The file name of a checkpoint's training state.
pub const STATE_FILE: &str = "training_state.safetensors";

/// Named tensors of resumable state (on the CPU).
#[derive(Debug, Default)]
pub struct TrainingState {
    tensors: BTreeMap<String, Tensor>,
    /// The file read, for errors.
    source: PathBuf,
}

impl TrainingState {
    /// Stores a copy of `t` as `name`.
    pub fn put(&mut self, name: &str, t: &Tensor) {
        let copy = tch::no_grad(|| t.detach().to_device(tch::Device::Cpu).copy());
        self.tensors.insert(name.to_string(), copy);
    }

    /// Stores counters.
    pub fn put_u64s(&mut self, name: &str, values: &[u64]) {
        let values: Vec<i64> = values.iter().map(|&v| v as i64).collect();
        self.tensors.insert(name.to_string(), Tensor::from_slice(&values));
    }

    /// Stores real numbers (as float64).
    pub fn put_f64s(&mut self, name: &str, values: &[f64]) {
        self.tensors.insert(name.to_string(), Tensor::from_slice(values));
    }

    /// Whether an entry exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    fn problem(&self, problem: CheckpointProblem) -> Error {
        Error::checkpoint(&self.source, problem)
    }

    /// The entry `name`.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.tensors.get(name).ok_or_else(|| self.problem(CheckpointProblem::MissingTensor(name.to_string())))
    }

    /// The entry `name`, checked to have `like`'s shape, in `like`'s kind
    /// and on its device.
    pub fn get_like(&self, name: &str, like: &Tensor) -> Result<Tensor> {
        let t = self.get(name)?;
        if t.size() != like.size() {
            return Err(self.problem(CheckpointProblem::Shape { name: name.into(), got: t.size(), want: like.size() }));
        }
        Ok(t.to_kind(like.kind()).to_device(like.device()))
    }

    fn vector(&self, name: &str, kind: Kind, len: Option<usize>) -> Result<Tensor> {
        let t = self.get(name)?;
        let want = len.map(|n| vec![n as i64]);
        if t.dim() != 1 || t.kind() != kind || want.as_ref().is_some_and(|w| &t.size() != w) {
            let want = want.unwrap_or_else(|| vec![-1]);
            return Err(self.problem(CheckpointProblem::Shape { name: name.into(), got: t.size(), want }));
        }
        Ok(t.shallow_clone())
    }

    /// Counters stored by [`put_u64s`](Self::put_u64s), `len` of them when given.
    pub fn get_u64s(&self, name: &str, len: Option<usize>) -> Result<Vec<u64>> {
        let t = self.vector(name, Kind::Int64, len)?;
        let values = Vec::<i64>::try_from(&t).map_err(|e| self.problem(CheckpointProblem::Tensors(e)))?;
        Ok(values.into_iter().map(|v| v as u64).collect())
    }

    /// Reals stored by [`put_f64s`](Self::put_f64s), `len` of them when given.
    pub fn get_f64s(&self, name: &str, len: Option<usize>) -> Result<Vec<f64>> {
        let t = self.vector(name, Kind::Double, len)?;
        Vec::<f64>::try_from(&t).map_err(|e| self.problem(CheckpointProblem::Tensors(e)))
    }

    /// Writes every entry to `path` (safetensors).
    pub fn save(&self, path: &Path) -> Result<()> {
        let named: Vec<(&str, &Tensor)> = self.tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
        Tensor::write_safetensors(&named, path).map_err(|e| Error::checkpoint(path, CheckpointProblem::Tensors(e)))
    }

    /// Reads a file written by [`save`](Self::save).
    pub fn load(path: &Path) -> Result<Self> {
        let tensors = Tensor::read_safetensors(path)
            .map_err(|e| Error::checkpoint(path, CheckpointProblem::Tensors(e)))?
            .into_iter()
            .collect();
        Ok(Self { tensors, source: path.to_path_buf() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_what_is_missing_or_misshapen() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = TrainingState::default();
        state.put_u64s("target/follows", &[7]);
        state.put_f64s("cmaes/mean", &[0.5, -1.25]);
        state.put("opt/second/0", &Tensor::from_slice(&[1.0f32, 2.0]));
        let path = dir.path().join(STATE_FILE);
        state.save(&path).unwrap();

        let back = TrainingState::load(&path).unwrap();
        assert_eq!(back.get_u64s("target/follows", Some(1)).unwrap(), vec![7]);
        assert_eq!(back.get_f64s("cmaes/mean", None).unwrap(), vec![0.5, -1.25]);
        let like = Tensor::zeros([2], (Kind::Float, tch::Device::Cpu));
        assert!(back.get_like("opt/second/0", &like).unwrap().equal(&Tensor::from_slice(&[1.0f32, 2.0])));

        let err = back.get_u64s("opt/steps", None).unwrap_err().to_string();
        assert!(err.contains(STATE_FILE) && err.contains("opt/steps"), "{err}");
        let err = back.get_f64s("cmaes/mean", Some(3)).unwrap_err().to_string();
        assert!(err.contains("cmaes/mean") && err.contains("[2]") && err.contains("[3]"), "{err}");
    }
}
