//! The metadata files next to the videos: mmaction2-style split lists, class names, families,
//! a per-clip table and the generator configuration.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::config::SynthConfig;
use crate::dataset::ClipRecord;
use crate::error::{Error, Result};
use crate::family::ClassInfo;
use crate::split::Split;

/// Writes `train.txt`, `val.txt`, `test.txt` (`relative/path label` per line, mmaction2 video list
/// format), `classes.txt` (one name per line, line number = class index), `families.json` (per class
/// index: family, sense, name), `clips.csv` (every clip with split and pair id) and `synth.json`
/// (the configuration). Clips are listed in `records` order.
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file that could not be written.
pub fn write_metadata(dir: &Path, cfg: &SynthConfig, classes: &[ClassInfo], records: &[ClipRecord]) -> Result<()> {
    for split in Split::ALL {
        let mut text = String::new();
        for r in records.iter().filter(|r| r.split == split) {
            let _ = writeln!(text, "{} {}", r.path, r.label);
        }
        write(dir, &format!("{}.txt", split.name()), &text)?;
    }
    let names: String = classes.iter().map(|c| format!("{}\n", c.name)).collect();
    write(dir, "classes.txt", &names)?;
    write_json(dir, "families.json", &classes)?;

    let mut csv = String::from("path,label,split,family,sense,pair\n");
    for r in records {
        let sense = r.sense.map(|s| s.to_string()).unwrap_or_default();
        let _ = writeln!(csv, "{},{},{},{},{},{}", r.path, r.label, r.split, r.family, sense, r.pair);
    }
    write(dir, "clips.csv", &csv)?;

    #[derive(Serialize)]
    struct Meta<'a> {
        generator: &'static str,
        version: &'static str,
        config: &'a SynthConfig,
        classes: usize,
        clips: usize,
    }
    let meta = Meta { generator: "dist-synth", version: env!("CARGO_PKG_VERSION"), config: cfg, classes: classes.len(), clips: records.len() };
    write_json(dir, "synth.json", &meta)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| Error::io("write", path, e))
}

fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<()> {
    let path = dir.join(name);
    let mut text = serde_json::to_string_pretty(value).map_err(|source| Error::Json { path: path.clone(), source })?;
    text.push('\n');
    write(dir, name, &text)
}
