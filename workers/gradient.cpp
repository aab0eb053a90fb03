// gradient: morphological gradient, dilation minus erosion.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& gradient() {
  static const KernelSpec spec{
      .name = "gradient",
      .summary = "dilation minus erosion: outlines (cv::morphologyEx MORPH_GRADIENT)",
      .params = morphology_params(),
      .pointwise = false,
      .halo = [](const Params& params) { return morphology_reach(params, 1); },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::morphologyEx(src, dst, cv::MORPH_GRADIENT, structuring_element(params), {-1, -1},
                             params.integer("iterations"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
