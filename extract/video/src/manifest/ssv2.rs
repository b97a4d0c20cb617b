//! Something-Something v2 annotation JSON: a list of records `{"id": "78687", "template": "Holding
//! [something] next to [something]", "label": ..., "placeholders": [...]}`. The class is the template with
//! its brackets removed, looked up in the class list (normally the dataset's `labels.json`, which maps each
//! such name to its index). Test-set records have only `id`, so their label is `None`. Videos are
//! `{id}.webm` under the base folder.

use std::path::Path;

use super::{bad_line, ManifestEntry};
use crate::classes::ClassList;
use crate::error::VideoError;

/// Names SSv2's label map goes by, looked for beside the annotation file when no class list is given.
const LABEL_FILES: [&str; 2] = ["labels.json", "something-something-v2-labels.json"];

pub(super) fn parse(
    text: &str,
    path: &Path,
    base: &Path,
    classes: Option<&ClassList>,
) -> Result<(Vec<ManifestEntry>, Option<ClassList>), VideoError> {
    let records: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| bad_line(path, e.line(), format!("not a JSON list of records: {e}")))?;
    let lines = record_lines(text);
    let found;
    let classes = match classes {
        Some(c) => Some(c),
        None => {
            let dir = path.parent().unwrap_or(Path::new("."));
            found = LABEL_FILES.iter().map(|n| dir.join(n)).find(|p| p.is_file()).map(|p| ClassList::read(&p)).transpose()?;
            found.as_ref()
        }
    };
    let mut entries = Vec::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        let line = lines.get(i).copied().unwrap_or(0);
        let obj = rec.as_object().ok_or_else(|| bad_line(path, line, "record is not a JSON object"))?;
        let id = match obj.get("id") {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => return Err(bad_line(path, line, "record has no \"id\" (string or number)")),
        };
        let label = match obj.get("template") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(t)) => {
                let name = t.replace(['[', ']'], "");
                let classes = classes.ok_or_else(|| {
                    bad_line(path, line, "record has a template but no class list was given and no labels.json lies beside the file")
                })?;
                Some(classes.index_of(&name).ok_or_else(|| bad_line(path, line, format!("template {name:?} is not in the class list")))?)
            }
            Some(other) => return Err(bad_line(path, line, format!("\"template\" is not a string: {other}"))),
        };
        entries.push(ManifestEntry {
            line,
            path: base.join(format!("{id}.webm")),
            video_id: id,
            label,
            num_frames: None,
            split: None,
        });
    }
    Ok((entries, classes.cloned()))
}

/// The 1-based line on which each top-level element of a JSON array begins.
fn record_lines(text: &str) -> Vec<usize> {
    let (mut line, mut depth, mut in_str, mut escaped, mut expect) = (1, 0usize, false, false, false);
    let mut out = Vec::new();
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        if depth == 1 && expect && !c.is_whitespace() && c != ']' {
            out.push(line);
            expect = false;
        }
        match c {
            '"' => in_str = true,
            '[' | '{' => {
                depth += 1;
                expect = depth == 1;
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 1 => expect = true,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes() -> ClassList {
        ClassList::from_names(vec!["Holding something".into(), "Pushing something from left to right".into()], Path::new("l"))
            .unwrap()
    }

    #[test]
    fn templates_map_through_classes() {
        let text = "[\n {\"id\": \"7\", \"template\": \"Pushing [something] from left to right\"},\n {\"id\": 8}\n]";
        let (e, _) = parse(text, Path::new("/a/v.json"), Path::new("/v"), Some(&classes())).unwrap();
        assert_eq!((e[0].video_id.as_str(), e[0].label, e[0].line), ("7", Some(1), 2));
        assert_eq!(e[0].path, Path::new("/v/7.webm"));
        assert_eq!((e[1].video_id.as_str(), e[1].label, e[1].line), ("8", None, 3));
    }

    #[test]
    fn bad_records_name_their_line() {
        let text = "[\n {\"id\": \"7\", \"template\": \"Holding [something]\"},\n\n {\"template\": \"x\"}\n]";
        let err = parse(text, Path::new("v.json"), Path::new("."), Some(&classes())).unwrap_err();
        assert!(matches!(err, VideoError::BadManifestLine { line: 4, .. }), "{err}");
        let err = parse("[{\"id\": 1,}", Path::new("v.json"), Path::new("."), None).unwrap_err();
        assert!(matches!(err, VideoError::BadManifestLine { line: 1, .. }), "{err}");
    }
}
