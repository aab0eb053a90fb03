// sobel: Sobel derivatives (16-bit signed), their absolute value or mean magnitude, in 8 bits.
#include "builtin.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace tilefork::builtin {

const KernelSpec& sobel() {
  static const KernelSpec spec{
      .name = "sobel",
      .summary = "Sobel edges as 8-bit: |dx|/2 + |dy|/2, |dx| or |dy|",
      .params = {{.name = "ksize", .type = ParamType::integer, .default_value = 3, .min = 1,
                  .max = 7, .help = "aperture size", .odd = true},
                 {.name = "mode", .type = ParamType::choice, .default_value = 0,
                  .help = "magnitude averages |dx| and |dy| (cv::addWeighted 0.5, 0.5)",
                  .choices = {"magnitude", "dx", "dy"}}},
      .depths = {CV_8U},
      .pointwise = false,
      .halo = [](const Params& params) { return std::max(1, params.integer("ksize") / 2); },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const int ksize = params.integer("ksize");
            const auto mode = params.choice("mode");
            cv::Mat dx, dy;
            if (mode == "dx") {
              cv::Sobel(src, dx, CV_16S, 1, 0, ksize);
              cv::convertScaleAbs(dx, dst);
            } else if (mode == "dy") {
              cv::Sobel(src, dy, CV_16S, 0, 1, ksize);
              cv::convertScaleAbs(dy, dst);
            } else {
              cv::Sobel(src, dx, CV_16S, 1, 0, ksize);
              cv::Sobel(src, dy, CV_16S, 0, 1, ksize);
              cv::Mat abs_dx, abs_dy;
              cv::convertScaleAbs(dx, abs_dx);
              cv::convertScaleAbs(dy, abs_dy);
              cv::addWeighted(abs_dx, 0.5, abs_dy, 0.5, 0, dst);
            }
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
