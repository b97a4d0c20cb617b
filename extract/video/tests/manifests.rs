//! Manifest readers on the example files in tests/data/manifests, and malformed input.

use std::path::{Path, PathBuf};

use dist_video::{read_manifest, ClassList, ManifestFormat, Split, VideoError};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/manifests").join(name)
}

#[test]
fn mmaction_lists_resolve_against_their_folder_or_root() {
    let classes = ClassList::read(&data("classes.txt")).unwrap();
    assert_eq!(classes.names(), ["plot", "blank", "rectangle"]);
    let m = read_manifest(&data("mmaction_videos.txt"), None, None, Some(&classes)).unwrap();
    assert_eq!(m.format, ManifestFormat::Mmaction);
    assert_eq!(m.entries.len(), 4);
    let e = &m.entries[2];
    assert_eq!((e.line, e.video_id.as_str(), e.label, e.split), (4, "../videos/traitsui_test", Some(1), None));
    assert!(e.path.is_file(), "{} should exist", e.path.display());
    assert!(m.entries.iter().all(|e| e.path.is_file()));
    let raw = read_manifest(&data("mmaction_rawframes.txt"), None, None, Some(&classes)).unwrap();
    assert_eq!(raw.entries[1].num_frames, Some(10));
    let rooted = read_manifest(&data("mmaction_videos.txt"), None, Some(Path::new("/srv/data")), None).unwrap();
    assert_eq!(rooted.entries[0].path, Path::new("/srv/data/../videos/sage_example.mp4"));
}

#[test]
fn kinetics_csv_maps_names_and_splits() {
    let m = read_manifest(&data("kinetics.csv"), None, Some(Path::new("/k400")), None).unwrap();
    assert_eq!(m.format, ManifestFormat::Kinetics);
    let classes = m.classes.as_ref().unwrap();
    assert_eq!(classes.names(), ["abseiling", "air drumming", "tying knot (not on a tie)"]);
    let e = &m.entries[1];
    assert_eq!((e.video_id.as_str(), e.label, e.split, e.line), ("--6bJUbfpnQ_000017_000027", Some(2), Some(Split::Train), 3));
    assert_eq!(e.path, Path::new("/k400/--6bJUbfpnQ_000017_000027.mp4"));
    assert_eq!((m.entries[2].split, m.entries[3].split), (Some(Split::Val), Some(Split::Test)));
    // With the published class list the indices are the list's.
    let given = ClassList::read(&data("kinetics_classes.txt")).unwrap();
    let m2 = read_manifest(&data("kinetics.csv"), Some(ManifestFormat::Kinetics), None, Some(&given)).unwrap();
    assert_eq!(m2.entries[3].label, given.index_of("air drumming"));
}

#[test]
fn kinetics_finds_split_and_label_folders() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("train").join("abseiling");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("0347ZoDXyP0_000014_000024.mp4"), b"x").unwrap();
    let m = read_manifest(&data("kinetics.csv"), None, Some(dir.path()), None).unwrap();
    assert_eq!(m.entries[0].path, sub.join("0347ZoDXyP0_000014_000024.mp4"));
}

#[test]
fn ssv2_json_uses_labels_json_beside_it() {
    let m = read_manifest(&data("ssv2/validation.json"), None, Some(Path::new("/ssv2/videos")), None).unwrap();
    assert_eq!(m.format, ManifestFormat::Ssv2);
    let labels: Vec<_> = m.entries.iter().map(|e| e.label).collect();
    assert_eq!(labels, [Some(1), Some(0), Some(2)]);
    assert_eq!(m.entries[0].path, Path::new("/ssv2/videos/74225.webm"));
    assert_eq!(m.entries[2].line, 4);
    let t = read_manifest(&data("ssv2/test.json"), None, None, None).unwrap();
    assert!(t.entries.iter().all(|e| e.label.is_none()));
}

#[test]
fn folder_per_class_uses_sorted_folder_names() {
    let dir = tempfile::tempdir().unwrap();
    for (class, file) in [("walking", "b.mp4"), ("walking", "a.webm"), ("running", "x.avi"), ("running", "notes.txt")] {
        let d = dir.path().join(class);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(file), b"x").unwrap();
    }
    let m = read_manifest(dir.path(), None, None, None).unwrap();
    assert_eq!(m.format, ManifestFormat::Folder);
    assert_eq!(m.classes.as_ref().unwrap().names(), ["running", "walking"]);
    let got: Vec<_> = m.entries.iter().map(|e| (e.video_id.as_str(), e.label)).collect();
    assert_eq!(got, [("running/x", Some(0)), ("walking/a", Some(1)), ("walking/b", Some(1))]);
    assert_eq!(m.entries[1].path, dir.path().join("walking/a.webm"));
}

#[test]
fn malformed_lines_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("list.txt", "a.mp4 0\nb.mp4 1\nc.mp4\n", 3),
        ("list2.txt", "a.mp4 zero\n", 1),
        ("big.txt", "a.mp4 7\n", 1), // out of range for the 3-class list
        ("k.csv", "label,youtube_id,time_start,time_end,split\nabseiling,x,1,2,train\nabseiling,y,5,2,train\n", 3),
        ("k2.csv", "label,youtube_id,time_start,time_end,split\nabseiling,x,1,2,holdout\n", 2),
        ("v.json", "[\n {\"id\": \"1\", \"template\": \"Holding [something]\"},\n {\"id\": \"2\", \"template\": \"Juggling [something]\"}\n]", 3),
    ];
    let classes = ClassList::read(&data("classes.txt")).unwrap();
    let ssv2 = ClassList::read(&data("ssv2/labels.json")).unwrap();
    for (name, text, line) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let c = match name {
            "big.txt" => Some(&classes),
            "v.json" => Some(&ssv2),
            _ => None,
        };
        match read_manifest(&p, None, None, c) {
            Err(e @ VideoError::BadManifestLine { line: l, .. }) => {
                assert_eq!(l, line, "{name}: {e}");
                assert!(e.to_string().starts_with(&format!("{}:{line}: ", p.display())), "{e}");
                assert_eq!(e.kind(), "bad_manifest_line");
            }
            other => panic!("{name}: expected a bad line error, got {other:?}"),
        }
    }
    let no_header = dir.path().join("nh.csv");
    std::fs::write(&no_header, "a,b,c\n").unwrap();
    assert_eq!(read_manifest(&no_header, None, None, None).unwrap_err().kind(), "bad_manifest");
    assert_eq!(read_manifest(&dir.path().join("missing.txt"), None, None, None).unwrap_err().kind(), "missing_file");
}
