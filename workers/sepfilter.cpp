// sepfilter: a separable filter, a row kernel then a column kernel (cv::sepFilter2D, reflect-101).
#include "builtin.hpp"

#include "tilefork/errors.hpp"

#include <fmt/format.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace tilefork::builtin {
namespace {

cv::Mat row_of(const std::vector<double>& values) {
  cv::Mat kernel(1, static_cast<int>(values.size()), CV_32F);
  for (std::size_t i = 0; i < values.size(); ++i) kernel.at<float>(0, static_cast<int>(i)) = static_cast<float>(values[i]);
  return kernel;
}

void check_length(std::string_view name, const std::vector<double>& values) {
  if (values.size() % 2 == 0) {
    throw UsageError(fmt::format("parameter '{}' has {} numbers: it takes an odd count (3, 5, ...)",
                                 name, values.size()));
  }
}

}  // namespace

const KernelSpec& sepfilter() {
  static const KernelSpec spec{
      .name = "sepfilter",
      .summary = "separable filter: kx along rows, ky along columns (cv::sepFilter2D, same depth)",
      .params = {{.name = "kx", .type = ParamType::numbers, .default_text = "0.25,0.5,0.25",
                  .min = -1e6, .max = 1e6, .help = "horizontal kernel, an odd count of numbers"},
                 {.name = "ky", .type = ParamType::numbers, .default_text = "0.25,0.5,0.25",
                  .min = -1e6, .max = 1e6, .help = "vertical kernel, an odd count of numbers"}},
      .pointwise = false,
      .halo =
          [](const Params& params) {
            return static_cast<int>(std::max(params.numbers("kx").size(), params.numbers("ky").size()) / 2);
          },
      .output_type =
          [](FrameType input, const Params& params) {
            check_length("kx", params.numbers("kx"));
            check_length("ky", params.numbers("ky"));
            return input;
          },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::sepFilter2D(src, dst, -1, row_of(params.numbers("kx")), row_of(params.numbers("ky")));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
