// brightness_contrast: v * alpha + beta, rounded and saturated to the same depth (cv::Mat::convertTo).
#include "builtin.hpp"

#include <opencv2/core.hpp>

namespace tilefork::builtin {

const KernelSpec& brightness_contrast() {
  static const KernelSpec spec{
      .name = "brightness_contrast",
      .summary = "linear v*alpha + beta, saturated to the same depth (cv::Mat::convertTo)",
      .params = {{.name = "alpha", .type = ParamType::real, .default_value = 1, .min = -100, .max = 100,
                  .help = "contrast: the factor each value is multiplied by"},
                 {.name = "beta", .type = ParamType::real, .default_value = 0, .min = -65535, .max = 65535,
                  .help = "brightness: added after (in the frame's units: 0..255 for 8-bit, 0..1 for float)"}},
      .pointwise = true,
      .halo = nullptr,
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            src.convertTo(dst, -1, params.real("alpha"), params.real("beta"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
