// laplacian: the Laplacian (cv::Laplacian); 8-bit frames get its absolute value, float frames its value.
#include "builtin.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace tilefork::builtin {

const KernelSpec& laplacian() {
  static const KernelSpec spec{
      .name = "laplacian",
      .summary = "Laplacian, |value| as 8-bit via 16-bit signed, or float (border reflect-101)",
      .params = {{.name = "ksize", .type = ParamType::integer, .default_value = 1, .min = 1,
                  .max = 31, .help = "aperture of the second derivatives; 1 is the 3x3 cross",
                  .odd = true},
                 {.name = "scale", .type = ParamType::real, .default_value = 1, .min = -1e6,
                  .max = 1e6, .help = "factor applied to the result"},
                 {.name = "delta", .type = ParamType::real, .default_value = 0, .min = -1e6,
                  .max = 1e6, .help = "value added after scaling (before |.| for 8-bit)"}},
      .depths = {CV_8U, CV_32F},
      .pointwise = false,
      .halo = [](const Params& params) { return std::max(1, params.integer("ksize") / 2); },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const int ksize = params.integer("ksize");
            const double scale = params.real("scale");
            const double delta = params.real("delta");
            if (src.depth() == CV_32F) {
              cv::Laplacian(src, dst, CV_32F, ksize, scale, delta);
              return;
            }
            cv::Mat signed_result;
            cv::Laplacian(src, signed_result, CV_16S, ksize, scale, delta);
            cv::convertScaleAbs(signed_result, dst);
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
