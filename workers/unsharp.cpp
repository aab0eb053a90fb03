// unsharp: unsharp mask, src * (1 + amount) - GaussianBlur(src) * amount, kept where the detail is small.
#include "builtin.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

// Exactly, with OpenCV's rounding and saturation:
//   blurred = cv::GaussianBlur(src, Size(0, 0), sigma, sigma)           (border reflect-101)
//   dst     = cv::addWeighted(src, 1 + amount, blurred, -amount, 0)
//   where threshold > 0, pixels (per channel) with |src - blurred| < threshold keep src:
//   src.copyTo(dst, cv::absdiff(src, blurred) < threshold).
const KernelSpec& unsharp() {
  static const KernelSpec spec{
      .name = "unsharp",
      .summary = "unsharp mask: src*(1+amount) - blurred*amount (cv::GaussianBlur, cv::addWeighted)",
      .params = {{.name = "sigma", .type = ParamType::real, .default_value = 1, .min = 0.1, .max = 50,
                  .help = "standard deviation of the blur, in pixels"},
                 {.name = "amount", .type = ParamType::real, .default_value = 1, .min = 0, .max = 20,
                  .help = "how much of the detail (src - blurred) is added"},
                 {.name = "threshold", .type = ParamType::real, .default_value = 0, .min = 0, .max = 65535,
                  .help = "detail smaller than this (per channel) is left alone; 0 sharpens everything"}},
      .pointwise = false,
      // GaussianBlur's aperture from sigma: 3 sigma each side for 8-bit, 4 otherwise; take the wider.
      .halo = [](const Params& params) { return (cvRound(params.real("sigma") * 4 * 2 + 1) | 1) / 2; },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const double sigma = params.real("sigma");
            const double amount = params.real("amount");
            const double threshold = params.real("threshold");
            cv::Mat blurred;
            cv::GaussianBlur(src, blurred, cv::Size(0, 0), sigma, sigma);
            cv::addWeighted(src, 1 + amount, blurred, -amount, 0, dst);
            if (threshold > 0) {
              cv::Mat detail, small;
              cv::absdiff(src, blurred, detail);
              // cv::compare takes one channel against a scalar: compare all channels as one.
              cv::compare(detail.reshape(1), threshold, small, cv::CMP_LT);
              src.copyTo(dst, small.reshape(src.channels()));
            }
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
