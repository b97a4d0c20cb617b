//! Stride-1 "same" convolutions, channels-last, on f32 slices: for each tile of rows, one gemm
//! per tap on that tap's shifted input rows, accumulated into the tile (see [`crate::conv_same`]).
//!
//! The volume `[B, T, H, W]` is one run of rows, so tap `(dt, dh, dw)` reads, for output row `r`,
//! input row `r + dt·H·W + dh·W + dw`: one contiguous range per tile. Where an output's tap falls
//! outside its clip, frame or image row, that index lands instead on a row within `|d|` of the
//! opposite edge, and for this tap only such outputs reach those rows. Zeroing them in the
//! tile's copy of the input therefore gives exactly the zero padding.
//!
//! The old path wrote a `[rows, K·C]` buffer of every tap's product and summed it in a second
//! pass. At batch 4 that buffer is 43 MB per spatial conv, written and read back, and its K = 96
//! product ran at about 90 GFLOP/s on the 2-core EPYC. Here, tiles of 256 rows keep the input
//! copy and the output tile in L2, and the 9 small products of a tile run at the rate of
//! OpenBLAS's kernel.

#![allow(unsafe_code)] // `sgemm_block` into disjoint tiles of one output.

use std::ops::Range;

use rayon::prelude::*;

use crate::blas::{sgemm_block, Init, MatRef, OutBlock};
use crate::composite::tap_offsets;
use crate::uninit::tiles_from;

/// Rows per task. The input copy and the output tile (96 channels: 96 KiB each) stay in L2, and
/// a batch-4 T-Block has about 50 tiles to share out, so a slow thread delays little.
const TILE_ROWS: usize = 256;

/// Tiles whose weight gradients one task sums, in order, into its own accumulator; the tasks'
/// sums are then added in order. The partition is fixed, so the sum does not depend on how rayon
/// shares the tasks out: a fixed seed gives the same run twice.
const TILES_PER_SUM: usize = 2;

/// One tap of a kernel: its `(dt, dh, dw)` and the row offset it reads, `dt·H·W + dh·W + dw`.
#[derive(Clone, Copy)]
struct Tap {
    shift: [isize; 3],
    offset: isize,
}

/// The rows of a `[B, T, H, W]` volume and the taps of a kernel over it.
struct Geometry {
    /// `[T, H, W]`.
    extent: [usize; 3],
    rows: usize,
    taps: Vec<Tap>,
}

impl Geometry {
    fn new([b, t, h, w]: [usize; 4], kernel: [usize; 3]) -> Self {
        let taps = tap_offsets(kernel)
            .map(|shift| {
                let [dt, dh, dw] = shift;
                Tap { shift, offset: dt * (h * w) as isize + dh * w as isize + dw }
            })
            .collect();
        Self { extent: [t, h, w], rows: b * t * h * w, taps }
    }

    /// Whether input row `s` reads as zero for `tap`: it lies within the tap's shift of the edge
    /// opposite to it along some axis, so only outputs whose tap falls outside reach it.
    fn padded(&self, tap: &Tap, s: usize) -> bool {
        let [t, h, w] = self.extent;
        let coords = [(s / (h * w)) % t, (s / w) % h, s % w];
        tap.shift.iter().zip(coords).zip(self.extent).any(|((&d, i), n)| {
            let i = i as isize;
            (d > 0 && i < d) || (d < 0 && i >= n as isize + d)
        })
    }

    /// The rows of `range` whose row at `offset` from them lies in the volume.
    fn reach(&self, offset: isize, range: Range<usize>) -> Range<usize> {
        let start = (range.start as isize).max(-offset);
        let end = (range.end as isize).min(self.rows as isize - offset).max(start);
        start as usize..end as usize
    }
}

/// A row-major `[.., cols]` matrix.
#[derive(Clone, Copy)]
struct Rows<'a> {
    data: &'a [f32],
    cols: usize,
}

/// What a tap's product reads for a tile.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    /// For output rows `r`, the input rows `r + offset` (forward, weight gradient).
    Input,
    /// For input rows `s`, the output-gradient rows `s - offset` (input gradient).
    OutputGradient,
}

