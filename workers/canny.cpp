// canny: Canny edges as an 8-bit mask (cv::Canny; a frame kernel).
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

// Hysteresis follows edges from strong pixels as far as they go, across any tile: one task per frame.
const KernelSpec& canny() {
  static const KernelSpec spec{
      .name = "canny",
      .summary = "Canny edges, 255 on edges and 0 elsewhere (cv::Canny; colour: the strongest channel)",
      .params = {{.name = "low", .type = ParamType::real, .default_value = 50, .min = 0, .max = 1e6,
                  .help = "gradients above this continue an edge"},
                 {.name = "high", .type = ParamType::real, .default_value = 150, .min = 0, .max = 1e6,
                  .help = "gradients above this start an edge"},
                 {.name = "aperture", .type = ParamType::integer, .default_value = 3, .min = 3, .max = 7,
                  .help = "Sobel aperture size", .odd = true},
                 {.name = "gradient", .type = ParamType::choice, .default_value = 0,
                  .help = "l1 is |dx| + |dy|, l2 is the Euclidean norm", .choices = {"l1", "l2"}}},
      .depths = {CV_8U},
      .channels = {1, 3},
      .whole_frame = true,
      .output_type = [](FrameType, const Params&) { return FrameType{CV_8U, 1}; },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::Canny(src, dst, params.real("low"), params.real("high"), params.integer("aperture"),
                      params.choice("gradient") == "l2");
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
