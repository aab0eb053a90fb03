// convert: change the depth, v * scale + offset rounded and saturated (cv::Mat::convertTo).
#include "builtin.hpp"

#include <opencv2/core.hpp>

namespace tilefork::builtin {
namespace {

int target_depth(std::string_view name) {
  if (name == "8u") return CV_8U;
  if (name == "16u") return CV_16U;
  return CV_32F;
}

}  // namespace

const KernelSpec& convert() {
  static const KernelSpec spec{
      .name = "convert",
      .summary = "to 8-bit, 16-bit or float: v*scale + offset, saturated (cv::Mat::convertTo)",
      .params = {{.name = "to", .type = ParamType::choice, .default_value = 2, .help = "the output depth",
                  .choices = {"8u", "16u", "32f"}},
                 {.name = "scale", .type = ParamType::real, .default_value = 0, .min = -1e6, .max = 1e6,
                  .help = "factor; 0 maps full scale to full scale (255, 65535, 1.0 for float)"},
                 {.name = "offset", .type = ParamType::real, .default_value = 0, .min = -1e6, .max = 1e6,
                  .help = "added after scaling, in the output's units"}},
      .pointwise = true,
      .halo = nullptr,
      .output_type =
          [](FrameType input, const Params& params) {
            return FrameType{target_depth(params.choice("to")), input.channels};
          },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const double scale = params.real("scale");
            const int depth = target_depth(params.choice("to"));
            src.convertTo(dst, depth,
                          scale != 0 ? scale : full_scale(depth) / full_scale(src.depth()),
                          params.real("offset"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
