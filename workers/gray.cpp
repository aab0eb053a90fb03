// gray: colour (BGR or BGRA) to one luma channel (cv::cvtColor); a gray frame passes unchanged.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& gray() {
  static const KernelSpec spec{
      .name = "gray",
      .summary = "convert BGR/BGRA to gray, 0.299 R + 0.587 G + 0.114 B (cv::cvtColor)",
      .params = {},
      .pointwise = true,
      .halo = nullptr,
      .output_type =
          [](FrameType input, const Params&) {
            return FrameType{input.depth, 1};
          },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params&) {
            switch (src.channels()) {
              case 3: cv::cvtColor(src, dst, cv::COLOR_BGR2GRAY); break;
              case 4: cv::cvtColor(src, dst, cv::COLOR_BGRA2GRAY); break;
              default: src.copyTo(dst); break;
            }
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
