// dilate: maximum over a structuring element.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& dilate() {
  static const KernelSpec spec{
      .name = "dilate",
      .summary = "maximum over a structuring element (cv::dilate, frame edges count as the minimum)",
      .params = morphology_params(),
      .pointwise = false,
      .halo = [](const Params& params) { return morphology_reach(params, 1); },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::dilate(src, dst, structuring_element(params), {-1, -1}, params.integer("iterations"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
