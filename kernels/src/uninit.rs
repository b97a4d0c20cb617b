//! Output buffers filled in parallel without a zero-fill first.

#![allow(unsafe_code)] // `set_len` once every slot is written.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// `len` values computed in parallel chunks of `chunk`, `fill(index, slots)` writing every slot
/// of chunk `index` (the last may be shorter), with no zero-fill of the buffer first.
///
/// # Safety
/// `fill` must write every slot of the chunk it is given: the result is read as initialised.
pub(crate) unsafe fn write_chunks(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len].par_chunks_mut(chunk.max(1)).enumerate().for_each(|(i, slots)| fill(i, slots));
    // SAFETY: the chunks cover all `len` slots, and `fill` writes each slot of its chunk.
    unsafe { out.set_len(len) };
    out
}
