//! Resumable checkpoints: `RUN/checkpoints/epoch-NNNN/{model.safetensors, optim.bpk, state.json}` and
//! `RUN/checkpoints/latest` naming the newest complete one (written last, atomically).

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::Tensor;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use super::metrics::MetricRow;
use super::network::Network;
use crate::tensor_io::StoredDtype;

/// Where training stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs completed.
    pub epochs_done: usize,
    pub step: u64,
    pub metrics: Vec<MetricRow>,
    /// Parameter ids in module order: the optimizer state is keyed by them, so a resumed model gets
    /// the same ids.
    pub param_ids: Vec<u64>,
}

fn latest_file(run: &Path) -> PathBuf {
    run.join("checkpoints").join("latest")
}

/// Writes a checkpoint after `state.epochs_done` epochs, then points `latest` at it and removes
/// older ones.
pub fn save(run: &Path, model: &Network, optim: &ModuleOptimizer, state: &TrainState) -> anyhow::Result<()> {
    let dir_name = format!("epoch-{:04}", state.epochs_done);
    let root = run.join("checkpoints");
    let dir = root.join(&dir_name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    model.save_safetensors(&dir.join("model.safetensors"), StoredDtype::F32)?;
    optim.save(dir.join("optim.bpk")).map_err(|e| anyhow::anyhow!("saving optimizer state: {e:?}"))?;
    std::fs::write(dir.join("state.json"), serde_json::to_vec(state)?)?;
    let tmp = root.join("latest.tmp");
    std::fs::write(&tmp, &dir_name)?;
    std::fs::rename(&tmp, latest_file(run))?;
    for e in std::fs::read_dir(&root)?.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("epoch-") && name != dir_name {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Ok(())
}

/// The newest complete checkpoint, if any.
pub fn latest(run: &Path) -> anyhow::Result<Option<PathBuf>> {
    match std::fs::read_to_string(latest_file(run)) {
        Ok(name) => Ok(Some(run.join("checkpoints").join(name.trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Restores model weights with their original parameter ids, and the progress.
pub fn load_model(dir: &Path, model: Network) -> anyhow::Result<(Network, TrainState)> {
    let state: TrainState = serde_json::from_slice(&std::fs::read(dir.join("state.json"))?)?;
    let model = model.load_safetensors(&dir.join("model.safetensors"))?;
    let mut ids = SetIds { ids: state.param_ids.clone(), next: 0 };
    let model = model.map(&mut ids);
    anyhow::ensure!(ids.next == state.param_ids.len(), "checkpoint has {} parameters, the model {}", state.param_ids.len(), ids.next);
    Ok((model, state))
}

/// Restores the optimiser state (moments, step counts). `optim` must already hold the parameter
/// groups of the model returned by [`load_model`]: the state is routed to groups by parameter id.
pub fn load_optimizer(dir: &Path, optim: ModuleOptimizer) -> anyhow::Result<ModuleOptimizer> {
    optim.load(dir.join("optim.bpk")).map_err(|e| anyhow::anyhow!("loading optimizer state: {e:?}"))
}

/// Gives the i-th parameter (module order) the i-th saved id.
struct SetIds {
    ids: Vec<u64>,
    next: usize,
}

impl ModuleMapper for SetIds {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let value = param.val();
        let id = ParamId::from(self.ids.get(self.next).copied().unwrap_or_else(|| param.id.val()));
        self.next += 1;
        Param::initialized(id, value)
    }
}
