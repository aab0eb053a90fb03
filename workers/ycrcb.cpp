// ycrcb: BGR or BGRA to luma and chroma differences (cv::cvtColor COLOR_BGR2YCrCb); alpha is dropped.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& ycrcb() {
  static const KernelSpec spec{
      .name = "ycrcb",
      .summary = "BGR(A) to Y, Cr, Cb (cv::cvtColor, BT.601, chroma centred on half the range)",
      .params = {},
      .depths = {CV_8U, CV_16U, CV_32F},
      .channels = {3, 4},
      .pointwise = true,
      .halo = nullptr,
      .output_type = [](FrameType input, const Params&) { return FrameType{input.depth, 3}; },
      .apply = [](const cv::Mat& src, cv::Mat& dst, const Params&) { cv::cvtColor(src, dst, cv::COLOR_BGR2YCrCb); },
  };
  return spec;
}

}  // namespace tilefork::builtin
