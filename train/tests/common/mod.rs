//! Helpers shared by the trainer's integration tests.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts `fit` (writing its run into `run`), SIGKILLs it as soon as its first checkpoint exists,
/// and checks that the kill landed mid-run (a checkpoint, no `run.json`).
pub fn kill_after_first_checkpoint(mut fit: Command, run: &Path) {
    let mut child = fit.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    while !run.join("checkpoints/latest").exists() && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(run.join("checkpoints/latest").exists() && !run.join("run.json").exists(), "the kill did not land mid-run");
}