impl Geometry {
    /// The rows of `src` that `tap` pairs with the tile `tile` (see [`Read`]), those of padded
    /// input rows as zeros, handed to `product(data, matrix, tile rows)` piece by piece. A tap
    /// that does not shift along the width pads whole image rows only, so its runs of unpadded
    /// rows are read in place, one piece each, and the padded ones skipped; any other tap's rows
    /// are copied into `buf` with zeros for the padded ones, one piece.
    fn tap_rows(
        &self,
        tap: &Tap,
        read: Read,
        src: Rows,
        tile: Range<usize>,
        buf: &mut Vec<f32>,
        mut product: impl FnMut(&[f32], MatRef, Range<usize>),
    ) {
        let offset = if read == Read::Input { tap.offset } else { -tap.offset };
        let rows = self.reach(offset, tile);
        let source = |r: usize| r.wrapping_add_signed(offset);
        let padded = |r: usize| self.padded(tap, if read == Read::Input { source(r) } else { r });
        let c = src.cols;
        if tap.shift[2] == 0 {
            let mut run_start = None;
            for r in rows.start..=rows.end {
                let unpadded = r < rows.end && !padded(r);
                match (run_start, unpadded) {
                    (None, true) => run_start = Some(r),
                    (Some(first), false) => {
                        product(src.data, MatRef::dense(source(first) * c, r - first, c), first..r);
                        run_start = None;
                    }
                    _ => {}
                }
            }
            return;
        }
        if rows.is_empty() {
            return;
        }
        buf.resize(rows.len() * c, 0.0);
        for (r, dst) in rows.clone().zip(buf.chunks_exact_mut(c)) {
            if padded(r) {
                dst.fill(0.0);
            } else {
                let s = source(r);
                dst.copy_from_slice(&src.data[s * c..(s + 1) * c]);
            }
        }
        product(buf, MatRef::dense(0, rows.len(), c), rows);
    }
}

/// Tap `k`'s `[c_in, c_out]` matrix inside the `[c_in, K·c_out]` weights.
fn tap_matrix(k: usize, c_in: usize, c_out: usize, taps: usize) -> MatRef {
    MatRef { offset: k * c_out, rows: c_in, cols: c_out, trans: false, ld: taps * c_out }
}

/// `out[r] = bias + Σ_k x[r + offset_k] · W_k`, padded rows zero. `x`: `[rows, c_in]` of a
/// `[B, T, H, W]` volume, `weights`: `[c_in, K·c_out]` (tap `k` in columns `k·c_out..`, taps in
/// [`tap_offsets`] order), `bias`: `[c_out]` → `[rows, c_out]`.
pub(crate) fn conv_same(
    x: &[f32],
    [volume @ .., c_in]: [usize; 5],
    kernel: [usize; 3],
    weights: &[f32],
    bias: &[f32],
) -> Vec<f32> {
    let volume: [usize; 4] = volume.try_into().expect("four volume axes");
    let g = Geometry::new(volume, kernel);
    let (k, c_out) = (g.taps.len(), bias.len());
    assert_eq!(x.len(), g.rows * c_in, "conv_same: input is not {} rows", g.rows);
    assert_eq!(weights.len(), c_in * k * c_out, "conv_same: weights are not [{c_in}, {k}·{c_out}]");
    if c_out == 0 {
        return Vec::new();
    }
    let x = Rows { data: x, cols: c_in };
    tiles_from(g.rows * c_out, TILE_ROWS * c_out, bias, |tile, out| {
        let start = tile * TILE_ROWS;
        let rows = out.len() / c_out;
        let block = OutBlock::of(out, rows);
        let mut buf = Vec::new();
        for (i, tap) in g.taps.iter().enumerate() {
            let w = tap_matrix(i, c_in, c_out, k);
            g.tap_rows(tap, Read::Input, x, start..start + rows, &mut buf, |data, a, rows| {
                let out = block.rows(rows.start - start, rows.len());
                // SAFETY: `out` is rows of this task's own tile.
                unsafe { sgemm_block(data, a, weights, w, Init::Accumulate, out) };
            });
        }
    })
}

/// The gradients of [`conv_same`] for the output gradient `grad` (`[rows, c_out]`):
/// `(dx [rows, c_in]` when `input_grad`, `dweights [c_in, K·c_out], dbias [c_out])`, by tiles.
pub(crate) fn conv_same_backward(
    x: &[f32],
    [volume @ .., c_in, c_out]: [usize; 6],
    kernel: [usize; 3],
    weights: &[f32],
    grad: &[f32],
    input_grad: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let volume: [usize; 4] = volume.try_into().expect("four volume axes");
    let g = Geometry::new(volume, kernel);
    let k = g.taps.len();
    assert_eq!(x.len(), g.rows * c_in, "conv_same_backward: input is not {} rows", g.rows);
    assert_eq!(grad.len(), g.rows * c_out, "conv_same_backward: gradient is not {} rows", g.rows);
    assert_eq!(weights.len(), c_in * k * c_out, "conv_same_backward: weights are not [{c_in}, {k}·{c_out}]");
    let dx = input_grad.then(|| input_gradient(&g, weights, grad, c_in, c_out));
    let (dw, dbias) = weight_gradients(&g, x, grad, c_in, c_out);
    (dx, dw, dbias)
}

