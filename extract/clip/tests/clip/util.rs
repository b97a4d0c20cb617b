//! Fixture access and comparisons.

use std::collections::HashMap;
use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use safetensors::SafeTensors;

/// `extract/clip/fixtures/<name>`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The backend under test: `DIST_DEVICE` names it (`cpu` when unset), so the same parity tests check
/// the wgpu path with `DIST_DEVICE=wgpu cargo test -p dist-clip --features wgpu` (docs/clip.md).
pub(crate) fn device() -> Device {
    let backend: dist_clip::Backend = std::env::var("DIST_DEVICE")
        .map(|name| name.parse().unwrap())
        .unwrap_or_default();
    backend.device(dist_clip::DType::F32).unwrap()
}

/// All f32 tensors of a safetensors file: name -> (shape, data).
pub(crate) fn read_expected(name: &str) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(k, v)| {
            let data = v
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (k, (v.shape().to_vec(), data))
        })
        .collect()
}

/// A .npy file's shape and values.
pub(crate) fn read_npy<T: npyz::Deserialize>(name: &str) -> (Vec<usize>, Vec<T>) {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    (shape, npy.into_vec().unwrap())
}

pub(crate) fn to_vec<const D: usize>(t: &Tensor<D>) -> (Vec<usize>, Vec<f32>) {
    (
        t.dims().to_vec(),
        t.to_data().convert::<f32>().try_into_vec::<f32>().unwrap(),
    )
}

/// Asserts equal shapes and max |a - b| <= tol; returns the max difference.
#[track_caller]
pub(crate) fn assert_close<const D: usize>(
    what: &str,
    actual: &Tensor<D>,
    expected: &(Vec<usize>, Vec<f32>),
    tol: f32,
) -> f32 {
    let (shape, data) = to_vec(actual);
    assert_eq!(shape, expected.0, "{what}: shape");
    let max = data
        .iter()
        .zip(&expected.1)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max <= tol, "{what}: max |diff| {max:e} > {tol:e}");
    max
}
