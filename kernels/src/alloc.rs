//! Keeping freed memory in the process (glibc only).
//!
//! The models here allocate and free activations of tens of MB on every layer. glibc serves
//! blocks above its mmap threshold (at most 32 MB) with fresh `mmap`s and unmaps them on free,
//! so every such tensor is faulted in and zeroed by the kernel page by page again: 15-20% of a
//! DiST forward on a 2-core EPYC (docs/benchmarks.md). Serving every block from the heap and never
//! trimming it lets freed blocks be reused as they are; the process keeps its peak footprint
//! mapped until it exits, which a training or extraction run reaches anyway.
//!
//! One arena for all threads: with glibc's default of one arena per thread (up to 8 per core),
//! a clip buffer the loader thread allocates is freed by the trainer into the loader's arena,
//! and each arena grows to its own peak. A 48-video `bench-train` run (batch 4) peaked at 5.2 GB
//! with 1.5 million page faults; with one arena, at 3.8 GB with 0.97 million. The allocations
//! here are few and large, so the shared arena's lock is not contended.

/// Serve all allocations from one glibc heap and never give freed memory back to the system
/// (`mallopt(M_MMAP_MAX, 0)`, `mallopt(M_TRIM_THRESHOLD, ..)`, `mallopt(M_ARENA_MAX, 1)`). Call
/// once, first thing in `main`, before any thread starts; elsewhere than glibc it does nothing.
/// Returns whether all settings took.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        #[allow(unsafe_code)]
        // SAFETY: mallopt only changes allocator parameters; both values are documented ones.
        unsafe {
            let no_mmap = libc::mallopt(libc::M_MMAP_MAX, 0) == 1;
            let no_trim = libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1;
            let one_arena = libc::mallopt(libc::M_ARENA_MAX, 1) == 1;
            no_mmap && no_trim && one_arena
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}
