//! mmaction2 list files: `path label` (video lists) or `path num_frames label` (raw-frame lists, also used
//! for videos with a known length). Fields are whitespace separated; blank lines and `#` comments are
//! skipped. Labels are class indices.

use std::path::Path;

use super::{bad_line, check_label, resolve, ManifestEntry};
use crate::classes::ClassList;
use crate::error::VideoError;

pub(super) fn parse(
    text: &str,
    path: &Path,
    base: &Path,
    classes: Option<&ClassList>,
) -> Result<Vec<ManifestEntry>, VideoError> {
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let fields: Vec<&str> = content.split_whitespace().collect();
        let (file, num_frames, label) = match fields.as_slice() {
            [file, label] => (*file, None, *label),
            [file, frames, label] => {
                let n = frames
                    .parse::<u64>()
                    .map_err(|_| bad_line(path, line, format!("num_frames {frames:?} is not a non-negative integer")))?;
                (*file, Some(n), *label)
            }
            _ => {
                return Err(bad_line(
                    path,
                    line,
                    format!("expected `path label` or `path num_frames label`, found {} fields", fields.len()),
                ))
            }
        };
        let label = label
            .parse::<usize>()
            .map_err(|_| bad_line(path, line, format!("label {label:?} is not a class index")))?;
        let label = check_label(label, classes).map_err(|r| bad_line(path, line, r))?;
        let resolved = resolve(base, file);
        entries.push(ManifestEntry {
            line,
            // The path as written, without extension: unique within a list even where file names
            // repeat across folders (`translate/00001.mp4`, `rotate/00001.mp4`).
            video_id: Path::new(file).with_extension("").to_string_lossy().into_owned(),
            path: resolved,
            label: Some(label),
            num_frames,
            split: None,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_and_comments() {
        let text = "# header\na/x.mp4 3\n\nb/y.mp4 120 1  # trailing\n";
        let e = parse(text, Path::new("/m/list.txt"), Path::new("/m"), None).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].line, e[0].label, e[0].num_frames), (2, Some(3), None));
        assert_eq!(e[0].path, Path::new("/m/a/x.mp4"));
        assert_eq!((e[1].line, e[1].label, e[1].num_frames), (4, Some(1), Some(120)));
        assert_eq!(e[1].video_id, "b/y");
    }

    #[test]
    fn malformed_lines_name_the_line() {
        for (text, line) in [("a.mp4 1\nb.mp4\n", 2), ("a.mp4 x\n", 1), ("a.mp4 -3 1\n", 1), ("a 1 2 3\n", 1)] {
            match parse(text, Path::new("l.txt"), Path::new("."), None) {
                Err(VideoError::BadManifestLine { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
