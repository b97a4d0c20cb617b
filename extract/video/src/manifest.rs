//! Annotation files ("manifests") in the formats users already have.
//!
//! Each format lives in its own module and returns the same [`Manifest`]: one [`ManifestEntry`] per video,
//! with its path resolved, its label as a class index, and its split when the format records one.
//! Formats: [`ManifestFormat::Mmaction`] (`path label` / `path num_frames label` lists),
//! [`ManifestFormat::Kinetics`] (the official CSV), [`ManifestFormat::Ssv2`] (Something-Something v2 JSON)
//! and [`ManifestFormat::Folder`] (one sub-folder per class).

mod folder;
mod kinetics;
mod mmaction;
mod ssv2;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::classes::ClassList;
use crate::error::VideoError;
use crate::split::Split;

/// The annotation formats [`read_manifest`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManifestFormat {
    /// mmaction2 list file: `path label` or `path num_frames label`, whitespace separated.
    Mmaction,
    /// Kinetics CSV: `label,youtube_id,time_start,time_end,split[,is_cc]`.
    Kinetics,
    /// Something-Something v2 JSON list of `{"id", "template", ...}` records.
    Ssv2,
    /// A directory with one sub-directory per class.
    Folder,
}

impl ManifestFormat {
    /// The lower-case name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mmaction => "mmaction",
            Self::Kinetics => "kinetics",
            Self::Ssv2 => "ssv2",
            Self::Folder => "folder",
        }
    }

    /// Guesses the format: a directory is `Folder`, `.json` is `Ssv2`, `.csv` or a first line starting with
    /// the Kinetics header is `Kinetics`, anything else `Mmaction`.
    ///
    /// # Errors
    /// `MissingFile`/`Io` when `path` cannot be inspected.
    pub fn detect(path: &Path) -> Result<Self, VideoError> {
        let meta = std::fs::metadata(path).map_err(|e| VideoError::from_io(path, e))?;
        if meta.is_dir() {
            return Ok(Self::Folder);
        }
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("json") => return Ok(Self::Ssv2),
            Some("csv") => return Ok(Self::Kinetics),
            _ => {}
        }
        let text = std::fs::read_to_string(path).map_err(|e| VideoError::from_io(path, e))?;
        let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        Ok(if first.starts_with("label,youtube_id") { Self::Kinetics } else { Self::Mmaction })
    }
}

impl fmt::Display for ManifestFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ManifestFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "mmaction" | "mmaction2" => Ok(Self::Mmaction),
            "kinetics" | "kinetics-csv" => Ok(Self::Kinetics),
            "ssv2" | "something-something-v2" => Ok(Self::Ssv2),
            "folder" | "folder-per-class" => Ok(Self::Folder),
            _ => Err(format!("unknown manifest format {s:?} (expected mmaction, kinetics, ssv2 or folder)")),
        }
    }
}

/// One video of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// 1-based line (or record) number in the annotation file; for `Folder`, the 1-based position in the
    /// sorted listing.
    pub line: usize,
    /// A stable id: the listed path without extension (mmaction), `{class}/{file stem}` (folder),
    /// `{youtube_id}_{start:06}_{end:06}` (Kinetics) or the SSv2 `id`.
    pub video_id: String,
    /// The video file, resolved against the manifest's folder or the `root` given to [`read_manifest`].
    pub path: PathBuf,
    /// Class index, when the manifest gives a label.
    pub label: Option<usize>,
    /// Frame count stated by the manifest (mmaction `path num_frames label`), never trusted for decoding.
    pub num_frames: Option<u64>,
    /// Split recorded by the manifest (Kinetics CSV); `None` when the format has none and the caller
    /// assigns it.
    pub split: Option<Split>,
}

/// A parsed annotation file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The annotation file (or folder) that was read.
    pub source: PathBuf,
    pub format: ManifestFormat,
    pub entries: Vec<ManifestEntry>,
    /// The class list the labels index into: the one passed in, SSv2's `labels.json`, or, when none was
    /// given, the one derived from the data (sorted Kinetics label names, sorted folder names).
    pub classes: Option<ClassList>,
}

/// Reads an annotation file.
///
/// * `format`: `None` auto-detects with [`ManifestFormat::detect`].
/// * `root`: folder that relative video paths resolve against; default the manifest's own folder (for
///   `Folder`, the folder itself).
/// * `classes`: maps label names (Kinetics, SSv2 templates, folder names) to indices, and bounds numeric
///   labels (mmaction). SSv2 without it looks for `labels.json` or `something-something-v2-labels.json`
///   beside the manifest.
///
/// # Errors
/// `MissingFile`/`Io` when unreadable, `BadManifest` for a file-level problem, `BadManifestLine` naming the
/// file and the 1-based line for a malformed line or an unknown label.
pub fn read_manifest(
    path: &Path,
    format: Option<ManifestFormat>,
    root: Option<&Path>,
    classes: Option<&ClassList>,
) -> Result<Manifest, VideoError> {
    let format = match format {
        Some(f) => f,
        None => ManifestFormat::detect(path)?,
    };
    let base = match (root, format) {
        (Some(r), _) => r.to_path_buf(),
        (None, ManifestFormat::Folder) => path.to_path_buf(),
        (None, _) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let (entries, classes) = match format {
        ManifestFormat::Mmaction => (mmaction::parse(&read_text(path)?, path, &base, classes)?, classes.cloned()),
        ManifestFormat::Kinetics => kinetics::parse(&read_text(path)?, path, &base, classes)?,
        ManifestFormat::Ssv2 => ssv2::parse(&read_text(path)?, path, &base, classes)?,
        ManifestFormat::Folder => folder::scan(path, &base, classes)?,
    };
    tracing::debug!(manifest = %path.display(), %format, videos = entries.len(), "read manifest");
    Ok(Manifest { source: path.to_path_buf(), format, entries, classes })
}

fn read_text(path: &Path) -> Result<String, VideoError> {
    std::fs::read_to_string(path).map_err(|e| VideoError::from_io(path, e))
}

/// Joins a manifest path onto `base` unless it is absolute.
fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

/// The file stem as a string (lossy), used as the video id.
fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Checks a numeric label against the class list, when one is given.
fn check_label(label: usize, classes: Option<&ClassList>) -> Result<usize, String> {
    match classes {
        Some(c) if label >= c.len() => Err(format!("label {label} out of range: the class list has {} classes", c.len())),
        _ => Ok(label),
    }
}

fn bad_line(path: &Path, line: usize, reason: impl Into<String>) -> VideoError {
    VideoError::BadManifestLine { path: path.to_path_buf(), line, reason: reason.into() }
}
