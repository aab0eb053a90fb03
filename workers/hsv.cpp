// hsv: BGR or BGRA to hue, saturation, value (cv::cvtColor COLOR_BGR2HSV / _FULL); alpha is dropped.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& hsv() {
  static const KernelSpec spec{
      .name = "hsv",
      .summary = "BGR(A) to HSV (cv::cvtColor): 8-bit H 0..179 or 0..255, float H 0..360, S and V 0..1",
      .params = {{.name = "hue", .type = ParamType::choice, .default_value = 0,
                  .help = "8-bit hue scale: half is degrees / 2 (0..179), full is 0..255; float is degrees",
                  .choices = {"half", "full"}}},
      .depths = {CV_8U, CV_32F},
      .channels = {3, 4},
      .pointwise = true,
      .halo = nullptr,
      .output_type = [](FrameType input, const Params&) { return FrameType{input.depth, 3}; },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::cvtColor(src, dst, params.choice("hue") == "full" ? cv::COLOR_BGR2HSV_FULL : cv::COLOR_BGR2HSV);
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
