//! f32 matrix products through the system OpenBLAS (`cblas_sgemm`, Debian's `libopenblas-dev`).
//!
//! burn-flex multiplies with the pure-Rust `gemm` crate, which on a 2-core AMD EPYC (AVX2) reaches
//! about half the sgemm rate of OpenBLAS (92 against 140-177 GFLOP/s, docs/benchmarks.md), and
//! matmuls are most of the time of the CLIP towers and the DiST branches. OpenBLAS runs
//! single-threaded here (its own thread pool would spin against rayon's between calls); the
//! work is split across rayon's threads by rows, or by matrices of a batch.
//!
//! Operands are read in place through their strides: a matrix whose columns or rows are
//! contiguous is passed as it is (transposed views included), anything else is copied first.

#![allow(unsafe_code)] // FFI: every call checks its operands' extents against their slices first.

use std::ffi::c_int;
use std::mem::MaybeUninit;
use std::sync::Once;

use rayon::prelude::*;

#[link(name = "openblas")]
extern "C" {
    fn cblas_sgemm(
        layout: c_int,
        trans_a: c_int,
        trans_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f32,
        a: *const f32,
        lda: c_int,
        b: *const f32,
        ldb: c_int,
        beta: f32,
        c: *mut f32,
        ldc: c_int,
    );
    fn openblas_set_num_threads(threads: c_int);
}

const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;

/// Below this many multiply-adds a product runs on one thread.
const PARALLEL_WORK: usize = 1 << 21;
/// The fewest rows (or columns) a thread takes when one product is split.
const MIN_ROWS_PER_TASK: usize = 32;

/// A `rows x cols` matrix inside a storage slice, one of BLAS's two row-major layouts:
/// element `(i, j)` at `offset + i·ld + j`, or (`trans`) at `offset + j·ld + i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MatRef {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub trans: bool,
    pub ld: usize,
}

impl MatRef {
    /// The matrix with row stride `rs` and column stride `cs`, or `None` when neither axis is
    /// contiguous (or a stride is negative): the caller then copies it.
    pub fn from_strides(offset: usize, rows: usize, cols: usize, rs: isize, cs: isize) -> Option<Self> {
        let (rs, cs) = (usize::try_from(rs).ok()?, usize::try_from(cs).ok()?);
        // A single row or column has no meaningful stride along its length-1 axis.
        if cs == 1 || cols == 1 {
            if rs >= cols || rows == 1 {
                return Some(Self { offset, rows, cols, trans: false, ld: rs.max(cols).max(1) });
            }
        }
        if rs == 1 || rows == 1 {
            if cs >= rows || cols == 1 {
                return Some(Self { offset, rows, cols, trans: true, ld: cs.max(rows).max(1) });
            }
        }
        None
    }

    /// A contiguous row-major `rows x cols` matrix at `offset`.
    pub fn dense(offset: usize, rows: usize, cols: usize) -> Self {
        Self { offset, rows, cols, trans: false, ld: cols.max(1) }
    }

    /// The transpose, read in place.
    pub fn t(self) -> Self {
        Self { rows: self.cols, cols: self.rows, trans: !self.trans, ..self }
    }

    /// One past the furthest element read.
    fn end(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return self.offset;
        }
        let (outer, inner) = if self.trans { (self.cols, self.rows) } else { (self.rows, self.cols) };
        self.offset + (outer - 1) * self.ld + inner
    }

    /// Rows `start..start + rows` of this matrix.
    pub fn rows(&self, start: usize, rows: usize) -> Self {
        let offset = self.offset + if self.trans { start } else { start * self.ld };
        Self { offset, rows, ..*self }
    }

    /// Columns `start..start + cols` of this matrix.
    pub fn cols(&self, start: usize, cols: usize) -> Self {
        let offset = self.offset + if self.trans { start * self.ld } else { start };
        Self { offset, cols, ..*self }
    }
}

