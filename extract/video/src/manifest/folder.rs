//! Folder-per-class trees: `root/<class name>/<video file>`. Classes are the sorted sub-folder names
//! (or the indices of those names in a given class list); videos are the files with a known video
//! extension directly inside each class folder, sorted by name. Hidden entries are skipped.

use std::path::{Path, PathBuf};

use super::{stem, ManifestEntry};
use crate::classes::ClassList;
use crate::error::VideoError;

/// Extensions taken as videos (compared case-insensitively).
pub const VIDEO_EXTENSIONS: [&str; 16] =
    ["mp4", "m4v", "mov", "mkv", "webm", "avi", "ogv", "ogg", "mpg", "mpeg", "ts", "flv", "wmv", "asf", "3gp", "mts"];

pub(super) fn scan(
    dir: &Path,
    base: &Path,
    classes: Option<&ClassList>,
) -> Result<(Vec<ManifestEntry>, Option<ClassList>), VideoError> {
    let class_dirs = sorted_children(dir, |p| p.is_dir())?;
    let names: Vec<String> = class_dirs.iter().map(|p| file_name(p)).collect();
    let derived;
    let classes = match classes {
        Some(c) => c,
        None => {
            derived = ClassList::from_names(names.clone(), dir)?;
            &derived
        }
    };
    let mut entries = Vec::new();
    for (class_dir, name) in class_dirs.iter().zip(&names) {
        let label = classes.index_of(name).ok_or_else(|| VideoError::BadManifest {
            path: dir.to_path_buf(),
            reason: format!("class folder {name:?} is not in the class list"),
        })?;
        for video in sorted_children(class_dir, is_video)? {
            // Paths keep the layout relative to `base` when a root other than the folder itself was given.
            let rel = video.strip_prefix(dir).unwrap_or(&video);
            let path = if base == dir { video.clone() } else { base.join(rel) };
            entries.push(ManifestEntry {
                line: entries.len() + 1,
                video_id: format!("{name}/{}", stem(&video)),
                path,
                label: Some(label),
                num_frames: None,
                split: None,
            });
        }
    }
    if entries.is_empty() {
        return Err(VideoError::BadManifest {
            path: dir.to_path_buf(),
            reason: "no video files found in class sub-folders".into(),
        });
    }
    Ok((entries, Some(classes.clone())))
}

fn is_video(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| VIDEO_EXTENSIONS.iter().any(|v| v.eq_ignore_ascii_case(e)))
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Non-hidden children of `dir` that pass `keep`, sorted by name.
fn sorted_children(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, VideoError> {
    let rd = std::fs::read_dir(dir).map_err(|e| VideoError::from_io(dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let p = entry.map_err(|e| VideoError::from_io(dir, e))?.path();
        if !file_name(&p).starts_with('.') && keep(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}
