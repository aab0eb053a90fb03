// blackhat: black hat, the closing minus the frame.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& blackhat() {
  static const KernelSpec spec{
      .name = "blackhat",
      .summary = "closing minus the frame: small dark details (cv::morphologyEx MORPH_BLACKHAT)",
      .params = morphology_params(),
      .pointwise = false,
      .halo = [](const Params& params) { return morphology_reach(params, 2); },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::morphologyEx(src, dst, cv::MORPH_BLACKHAT, structuring_element(params), {-1, -1},
                             params.integer("iterations"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
