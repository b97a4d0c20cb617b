use std::collections::{BTreeMap, BTreeSet};

use clap::Parser;
use dist_synth::{class_table, generate, plan, Codec, Error, Family, SceneConfig, Split, SplitFractions, SynthArgs, SynthConfig};

use crate::config;

fn read_list(path: &std::path::Path) -> Vec<(String, usize)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (p, label) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad line `{l}`"));
            (p.to_owned(), label.parse().unwrap())
        })
        .collect()
}

#[test]
fn manifests_classes_and_families_are_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), Codec::Ffv1, 5, 21, SceneConfig { size: 32, frames: 4, ..SceneConfig::default() });
    let summary = generate(&cfg).unwrap();
    assert_eq!((summary.classes, summary.clips, summary.per_split), (12, 60, [36, 12, 12]));

    let classes = class_table(&Family::ALL);
    let names: Vec<String> = std::fs::read_to_string(dir.path().join("classes.txt")).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(names, classes.iter().map(|c| c.name.clone()).collect::<Vec<_>>());

    let families: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("families.json")).unwrap()).unwrap();
    let families = families.as_array().unwrap();
    assert_eq!(families.len(), 12);
    for (i, entry) in families.iter().enumerate() {
        assert_eq!(entry["index"], i);
        assert_eq!(entry["name"], names[i].as_str());
        let expected_sense = if i < 8 { serde_json::json!(i % 2) } else { serde_json::Value::Null };
        assert_eq!(entry["sense"], expected_sense, "class {i}");
    }
    assert_eq!(families[5]["family"], "approach");
    assert_eq!(families[9]["family"], "control");

    // Splits: disjoint, covering every file on disk, stratified per class, twins together.
    let mut seen: BTreeMap<String, (Split, usize)> = BTreeMap::new();
    for split in Split::ALL {
        for (path, label) in read_list(&dir.path().join(format!("{split}.txt"))) {
            assert!(label < 12);
            let family = families[label]["family"].as_str().unwrap();
            assert!(path.starts_with(&format!("{family}/")), "{path} has label {label} ({family})");
            assert!(seen.insert(path.clone(), (split, label)).is_none(), "{path} listed twice");
        }
    }
    let mut on_disk = BTreeSet::new();
    for family in Family::ALL {
        for entry in std::fs::read_dir(dir.path().join(family.name())).unwrap() {
            on_disk.insert(format!("{family}/{}", entry.unwrap().file_name().to_string_lossy()));
        }
    }
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), on_disk);
    for class in 0..12 {
        let per_split = Split::ALL.map(|s| seen.values().filter(|(sp, l)| *sp == s && *l == class).count());
        assert_eq!(per_split, [3, 1, 1], "class {class}");
    }
    for (path, (split, label)) in &seen {
        if let Some(stem) = path.strip_suffix("_s0.mkv") {
            assert_eq!(seen.get(&format!("{stem}_s1.mkv")), Some(&(*split, label + 1)), "twin of {path}");
        }
    }
    let csv = std::fs::read_to_string(dir.path().join("clips.csv")).unwrap();
    assert_eq!(csv.lines().count(), 61);
    assert!(csv.lines().any(|l| l == "translate/00000_s1.mkv,1,".to_owned() + seen["translate/00000_s1.mkv"].0.name() + ",translate,1,translate/00000"));
}

#[test]
fn splits_depend_on_seed_but_not_on_other_families() {
    let f = SplitFractions::default();
    let splits = |families: &[Family], seed| -> Vec<(String, Split)> {
        plan(&class_table(families), 20, &f, seed, Codec::H264)
            .into_iter()
            .filter(|g| g.family == Family::Rotate)
            .flat_map(|g| g.clips.into_iter().map(|c| (c.path, c.split)))
            .collect()
    };
    let all = splits(&Family::ALL, 3);
    assert_eq!(all, splits(&Family::ALL, 3));
    assert_eq!(all, splits(&[Family::Rotate], 3), "rotate's split changed when other families were dropped");
    assert_ne!(all, splits(&Family::ALL, 4));
    // Labels follow the subset's class table: rotate becomes classes 0 and 1.
    let only = plan(&class_table(&[Family::Rotate]), 1, &f, 3, Codec::H264);
    assert_eq!(only[0].clips.iter().map(|c| c.label).collect::<Vec<_>>(), [0, 1]);
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: SynthArgs,
}

#[test]
fn cli_arguments_parse_and_validate() {
    let cli = Cli::try_parse_from(["x", "--out", "o", "--clips-per-class", "4", "--seed", "9"]).unwrap();
    let cfg = SynthConfig::from_args(&cli.args).unwrap();
    assert_eq!((cfg.scene.size, cfg.scene.frames, cfg.encode.fps, cfg.encode.codec), (112, 16, 8, Codec::H264));
    assert_eq!(cfg.families, Family::ALL.to_vec());
    assert_eq!(cfg.split, SplitFractions([0.6, 0.2, 0.2]));

    let cli = Cli::try_parse_from([
        "x", "--out", "o", "--clips-per-class", "4", "--seed", "9", "--codec", "ffv1", "--families", "control,event-order",
        "--split", "0.8,0.1,0.1", "--texture", "--noise", "0.2", "--distractors", "2",
    ])
    .unwrap();
    let cfg = SynthConfig::from_args(&cli.args).unwrap();
    assert_eq!(cfg.families, vec![Family::EventOrder, Family::Control]);
    assert!(cfg.scene.texture && cfg.scene.distractors == 2 && cfg.encode.codec == Codec::Ffv1);

    let err = Cli::try_parse_from(["x", "--out", "o", "--clips-per-class", "4", "--seed", "9", "--families", "spin"]).unwrap_err();
    assert!(err.to_string().contains("unknown family `spin`"), "{err}");
    assert!(Cli::try_parse_from(["x", "--out", "o", "--clips-per-class", "4", "--seed", "9", "--split", "0.5,0.5"]).is_err());

    let cli = Cli::try_parse_from(["x", "--out", "o", "--clips-per-class", "0", "--seed", "9"]).unwrap();
    assert!(matches!(SynthConfig::from_args(&cli.args), Err(Error::InvalidConfig { field: "clips_per_class", .. })));
    let cli = Cli::try_parse_from(["x", "--out", "o", "--clips-per-class", "2", "--seed", "9", "--size", "100", "--fps", "0"]).unwrap();
    assert!(matches!(SynthConfig::from_args(&cli.args), Err(Error::InvalidConfig { field: "fps", .. })));
}

#[test]
fn unwritable_output_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let cfg = config(&blocker, Codec::Ffv1, 1, 0, SceneConfig { size: 32, frames: 4, ..SceneConfig::default() });
    let err = generate(&cfg).unwrap_err();
    assert!(matches!(&err, Error::Io { .. }) && err.to_string().contains("file"), "{err}");
}
