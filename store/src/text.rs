//! Label sets: class names and their frozen text embeddings, `text/<name>` arrays of f32
//! `[classes, D]` with the names in the array's attributes, compressed like the store's other arrays
//! (zstd, or none). Several sets live side by side (the training labels, a zero-shot list, ...). A set
//! is written into a temporary directory and renamed into place, so it appears whole or not at all.

use std::sync::Arc;

use zarrs::array::{data_type, Array, ArrayBuilder};
use zarrs::filesystem::FilesystemStore;

use crate::arrays::bytes_to_bytes_codecs;
use crate::error::{io_err, zarr_err, Result, StoreError};
use crate::fsutil::sync_dir;
use crate::store::Store;

/// Class names and their L2-normalised text embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSet {
    pub name: String,
    pub classes: Vec<String>,
    /// f32 `[classes, dim]`.
    pub embeddings: Vec<f32>,
    pub dim: usize,
    /// Free-form provenance (prompt templates, text encoder, ...).
    pub info: serde_json::Value,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
}

impl Store {
    /// Adds (or replaces) a label set.
    pub fn write_label_set(&self, set: &LabelSet) -> Result<()> {
        if !valid_name(&set.name) {
            return Err(StoreError::Invalid(format!("label set name {:?}: use letters, digits, - and _", set.name)));
        }
        if set.dim == 0 || set.embeddings.len() != set.classes.len() * set.dim {
            return Err(StoreError::Invalid(format!(
                "label set {}: {} embedding values for {} classes of dim {}",
                set.name, set.embeddings.len(), set.classes.len(), set.dim
            )));
        }
        let text = self.root.join("text");
        let tmp = text.join(format!(".{}.writing-{}", set.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        let zarr = Arc::new(FilesystemStore::new(&tmp).map_err(zarr_err("open label set dir"))?);
        let mut attrs = serde_json::Map::new();
        attrs.insert("classes".into(), serde_json::json!(set.classes));
        attrs.insert("info".into(), set.info.clone());
        let k = set.classes.len() as u64;
        let array = ArrayBuilder::new(vec![k, set.dim as u64], vec![k.max(1), set.dim as u64], data_type::float32(), 0f32)
            .bytes_to_bytes_codecs(bytes_to_bytes_codecs(&self.meta))
            .dimension_names(Some(["class", "dim"]))
            .attributes(attrs)
            .build(zarr, "/")
            .map_err(zarr_err(format!("create label set {}", set.name)))?;
        array.store_metadata().map_err(zarr_err("write label set metadata"))?;
        if k > 0 {
            array.store_chunk(&[0, 0], set.embeddings.clone()).map_err(zarr_err("write label set"))?;
        }
        let dest = text.join(&set.name);
        if dest.exists() {
            std::fs::remove_dir_all(&dest).map_err(io_err(&dest))?;
        }
        std::fs::rename(&tmp, &dest).map_err(io_err(&dest))?;
        sync_dir(&text);
        Ok(())
    }

    /// Names of the label sets in the store, sorted.
    pub fn label_sets(&self) -> Result<Vec<String>> {
        let text = self.root.join("text");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&text).map_err(io_err(&text))? {
            let entry = entry.map_err(io_err(&text))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if valid_name(&name) && entry.path().join("zarr.json").is_file() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Reads a label set by name.
    pub fn label_set(&self, name: &str) -> Result<LabelSet> {
        let dir = self.root.join("text").join(name);
        if !valid_name(name) || !dir.join("zarr.json").is_file() {
            return Err(StoreError::NoLabelSet { name: name.into(), available: self.label_sets()?.join(", ") });
        }
        let zarr = Arc::new(FilesystemStore::new(&dir).map_err(zarr_err("open label set dir"))?);
        let array = Array::open(zarr, "/").map_err(zarr_err(format!("open label set {name}")))?;
        let classes: Vec<String> = array
            .attributes()
            .get("classes")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .ok_or_else(|| StoreError::Invalid(format!("label set {name} has no class names")))?;
        let info = array.attributes().get("info").cloned().unwrap_or_default();
        let dim = array.shape()[1] as usize;
        let embeddings = array
            .retrieve_array_subset::<Vec<f32>>(&array.subset_all())
            .map_err(zarr_err(format!("read label set {name}")))?;
        Ok(LabelSet { name: name.into(), classes, embeddings, dim, info })
    }
}
