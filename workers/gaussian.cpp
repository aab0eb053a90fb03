// gaussian: cv::GaussianBlur with a square kernel.
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {
namespace {

int aperture(const Params& params) {
  const int ksize = params.integer("ksize");
  if (ksize > 0) return ksize;
  // OpenCV derives the size from sigma: 3 sigma each side for 8-bit, 4 sigma otherwise.
  // The halo takes the wider of the two so it is right for every depth.
  return cvRound(params.real("sigma") * 4 * 2 + 1) | 1;
}

}  // namespace

const KernelSpec& gaussian() {
  static const KernelSpec spec{
      .name = "gaussian",
      .summary = "Gaussian blur (cv::GaussianBlur, border reflect-101)",
      .params = {{.name = "sigma", .type = ParamType::real, .default_value = 1, .min = 0.05,
                  .max = 100, .help = "standard deviation in pixels"},
                 {.name = "ksize", .type = ParamType::integer, .default_value = 0, .min = 0,
                  .max = 401, .help = "aperture size; 0 derives it from sigma", .odd = true}},
      .pointwise = false,
      .halo = [](const Params& params) { return aperture(params) / 2; },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const int ksize = params.integer("ksize");
            const double sigma = params.real("sigma");
            cv::GaussianBlur(src, dst, cv::Size(ksize, ksize), sigma, sigma);
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
