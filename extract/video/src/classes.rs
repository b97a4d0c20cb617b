//! Class-name lists: the text side of the model and the label indices of the manifests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::VideoError;

/// An ordered list of class names; a class's index is its position.
///
/// Read from a text file with one name per line (blank lines and surrounding whitespace ignored), or from
/// Something-Something v2's `labels.json` (`{"name": "index", ...}`), where the index is given explicitly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassList {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl ClassList {
    /// Builds a list from names in index order.
    ///
    /// # Errors
    /// `BadClassList` (with `source` as the path) for an empty or duplicate name.
    pub fn from_names(names: Vec<String>, source: &Path) -> Result<Self, VideoError> {
        let mut index = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let bad = |reason: String| VideoError::BadClassList { path: source.to_path_buf(), line: i + 1, reason };
            if name.is_empty() {
                return Err(bad("empty class name".into()));
            }
            if let Some(first) = index.insert(name.clone(), i) {
                return Err(bad(format!("duplicate class name {name:?} (first at index {first})")));
            }
        }
        Ok(Self { names, index })
    }

    /// Reads a class list: `.json` files as SSv2 `labels.json`, anything else as one name per line.
    ///
    /// # Errors
    /// `MissingFile`/`Io` when unreadable, `BadClassList` naming the line for malformed content.
    pub fn read(path: &Path) -> Result<Self, VideoError> {
        let text = std::fs::read_to_string(path).map_err(|e| VideoError::from_io(path, e))?;
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            return Self::from_labels_json(&text, path);
        }
        let names = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
        Self::from_names(names, path)
    }

    /// Parses SSv2's `labels.json`: an object mapping each template name (without brackets) to its index
    /// as a string. The indices must be exactly `0..n`.
    fn from_labels_json(text: &str, path: &Path) -> Result<Self, VideoError> {
        let bad = |reason: String| VideoError::BadClassList { path: path.to_path_buf(), line: 0, reason };
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| bad(format!("not a JSON object of name -> index: {e}")))?;
        let mut slots: Vec<Option<String>> = vec![None; map.len()];
        for (name, value) in map {
            let idx = match &value {
                serde_json::Value::String(s) => s.trim().parse::<usize>().ok(),
                serde_json::Value::Number(n) => n.as_u64().map(|n| n as usize),
                _ => None,
            }
            .ok_or_else(|| bad(format!("class {name:?}: index {value} is not a non-negative integer")))?;
            let n = slots.len();
            let slot = slots.get_mut(idx).ok_or_else(|| bad(format!("class {name:?}: index {idx} out of range 0..{n}")))?;
            if let Some(other) = slot.replace(name.clone()) {
                return Err(bad(format!("index {idx} used by both {other:?} and {name:?}")));
            }
        }
        let names = slots.into_iter().map(Option::unwrap_or_default).collect();
        Self::from_names(names, path)
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there are no classes.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The index of `name`, if it is a class.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The name of class `index`.
    pub fn name(&self, index: usize) -> Option<&str> {
        self.names.get(index).map(String::as_str)
    }

    /// All names in index order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Writes the list as one name per line (the format [`ClassList::read`] accepts).
    ///
    /// # Errors
    /// `Io` when the file cannot be written.
    pub fn write(&self, path: &Path) -> Result<(), VideoError> {
        let mut text = self.names.join("\n");
        text.push('\n');
        std::fs::write(path, text).map_err(|e| VideoError::Io { path: PathBuf::from(path), source: e })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_json_indices_are_honoured() {
        let list = ClassList::from_labels_json(r#"{"b thing": "1", "a thing": "0"}"#, Path::new("l.json")).unwrap();
        assert_eq!(list.names(), ["a thing", "b thing"]);
        assert_eq!(list.index_of("b thing"), Some(1));
    }

    #[test]
    fn labels_json_gaps_and_duplicates_are_errors() {
        assert!(ClassList::from_labels_json(r#"{"a": "0", "b": "2"}"#, Path::new("l.json")).is_err());
        assert!(ClassList::from_labels_json(r#"{"a": "0", "b": "0"}"#, Path::new("l.json")).is_err());
    }

    #[test]
    fn duplicate_names_are_errors() {
        let err = ClassList::from_names(vec!["x".into(), "x".into()], Path::new("c.txt")).unwrap_err();
        assert!(matches!(err, VideoError::BadClassList { line: 2, .. }), "{err}");
    }
}