fn init_once() {
    static INIT: Once = Once::new();
    // SAFETY: plain setter of OpenBLAS's global thread count, called once before any product.
    INIT.call_once(|| unsafe { openblas_set_num_threads(1) });
}

fn c_int_of(v: usize, what: &str) -> c_int {
    c_int::try_from(v).unwrap_or_else(|_| panic!("sgemm: {what} = {v} exceeds BLAS's 32-bit sizes"))
}

/// `out = a · b (+ bias on every row)`, one thread, `out` a contiguous row-major
/// `[a.rows, b.cols]`, every element written (see [`sgemm_block`]).
fn sgemm(a_data: &[f32], a: MatRef, b_data: &[f32], b: MatRef, bias: Option<&[f32]>, out: &mut [MaybeUninit<f32>]) {
    assert_eq!(out.len(), a.rows * b.cols, "sgemm: output size");
    let block = OutBlock { ptr: out.as_mut_ptr().cast::<f32>(), rows: a.rows, cols: b.cols, ld: b.cols };
    // SAFETY: `block` is exactly `out`, which is exclusive for the call.
    unsafe { sgemm_block(a_data, a, b_data, b, Init::from_bias(bias), block) };
}

/// What a product does with its output block's previous contents.
#[derive(Clone, Copy)]
pub(crate) enum Init<'a> {
    /// Overwrites them (they may be uninitialised).
    Zero,
    /// Overwrites them with the bias row plus the product.
    Bias(&'a [f32]),
    /// Adds the product to them.
    Accumulate,
}

impl<'a> Init<'a> {
    fn from_bias(bias: Option<&'a [f32]>) -> Self {
        bias.map_or(Init::Zero, Init::Bias)
    }
}

/// A `rows x cols` block of a row-major output at `ptr`, row stride `ld`. Blocks of one output
/// that share no element may be written from different threads.
#[derive(Clone, Copy)]
pub(crate) struct OutBlock {
    pub ptr: *mut f32,
    pub rows: usize,
    pub cols: usize,
    pub ld: usize,
}

impl OutBlock {
    /// The whole of a contiguous row-major `rows x (out.len() / rows)` matrix.
    pub fn of(out: &mut [f32], rows: usize) -> Self {
        let cols = out.len().checked_div(rows).unwrap_or(0);
        assert_eq!(rows * cols, out.len(), "output block: {} values are not {rows} rows", out.len());
        Self { ptr: out.as_mut_ptr(), rows, cols, ld: cols }
    }

    /// Rows `start..start + rows` of the block.
    pub fn rows(self, start: usize, rows: usize) -> Self {
        assert!(start + rows <= self.rows, "output block: rows {start}+{rows} of {}", self.rows);
        // SAFETY: the offset stays inside the block (asserted above).
        Self { ptr: unsafe { self.ptr.add(start * self.ld) }, rows, ..self }
    }

    /// Columns `start..start + cols` of the block.
    pub fn cols(self, start: usize, cols: usize) -> Self {
        assert!(start + cols <= self.cols, "output block: columns {start}+{cols} of {}", self.cols);
        // SAFETY: the offset stays inside the block's first row (asserted above).
        Self { ptr: unsafe { self.ptr.add(start) }, cols, ..self }
    }
}

// SAFETY: an `OutBlock` is a plain address; the functions that write through it require that no
// other thread touches the same elements at the same time.
unsafe impl Send for OutBlock {}
unsafe impl Sync for OutBlock {}

