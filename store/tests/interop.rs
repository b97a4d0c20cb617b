//! zarr-python, pandas and pyarrow read what this crate writes, with the same values.
//!
//! Needs a Python with `zarr>=3`, pandas and pyarrow: `$DIST_PYTHON`, else `<workspace>/.venv/bin/python`
//! (`make test` creates it). bf16 stores are not checked: zarr-python 3.1 has no bfloat16 data type.
//! Every other element type is checked zstd-compressed and uncompressed.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use dist_store::*;

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("DIST_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(venv.exists(), "no Python test client: run `make test` (it creates .venv) or set DIST_PYTHON");
    venv
}

#[test]
fn python_tools_read_the_store() {
    let layouts = every_layout().filter(|&(_, e)| e != ElementType::Bf16);
    for (compression, element) in layouts {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = Store::create(&path, small_meta_compressed(element, compression, 8, 3)).unwrap();
        write_full_shard(&store, 0);
        write_full_shard(&store, 2);
        store
            .write_label_set(&LabelSet {
                name: "train".into(),
                classes: vec!["up".into(), "down".into()],
                embeddings: vec![0.5, -0.25, 1.0, 0.0, 2.0, 3.0],
                dim: 3,
                info: serde_json::Value::Null,
            })
            .unwrap();
        let reader = store.reader().unwrap();
        let expected = dir.path().join("expected");
        std::fs::create_dir_all(&expected).unwrap();
        let clips: Vec<u64> = reader.clips().iter().map(|c| c.clip).collect();
        for &clip in &clips {
            let spatial = reader.read_spatial(clip, &store.meta().layers).unwrap();
            let bytes: Vec<u8> = spatial.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(expected.join(format!("spatial-{clip}.f32")), bytes).unwrap();
            std::fs::write(expected.join(format!("frames-{clip}.u8")), reader.read_frames(clip).unwrap()).unwrap();
        }
        let meta = store.meta();
        let json = serde_json::json!({
            "clips": clips,
            "videos": store.videos().unwrap().len(),
            "spatial_shape": [meta.num_clips, 2, meta.sampling.t, meta.tokens(), meta.width()],
            "frames_shape": [meta.num_clips, meta.dense_frames(), 32, 32, 3],
            "dtype": match element { ElementType::F32 => "float32", ElementType::F16 => "float16", _ => "int8" },
            "codecs": match compression { Compression::Zstd => vec!["bytes", "zstd"], Compression::None => vec!["bytes"] },
            "first_dense_indices": clip_record(clips[0]).dense_indices,
            "classes": ["up", "down"],
            "text": [[0.5, -0.25, 1.0], [0.0, 2.0, 3.0]],
        });
        std::fs::write(expected.join("expected.json"), json.to_string()).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/check_store.py");
        let out = Command::new(python()).arg(script).arg(&path).arg(&expected).output().unwrap();
        assert!(
            out.status.success(),
            "{compression} {element}: python check failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
