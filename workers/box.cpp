// box: normalised box filter (cv::blur).
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& box() {
  static const KernelSpec spec{
      .name = "box",
      .summary = "mean over a square window (cv::blur, border reflect-101)",
      .params = {{.name = "ksize", .type = ParamType::integer, .default_value = 3, .min = 1,
                  .max = 255, .help = "window width and height in pixels"}},
      .pointwise = false,
      .halo = [](const Params& params) { return params.integer("ksize") / 2; },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const int ksize = params.integer("ksize");
            cv::blur(src, dst, cv::Size(ksize, ksize));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
