// scharr: Scharr derivatives (16-bit signed), their absolute value or mean magnitude, in 8 bits.
#include "builtin.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& scharr() {
  static const KernelSpec spec{
      .name = "scharr",
      .summary = "Scharr 3x3 edges as 8-bit: |dx|/2 + |dy|/2, |dx| or |dy| (border reflect-101)",
      .params = {{.name = "mode", .type = ParamType::choice, .default_value = 0,
                  .help = "magnitude averages |dx| and |dy| (cv::addWeighted 0.5, 0.5)",
                  .choices = {"magnitude", "dx", "dy"}}},
      .depths = {CV_8U},
      .pointwise = false,
      .halo = [](const Params&) { return 1; },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const auto mode = params.choice("mode");
            cv::Mat derivative;
            if (mode == "dx" || mode == "dy") {
              cv::Scharr(src, derivative, CV_16S, mode == "dx" ? 1 : 0, mode == "dy" ? 1 : 0);
              cv::convertScaleAbs(derivative, dst);
              return;
            }
            cv::Mat abs_dx, abs_dy;
            cv::Scharr(src, derivative, CV_16S, 1, 0);
            cv::convertScaleAbs(derivative, abs_dx);
            cv::Scharr(src, derivative, CV_16S, 0, 1);
            cv::convertScaleAbs(derivative, abs_dy);
            cv::addWeighted(abs_dx, 0.5, abs_dy, 0.5, 0, dst);
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
