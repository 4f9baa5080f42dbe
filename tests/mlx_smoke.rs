//! Real MLX compute through mlx-rs on the default device, linked through the
//! project's own mlx-sys against the prebuilt MLX 0.32.2.

use mlx_rs::ops::{matmul, softmax_axis};
use mlx_rs::{Array, Device, DeviceType};

#[test]
fn matmul_on_the_default_device_is_exact_on_small_integers() {
    let a = Array::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = Array::from_slice(&[7.0f32, 8.0, 9.0, 10.0, 11.0, 12.0], &[3, 2]);
    let c = matmul(&a, &b).expect("matmul");
    c.eval().expect("eval");
    assert_eq!(c.shape(), &[2, 2]);
    assert_eq!(c.as_slice::<f32>(), &[58.0, 64.0, 139.0, 154.0]);
}

#[test]
fn large_matmul_matches_a_direct_sum() {
    // Large enough to go through BLAS sgemm.
    let n = 96usize;
    let a: Vec<f32> = (0..n * n).map(|i| ((i * 7 % 13) as f32) - 6.0).collect();
    let b: Vec<f32> = (0..n * n).map(|i| ((i * 5 % 11) as f32) - 5.0).collect();
    let c = matmul(Array::from_slice(&a, &[n as i32, n as i32]), Array::from_slice(&b, &[n as i32, n as i32])).expect("matmul");
    c.eval().expect("eval");
    let got = c.as_slice::<f32>();
    for (i, j) in [(0, 0), (5, 17), (95, 95), (40, 3)] {
        let want: f32 = (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum();
        assert_eq!(got[i * n + j], want, "c[{i},{j}]");
    }
}

#[test]
fn softmax_matches_the_definition() {
    let logits = [1.0f32, 2.0, 3.0, -1.0];
    let x = Array::from_slice(&logits, &[1, 4]);
    let p = softmax_axis(&x, -1, None).expect("softmax");
    p.eval().expect("eval");
    let got = p.as_slice::<f32>();
    let z: f32 = logits.iter().map(|l| l.exp()).sum();
    for (g, l) in got.iter().zip(logits) {
        assert!((g - l.exp() / z).abs() < 1e-6, "{g} vs {}", l.exp() / z);
    }
    assert!((got.iter().sum::<f32>() - 1.0).abs() < 1e-6);
}

#[test]
fn float16_round_trips_through_the_x86_accessors() {
    let x = Array::from_slice(&[1.5f32, -2.25], &[2]).as_dtype(mlx_rs::Dtype::Float16).expect("cast");
    x.eval().expect("eval");
    let halves = x.as_slice::<half::f16>();
    assert_eq!(halves, &[half::f16::from_f32(1.5), half::f16::from_f32(-2.25)]);
    let one = Array::from_slice(&[3.0f32], &[1]).as_dtype(mlx_rs::Dtype::Bfloat16).expect("cast");
    assert_eq!(one.sum(None).expect("sum").item_exact::<half::bf16>(), half::bf16::from_f32(3.0));
}

#[test]
fn the_runtime_is_mlx_0_32_2_on_the_expected_device_and_blas() {
    let (info, blas) = runner::engine::init().expect("engine init (MLX answers, BLAS is not the reference one)");
    assert_eq!(info.version, "0.32.2");
    assert_eq!(info.build_version, "0.32.2");
    let device = Device::try_default().expect("default device");
    if cfg!(target_os = "linux") {
        assert!(matches!(device.get_type().expect("type"), DeviceType::Cpu));
        assert_eq!(info.default_device, "cpu:0");
        assert_eq!(blas.kind, runner::engine::BlasKind::OpenBlas, "mapped: {:?}", blas.libraries);
    }
}
