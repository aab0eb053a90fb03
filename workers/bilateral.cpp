// bilateral: edge-preserving smoothing of 8-bit frames (cv::bilateralFilter, border reflect-101).
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace tilefork::builtin {

// 8-bit only. OpenCV also filters 32-bit float frames, but scales that version's table of range
// weights by the minimum and maximum of the image it is given: a tile's copy has its own, so the
// tiles did not match the whole-frame call (exactness test: up to 3e-7, a few ulp, in as many as
// a quarter of the values).
// A float frame can go through `convert to=8u` first; 8-bit tiles are exact.
const KernelSpec& bilateral() {
  static const KernelSpec spec{
      .name = "bilateral",
      .summary = "edge-preserving smoothing of 8-bit frames (cv::bilateralFilter, border reflect-101)",
      .params = {{.name = "d", .type = ParamType::integer, .default_value = 5, .min = 0, .max = 31,
                  .help = "window diameter in pixels; 0 derives it from sigma_space"},
                 {.name = "sigma_color", .type = ParamType::real, .default_value = 50,
                  .min = 0.001, .max = 1e5,
                  .help = "how far apart values may be and still mix (0..255 scale for 8-bit)"},
                 {.name = "sigma_space", .type = ParamType::real, .default_value = 5, .min = 0.1,
                  .max = 100, .help = "spatial standard deviation in pixels"}},
      .depths = {CV_8U},
      .channels = {1, 3},
      .pointwise = false,
      // OpenCV's radius: d / 2, or 1.5 sigma_space when d is 0, and at least 1.
      .halo =
          [](const Params& params) {
            const int d = params.integer("d");
            return std::max(1, d > 0 ? d / 2 : cvRound(params.real("sigma_space") * 1.5));
          },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::bilateralFilter(src, dst, params.integer("d"), params.real("sigma_color"),
                                params.real("sigma_space"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
