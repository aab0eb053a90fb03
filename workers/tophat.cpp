// tophat: top hat, the frame minus its opening.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& tophat() {
  static const KernelSpec spec{
      .name = "tophat",
      .summary = "frame minus its opening: small bright details (cv::morphologyEx MORPH_TOPHAT)",
      .params = morphology_params(),
      .pointwise = false,
      .halo = [](const Params& params) { return morphology_reach(params, 2); },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::morphologyEx(src, dst, cv::MORPH_TOPHAT, structuring_element(params), {-1, -1},
                             params.integer("iterations"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
