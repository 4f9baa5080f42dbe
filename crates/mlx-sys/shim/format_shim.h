/* Force-included into every mlx-c translation unit.
 *
 * mlx-c's private io.h calls std::format, which libstdc++ before GCC 13 does
 * not provide. libmlx.so is built against libstdc++, so switching the standard
 * library is not an option; instead, where <format> is missing, a minimal
 * std::format is supplied: it replaces each "{}" in order with the argument as
 * an ostream would print it. That covers every use in mlx-c (error messages).
 */
#ifndef RUNNER_MLX_FORMAT_SHIM_H
#define RUNNER_MLX_FORMAT_SHIM_H
#ifdef __cplusplus
#include <version>
#if !defined(__cpp_lib_format)
#include <sstream>
#include <string>
#include <string_view>

namespace std {
namespace runner_format_detail {
inline void put_rest(std::ostringstream& out, std::string_view fmt) { out << fmt; }

template <class T, class... Rest>
void put_rest(std::ostringstream& out, std::string_view fmt, const T& value, const Rest&... rest) {
  const auto open = fmt.find("{}");
  if (open == std::string_view::npos) {
    out << fmt;
    return;
  }
  out << fmt.substr(0, open) << value;
  put_rest(out, fmt.substr(open + 2), rest...);
}
} // namespace runner_format_detail

template <class... Args>
std::string format(std::string_view fmt, const Args&... args) {
  std::ostringstream out;
  runner_format_detail::put_rest(out, fmt, args...);
  return out.str();
}
} // namespace std
#endif
#endif
#endif
