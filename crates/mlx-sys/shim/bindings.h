/* What bindgen reads: mlx-c's public headers, plus, on targets where mlx-c's
 * half.h declares no 16-bit float types (everything but aarch64), stand-ins of
 * the same size and the four accessors that mlx-rs calls on every target. The
 * Rust side replaces the stand-in types with `float16_t(u16)` and `u16`; the
 * accessors are implemented in half_accessors.cpp with MLX's own half types.
 */
#include <stdint.h>
#include "mlx/c/mlx.h"

#if !defined(HAS_FLOAT16)
typedef uint16_t float16_t;
int mlx_array_item_float16(float16_t* res, const mlx_array arr);
const float16_t* mlx_array_data_float16(const mlx_array arr);
#endif
#if !defined(HAS_BFLOAT16)
typedef uint16_t bfloat16_t;
int mlx_array_item_bfloat16(bfloat16_t* res, const mlx_array arr);
const bfloat16_t* mlx_array_data_bfloat16(const mlx_array arr);
#endif
