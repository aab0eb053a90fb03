// median: cv::medianBlur.
#include "builtin.hpp"

#include "tilefork/errors.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& median() {
  static const KernelSpec spec{
      .name = "median",
      .summary = "median over a square window (cv::medianBlur, border replicate)",
      .params = {{.name = "ksize", .type = ParamType::integer, .default_value = 3, .min = 3,
                  .max = 255, .help = "window size; above 5 only 8-bit frames", .odd = true}},
      .pointwise = false,
      .halo = [](const Params& params) { return params.integer("ksize") / 2; },
      .output_type =
          [](FrameType input, const Params& params) {
            if (params.integer("ksize") > 5 && input.depth != CV_8U) {
              throw UsageError("with ksize above 5 it takes 8-bit frames only");
            }
            return input;
          },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::medianBlur(src, dst, params.integer("ksize"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
