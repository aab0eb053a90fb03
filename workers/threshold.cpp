// threshold: cv::threshold with a fixed value (Otsu needs the whole frame: a frame kernel).
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

int threshold_type(std::string_view name) {
  if (name == "binary_inv") return cv::THRESH_BINARY_INV;
  if (name == "trunc") return cv::THRESH_TRUNC;
  if (name == "tozero") return cv::THRESH_TOZERO;
  if (name == "tozero_inv") return cv::THRESH_TOZERO_INV;
  return cv::THRESH_BINARY;
}

const KernelSpec& threshold() {
  static const KernelSpec spec{
      .name = "threshold",
      .summary = "fixed-level threshold per channel (cv::threshold)",
      .params = {{.name = "value", .type = ParamType::real, .default_value = 128, .min = -1e9,
                  .max = 1e9, .help = "threshold level"},
                 {.name = "max", .type = ParamType::real, .default_value = 255, .min = -1e9,
                  .max = 1e9, .help = "value given to pixels above the level (binary types)"},
                 {.name = "type", .type = ParamType::choice, .default_value = 0,
                  .help = "what happens above and below the level",
                  .choices = {"binary", "binary_inv", "trunc", "tozero", "tozero_inv"}}},
      .pointwise = true,
      .halo = nullptr,
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::threshold(src, dst, params.real("value"), params.real("max"),
                          threshold_type(params.choice("type")));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
