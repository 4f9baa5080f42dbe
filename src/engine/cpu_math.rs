//! Exponentials for MLX's CPU backend: SiLU, softmax and attention built on
//! an exp that the compiler can vectorize.
//!
//! MLX's CPU build evaluates `exp` (and so `sigmoid`, `silu`, `softmax`)
//! one element at a time, with a libm `fmaf` call for every fused
//! multiply-add of its polynomial: about 12 ns per element on the
//! benchmark machine. A 16-row decode step spends 20 ms of its 115 ms
//! there, a 240-row pass of the search wave a third of its time, and a
//! prompt's causal attention as much as its projections.
//!
//! Here exp is written as plain multiplies and adds: Cody-Waite reduction
//! `x = n ln2 + r` (|r| <= ln2 / 2), the Cephes degree-6 polynomial for
//! `exp(r)`, and `2^n` assembled from its exponent bits. MLX's `compile`
//! fuses those ops into one generated loop without calls, which the system
//! compiler vectorizes. The largest relative error against f64 is 8e-8 on
//! [-87, 88] (MLX's own exp: 4e-6); inputs at or below -88 (masked
//! positions at -inf among them) give exactly 0.
//!
//! Fused graphs are compiled once per thread and kept: mlx-rs's
//! `nn::silu` compiles a fresh graph on every call. The polynomial's
//! constants enter as inputs, not as literals, because MLX writes literals
//! into the generated source with 7 significant digits.

use std::cell::RefCell;

use mlx_rs::error::Exception;
use mlx_rs::ops::{matmul, maximum, minimum};
use mlx_rs::transforms::compile::compile;
use mlx_rs::{Array, Dtype};

use super::EngineError;

/// log2(e), the rounding offset, ln2 split in a short high part and the
/// rest, then the polynomial's coefficients from the highest degree.
const CONSTANTS: [f32; 10] = [
    std::f32::consts::LOG2_E,
    // floor(x log2 e + 128.5) = round(x log2 e) + 128, positive for x >= -88.
    128.5,
    0.693_359_4,
    -2.121_944_4e-4,
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    5.000_000_1e-1,
];

type Fused = Box<dyn for<'a> FnMut(&'a [Array]) -> Result<Vec<Array>, Exception>>;

struct Kernels {
    constants: Vec<Array>,
    /// `[x, constants..]` -> `[p, bits]`: exp(x) = p * bits viewed as f32.
    exp_parts: Fused,
    /// `[x, p, bits]` -> `[x / (1 + p * bits)]`.
    silu_tail: Fused,
}

thread_local! {
    static KERNELS: RefCell<Option<Kernels>> = const { RefCell::new(None) };
}

fn exp_parts(args: &[Array]) -> Result<Vec<Array>, Exception> {
    let [x, log2e, offset, ln2_hi, ln2_lo, c @ ..] = args else {
        return Err(Exception::custom("exp takes x and 10 constants"));
    };
    let x = minimum(maximum(x, Array::from_f32(-88.0))?, Array::from_f32(88.0))?;
    // k = n + 128 with n = round(x log2 e); 2^n has exponent bits (n + 127) << 23.
    let k = x.multiply(log2e)?.add(offset)?.as_dtype(Dtype::Int32)?;
    let bits = k.subtract(Array::from_int(1))?.multiply(Array::from_int(1 << 23))?;
    let n = k.subtract(Array::from_int(128))?.as_dtype(Dtype::Float32)?;
    let r = x.subtract(n.multiply(ln2_hi)?)?.subtract(n.multiply(ln2_lo)?)?;
    let mut p = c[0].clone();
    for coefficient in &c[1..] {
        p = p.multiply(&r)?.add(coefficient)?;
    }
    let p = p.multiply(&r)?.multiply(&r)?.add(&r)?.add(Array::from_f32(1.0))?;
    Ok(vec![p, bits])
}

fn silu_tail(args: &[Array]) -> Result<Vec<Array>, Exception> {
    let [x, p, scale] = args else {
        return Err(Exception::custom("silu_tail takes x, p and 2^n"));
    };
    Ok(vec![x.divide(p.multiply(scale)?.add(Array::from_f32(1.0))?)?])
}

fn with_kernels<T>(f: impl FnOnce(&mut Kernels) -> Result<T, EngineError>) -> Result<T, EngineError> {
    KERNELS.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let constants = CONSTANTS.iter().map(|&c| Array::from_f32(c)).collect();
            *slot =
                Some(Kernels { constants, exp_parts: Box::new(compile(exp_parts, true)), silu_tail: Box::new(compile(silu_tail, true)) });
        }
        match slot.as_mut() {
            Some(k) => f(k),
            None => Err(EngineError::Mlx("cpu kernels missing".into())),
        }
    })
}

