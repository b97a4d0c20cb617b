//! `dist-extract synth`: the synthetic time-reversal benchmark (see docs/synth.md).

/// Generate the synthetic time-reversal benchmark videos, manifests and class names.
pub type Args = dist_synth::SynthArgs;

/// Runs the generator and prints its summary.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let summary = dist_synth::run(args)?;
    println!(
        "wrote {} clips of {} classes to {} in {:.1} s ({:.1} clips/s)",
        summary.clips,
        summary.classes,
        summary.out.display(),
        summary.seconds,
        summary.clips_per_second()
    );
    Ok(())
}
