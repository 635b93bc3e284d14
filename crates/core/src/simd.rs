//! The run-time choice of the SIMD builds of the hot loops, detected in one place. Every
//! dispatch site has the same shape: under `#[cfg(target_arch = "x86_64")]`, `if avx2()` call
//! the `#[target_feature(enable = "avx2")]` build (same IEEE operations in the same order as
//! the plain one, so the bits do not depend on the CPU), else the plain build.

/// Whether this CPU runs the AVX2 builds (always `false` off x86-64). The standard library
/// caches the detection, so the call is cheap.
pub fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
