// levels: input black/white points, a midtone gamma and output range, as an 8-bit table (cv::LUT).
#include "builtin.hpp"

#include "tilefork/errors.hpp"

#include <opencv2/core.hpp>

#include <algorithm>
#include <cmath>

namespace tilefork::builtin {
namespace {

// Entry i: t = clamp((i - in_low) / (in_high - in_low), 0, 1); t = t^(1 / gamma);
// out_low + t * (out_high - out_low), rounded half to even and saturated (cv::saturate_cast).
cv::Mat table(const Params& params) {
  const double in_low = params.integer("in_low");
  const double in_high = params.integer("in_high");
  const double out_low = params.integer("out_low");
  const double out_high = params.integer("out_high");
  const double gamma = params.real("gamma");
  cv::Mat lut(1, 256, CV_8U);
  for (int i = 0; i < 256; ++i) {
    const double t = std::pow(std::clamp((i - in_low) / (in_high - in_low), 0.0, 1.0), 1 / gamma);
    lut.at<std::uint8_t>(i) = cv::saturate_cast<std::uint8_t>(out_low + t * (out_high - out_low));
  }
  return lut;
}

}  // namespace

const KernelSpec& levels() {
  static const KernelSpec spec{
      .name = "levels",
      .summary = "levels: stretch in_low..in_high to out_low..out_high with a midtone gamma (8-bit, cv::LUT)",
      .params = {{.name = "in_low", .type = ParamType::integer, .default_value = 0, .min = 0, .max = 255,
                  .help = "input black point: this and below become out_low"},
                 {.name = "in_high", .type = ParamType::integer, .default_value = 255, .min = 0, .max = 255,
                  .help = "input white point: this and above become out_high"},
                 {.name = "out_low", .type = ParamType::integer, .default_value = 0, .min = 0, .max = 255,
                  .help = "output for the black point"},
                 {.name = "out_high", .type = ParamType::integer, .default_value = 255, .min = 0, .max = 255,
                  .help = "output for the white point (below out_low inverts)"},
                 {.name = "gamma", .type = ParamType::real, .default_value = 1, .min = 0.01, .max = 100,
                  .help = "midtones: exponent 1/gamma on the stretched 0..1 value; above 1 brightens"}},
      .depths = {CV_8U},
      .pointwise = true,
      .halo = nullptr,
      .output_type =
          [](FrameType input, const Params& params) {
            if (params.integer("in_low") >= params.integer("in_high")) {
              throw UsageError("in_low must be below in_high");
            }
            return input;
          },
      .apply = [](const cv::Mat& src, cv::Mat& dst, const Params& params) { cv::LUT(src, table(params), dst); },
  };
  return spec;
}

}  // namespace tilefork::builtin
