//! A wrong, partial or non-checkpoint file fails with an error that names the file, the tensor and the
//! shapes.

use std::path::Path;

use dist_clip::{load_model, ClipError};
use safetensors::tensor::TensorView;
use safetensors::SafeTensors;

use super::util::{device, fixture};

/// Copies the hf_clip fixture into `dir`, with `edit` applied to its tensor list.
fn write_edited(dir: &Path, edit: impl Fn(&str, Vec<usize>) -> Option<Vec<usize>>) {
    std::fs::copy(fixture("hf_clip/config.json"), dir.join("config.json")).unwrap();
    let bytes = std::fs::read(fixture("hf_clip/model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut owned = Vec::new();
    for (name, view) in st.tensors() {
        if let Some(shape) = edit(&name, view.shape().to_vec()) {
            let elements: usize = shape.iter().product();
            owned.push((
                name,
                view.dtype(),
                shape,
                view.data()[..elements * 4].to_vec(),
            ));
        }
    }
    let views: Vec<_> = owned
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
}

fn load_dir(dir: &Path) -> ClipError {
    load_model(dir.to_str().unwrap(), &device()).unwrap_err()
}

#[test]
fn wrong_shape_names_tensor_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let target = "vision_model.encoder.layers.1.mlp.fc1.weight";
    write_edited(dir.path(), |name, shape| {
        Some(if name == target { vec![64, 32] } else { shape })
    });
    let err = load_dir(dir.path());
    match &err {
        ClipError::ShapeMismatch {
            tensor,
            expected,
            actual,
            ..
        } => {
            assert_eq!(tensor, target);
            assert_eq!(expected, &vec![128, 32]);
            assert_eq!(actual, &vec![64, 32]);
        }
        other => panic!("expected ShapeMismatch, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(target) && message.contains("[64, 32]") && message.contains("[128, 32]"),
        "{message}"
    );
}

#[test]
fn partial_file_names_the_missing_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let target = "text_model.encoder.layers.1.self_attn.v_proj.bias";
    write_edited(dir.path(), |name, shape| (name != target).then_some(shape));
    match load_dir(dir.path()) {
        ClipError::MissingTensor { tensor, path } => {
            assert_eq!(tensor, target);
            assert!(path.ends_with("model.safetensors"));
        }
        other => panic!("expected MissingTensor, got {other}"),
    }
}

#[test]
fn non_checkpoint_files_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"this is not a safetensors file at all").unwrap();
    let err = load_model(junk.to_str().unwrap(), &device()).unwrap_err();
    assert!(matches!(err, ClipError::NotACheckpoint { .. }), "{err}");
    assert!(err.to_string().contains("not a safetensors file"), "{err}");

    // A valid safetensors file that is not a CLIP state dict.
    let other = dir.path().join("other.safetensors");
    let data = vec![0u8; 16];
    let views = vec![(
        "encoder.weight".to_string(),
        TensorView::new(safetensors::Dtype::F32, vec![2, 2], &data).unwrap(),
    )];
    safetensors::serialize_to_file(views, None, &other).unwrap();
    let err = load_model(other.to_str().unwrap(), &device()).unwrap_err();
    assert!(matches!(err, ClipError::NotACheckpoint { .. }), "{err}");
    assert!(err.to_string().contains("encoder.weight"), "{err}");

    let pickle = dir.path().join("ViT-B-16.pt");
    std::fs::write(&pickle, b"PK\x03\x04").unwrap();
    let err = load_model(pickle.to_str().unwrap(), &device()).unwrap_err();
    assert!(matches!(err, ClipError::NotACheckpoint { .. }), "{err}");
    assert!(err.to_string().contains("ViT-B-16.pt") && err.to_string().contains("not a PyTorch state dict"), "{err}");
}

#[test]
fn unknown_specs_are_rejected() {
    let err = load_model("builtin:vit-h14", &device()).unwrap_err();
    assert!(
        matches!(err, ClipError::UnknownSpec { .. }) && err.to_string().contains("builtin:tiny"),
        "{err}"
    );
    let err = load_model("/no/such/model.safetensors", &device()).unwrap_err();
    assert!(matches!(err, ClipError::UnknownSpec { .. }), "{err}");
}
