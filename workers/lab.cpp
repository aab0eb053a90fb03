// lab: sRGB BGR or BGRA to CIE L*a*b* (cv::cvtColor COLOR_BGR2Lab); alpha is dropped.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& lab() {
  static const KernelSpec spec{
      .name = "lab",
      .summary = "sRGB BGR(A) to L*a*b* (cv::cvtColor): 8-bit L*255/100, a+128, b+128; float as is",
      .params = {},
      .depths = {CV_8U, CV_32F},
      .channels = {3, 4},
      .pointwise = true,
      .halo = nullptr,
      .output_type = [](FrameType input, const Params&) { return FrameType{input.depth, 3}; },
      .apply = [](const cv::Mat& src, cv::Mat& dst, const Params&) { cv::cvtColor(src, dst, cv::COLOR_BGR2Lab); },
  };
  return spec;
}

}  // namespace tilefork::builtin