/// `(p, 2^n)` with exp(x) = p * 2^n, x as f32.
fn exp_factors(k: &mut Kernels, x: &Array) -> Result<(Array, Array), EngineError> {
    let mut args = Vec::with_capacity(1 + k.constants.len());
    args.push(x.as_dtype(Dtype::Float32)?);
    args.extend(k.constants.iter().cloned());
    let mut out = (k.exp_parts)(&args)?;
    let bits = out.pop().ok_or_else(|| EngineError::Mlx("exp kernel returned nothing".into()))?;
    let p = out.pop().ok_or_else(|| EngineError::Mlx("exp kernel returned one array".into()))?;
    Ok((p, bits.view_dtype(Dtype::Float32)?))
}

/// exp(x) in f32.
pub fn exp(x: &Array) -> Result<Array, EngineError> {
    with_kernels(|k| {
        let (p, scale) = exp_factors(k, x)?;
        Ok(p.multiply(scale)?)
    })
}

/// x * sigmoid(x), in the dtype of `x`.
pub fn silu(x: &Array) -> Result<Array, EngineError> {
    with_kernels(|k| {
        let x32 = x.as_dtype(Dtype::Float32)?;
        let (p, scale) = exp_factors(k, &x32.negative()?)?;
        let mut out = (k.silu_tail)(&[x32, p, scale])?;
        let y = out.pop().ok_or_else(|| EngineError::Mlx("silu kernel returned nothing".into()))?;
        Ok(y.as_dtype(x.dtype())?)
    })
}

/// Softmax over the last axis, computed in f32 (entries at -inf weigh 0),
/// in the dtype of `x`.
pub fn softmax_last(x: &Array) -> Result<Array, EngineError> {
    let x32 = x.as_dtype(Dtype::Float32)?;
    let e = exp(&x32.subtract(x32.max_axis(-1, true)?)?)?;
    Ok(e.divide(e.sum_axis(-1, true)?)?.as_dtype(x.dtype())?)
}

/// Attention of `q` (`[rows, heads, len, head_dim]`, at positions
/// `offset..offset + len`) over `k`, `v` (`[rows, kv_heads, offset + len,
/// head_dim]`), causal when `len > 1`: what MLX's fused attention computes,
/// with the softmax above. Query heads that share a kv head attend as one
/// matrix per kv head; returns `[rows, heads, len, head_dim]`.
pub fn attention(q: &Array, k: &Array, v: &Array, scale: f32) -> Result<Array, EngineError> {
    use mlx_rs::ops::indexing::IndexOp;
    let (len, total) = (q.shape()[2], k.shape()[2]);
    if len <= QUERY_BLOCK {
        return attention_block(q, k, v, scale);
    }
    // A long prompt attends a block of queries at a time, each over the
    // keys up to its last position, evaluated before the next block's
    // scores are built: the scores of the whole prompt never exist at once.
    let offset = total - len;
    let mut blocks = Vec::with_capacity(((len + QUERY_BLOCK - 1) / QUERY_BLOCK) as usize);
    for start in (0..len).step_by(QUERY_BLOCK as usize) {
        let end = (start + QUERY_BLOCK).min(len);
        let seen = offset + end;
        let out =
            attention_block(&q.index((.., .., start..end, ..)), &k.index((.., .., ..seen, ..)), &v.index((.., .., ..seen, ..)), scale)?;
        out.eval()?;
        blocks.push(out);
    }
    Ok(mlx_rs::ops::concatenate(&blocks, 2)?)
}

/// Queries per block of prompt attention on the CPU: a block's scores are
/// `[rows, kv_heads, group × block, keys]` (a 4,248-token prompt's whole
/// scores would be 650 MB per layer in f32 for SmolLM2).
pub const QUERY_BLOCK: i32 = 512;

/// [`attention`] of one block of queries: the last `len` positions of the
/// keys `k`, `v`.
fn attention_block(q: &Array, k: &Array, v: &Array, scale: f32) -> Result<Array, EngineError> {
    let (qs, ks) = (q.shape(), k.shape());
    let (rows, heads, len, hd) = (qs[0], qs[1], qs[2], qs[3]);
    let (kv, total) = (ks[1], ks[2]);
    let group = heads / kv.max(1);
    // [rows, kv, group * len, hd]: a kv head's query heads stacked as rows.
    let q = q.multiply(Array::from_f32(scale).as_dtype(q.dtype())?)?.reshape(&[rows, kv, group * len, hd])?;
    let mut scores = matmul(&q, k.swap_axes(-1, -2)?)?;
    if len > 1 {
        let offset = total - len;
        let rows_pos = Array::arange::<_, i32>(offset, total, None)?.reshape(&[len, 1])?;
        let cols_pos = Array::arange::<_, i32>(None, total, None)?.reshape(&[1, total])?;
        let bias = mlx_rs::ops::select(&cols_pos.le(&rows_pos)?, Array::from_f32(0.0), Array::from_f32(f32::NEG_INFINITY))?;
        let masked = scores.reshape(&[rows, kv, group, len, total])?.add(bias.as_dtype(scores.dtype())?)?;
        scores = masked.reshape(&[rows, kv, group * len, total])?;
    }
    let weights = softmax_last(&scores)?;
    Ok(matmul(&weights, v)?.reshape(&[rows, heads, len, hd])?)
}

