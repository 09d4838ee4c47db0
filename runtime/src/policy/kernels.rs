//! The arithmetic of a nano step: affine maps (matrix times vector plus
//! bias) and the GRU's activations.
//!
//! - [`affine`]: portable code with eight partial sums (vectorised by the
//!   compiler for any target); on x86-64 with `std`, an AVX2 + FMA kernel
//!   picked once at run time when the CPU has both (eight rows at a time,
//!   so each load of the input serves eight fused multiply-adds; masked
//!   loads for a last partial chunk of columns or rows).
//! - [`gru_update`]: the GRU's gates and state update, compiled for AVX2
//!   as well where that kernel runs.
//! - [`tanh`] and [`sigmoid`]: a clamped rational approximation of tanh
//!   (odd degree-13 over even degree-6 polynomial, the form Eigen and XLA
//!   use), branch-free so loops over a layer vectorise; absolute error
//!   below 1e-6 against `libm` (tested), far inside the 1e-5 the exported
//!   actor is verified to.

/// `sum_c w[c] x[c]` with eight independent partial sums, so the compiler
/// can keep them in SIMD lanes (one running sum would serialise the adds).
fn dot(w: &[f32], x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (wc, xc) = (w.chunks_exact(8), x.chunks_exact(8));
    let (wr, xr) = (wc.remainder(), xc.remainder());
    for (a, b) in wc.zip(xc) {
        for k in 0..8 {
            acc[k] += a[k] * b[k];
        }
    }
    let mut total = acc.iter().sum::<f32>();
    for (a, b) in wr.iter().zip(xr) {
        total += a * b;
    }
    total
}

/// Which matrix-vector kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Portable Rust (any target, `no_std`).
    Portable,
    /// AVX2 + FMA intrinsics (x86-64, detected at run time).
    Avx2Fma,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub fn detect() -> Self {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Kernel::Avx2Fma;
        }
        Kernel::Portable
    }
}

