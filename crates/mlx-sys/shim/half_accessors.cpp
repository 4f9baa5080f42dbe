// Scalar and data accessors for float16 / bfloat16 arrays on targets where
// mlx-c compiles them out (it guards them with aarch64-only types). The C
// signature passes 16-bit values by pointer, so a uint16_t on this side and
// MLX's float16_t / bfloat16_t (both 16-bit, trivially copyable) agree.
#include <cstdint>
#include <cstring>
#include <exception>

#include "mlx/c/error.h"
#include "mlx/c/private/array.h"

namespace {
template <class Half>
int item_bits(std::uint16_t* res, const mlx_array arr) {
  static_assert(sizeof(Half) == sizeof(std::uint16_t));
  try {
    const Half value = mlx_array_get_(arr).item<Half>();
    std::memcpy(res, &value, sizeof(value));
  } catch (std::exception& e) {
    mlx_error(e.what());
    return 1;
  }
  return 0;
}

template <class Half>
const std::uint16_t* data_bits(const mlx_array arr) {
  try {
    return reinterpret_cast<const std::uint16_t*>(mlx_array_get_(arr).data<Half>());
  } catch (std::exception& e) {
    mlx_error(e.what());
    return nullptr;
  }
}
} // namespace

extern "C" int mlx_array_item_float16(std::uint16_t* res, const mlx_array arr) {
  return item_bits<mlx::core::float16_t>(res, arr);
}
extern "C" int mlx_array_item_bfloat16(std::uint16_t* res, const mlx_array arr) {
  return item_bits<mlx::core::bfloat16_t>(res, arr);
}
extern "C" const std::uint16_t* mlx_array_data_float16(const mlx_array arr) {
  return data_bits<mlx::core::float16_t>(arr);
}
extern "C" const std::uint16_t* mlx_array_data_bfloat16(const mlx_array arr) {
  return data_bits<mlx::core::bfloat16_t>(arr);
}
