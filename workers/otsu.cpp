// otsu: threshold at the level Otsu's method picks from the frame's histogram (a frame kernel).
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {
// The level depends on the histogram of the whole frame, so it runs as one task per frame.
const KernelSpec& otsu() {
  static const KernelSpec spec{
      .name = "otsu",
      .summary = "threshold at the level Otsu's method picks for the whole frame (cv::THRESH_OTSU)",
      .params = {{.name = "max", .type = ParamType::real, .default_value = 255, .min = 0, .max = 255,
                  .help = "value given to pixels above the level (binary types)"},
                 {.name = "type", .type = ParamType::choice, .default_value = 0,
                  .help = "what happens above and below the level",
                  .choices = {"binary", "binary_inv", "trunc", "tozero", "tozero_inv"}}},
      .depths = {CV_8U},
      .channels = {1},
      .whole_frame = true,
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::threshold(src, dst, 0, params.real("max"), threshold_type(params.choice("type")) | cv::THRESH_OTSU);
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