/// `out = a · b` (`Init::Zero`), `out = bias + a · b` on every row (`Init::Bias`) or
/// `out += a · b` (`Init::Accumulate`) on one thread. With `Zero` BLAS runs with `beta = 0`, which
/// never reads the output, so it need not be initialised; with a bias the rows are set to it first
/// and BLAS adds the product to them (`beta = 1`), which saves a separate pass adding the bias.
///
/// # Safety
/// `out` must be valid for writes of its `rows x cols` elements (row stride `ld ≥ cols`), and no
/// other thread may access them during the call.
pub(crate) unsafe fn sgemm_block(a_data: &[f32], a: MatRef, b_data: &[f32], b: MatRef, init: Init, out: OutBlock) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "sgemm: inner dimensions differ");
    assert!(a.end() <= a_data.len() && b.end() <= b_data.len(), "sgemm: operand outside its storage");
    assert!(out.rows == m && out.cols == n && out.ld >= n, "sgemm: output block");
    if m == 0 || n == 0 {
        return;
    }
    // The rows BLAS will not write itself: the bias rows, or zeros for an empty product.
    let fill = match init {
        Init::Bias(bias) => Some(Some(bias)),
        Init::Zero if k == 0 => Some(None),
        Init::Zero | Init::Accumulate => None,
    };
    if let Some(bias) = fill {
        assert!(bias.is_none_or(|b| b.len() == n), "sgemm: bias length");
        for i in 0..m {
            // SAFETY: row i of the block (n elements from `ptr + i·ld`) lies inside it (caller's
            // contract); the bias slice holds n values.
            unsafe {
                let row = out.ptr.add(i * out.ld);
                match bias {
                    Some(b) => std::ptr::copy_nonoverlapping(b.as_ptr(), row, n),
                    None => std::ptr::write_bytes(row, 0, n),
                }
            }
        }
    }
    if k == 0 {
        return;
    }
    let beta = if matches!(init, Init::Zero) { 0.0 } else { 1.0 };
    let trans = |t: bool| if t { TRANS } else { NO_TRANS };
    init_once();
    // SAFETY: the asserts above keep every element BLAS reads inside `a_data` and `b_data`
    // (`end()` is one past the furthest one); it writes the `m x n` block at `out.ptr` with
    // leading dimension `out.ld`, which the caller guarantees is valid and exclusive. With
    // `beta = 0` the output is written, never read (CBLAS), so it may be uninitialised; with
    // `beta = 1` it was set to the bias rows above.
    unsafe {
        cblas_sgemm(
            ROW_MAJOR,
            trans(a.trans),
            trans(b.trans),
            c_int_of(m, "m"),
            c_int_of(n, "n"),
            c_int_of(k, "k"),
            1.0,
            a_data.as_ptr().add(a.offset),
            c_int_of(a.ld, "lda"),
            b_data.as_ptr().add(b.offset),
            c_int_of(b.ld, "ldb"),
            beta,
            out.ptr,
            c_int_of(out.ld, "ldc"),
        );
    }
}

