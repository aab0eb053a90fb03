// gamma: power-law tone curve, v = full * (v / full)^(1 / gamma); a table for 8 and 16 bits, cv::pow for float.
#include "builtin.hpp"

#include <opencv2/core.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

namespace tilefork::builtin {
namespace {

// Entry i of the curve for integers of full scale `full`, rounded (half to even) and saturated.
template <typename T>
std::vector<T> curve(double gamma, double full) {
  std::vector<T> table(static_cast<std::size_t>(full) + 1);
  for (std::size_t i = 0; i < table.size(); ++i) {
    table[i] = cv::saturate_cast<T>(full * std::pow(static_cast<double>(i) / full, 1 / gamma));
  }
  return table;
}

// The 16-bit table has 65536 entries: each worker thread keeps the last one it built rather than
// building it again for every tile (per-worker state, never shared).
const std::vector<std::uint16_t>& curve16(double gamma) {
  thread_local double built_for = 0;
  thread_local std::vector<std::uint16_t> table;
  if (table.empty() || built_for != gamma) {
    table = curve<std::uint16_t>(gamma, 65535);
    built_for = gamma;
  }
  return table;
}

void apply16(const cv::Mat& src, cv::Mat& dst, double gamma) {
  const auto& table = curve16(gamma);
  const int values = src.cols * src.channels();
  for (int y = 0; y < src.rows; ++y) {
    const auto* in = src.ptr<std::uint16_t>(y);
    auto* out = dst.ptr<std::uint16_t>(y);
    for (int x = 0; x < values; ++x) out[x] = table[in[x]];
  }
}

}  // namespace

const KernelSpec& gamma() {
  static const KernelSpec spec{
      .name = "gamma",
      .summary = "tone curve full*(v/full)^(1/gamma): above 1 brightens (8/16-bit table, float cv::pow of |v|)",
      .params = {{.name = "gamma", .type = ParamType::real, .default_value = 2.2, .min = 0.01, .max = 100,
                  .help = "exponent 1/gamma applied to values scaled to 0..1 (float: to |v|)"}},
      .pointwise = true,
      .halo = nullptr,
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const double gamma = params.real("gamma");
            switch (src.depth()) {
              case CV_8U: {
                const auto table = curve<std::uint8_t>(gamma, 255);
                cv::LUT(src, cv::Mat(table), dst);
                break;
              }
              case CV_16U: apply16(src, dst, gamma); break;
              default: cv::pow(src, 1 / gamma, dst); break;
            }
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
