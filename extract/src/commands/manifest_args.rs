//! `--manifest`, `--classes`, `--root`, `--format`: the dataset arguments `run`, `scan` and
//! `dist-train fit --online` share.

use std::path::PathBuf;

use dist_video::{read_manifest, ClassList, ManifestEntry, ManifestFormat, Split};

/// Where the videos and their labels are.
///
/// `--manifest` is not required here, so a command where the videos are optional (`fit`, which may
/// read a store instead) can flatten this too; a command that needs them adds
/// [`manifest_required`] as a group.
#[derive(Debug, Clone, clap::Args)]
pub struct ManifestArgs {
    /// Annotation file, optionally prefixed with its split: `train=train.txt`, `test=val.csv`. Repeat for
    /// several splits. Formats: mmaction list, Kinetics CSV, SSv2 JSON, or a folder per class.
    #[arg(long)]
    pub manifest: Vec<String>,
    /// Class names, one per line (line i = class i).
    #[arg(long)]
    pub classes: Option<PathBuf>,
    /// Folder relative video paths resolve against (default: each manifest's folder).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Manifest format: mmaction, kinetics, ssv2 or folder (default: detected from each file).
    #[arg(long)]
    pub format: Option<String>,
}

/// For `#[command(group = manifest_required())]`: makes `--manifest` a required argument.
pub fn manifest_required() -> clap::ArgGroup {
    clap::ArgGroup::new("videos").args(["manifest"]).required(true).multiple(true)
}

impl ManifestArgs {
    pub fn class_list(&self) -> anyhow::Result<Option<ClassList>> {
        Ok(self.classes.as_deref().map(ClassList::read).transpose()?)
    }

    /// Every entry of every manifest with its split: the `SPLIT=` prefix, else the manifest's own
    /// split column (Kinetics), else `train`.
    pub fn entries(&self, classes: Option<&ClassList>) -> anyhow::Result<Vec<(ManifestEntry, Split)>> {
        let format = self.format.as_deref().map(parse_format).transpose()?;
        let mut out = Vec::new();
        for spec in &self.manifest {
            let (split, path) = match spec.split_once('=') {
                Some((s, p)) if s.parse::<Split>().is_ok() => (s.parse::<Split>().ok(), p),
                _ => (None, spec.as_str()),
            };
            for e in read_manifest(path.as_ref(), format, self.root.as_deref(), classes)?.entries {
                let split = split.or(e.split).unwrap_or(Split::Train);
                out.push((e, split));
            }
        }
        Ok(out)
    }
}

fn parse_format(s: &str) -> anyhow::Result<ManifestFormat> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "mmaction" | "list" => ManifestFormat::Mmaction,
        "kinetics" | "csv" => ManifestFormat::Kinetics,
        "ssv2" | "json" => ManifestFormat::Ssv2,
        "folder" => ManifestFormat::Folder,
        other => anyhow::bail!("--format {other:?}: expected mmaction, kinetics, ssv2 or folder"),
    })
}
