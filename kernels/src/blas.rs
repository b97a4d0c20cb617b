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
/// The fewest rows a thread takes when one product is split by rows.
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

    /// One past the furthest element read.
    fn end(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return self.offset;
        }
        let (outer, inner) = if self.trans { (self.cols, self.rows) } else { (self.rows, self.cols) };
        self.offset + (outer - 1) * self.ld + inner
    }

    /// Rows `start..start + rows` of this matrix.
    fn rows(&self, start: usize, rows: usize) -> Self {
        let offset = self.offset + if self.trans { start } else { start * self.ld };
        Self { offset, rows, ..*self }
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

/// `out = a · b`, one thread, `out` a contiguous row-major `[a.rows, b.cols]`.
fn sgemm(a_data: &[f32], a: MatRef, b_data: &[f32], b: MatRef, out: &mut [f32]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "sgemm: inner dimensions differ");
    assert!(a.end() <= a_data.len() && b.end() <= b_data.len(), "sgemm: operand outside its storage");
    assert_eq!(out.len(), m * n, "sgemm: output size");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out.fill(0.0);
        return;
    }
    let trans = |t: bool| if t { TRANS } else { NO_TRANS };
    init_once();
    // SAFETY: the asserts above keep every element BLAS reads inside `a_data` and `b_data`
    // (`end()` is one past the furthest one) and every element it writes inside `out`
    // (`m·n`, leading dimension `n`); the slices outlive the call and `out` is exclusive.
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
            0.0,
            out.as_mut_ptr(),
            c_int_of(n, "ldc"),
        );
    }
}

/// `out[i] = a[i] · b[i]` for every matrix pair of a batch, `out` contiguous `[batch, m, n]`.
/// Parallel over the batch when it has a matrix per thread, else over row blocks of each product.
pub(crate) fn batched_sgemm(a_data: &[f32], a: &[MatRef], b_data: &[f32], b: &[MatRef], out: &mut [f32]) {
    assert_eq!(a.len(), b.len(), "batched_sgemm: batch sizes differ");
    let Some((first_a, first_b)) = a.first().zip(b.first()) else { return };
    let (m, k, n) = (first_a.rows, first_a.cols, first_b.cols);
    let size = m * n;
    let threads = rayon::current_num_threads();
    let work = a.len() * m * n * k;
    if work < PARALLEL_WORK || threads == 1 {
        for ((a, b), out) in a.iter().zip(b).zip(out.chunks_mut(size.max(1))) {
            sgemm(a_data, *a, b_data, *b, out);
        }
    } else if a.len() >= threads {
        out.par_chunks_mut(size.max(1)).zip(a.par_iter().zip(b)).for_each(|(out, (a, b))| {
            sgemm(a_data, *a, b_data, *b, out);
        });
    } else {
        let rows_per_task = m.div_ceil(threads).max(MIN_ROWS_PER_TASK);
        for ((a, b), out) in a.iter().zip(b).zip(out.chunks_mut(size.max(1))) {
            out.par_chunks_mut(rows_per_task * n).enumerate().for_each(|(task, out)| {
                let start = task * rows_per_task;
                sgemm(a_data, a.rows(start, out.len() / n), b_data, *b, out);
            });
        }
    }
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
        // Serial (small), by row blocks (one large product), by matrices (a batch of large ones).
        for (batch, m, k, n) in [(1, 3, 4, 5), (2, 257, 33, 65), (1, 600, 80, 70), (3, 300, 64, 40)] {
            let a: Vec<f32> = (0..batch * m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0).collect();
            let b: Vec<f32> = (0..batch * k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0).collect();
            // b stored as [batch, n, k] and read transposed.
            let a_mats: Vec<MatRef> = (0..batch).map(|i| MatRef::from_strides(i * m * k, m, k, k as isize, 1).unwrap()).collect();
            let b_mats: Vec<MatRef> = (0..batch).map(|i| MatRef::from_strides(i * k * n, k, n, 1, k as isize).unwrap()).collect();
            let mut out = vec![0.0f32; batch * m * n];
            batched_sgemm(&a, &a_mats, &b, &b_mats, &mut out);
            for bi in 0..batch {
                for i in 0..m {
                    for j in 0..n {
                        let expect: f32 = (0..k).map(|p| a[bi * m * k + i * k + p] * b[bi * k * n + j * k + p]).sum();
                        let got = out[(bi * m + i) * n + j];
                        assert!((got - expect).abs() < 1e-3 * (1.0 + expect.abs()), "{batch}x{m}x{k}x{n} at {bi},{i},{j}: {got} vs {expect}");
                    }
                }
            }
        }
    }
}
