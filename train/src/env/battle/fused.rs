//! `a * b + c` rounded once, as XLA computes SMAX's distances, by whichever
//! route is fastest on the CPU running the battle.
//!
//! SMAX's norms are a fused multiply-add followed by a square root, so
//! matching them to the bit needs a fused multiply-add. x86-64 CPUs have
//! had an instruction for it since 2012-2013, but a build for the baseline
//! x86-64 may not use it: there `f32::mul_add` is a library call. So the
//! battle's hot code is generic over [`FusedMulAdd`] and compiled twice,
//! once with the instruction enabled; [`dispatch`] picks the copy the CPU
//! can run, once per call. Both give the same bits (tested below and by
//! the JaxMARL replay, which runs both).

/// One way of computing `a * b + c` with a single rounding.
pub trait FusedMulAdd {
    /// `a * b + c`, rounded once to f32.
    fn fma(a: f32, b: f32, c: f32) -> f32;
}

/// The exact sum formed in f64 and rounded from there: no FMA instruction
/// needed, a handful of plain ones.
#[derive(Debug, Clone, Copy)]
pub struct Emulated;

impl FusedMulAdd for Emulated {
    /// The product of two f32 is exact in f64 and the sum is rounded there
    /// once; rounding that to f32 gives the fused result unless it lands
    /// exactly halfway between two f32 (then, rarely, `mul_add` runs).
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        let s = f64::from(a) * f64::from(b) + f64::from(c);
        let halfway = s.to_bits() & 0x1fff_ffff == 0x1000_0000;
        // An exact zero (two units at one spot) is exact in f64 too, signs
        // of zero included; only tiny non-zero sums risk rounding twice.
        let tiny = s != 0.0 && s.abs() < f64::from(f32::MIN_POSITIVE);
        if halfway || tiny {
            a.mul_add(b, c)
        } else {
            s as f32
        }
    }
}

/// `f32::mul_add`: one instruction in code compiled with the FMA feature
/// (see [`dispatch`]), a library call elsewhere.
#[derive(Debug, Clone, Copy)]
pub struct Native;

impl FusedMulAdd for Native {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// Euclidean length of `v`, as SMAX computes it: `sqrt(fma(x, x, y * y))`.
#[inline(always)]
pub fn norm<F: FusedMulAdd>(v: [f32; 2]) -> f32 {
    F::fma(v[0], v[0], v[1] * v[1]).sqrt()
}

/// Which copy of the battle's hot code a battle runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arithmetic {
    /// [`Emulated`] fused multiply-adds, in code for the baseline CPU.
    Portable,
    /// The FMA instruction, in code compiled for x86-64 CPUs that have it
    /// (Intel from 2013, AMD from 2012); only where the running CPU does.
    Fma,
}

impl Arithmetic {
    /// The fastest copy this CPU can run.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("fma") {
            return Self::Fma;
        }
        Self::Portable
    }

    /// Every copy this CPU can run (the portable one first).
    pub fn available() -> Vec<Self> {
        let mut all = vec![Self::Portable];
        if Self::detect() == Self::Fma {
            all.push(Self::Fma);
        }
        all
    }
}

/// Work generic over the fused multiply-add, run by [`dispatch`]. Its
/// `run` and everything hot that it calls are `#[inline(always)]`, so that
/// they are compiled into the copy that [`dispatch`] calls, with that
/// copy's instructions.
pub trait Dispatched {
    /// What the work returns.
    type Output;
    /// Does the work with fused multiply-adds from `F`.
    fn run<F: FusedMulAdd>(self) -> Self::Output;
}

/// Runs `work` in the copy `arithmetic` names; a copy this CPU cannot run
/// falls back to the portable one.
#[inline(always)]
pub fn dispatch<W: Dispatched>(arithmetic: Arithmetic, work: W) -> W::Output {
    #[cfg(target_arch = "x86_64")]
    if arithmetic == Arithmetic::Fma && Arithmetic::detect() == Arithmetic::Fma {
        #[target_feature(enable = "fma")]
        fn with_fma<W: Dispatched>(work: W) -> W::Output {
            work.run::<Native>()
        }
        // SAFETY: the CPU was just seen to have FMA.
        return unsafe { with_fma(work) };
    }
    let _ = arithmetic;
    work.run::<Emulated>()
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_pcg::Pcg64;

    use super::*;

    /// The f64 route to a fused multiply-add gives the hardware's bits on
    /// every input tried, the tie and tiny cases included.
    #[test]
    fn emulated_fused_multiply_add_matches_the_exact_one_to_the_bit() {
        let mut rng = Pcg64::seed_from_u64(3);
        let check = |a: f32, b: f32, c: f32| {
            let (emulated, exact) = (Emulated::fma(a, b, c), a.mul_add(b, c));
            assert_eq!(emulated.to_bits(), exact.to_bits(), "fma({a:e}, {b:e}, {c:e})");
        };
        for _ in 0..200_000 {
            let scale = 10f32.powi(rng.random_range(-20..6));
            let (a, b) = (rng.random_range(-40.0..40.0f32) * scale, rng.random_range(-40.0..40.0f32) * scale);
            check(a, a, b * b);
            check(a, b, rng.random_range(-1.0..1.0f32) * a * b);
        }
        // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: a tie for f32 without c.
        let x = 1.0 + f32::EPSILON * 2048.0;
        check(x, x, 0.0);
        check(x, x, 1e-30);
        check(x, x, -1e-30);
        check(1e-30, 1e-30, 0.0);
        for zero in [0.0f32, -0.0] {
            for other in [0.0f32, -0.0, 1.5, -1.5] {
                check(zero, other, 0.0);
                check(zero, other, -0.0);
                check(other, zero, zero);
            }
        }
    }

    /// The bits of each vector's norm.
    struct SumOfNorms<'a>(&'a [[f32; 2]]);

    impl Dispatched for SumOfNorms<'_> {
        type Output = Vec<u32>;
        #[inline(always)]
        fn run<F: FusedMulAdd>(self) -> Vec<u32> {
            self.0.iter().map(|&v| norm::<F>(v).to_bits()).collect()
        }
    }

    /// Every copy this CPU runs gives the same norms to the bit.
    #[test]
    fn every_copy_measures_the_same_norms() {
        let mut rng = Pcg64::seed_from_u64(5);
        let vectors: Vec<[f32; 2]> =
            (0..100_000).map(|_| [rng.random_range(-40.0..40.0f32), rng.random_range(-40.0..40.0f32)]).collect();
        let want = dispatch(Arithmetic::Portable, SumOfNorms(&vectors));
        for arithmetic in Arithmetic::available() {
            assert_eq!(dispatch(arithmetic, SumOfNorms(&vectors)), want, "{arithmetic:?}");
        }
    }
}
