// close: dilation then erosion, filling small dark gaps.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& close() {
  static const KernelSpec spec{
      .name = "close",
      .summary = "dilate then erode: fills small dark gaps (cv::morphologyEx MORPH_CLOSE)",
      .params = morphology_params(),
      .pointwise = false,
      .halo = [](const Params& params) { return morphology_reach(params, 2); },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::morphologyEx(src, dst, cv::MORPH_CLOSE, structuring_element(params), {-1, -1},
                             params.integer("iterations"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
