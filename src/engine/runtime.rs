//! What MLX this process runs on: version, backend and default device.

use std::ffi::CStr;

use mlx_rs::{Device, DeviceType};

use super::EngineError;

/// The compute backends an MLX build can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Cpu,
    Metal,
    Cuda,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MlxInfo {
    /// Version reported by the loaded libmlx at run time.
    pub version: String,
    /// Version the bindings were compiled against.
    pub build_version: &'static str,
    pub backend: Backend,
    /// E.g. `cpu:0` or `gpu:0`.
    pub default_device: String,
}

/// Asks the loaded MLX library about itself.
pub fn mlx_info() -> Result<MlxInfo, EngineError> {
    let version = runtime_version()?;
    let backend = if flag(mlx_sys::mlx_metal_is_available)? {
        Backend::Metal
    } else if flag(mlx_sys::mlx_cuda_is_available)? {
        Backend::Cuda
    } else {
        Backend::Cpu
    };
    let device = Device::try_default().map_err(|e| EngineError::Mlx(e.to_string()))?;
    let kind = match device.get_type().map_err(|e| EngineError::Mlx(e.to_string()))? {
        DeviceType::Cpu => "cpu",
        DeviceType::Gpu => "gpu",
    };
    let index = device.get_index().map_err(|e| EngineError::Mlx(e.to_string()))?;
    Ok(MlxInfo { version, build_version: mlx_sys::MLX_BUILD_VERSION, backend, default_device: format!("{kind}:{index}") })
}

fn flag(query: unsafe extern "C" fn(*mut bool) -> i32) -> Result<bool, EngineError> {
    let mut value = false;
    // SAFETY: the mlx-c query writes one bool through the pointer it is given.
    let status = unsafe { query(&mut value) };
    if status != 0 {
        return Err(EngineError::Mlx("backend availability query failed".into()));
    }
    Ok(value)
}

fn runtime_version() -> Result<String, EngineError> {
    // SAFETY: mlx_string_new/free bracket the string that mlx_version fills;
    // the data pointer is read (and copied) before the string is freed.
    unsafe {
        let mut s = mlx_sys::mlx_string_new();
        let status = mlx_sys::mlx_version(&mut s);
        let out = if status == 0 {
            let data = mlx_sys::mlx_string_data(s);
            if data.is_null() {
                Err(EngineError::Mlx("mlx_version returned no string".into()))
            } else {
                Ok(CStr::from_ptr(data).to_string_lossy().into_owned())
            }
        } else {
            Err(EngineError::Mlx("mlx_version failed".into()))
        };
        mlx_sys::mlx_string_free(s);
        out
    }
}
