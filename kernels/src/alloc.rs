//! Keeping freed memory in the process (glibc only).
//!
//! The models here allocate and free activations of tens of MB on every layer. glibc serves
//! blocks above its mmap threshold (at most 32 MB) with fresh `mmap`s and unmaps them on free,
//! so every such tensor is faulted in and zeroed by the kernel page by page again: 15-20% of a
//! DiST forward on a 2-core EPYC (docs/benchmarks.md). Serving every block from the heap and never
//! trimming it lets freed blocks be reused as they are; the process keeps its peak footprint
//! mapped until it exits, which a training or extraction run reaches anyway.

/// Serve all allocations from glibc's heap and never give freed memory back to the system
/// (`mallopt(M_MMAP_MAX, 0)`, `mallopt(M_TRIM_THRESHOLD, ..)`). Call once, first thing in
/// `main`; elsewhere than glibc it does nothing. Returns whether both settings took.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        #[allow(unsafe_code)]
        // SAFETY: mallopt only changes allocator parameters; both values are documented ones.
        unsafe {
            let no_mmap = libc::mallopt(libc::M_MMAP_MAX, 0) == 1;
            let no_trim = libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1;
            no_mmap && no_trim
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}
