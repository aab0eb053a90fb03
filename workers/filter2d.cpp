// filter2d: correlation with a square matrix given row by row (cv::filter2D, border reflect-101).
#include "builtin.hpp"

#include "tilefork/errors.hpp"

#include <fmt/format.h>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <numeric>

namespace tilefork::builtin {
namespace {

// From 130 coefficients for 8-bit and float frames on CPUs with SSE3, and from 50 otherwise,
// cv::filter2D works through a DFT (dftFilter2D in OpenCV's filter.dispatch.cpp) whose rounding
// depends on the size of the frame it is given, so a tile would not match the whole frame.
// Kernels stay below: up to 11x11 (121) or 7x7 (49).
int largest_side(int depth) {
  return cv::checkHardwareSupport(CV_CPU_SSE3) && (depth == CV_8U || depth == CV_32F) ? 11 : 7;
}

// n for a list of n*n numbers with n odd, else 0.
int side(const std::vector<double>& values) {
  const int n = static_cast<int>(std::lround(std::sqrt(static_cast<double>(values.size()))));
  return n % 2 == 1 && static_cast<std::size_t>(n) * static_cast<std::size_t>(n) == values.size() ? n : 0;
}

cv::Mat matrix(const Params& params) {
  const auto& values = params.numbers("kernel");
  const int n = side(values);
  const double divisor =
      params.choice("normalize") == "sum" ? std::accumulate(values.begin(), values.end(), 0.0) : 1.0;
  cv::Mat kernel(n, n, CV_32F);
  for (int i = 0; i < n * n; ++i) {
    kernel.at<float>(i / n, i % n) = static_cast<float>(values[static_cast<std::size_t>(i)] / divisor);
  }
  return kernel;
}

}  // namespace

const KernelSpec& filter2d() {
  static const KernelSpec spec{
      .name = "filter2d",
      .summary = "correlation with an n x n matrix, n odd, up to 11x11 (16-bit: 7x7) (cv::filter2D, same depth)",
      .params = {{.name = "kernel", .type = ParamType::numbers, .default_text = "0,-1,0;-1,5,-1;0,-1,0",
                  .min = -1e6, .max = 1e6,
                  .help = "the matrix row by row, n*n numbers with n odd (default: sharpen)"},
                 {.name = "normalize", .type = ParamType::choice, .default_value = 0,
                  .help = "sum divides the matrix by the sum of its entries",
                  .choices = {"none", "sum"}}},
      .pointwise = false,
      .halo = [](const Params& params) { return side(params.numbers("kernel")) / 2; },
      .output_type =
          [](FrameType input, const Params& params) {
            const auto& values = params.numbers("kernel");
            const int n = side(values);
            if (n == 0) {
              throw UsageError(fmt::format(
                  "parameter 'kernel' has {} numbers: it takes a square matrix with an odd side, "
                  "row by row (9 numbers for 3x3, 25 for 5x5, ...)",
                  values.size()));
            }
            const int largest = largest_side(input.depth);
            if (n > largest && n <= largest_side(CV_8U)) {
              throw UsageError(fmt::format("with a kernel above {0}x{0} it takes 8-bit or float frames only", largest));
            }
            if (n > largest) {
              throw UsageError(fmt::format("parameter 'kernel' is {0}x{0}: the largest is {1}x{1}", n, largest));
            }
            if (params.choice("normalize") == "sum" &&
                std::accumulate(values.begin(), values.end(), 0.0) == 0) {
              throw UsageError("normalize=sum needs a kernel whose entries do not sum to 0");
            }
            return input;
          },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::filter2D(src, dst, -1, matrix(params));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
