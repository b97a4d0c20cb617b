//! Kinetics CSV (`label,youtube_id,time_start,time_end,split[,is_cc]`), as released for Kinetics-400/600/700.
//!
//! Columns are found by header name, so their order and extra columns do not matter; `label` and `split`
//! may be absent (unlabelled test lists). Videos are named `{youtube_id}_{time_start:06}_{time_end:06}.mp4`,
//! as the common downloaders write them; the file is looked up in `base/`, `base/{split}/`,
//! `base/{split}/{label}/` and `base/{label}/` (label also with spaces as underscores), and the first
//! existing candidate wins. When none exists the flat `base/{name}` is kept, so that the decode step reports
//! the missing file for that one video.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{bad_line, ManifestEntry};
use crate::classes::ClassList;
use crate::error::VideoError;
use crate::split::Split;

struct Columns {
    label: Option<usize>,
    youtube_id: usize,
    time_start: usize,
    time_end: usize,
    split: Option<usize>,
}

pub(super) fn parse(
    text: &str,
    path: &Path,
    base: &Path,
    classes: Option<&ClassList>,
) -> Result<(Vec<ManifestEntry>, Option<ClassList>), VideoError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (header_idx, header) = lines
        .next()
        .ok_or_else(|| VideoError::BadManifest { path: path.to_path_buf(), reason: "empty CSV".into() })?;
    let header_fields = split_csv(header).map_err(|r| bad_line(path, header_idx + 1, r))?;
    let col = |name: &str| header_fields.iter().position(|h| h.trim() == name);
    let missing = |name: &str| VideoError::BadManifest {
        path: path.to_path_buf(),
        reason: format!("CSV header {header:?} has no {name:?} column"),
    };
    let cols = Columns {
        label: col("label"),
        youtube_id: col("youtube_id").ok_or_else(|| missing("youtube_id"))?,
        time_start: col("time_start").ok_or_else(|| missing("time_start"))?,
        time_end: col("time_end").ok_or_else(|| missing("time_end"))?,
        split: col("split"),
    };

    struct Row {
        line: usize,
        id: String,
        label: Option<String>,
        split_raw: Option<String>,
        split: Option<Split>,
    }
    let mut rows = Vec::new();
    for (i, raw) in lines {
        let line = i + 1;
        let fields = split_csv(raw).map_err(|r| bad_line(path, line, r))?;
        if fields.len() != header_fields.len() {
            return Err(bad_line(
                path,
                line,
                format!("expected {} comma-separated fields like the header, found {}", header_fields.len(), fields.len()),
            ));
        }
        let field = |c: usize| fields[c].trim();
        let time = |c: usize, name: &str| {
            field(c).parse::<u32>().map_err(|_| bad_line(path, line, format!("{name} {:?} is not an integer", field(c))))
        };
        let yt = field(cols.youtube_id);
        if yt.is_empty() {
            return Err(bad_line(path, line, "empty youtube_id"));
        }
        let (start, end) = (time(cols.time_start, "time_start")?, time(cols.time_end, "time_end")?);
        if end < start {
            return Err(bad_line(path, line, format!("time_end {end} is before time_start {start}")));
        }
        let split_raw = cols.split.map(|c| field(c).to_string()).filter(|s| !s.is_empty());
        let split = split_raw
            .as_deref()
            .map(|s| s.parse::<Split>().map_err(|e| bad_line(path, line, e.to_string())))
            .transpose()?;
        let label = cols.label.map(|c| field(c).to_string()).filter(|s| !s.is_empty());
        rows.push(Row { line, id: format!("{yt}_{start:06}_{end:06}"), label, split_raw, split });
    }

    let derived;
    let classes = match classes {
        Some(c) => c,
        None => {
            let names: BTreeSet<&str> = rows.iter().filter_map(|r| r.label.as_deref()).collect();
            derived = ClassList::from_names(names.into_iter().map(str::to_string).collect(), path)?;
            &derived
        }
    };
    let mut entries = Vec::with_capacity(rows.len());
    for r in rows {
        let label = r
            .label
            .as_deref()
            .map(|name| {
                classes.index_of(name).ok_or_else(|| bad_line(path, r.line, format!("label {name:?} is not in the class list")))
            })
            .transpose()?;
        let file = format!("{}.mp4", r.id);
        let path = locate(base, &file, r.split_raw.as_deref(), r.label.as_deref());
        entries.push(ManifestEntry { line: r.line, video_id: r.id, path, label, num_frames: None, split: r.split });
    }
    Ok((entries, Some(classes.clone())))
}

/// The first existing candidate location of `file`, or `base/file`.
fn locate(base: &Path, file: &str, split: Option<&str>, label: Option<&str>) -> PathBuf {
    let mut dirs = vec![base.to_path_buf()];
    let labels: Vec<String> = label.map(|l| vec![l.to_string(), l.replace(' ', "_")]).unwrap_or_default();
    if let Some(s) = split {
        dirs.push(base.join(s));
        dirs.extend(labels.iter().map(|l| base.join(s).join(l)));
    }
    dirs.extend(labels.iter().map(|l| base.join(l)));
    dirs.iter().map(|d| d.join(file)).find(|p| p.is_file()).unwrap_or_else(|| base.join(file))
}

/// Splits one CSV line into fields (RFC 4180 quoting: `"a, b"` and `""` for a literal quote).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => in_quotes = false,
            ('"', false) if cur.trim().is_empty() => in_quotes = true,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if in_quotes {
        return Err("unterminated quoted field".into());
    }
    fields.push(cur);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "label,youtube_id,time_start,time_end,split,is_cc\n\
        \"tying knot (not on a tie)\",abc,10,20,train,0\n\
        abseiling,x-y_z,0,10,validate,0\n";

    #[test]
    fn parses_names_splits_and_derives_sorted_classes() {
        let (e, classes) = parse(CSV, Path::new("k.csv"), Path::new("/data"), None).unwrap();
        let classes = classes.unwrap();
        assert_eq!(classes.names(), ["abseiling", "tying knot (not on a tie)"]);
        assert_eq!(e[0].video_id, "abc_000010_000020");
        assert_eq!(e[0].path, Path::new("/data/abc_000010_000020.mp4"));
        assert_eq!((e[0].label, e[0].split, e[0].line), (Some(1), Some(Split::Train), 2));
        assert_eq!((e[1].label, e[1].split), (Some(0), Some(Split::Val)));
    }

    #[test]
    fn unknown_label_and_bad_fields_name_the_line() {
        let classes = ClassList::from_names(vec!["abseiling".into()], Path::new("c.txt")).unwrap();
        let err = parse(CSV, Path::new("k.csv"), Path::new("."), Some(&classes)).unwrap_err();
        assert!(matches!(err, VideoError::BadManifestLine { line: 2, .. }), "{err}");
        let bad = "label,youtube_id,time_start,time_end,split\na,b,x,3,train\n";
        let err = parse(bad, Path::new("k.csv"), Path::new("."), None).unwrap_err();
        assert!(matches!(err, VideoError::BadManifestLine { line: 2, .. }), "{err}");
        let short = "label,youtube_id,time_start,time_end,split\na,b,1,3\n";
        assert!(matches!(parse(short, Path::new("k.csv"), Path::new("."), None), Err(VideoError::BadManifestLine { .. })));
    }

    #[test]
    fn quoted_fields() {
        assert_eq!(split_csv(r#"a,"b, c","d ""e""""#).unwrap(), ["a", "b, c", "d \"e\""]);
        assert!(split_csv(r#"a,"b"#).is_err());
    }
}
