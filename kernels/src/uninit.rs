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

/// `len` values in parallel tiles of `tile`, each first filled with `pattern` repeated (a bias
/// row, or `[0.0]`), then handed to `work(index, values)`: one pass where a zeroed buffer would
/// take a serial fill first. `pattern.len()` must divide `tile` and `len`.
pub(crate) fn tiles_from(
    len: usize,
    tile: usize,
    pattern: &[f32],
    work: impl Fn(usize, &mut [f32]) + Sync,
) -> Vec<f32> {
    assert!(
        !pattern.is_empty() && tile.is_multiple_of(pattern.len()) && len.is_multiple_of(pattern.len()),
        "tiles_from: a pattern of {} values in tiles of {tile}, {len} in all",
        pattern.len()
    );
    // SAFETY: every slot of a tile is written from the pattern before `work` sees it as `f32`s
    // (`MaybeUninit<f32>` has `f32`'s layout), so every slot is initialised.
    unsafe {
        write_chunks(len, tile, |index, slots| {
            for (slot, &value) in slots.iter_mut().zip(pattern.iter().cycle()) {
                slot.write(value);
            }
            work(index, &mut *(std::ptr::from_mut::<[MaybeUninit<f32>]>(slots) as *mut [f32]));
        })
    }
}