#[cfg(test)]
mod tests {
    use mlx_rs::ops::indexing::IndexOp;

    use super::*;

    fn values(a: &Array) -> Vec<f32> {
        a.as_slice::<f32>().to_vec()
    }

    fn largest_gap(a: &Array, b: &Array) -> f32 {
        a.subtract(b).unwrap().abs().unwrap().max(None).unwrap().item_exact::<f32>()
    }

    #[test]
    fn exp_is_within_1e7_relative_of_f64_and_masked_entries_are_zero() {
        let xs: Vec<f32> = (0..=35_000).map(|i| -87.0 + i as f32 * 0.005).collect();
        let got = values(&exp(&Array::from_slice(&xs, &[xs.len() as i32])).unwrap());
        let worst = xs.iter().zip(&got).map(|(&x, &g)| ((g as f64 - (x as f64).exp()) / (x as f64).exp()).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-7, "largest relative error {worst}");
        let edge = values(&exp(&Array::from_slice(&[f32::NEG_INFINITY, -88.0, -1e30, 0.0], &[4])).unwrap());
        assert_eq!(edge, vec![0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn silu_and_softmax_equal_their_definitions() {
        let xs: Vec<f32> = (0..2000).map(|i| (i as f32 - 1000.0) * 0.013).collect();
        let got = values(&silu(&Array::from_slice(&xs, &[2, 1000])).unwrap());
        for (&x, &g) in xs.iter().zip(&got) {
            let want = x as f64 / (1.0 + (-x as f64).exp());
            assert!((g as f64 - want).abs() <= 1e-6 * want.abs().max(1e-3), "silu({x}) = {g}, want {want}");
        }
        let row = [1.5f32, f32::NEG_INFINITY, -2.0, 0.25, 3.0];
        let got = values(&softmax_last(&Array::from_slice(&row, &[1, 5])).unwrap());
        let z: f64 = row.iter().map(|&x| (x as f64).exp()).sum();
        for (&x, &g) in row.iter().zip(&got) {
            assert!((g as f64 - (x as f64).exp() / z).abs() < 1e-7, "softmax entry {g} for {x}");
        }
        assert_eq!(got[1], 0.0);
    }

    #[test]
    fn attention_equals_the_fused_op_with_grouped_heads_and_a_causal_mask() {
        use mlx_rs::fast::{scaled_dot_product_attention, ScaledDotProductAttentionMask};
        mlx_rs::random::seed(7).unwrap();
        let q = mlx_rs::random::normal::<f32>(&[2, 6, 5, 8], None, None, None).unwrap();
        let k = mlx_rs::random::normal::<f32>(&[2, 2, 9, 8], None, None, None).unwrap();
        let v = mlx_rs::random::normal::<f32>(&[2, 2, 9, 8], None, None, None).unwrap();
        let scale = 0.35;
        let ours = attention(&q, &k, &v, scale).unwrap();
        // The fused op's causal mask aligns the queries with the last keys.
        let theirs = scaled_dot_product_attention(&q, &k, &v, scale, Some(ScaledDotProductAttentionMask::Causal), None).unwrap();
        let diff = largest_gap(&ours, &theirs);
        assert!(diff < 1e-5, "largest difference {diff}");
        let one = q.index((.., .., 4..5, ..));
        let ours = attention(&one, &k, &v, scale).unwrap();
        let theirs = scaled_dot_product_attention(&one, &k, &v, scale, None, None).unwrap();
        let diff = largest_gap(&ours, &theirs);
        assert!(diff < 1e-5, "largest difference {diff} for one query");
    }

    #[test]
    fn a_long_prompt_attends_in_blocks_as_one_piece_would() {
        use mlx_rs::fast::{scaled_dot_product_attention, ScaledDotProductAttentionMask};
        mlx_rs::random::seed(11).unwrap();
        // 1,300 new positions after 40 cached ones: three blocks, the last partial.
        let len = 2 * QUERY_BLOCK + 276;
        let q = mlx_rs::random::normal::<f32>(&[1, 4, len, 8], None, None, None).unwrap();
        let k = mlx_rs::random::normal::<f32>(&[1, 2, len + 40, 8], None, None, None).unwrap();
        let v = mlx_rs::random::normal::<f32>(&[1, 2, len + 40, 8], None, None, None).unwrap();
        let ours = attention(&q, &k, &v, 0.3).unwrap();
        assert_eq!(ours.shape(), &[1, 4, len, 8]);
        let theirs = scaled_dot_product_attention(&q, &k, &v, 0.3, Some(ScaledDotProductAttentionMask::Causal), None).unwrap();
        let diff = largest_gap(&ours, &theirs);
        assert!(diff < 1e-5, "largest difference {diff}");
        // Each block equals the same queries attended on their own.
        let last = q.index((.., .., 2 * QUERY_BLOCK..len, ..));
        let alone = attention_block(&last, &k, &v, 0.3).unwrap();
        assert_eq!(largest_gap(&ours.index((.., .., 2 * QUERY_BLOCK..len, ..)), &alone), 0.0);
    }
}