/// `out[r] = f[bias + r] + sum_c f[w + r * cols + c] x[c]`, `cols = x.len()`:
/// the row-major matrix at float offset `w` of `f`, with `out.len()` rows.
///
/// # Panics
/// When the matrix or bias runs past the end of `f` (the blob's layout is
/// checked at load, so this is a bug, not bad input).
pub fn affine(kernel: Kernel, f: &[f32], w: usize, bias: usize, x: &[f32], out: &mut [f32]) {
    let rows = out.len();
    assert!(w + rows * x.len() <= f.len() && bias + rows <= f.len(), "affine map outside the weights");
    match kernel {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        // SAFETY: `Avx2Fma` is only produced by `detect`, after checking that
        // this CPU has AVX2 and FMA; the bounds were asserted above.
        Kernel::Avx2Fma => unsafe { avx2::affine(f, w, bias, x, out) },
        _ => {
            let cols = x.len();
            for (r, o) in out.iter_mut().enumerate() {
                let row = w + r * cols;
                *o = f[bias + r] + dot(&f[row..row + cols], x);
            }
        }
    }
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod avx2 {
    use core::arch::x86_64::*;

    /// The sums of eight vectors, as one vector: `[sum(v[0]), ..., sum(v[7])]`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum8(v: &[__m256; 8]) -> __m256 {
        let t0 = _mm256_hadd_ps(v[0], v[1]);
        let t1 = _mm256_hadd_ps(v[2], v[3]);
        let t2 = _mm256_hadd_ps(v[4], v[5]);
        let t3 = _mm256_hadd_ps(v[6], v[7]);
        let (u0, u1) = (_mm256_hadd_ps(t0, t1), _mm256_hadd_ps(t2, t3));
        // Each 128-bit half holds partial sums of four rows: add the halves.
        _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31))
    }

    /// Lanes `0..n` set (n <= 8): the mask of a partial 8-float chunk.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn first_lanes(n: usize) -> __m256i {
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
    }

    /// `block` (<= 8) rows starting at float `base` of `fp`, `cols` apart:
    /// their dot products with `x` as the lanes of one vector (lanes past
    /// `block` are 0). Inlined with `block = 8` the row loop unrolls into
    /// eight independent FMA chains; each input load serves every row.
    /// The last partial chunk of columns is read with masked loads, which
    /// never touch the masked-out lanes' memory.
    ///
    /// Callers guarantee AVX2 + FMA (it is only inlined into the kernels
    /// below, which enable both), `block <= 8`, and that the `block` rows of
    /// `cols` floats from `base` lie within the slice `fp` points into.
    #[inline(always)]
    unsafe fn dot_rows(fp: *const f32, base: usize, cols: usize, x: &[f32], block: usize) -> __m256 {
        let (chunks, rem) = (cols / 8, cols % 8);
        let xp = x.as_ptr();
        let mut acc = [_mm256_setzero_ps(); 8];
        for c in 0..chunks {
            let xv = _mm256_loadu_ps(xp.add(8 * c));
            for (j, a) in acc.iter_mut().enumerate().take(block) {
                *a = _mm256_fmadd_ps(_mm256_loadu_ps(fp.add(base + j * cols + 8 * c)), xv, *a);
            }
        }
        if rem > 0 {
            let mask = first_lanes(rem);
            let xv = _mm256_maskload_ps(xp.add(8 * chunks), mask);
            for (j, a) in acc.iter_mut().enumerate().take(block) {
                *a = _mm256_fmadd_ps(_mm256_maskload_ps(fp.add(base + j * cols + 8 * chunks), mask), xv, *a);
            }
        }
        hsum8(&acc)
    }

    /// See [`super::affine`]. Callers guarantee AVX2 + FMA and that
    /// `w + out.len() * x.len()` and `bias + out.len()` are within `f`.
    /// Eight rows at a time (one shuffle tree reduces their eight sums),
    /// then the last rows as one partial block.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn affine(f: &[f32], w: usize, bias: usize, x: &[f32], out: &mut [f32]) {
        let (cols, rows) = (x.len(), out.len());
        let fp = f.as_ptr();
        let mut r = 0;
        while r + 8 <= rows {
            let sums = _mm256_add_ps(dot_rows(fp, w + r * cols, cols, x, 8), _mm256_loadu_ps(fp.add(bias + r)));
            _mm256_storeu_ps(out.as_mut_ptr().add(r), sums);
            r += 8;
        }
        if r < rows {
            let block = rows - r;
            let mask = first_lanes(block);
            let sums =
                _mm256_add_ps(dot_rows(fp, w + r * cols, cols, x, block), _mm256_maskload_ps(fp.add(bias + r), mask));
            _mm256_maskstore_ps(out.as_mut_ptr().add(r), mask, sums);
        }
    }

    /// [`super::gru_update`] compiled for AVX2 (eight lanes; the same
    /// operations in the same order, so the same results as portable code).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gru_update(gi: &mut [f32], gh: &[f32], h: &mut [f32]) {
        super::gru_update_body(gi, gh, h)
    }
}

/// One GRU step's state update from its gate pre-activations (PyTorch's
/// `GRUCell`, gate order r, z, n): with `gi = W_ih e + b_ih` and
/// `gh = W_hh h + b_hh` (each `[3 H]`), `r = sigmoid(gi_r + gh_r)`,
/// `z = sigmoid(gi_z + gh_z)`, `n = tanh(gi_n + r gh_n)`, and `h` (`[H]`)
/// becomes `(1 - z) n + z h`, in place. `gi` is scratch: its first `2 H`
/// values are overwritten with `r` and `z`.
///
/// # Panics
/// When `gi` or `gh` is not `3 * h.len()` long (a bug: the buffers are
/// sized from the blob's dims).
pub fn gru_update(kernel: Kernel, gi: &mut [f32], gh: &[f32], h: &mut [f32]) {
    assert!(gi.len() == 3 * h.len() && gh.len() == 3 * h.len(), "GRU gate buffers do not match the hidden state");
    match kernel {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        // SAFETY: `Avx2Fma` is only produced by `detect`, after checking that
        // this CPU has AVX2 and FMA.
        Kernel::Avx2Fma => unsafe { avx2::gru_update(gi, gh, h) },
        _ => gru_update_body(gi, gh, h),
    }
}

/// The body of [`gru_update`]: split into gate slices first so the loops
/// have no bounds checks and vectorise (the activations are branch-free).
/// Two passes, the two sigmoid gates then the candidate and the update:
/// shorter dependency chains per iteration overlap better.
#[inline(always)]
fn gru_update_body(gi: &mut [f32], gh: &[f32], h: &mut [f32]) {
    let hd = h.len();
    let (rz, gi_n) = gi.split_at_mut(2 * hd);
    let (gh_rz, gh_n) = gh.split_at(2 * hd);
    for (g, b) in rz.iter_mut().zip(gh_rz) {
        *g = sigmoid(*g + b);
    }
    let (r, z) = rz.split_at(hd);
    for (k, hk) in h.iter_mut().enumerate() {
        let n = tanh(gi_n[k] + r[k] * gh_n[k]);
        *hk = (1.0 - z[k]) * n + z[k] * *hk;
    }
}

