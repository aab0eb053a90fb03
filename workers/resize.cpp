// resize: scale a frame to a new size (cv::resize; a frame kernel that changes the size).
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>

namespace tilefork::builtin {
namespace {

int interpolation(std::string_view name) {
  if (name == "nearest") return cv::INTER_NEAREST;
  if (name == "cubic") return cv::INTER_CUBIC;
  if (name == "area") return cv::INTER_AREA;
  if (name == "lanczos") return cv::INTER_LANCZOS4;
  return cv::INTER_LINEAR;
}

int scaled(int extent, double factor) { return std::max(1, cvRound(extent * factor)); }

// width and height when both are given; one of them keeps the aspect ratio; neither: scale.
cv::Size target(cv::Size input, const Params& params) {
  const int width = params.integer("width");
  const int height = params.integer("height");
  if (width > 0 && height > 0) return {width, height};
  if (width > 0) return {width, scaled(input.height, static_cast<double>(width) / input.width)};
  if (height > 0) return {scaled(input.width, static_cast<double>(height) / input.height), height};
  const double scale = params.real("scale");
  return {scaled(input.width, scale), scaled(input.height, scale)};
}

}  // namespace

// OpenCV's resize of a region is not the region of the resized frame (sample positions follow
// the region's own size), so it runs as one task per frame.
const KernelSpec& resize() {
  static const KernelSpec spec{
      .name = "resize",
      .summary = "scale to width x height or by a factor (cv::resize)",
      .params = {{.name = "scale", .type = ParamType::real, .default_value = 0.5, .min = 0.001, .max = 100,
                  .help = "factor for both sides, used when width and height are 0"},
                 {.name = "width", .type = ParamType::integer, .default_value = 0, .min = 0, .max = 65535,
                  .help = "output width; 0 follows height (keeping the aspect ratio) or scale"},
                 {.name = "height", .type = ParamType::integer, .default_value = 0, .min = 0, .max = 65535,
                  .help = "output height; 0 follows width (keeping the aspect ratio) or scale"},
                 {.name = "interpolation", .type = ParamType::choice, .default_value = 1,
                  .help = "how new pixels are sampled; area suits shrinking",
                  .choices = {"nearest", "linear", "cubic", "area", "lanczos"}}},
      .whole_frame = true,
      .output_size = [](cv::Size input, const Params& params) { return target(input, params); },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::resize(src, dst, target(src.size(), params), 0, 0, interpolation(params.choice("interpolation")));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