/// `a[i] · b[i]` (+ `bias` `[n]` on every row) for every matrix pair of a batch, contiguous
/// `[batch, m, n]`. Parallel over the batch when it has a matrix per thread, else each product
/// is split across the threads along its longer output side: by row blocks when `m ≥ n`, by
/// column blocks otherwise, so that the operand every thread packs in full is the smaller one
/// (a weight gradient `[96, 12544] x [12544, 864]` split by rows had each thread pack all of the
/// 43 MB right operand). The output is written once, with no zero-fill first.
pub(crate) fn batched_sgemm(
    a_data: &[f32],
    a: &[MatRef],
    b_data: &[f32],
    b: &[MatRef],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    assert_eq!(a.len(), b.len(), "batched_sgemm: batch sizes differ");
    let Some((first_a, first_b)) = a.first().zip(b.first()) else {
        return Vec::new();
    };
    let (m, k, n) = (first_a.rows, first_a.cols, first_b.cols);
    let size = m * n;
    let mut values = Vec::with_capacity(a.len() * size);
    let out = &mut values.spare_capacity_mut()[..a.len() * size];
    let threads = rayon::current_num_threads();
    let work = a.len() * m * n * k;
    if work < PARALLEL_WORK || threads == 1 {
        for ((a, b), out) in a.iter().zip(b).zip(out.chunks_mut(size.max(1))) {
            sgemm(a_data, *a, b_data, *b, bias, out);
        }
    } else if a.len() >= threads {
        out.par_chunks_mut(size.max(1)).zip(a.par_iter().zip(b)).for_each(|(out, (a, b))| {
            sgemm(a_data, *a, b_data, *b, bias, out);
        });
    } else if m >= n {
        let rows_per_task = m.div_ceil(threads).max(MIN_ROWS_PER_TASK);
        for ((a, b), out) in a.iter().zip(b).zip(out.chunks_mut(size.max(1))) {
            out.par_chunks_mut(rows_per_task * n).enumerate().for_each(|(task, out)| {
                let start = task * rows_per_task;
                sgemm(a_data, a.rows(start, out.len() / n), b_data, *b, bias, out);
            });
        }
    } else {
        let cols_per_task = n.div_ceil(threads).max(MIN_ROWS_PER_TASK);
        for ((a, b), out) in a.iter().zip(b).zip(out.chunks_mut(size.max(1))) {
            let whole = OutBlock { ptr: out.as_mut_ptr().cast::<f32>(), rows: m, cols: n, ld: n };
            (0..n.div_ceil(cols_per_task)).into_par_iter().for_each(|task| {
                let start = task * cols_per_task;
                let cols = cols_per_task.min(n - start);
                let block = whole.cols(start, cols);
                let init = Init::from_bias(bias.map(|bias| &bias[start..start + cols]));
                // SAFETY: see above; `out` is borrowed exclusively for the whole loop.
                unsafe { sgemm_block(a_data, *a, b_data, b.cols(start, cols), init, block) };
            });
        }
    }
    // SAFETY: the chunks and blocks above cover `out` (`batch` products of `m·n`) and `sgemm`
    // writes every element of its output.
    unsafe { values.set_len(a.len() * size) };
    values
}

/// [`sgemm`] into an initialised buffer.
fn sgemm_into(a_data: &[f32], a: MatRef, b_data: &[f32], b: MatRef, out: &mut [f32]) {
    // SAFETY: `MaybeUninit<f32>` has `f32`'s layout, and `sgemm` only ever stores initialised
    // values through the view, so `out` stays initialised.
    let out = unsafe { &mut *(std::ptr::from_mut::<[f32]>(out) as *mut [MaybeUninit<f32>]) };
    sgemm(a_data, a, b_data, b, None, out);
}

/// Multi-head self-attention on a packed projection: `qkv` is `[B·N, 3·C]`, each row its token's
/// query, key and value side by side, each `[H, Dh]`. Per clip and head
/// `softmax(q kᵀ / √Dh) v` (keys after the query masked out when `causal`), returned `[B·N, C]`
/// with the heads side by side, the layout the output projection reads. q, k and v are read in
/// place through their row stride (no split, permute or copy); one task per clip, whose `[N, N]`
/// scores stay in a buffer of its own.
pub(crate) fn packed_attention(qkv: &[f32], [batch, tokens, heads, dim]: [usize; 4], causal: bool) -> Vec<f32> {
    assert!(heads > 0 && dim % heads == 0, "packed_attention: {dim} channels in {heads} heads");
    assert_eq!(qkv.len(), batch * tokens * 3 * dim, "packed_attention: qkv is not [B·N, 3·C]");
    let (n, dh, row) = (tokens, dim / heads, 3 * dim);
    let scale = 1.0 / (dh as f32).sqrt();
    let mut out = vec![0.0f32; batch * n * dim];
    if n == 0 {
        return out;
    }
    out.par_chunks_mut(n * dim).enumerate().for_each(|(b, out)| {
        let (mut scores, mut context) = (vec![0.0f32; n * n], vec![0.0f32; n * dh]);
        let at = |part: usize, h: usize| b * n * row + part * dim + h * dh;
        for h in 0..heads {
            let q = MatRef { offset: at(0, h), rows: n, cols: dh, trans: false, ld: row };
            // kᵀ: element (d, j) is key j's channel d.
            let k_t = MatRef { offset: at(1, h), rows: dh, cols: n, trans: true, ld: row };
            sgemm_into(qkv, q, qkv, k_t, &mut scores);
            for (i, s) in scores.chunks_exact_mut(n).enumerate() {
                let visible = if causal { i + 1 } else { n };
                softmax_row(&mut s[..visible], scale);
                s[visible..].fill(0.0);
            }
            let attn = MatRef { offset: 0, rows: n, cols: n, trans: false, ld: n };
            let v = MatRef { offset: at(2, h), rows: n, cols: dh, trans: false, ld: row };
            sgemm_into(&scores, attn, qkv, v, &mut context);
            for (o, ctx) in out.chunks_exact_mut(dim).zip(context.chunks_exact(dh)) {
                o[h * dh..(h + 1) * dh].copy_from_slice(ctx);
            }
        }
    });
    out
}