/// tanh(x), rational approximation on [-7.9, 7.9] (saturated beyond).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let mut p = -2.760_768_5e-16f32;
    p = p * x2 + 2.000_188e-13;
    p = p * x2 - 8.604_672e-11;
    p = p * x2 + 5.122_297e-8;
    p = p * x2 + 1.485_722_4e-5;
    p = p * x2 + 6.372_619_3e-4;
    p = p * x2 + 4.893_524_6e-3;
    let mut q = 1.198_258_4e-6f32;
    q = q * x2 + 1.185_347_1e-4;
    q = q * x2 + 2.268_434_6e-3;
    q = q * x2 + 4.893_525e-3;
    x * p / q
}

/// The logistic function 1 / (1 + e^-x), as 0.5 + 0.5 tanh(x / 2).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    0.5 + 0.5 * tanh(0.5 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_match_libm_closely() {
        let (mut worst_tanh, mut worst_sigmoid) = (0f32, 0f32);
        for k in -200_000..=200_000 {
            let x = k as f32 * 1e-4; // [-20, 20]
            worst_tanh = worst_tanh.max((tanh(x) - libm::tanhf(x)).abs());
            worst_sigmoid = worst_sigmoid.max((sigmoid(x) - 1.0 / (1.0 + libm::expf(-x))).abs());
        }
        assert!(worst_tanh < 1e-6, "tanh error {worst_tanh}");
        assert!(worst_sigmoid < 1e-6, "sigmoid error {worst_sigmoid}");
        assert_eq!((tanh(0.0), tanh(50.0), tanh(-50.0)), (0.0, tanh(7.905_311), -tanh(7.905_311)));
    }

    #[test]
    fn gru_update_is_the_same_on_every_kernel_and_matches_the_formula() {
        let hd = 21; // not a multiple of the vector width
        let gi: std::vec::Vec<f32> = (0..3 * hd).map(|k| ((k * 29 % 97) as f32 - 48.0) / 9.0).collect();
        let gh: std::vec::Vec<f32> = (0..3 * hd).map(|k| ((k * 53 % 89) as f32 - 44.0) / 11.0).collect();
        let h0: std::vec::Vec<f32> = (0..hd).map(|k| ((k * 7 % 13) as f32 - 6.0) / 6.0).collect();
        let logistic = |x: f32| 1.0 / (1.0 + libm::expf(-x));
        let expected: std::vec::Vec<f32> = (0..hd)
            .map(|k| {
                let r = logistic(gi[k] + gh[k]);
                let z = logistic(gi[hd + k] + gh[hd + k]);
                let n = libm::tanhf(gi[2 * hd + k] + r * gh[2 * hd + k]);
                (1.0 - z) * n + z * h0[k]
            })
            .collect();
        let mut portable = h0.clone();
        gru_update(Kernel::Portable, &mut gi.clone(), &gh, &mut portable);
        let mut detected = h0.clone();
        gru_update(Kernel::detect(), &mut gi.clone(), &gh, &mut detected);
        assert_eq!(portable, detected);
        for (a, b) in portable.iter().zip(&expected) {
            assert!((a - b).abs() < 2e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn kernels_agree_with_a_plain_sum() {
        // Odd sizes: rows not a multiple of 8, columns not of 8.
        let (rows, cols) = (21, 27);
        let f: std::vec::Vec<f32> =
            (0..rows * cols + rows + 5).map(|k| ((k * 37 % 101) as f32 - 50.0) / 70.0).collect();
        let x: std::vec::Vec<f32> = (0..cols).map(|k| ((k * 13 % 17) as f32 - 8.0) / 9.0).collect();
        let (w, bias) = (5, 5 + rows * cols);
        let expected: std::vec::Vec<f32> =
            (0..rows).map(|r| f[bias + r] + (0..cols).map(|c| f[w + r * cols + c] * x[c]).sum::<f32>()).collect();
        for kernel in [Kernel::Portable, Kernel::detect()] {
            let mut out = std::vec![0f32; rows];
            affine(kernel, &f, w, bias, &x, &mut out);
            for (a, b) in out.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-5, "{kernel:?}: {out:?} vs {expected:?}");
            }
        }
    }
}
