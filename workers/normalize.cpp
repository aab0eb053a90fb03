// normalize: stretch a frame to a value range, or scale it to a norm (cv::normalize; a frame kernel).
#include "builtin.hpp"

#include <opencv2/core.hpp>

namespace tilefork::builtin {
namespace {

int norm_type(std::string_view name) {
  if (name == "inf") return cv::NORM_INF;
  if (name == "l1") return cv::NORM_L1;
  if (name == "l2") return cv::NORM_L2;
  return cv::NORM_MINMAX;
}

}  // namespace

// The scale comes from the whole frame's minimum and maximum (or norm): one task per frame.
// All channels share one scale. The output keeps the input's depth (rounded and saturated).
const KernelSpec& normalize() {
  static const KernelSpec spec{
      .name = "normalize",
      .summary = "stretch to low..high (minmax) or scale to a norm (cv::normalize, same depth)",
      .params = {{.name = "mode", .type = ParamType::choice, .default_value = 0,
                  .help = "minmax maps the frame's range onto low..high; inf, l1, l2 scale the norm to 'norm'",
                  .choices = {"minmax", "inf", "l1", "l2"}},
                 {.name = "low", .type = ParamType::real, .default_value = 0, .min = -1e9, .max = 1e9,
                  .help = "minmax: the output of the frame's minimum"},
                 {.name = "high", .type = ParamType::real, .default_value = 0, .min = -1e9, .max = 1e9,
                  .help = "minmax: the output of the frame's maximum; 0 is full scale (255, 65535, 1.0)"},
                 {.name = "norm", .type = ParamType::real, .default_value = 1, .min = 0, .max = 1e12,
                  .help = "inf, l1, l2: the norm the frame is scaled to"}},
      .whole_frame = true,
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const int type = norm_type(params.choice("mode"));
            if (type == cv::NORM_MINMAX) {
              const double high = params.real("high");
              cv::normalize(src, dst, params.real("low"), high != 0 ? high : full_scale(src.depth()), type);
            } else {
              cv::normalize(src, dst, params.real("norm"), 0, type);
            }
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
