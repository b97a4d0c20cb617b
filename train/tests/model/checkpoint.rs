//! Official-layout safetensors files load by name: every tensor lands where it should; bad
//! files are specific errors; F16 and F32 round-trip.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Device, Tensor};
use dist_train::model::{dist_tensors, infer_config, DistConfig, DistModel, InputShapes, PoolingKind, TemporalBlockKind, OFFICIAL_PREFIX};
use dist_train::tensor_io::{write_safetensors, HostTensor, StoredDtype};
use dist_train::Error;

use super::common::{inputs, tiny_config, values};

/// A file with a distinct, recognisable value pattern per tensor (tensor i holds
/// `i + j/numel` at element j), plus frozen-CLIP keys that loading must ignore.
fn official_file(model: &DistModel) -> BTreeMap<String, HostTensor> {
    let mut file = BTreeMap::new();
    for (i, param) in model.named_params().iter().enumerate() {
        let numel = param.numel();
        let data = (0..numel).map(|j| i as f32 + j as f32 / numel as f32).collect();
        file.insert(format!("{OFFICIAL_PREFIX}{}", param.name), HostTensor { shape: param.shape.clone(), data });
    }
    file.insert("backbone.base_encoder.visual.conv1.weight".into(), HostTensor { shape: vec![2], data: vec![1.0, 2.0] });
    file.insert("backbone.base_encoder.logit_scale".into(), HostTensor { shape: vec![], data: vec![4.6052] });
    file
}

fn write(dir: &Path, name: &str, file: &BTreeMap<String, HostTensor>, dtype: StoredDtype) -> std::path::PathBuf {
    let path = dir.join(name);
    write_safetensors(&path, file, dtype).unwrap();
    path
}

#[test]
fn every_tensor_lands_under_its_official_name() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    for config in [tiny_config(), DistConfig { temporal_block: TemporalBlockKind::C3d, ..tiny_config() }] {
        let model = config.init(&device).unwrap();
        let file = official_file(&model);
        let path = write(dir.path(), "w.safetensors", &file, StoredDtype::F32);
        let loaded = config.init(&device).unwrap().load_safetensors(&path).unwrap();
        let saved = loaded.to_host_tensors();
        assert_eq!(saved.len(), model.named_params().len());
        for (key, tensor) in &saved {
            assert_eq!(tensor, &file[key], "{key}");
        }
        // Spot checks through the modules: the PyTorch `[out, in]` weight is applied as x·Wᵀ + b.
        let w = &file[&format!("{OFFICIAL_PREFIX}input_linears.1.weight")];
        let b = &file[&format!("{OFFICIAL_PREFIX}input_linears.1.bias")];
        let x = Tensor::<2>::ones([1, config.width], &device);
        let y = values(&loaded.input_linears[1].forward(x));
        let [a, c] = [w.shape[0], w.shape[1]];
        for o in [0, a - 1] {
            let want: f32 = (0..c).map(|i| w.data[o * c + i]).sum::<f32>() + b.data[o];
            assert!((y[o] - want).abs() < 1e-3 * want.abs().max(1.0), "output {o}: {} vs {want}", y[o]);
        }
        assert_eq!(values(&loaded.proj.val()), file[&format!("{OFFICIAL_PREFIX}proj")].data);
    }
}

#[test]
fn f16_files_load_and_saved_files_reload() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config();
    let model = config.init(&device).unwrap();
    let (taps, frames) = inputs(&config, 1, [2, 2], &device);
    let reference = values(&model.forward(&taps, frames.clone()).unwrap());

    let f32_path = dir.path().join("f32.safetensors");
    model.save_safetensors(&f32_path, StoredDtype::F32).unwrap();
    let reloaded = config.init(&device).unwrap().load_safetensors(&f32_path).unwrap();
    assert_eq!(values(&reloaded.forward(&taps, frames.clone()).unwrap()), reference);

    let f16_path = dir.path().join("f16.safetensors");
    model.save_safetensors(&f16_path, StoredDtype::F16).unwrap();
    let half = config.init(&device).unwrap().load_safetensors(&f16_path).unwrap();
    let got = values(&half.forward(&taps, frames).unwrap());
    let worst = got.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 5e-2, "f16 weights drift by {worst}");
}

#[test]
fn bad_files_are_specific_errors() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config();
    let model = config.init(&device).unwrap();
    let good = official_file(&model);
    let key = |name: &str| format!("{OFFICIAL_PREFIX}{name}");

    let mut missing = good.clone();
    missing.remove(&key("ln_post.bias"));
    let path = write(dir.path(), "missing.safetensors", &missing, StoredDtype::F32);
    let err = config.init(&device).unwrap().load_safetensors(&path).unwrap_err();
    assert!(matches!(&err, Error::MissingTensor { key, .. } if key == "ln_post.bias"), "{err}");

    let mut reshaped = good.clone();
    reshaped.insert(key("proj"), HostTensor { shape: vec![16, 64], data: vec![0.0; 1024] });
    let path = write(dir.path(), "shape.safetensors", &reshaped, StoredDtype::F32);
    let err = config.init(&device).unwrap().load_safetensors(&path).unwrap_err();
    assert!(matches!(&err, Error::TensorShape { key, .. } if key == "proj"), "{err}");

    let mut extra = good;
    extra.insert(key("adapooling_nets.9.positional_embedding"), HostTensor { shape: vec![1], data: vec![0.0] });
    let path = write(dir.path(), "extra.safetensors", &extra, StoredDtype::F32);
    let err = config.init(&device).unwrap().load_safetensors(&path).unwrap_err();
    assert!(err.to_string().contains("adapooling_nets.9.positional_embedding"), "{err}");

    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a safetensors file").unwrap();
    assert!(matches!(config.init(&device).unwrap().load_safetensors(&garbage), Err(Error::Safetensors { .. })));
}

#[test]
fn pooling_kind_and_patch_count_are_inferred_from_the_weights() {
    let device = Device::flex();
    let path = Path::new("w.safetensors");
    let shapes = InputShapes { taps: Some([4, 7, 32]), frames: Some([2, 3, 4, 16, 24]) };
    for pooling in [PoolingKind::Ada, PoolingKind::Mean, PoolingKind::Weighted] {
        let config = DistConfig { pooling, patches: 6, ..tiny_config() };
        let tensors = dist_tensors(config.init(&device).unwrap().to_host_tensors());
        let inferred = infer_config(path, &tensors, shapes).unwrap();
        assert_eq!((inferred.pooling, inferred.patches), (pooling, 6), "{pooling:?}");
        // The weighted table alone tells the patch count.
        if pooling == PoolingKind::Weighted {
            let inferred = infer_config(path, &tensors, InputShapes { taps: None, ..shapes }).unwrap();
            assert_eq!(inferred.patches, 6);
        }
    }
}