/// `softmax(scale · s)` in place, shifted by the row maximum.
fn softmax_row(s: &mut [f32], scale: f32) {
    let max = s.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0f32;
    for v in s.iter_mut() {
        *v = ((*v - max) * scale).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    s.iter_mut().for_each(|v| *v *= inv);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_from_strides() {
        let plain = MatRef::from_strides(3, 4, 5, 5, 1).unwrap();
        assert_eq!(plain, MatRef { offset: 3, rows: 4, cols: 5, trans: false, ld: 5 });
        assert_eq!(plain.end(), 3 + 3 * 5 + 5);
        let transposed = MatRef::from_strides(0, 4, 5, 1, 4).unwrap();
        assert!(transposed.trans && transposed.ld == 4 && transposed.end() == 20);
        assert_eq!(MatRef::from_strides(0, 4, 5, 10, 2), None, "no unit stride");
        assert_eq!(MatRef::from_strides(0, 4, 5, -5, 1), None, "negative stride");
        // A single row is contiguous whatever its row stride says.
        assert_eq!(MatRef::from_strides(0, 1, 5, 0, 1).unwrap().ld, 5);
    }

    /// Every split of the work (serial, by matrices, by row blocks) against a plain triple loop,
    /// with a transposed right operand.
    #[test]
    fn batched_products_match_a_loop() {
        // Serial (small), by row blocks and by column blocks (one large product), by matrices (a
        // batch of large ones).
        for (batch, m, k, n) in [(1, 3, 4, 5), (2, 257, 33, 65), (1, 600, 80, 70), (1, 70, 90, 601), (3, 300, 64, 40)] {
            let a: Vec<f32> = (0..batch * m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0).collect();
            let b: Vec<f32> = (0..batch * k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0).collect();
            // b stored as [batch, n, k] and read transposed.
            let a_mats: Vec<MatRef> =
                (0..batch).map(|i| MatRef::from_strides(i * m * k, m, k, k as isize, 1).unwrap()).collect();
            let b_mats: Vec<MatRef> =
                (0..batch).map(|i| MatRef::from_strides(i * k * n, k, n, 1, k as isize).unwrap()).collect();
            let bias: Vec<f32> = (0..n).map(|j| j as f32 / 8.0 - 1.0).collect();
            let out = batched_sgemm(&a, &a_mats, &b, &b_mats, None);
            let biased = batched_sgemm(&a, &a_mats, &b, &b_mats, Some(&bias));
            assert!(
                out.iter().zip(&biased).enumerate().all(|(i, (o, b))| (o + bias[i % n] - b).abs() < 1e-4),
                "bias rows"
            );
            for bi in 0..batch {
                for i in 0..m {
                    for j in 0..n {
                        let expect: f32 = (0..k).map(|p| a[bi * m * k + i * k + p] * b[bi * k * n + j * k + p]).sum();
                        let got = out[(bi * m + i) * n + j];
                        assert!(
                            (got - expect).abs() < 1e-3 * (1.0 + expect.abs()),
                            "{batch}x{m}x{k}x{n} at {bi},{i},{j}: {got} vs {expect}"
                        );
                    }
                }
            }
        }
    }
}