/// `dx[s] = Σ_k grad[s - offset_k] · W_kᵀ` over the taps for which `s` is not padded.
fn input_gradient(g: &Geometry, weights: &[f32], grad: &[f32], c_in: usize, c_out: usize) -> Vec<f32> {
    let k = g.taps.len();
    if c_in == 0 || c_out == 0 {
        return vec![0.0; g.rows * c_in];
    }
    let grad = Rows { data: grad, cols: c_out };
    tiles_from(g.rows * c_in, TILE_ROWS * c_in, &[0.0], |tile, dx| {
        let start = tile * TILE_ROWS;
        let rows = dx.len() / c_in;
        let block = OutBlock::of(dx, rows);
        let mut buf = Vec::new();
        for (i, tap) in g.taps.iter().enumerate() {
            let w_t = tap_matrix(i, c_in, c_out, k).t();
            g.tap_rows(tap, Read::OutputGradient, grad, start..start + rows, &mut buf, |data, a, rows| {
                let out = block.rows(rows.start - start, rows.len());
                // SAFETY: `out` is rows of this task's own tile.
                unsafe { sgemm_block(data, a, weights, w_t, Init::Accumulate, out) };
            });
        }
    })
}

/// `(dW, dbias)`: `dW_k = Σ_r x[r + offset_k]ᵀ grad[r]` (padded rows zero), `dbias = Σ_r grad[r]`.
fn weight_gradients(g: &Geometry, x: &[f32], grad: &[f32], c_in: usize, c_out: usize) -> (Vec<f32>, Vec<f32>) {
    let size = c_in * g.taps.len() * c_out;
    if c_out == 0 {
        return (vec![0.0; size], Vec::new());
    }
    let tiles = g.rows.div_ceil(TILE_ROWS);
    let xs = Rows { data: x, cols: c_in };
    let partial: Vec<Vec<f32>> = (0..tiles.div_ceil(TILES_PER_SUM))
        .into_par_iter()
        .map(|group| {
            let (mut acc, mut buf) = (vec![0.0f32; size + c_out], Vec::new());
            let (dw, dbias) = acc.split_at_mut(size);
            let dw_block = OutBlock::of(dw, c_in);
            for tile in group * TILES_PER_SUM..((group + 1) * TILES_PER_SUM).min(tiles) {
                let rows = tile * TILE_ROWS..((tile + 1) * TILE_ROWS).min(g.rows);
                for row in grad[rows.start * c_out..rows.end * c_out].chunks_exact(c_out) {
                    dbias.iter_mut().zip(row).for_each(|(d, g)| *d += g);
                }
                for (i, tap) in g.taps.iter().enumerate() {
                    let out = dw_block.cols(i * c_out, c_out);
                    g.tap_rows(tap, Read::Input, xs, rows.clone(), &mut buf, |data, xs, rows| {
                        let gs = MatRef::dense(rows.start * c_out, rows.len(), c_out);
                        // SAFETY: `out` is tap i's columns of this task's own accumulator.
                        unsafe { sgemm_block(data, xs.t(), grad, gs, Init::Accumulate, out) };
                    });
                }
            }
            acc
        })
        .collect();
    let mut sums = vec![0.0f32; size + c_out];
    for part in &partial {
        sums.iter_mut().zip(part).for_each(|(s, p)| *s += p);
    }
    let dbias = sums[size..].to_vec();
    let mut dw = sums;
    dw.truncate(size);
    (dw, dbias)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which rows a tap zeroes, against the coordinates it reads.
    #[test]
    fn padded_rows_are_the_ones_only_outside_taps_reach() {
        let volume = [2, 3, 4, 5];
        let g = Geometry::new(volume, [3, 3, 5]);
        let [t, h, w] = g.extent;
        for tap in &g.taps {
            for r in 0..g.rows {
                let [to, ho, wo] = [(r / (h * w)) % t, (r / w) % h, r % w].map(|v| v as isize);
                let [dt, dh, dw] = tap.shift;
                let inside = (0..t as isize).contains(&(to + dt))
                    && (0..h as isize).contains(&(ho + dh))
                    && (0..w as isize).contains(&(wo + dw));
                let s = r as isize + tap.offset;
                let reads = (0..g.rows as isize).contains(&s) && !g.padded(tap, s as usize);
                assert_eq!(inside, reads, "tap {:?}, output row {r}", tap.shift);
            }
        }
    }
}
