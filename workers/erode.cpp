// erode: minimum over a structuring element.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& erode() {
  static const KernelSpec spec{
      .name = "erode",
      .summary = "minimum over a structuring element (cv::erode, frame edges count as the maximum)",
      .params = morphology_params(),
      .pointwise = false,
      .halo = [](const Params& params) { return morphology_reach(params, 1); },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::erode(src, dst, structuring_element(params), {-1, -1}, params.integer("iterations"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
