//! Picks the compute device, loading libtorch's CUDA half only when a GPU is
//! there.
//!
//! torch-sys links `libtorch_cpu.so`; the linker's `--as-needed` drops
//! `libtorch_cuda.so`, so `tch::Cuda::is_available()` would be false even on
//! a GPU machine. Linking it unconditionally costs about 1 s of start-up and
//! 360 MB of memory on every CPU-only run, so instead we `dlopen` it (its
//! static initialisers register the CUDA backend) when an NVIDIA driver is
//! visible and the caller asked for `auto` or `cuda`.

use std::sync::OnceLock;

use crate::config::DeviceChoice;
use crate::{Error, Result};

/// Where libtorch's libraries live, recorded at build time (see
/// `build/libtorch_rpath.rs`).
const LIBTORCH_LIB: Option<&str> = option_env!("MURMUR_LIBTORCH_LIB");

/// Outcome of trying to load CUDA support, kept for the process's lifetime.
static CUDA: OnceLock<std::result::Result<(), CudaUnavailable>> = OnceLock::new();

/// Why libtorch's CUDA backend cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CudaUnavailable {
    /// No NVIDIA driver on this machine.
    #[error("no NVIDIA driver found (/dev/nvidiactl is missing)")]
    NoDriver,
    /// `libtorch_cuda.so` cannot be loaded (the loader's message; its
    /// error type is not `Clone`, and the outcome is kept for the process).
    #[error("cannot load {}: {reason}", path.display())]
    Library {
        /// The library.
        path: std::path::PathBuf,
        /// The dynamic loader's message.
        reason: String,
    },
    /// The library loaded but libtorch sees no GPU.
    #[error("libtorch's CUDA backend loaded but reports no usable GPU")]
    NoGpu,
}

/// Whether an NVIDIA driver is visible (no driver: don't even try).
fn driver_present() -> bool {
    std::path::Path::new("/dev/nvidiactl").exists() || std::path::Path::new("/proc/driver/nvidia/version").exists()
}

/// Loads `libtorch_cuda.so` once; `Err` says why CUDA cannot be used.
pub fn load_cuda() -> std::result::Result<(), CudaUnavailable> {
    CUDA.get_or_init(|| {
        if !driver_present() {
            return Err(CudaUnavailable::NoDriver);
        }
        let path = LIBTORCH_LIB
            .map(|dir| std::path::Path::new(dir).join("libtorch_cuda.so"))
            .unwrap_or_else(|| "libtorch_cuda.so".into());
        // SAFETY: loading libtorch's own CUDA library runs its static
        // initialisers, which only register CUDA hooks with libtorch. The
        // handle is leaked on purpose: the library must stay loaded.
        let lib = unsafe { libloading::Library::new(&path) }
            .map_err(|e| CudaUnavailable::Library { path: path.clone(), reason: e.to_string() })?;
        std::mem::forget(lib);
        if tch::Cuda::is_available() {
            Ok(())
        } else {
            Err(CudaUnavailable::NoGpu)
        }
    })
    .clone()
}

/// Resolves a device choice: `auto` takes CUDA when usable, else the CPU.
pub fn select(choice: DeviceChoice) -> Result<tch::Device> {
    match choice {
        DeviceChoice::Cpu => Ok(tch::Device::Cpu),
        DeviceChoice::Cuda => load_cuda().map(|()| tch::Device::Cuda(0)).map_err(Error::Device),
        DeviceChoice::Auto => Ok(match load_cuda() {
            Ok(()) => tch::Device::Cuda(0),
            Err(why) => {
                log::debug!("device auto: using the CPU ({why})");
                tch::Device::Cpu
            }
        }),
    }
}

/// A human description, e.g. "cuda:0 (1 GPU(s) visible)" or "cpu (2 threads)".
pub fn describe(device: tch::Device) -> String {
    match device {
        tch::Device::Cuda(i) => format!("cuda:{i} ({} GPU(s) visible)", tch::Cuda::device_count()),
        _ => match tch::get_num_threads() {
            1 => "cpu (1 thread)".to_string(),
            n => format!("cpu ({n} threads)"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_available_and_auto_matches_cuda_availability() {
        assert_eq!(select(DeviceChoice::Cpu).unwrap(), tch::Device::Cpu);
        let auto = select(DeviceChoice::Auto).unwrap();
        match select(DeviceChoice::Cuda) {
            Ok(d) => assert_eq!(auto, d),
            Err(e) => {
                assert_eq!(auto, tch::Device::Cpu);
                assert!(e.to_string().contains("--device cuda was asked for"), "{e}");
            }
        }
    }
}
