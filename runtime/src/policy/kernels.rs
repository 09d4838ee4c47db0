//! The arithmetic of a nano step: affine maps (matrix times vector plus
//! bias) and the GRU's activations.
//!
//! - [`affine`]: portable code with eight partial sums (vectorised by the
//!   compiler for any target); on x86-64 with `std`, an AVX2 + FMA kernel
//!   picked once at run time when the CPU has both (eight rows at a time,
//!   so each load of the input serves eight fused multiply-adds).
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

    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)))
    }

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

    /// See [`super::affine`]. Callers guarantee AVX2 + FMA and that
    /// `w + out.len() * x.len()` and `bias + out.len()` are within `f`.
    /// Eight rows at a time: eight independent FMA chains hide the FMA
    /// latency, each input load serves eight rows, and one shuffle tree
    /// reduces all eight sums.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn affine(f: &[f32], w: usize, bias: usize, x: &[f32], out: &mut [f32]) {
        let (cols, rows) = (x.len(), out.len());
        let chunks = cols / 8;
        let (fp, xp) = (f.as_ptr(), x.as_ptr());
        let tail = |row: usize| (8 * chunks..cols).map(|c| f[row + c] * x[c]).sum::<f32>();
        let mut r = 0;
        while r + 8 <= rows {
            let base = w + r * cols;
            let mut acc = [_mm256_setzero_ps(); 8];
            for c in 0..chunks {
                // SAFETY: 8 * c + 8 <= cols, and every row lies within `f`.
                let xv = _mm256_loadu_ps(xp.add(8 * c));
                for (j, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(_mm256_loadu_ps(fp.add(base + j * cols + 8 * c)), xv, *a);
                }
            }
            let sums = _mm256_add_ps(hsum8(&acc), _mm256_loadu_ps(fp.add(bias + r)));
            _mm256_storeu_ps(out.as_mut_ptr().add(r), sums);
            if chunks * 8 < cols {
                for j in 0..8 {
                    out[r + j] += tail(base + j * cols);
                }
            }
            r += 8;
        }
        while r < rows {
            let row = w + r * cols;
            let mut acc = _mm256_setzero_ps();
            for c in 0..chunks {
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(fp.add(row + 8 * c)), _mm256_loadu_ps(xp.add(8 * c)), acc);
            }
            out[r] = f[bias + r] + hsum(acc) + tail(row);
            r += 1;
        }
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
