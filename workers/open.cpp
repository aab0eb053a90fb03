// open: erosion then dilation, removing small bright details.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& open() {
  static const KernelSpec spec{
      .name = "open",
      .summary = "erode then dilate: removes small bright details (cv::morphologyEx MORPH_OPEN)",
      .params = morphology_params(),
      .pointwise = false,
      .halo = [](const Params& params) { return morphology_reach(params, 2); },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::morphologyEx(src, dst, cv::MORPH_OPEN, structuring_element(params), {-1, -1},
                             params.integer("iterations"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
