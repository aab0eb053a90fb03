// invert: the negative of a frame (max - value for integers, 1 - value for float).
#include "builtin.hpp"

#include <opencv2/core.hpp>

namespace tilefork::builtin {

const KernelSpec& invert() {
  static const KernelSpec spec{
      .name = "invert",
      .summary = "negative image: 255 - v (8-bit), 65535 - v (16-bit), 1 - v (float)",
      .params = {},
      .pointwise = true,
      .halo = nullptr,
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params&) {
            if (src.depth() == CV_32F) {
              cv::subtract(cv::Scalar::all(1.0), src, dst);
            } else {
              cv::bitwise_not(src, dst);
            }
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
