// emboss: a sample plugin kernel, relief lit from one side (a 3x3 cv::filter2D).
#include <tilefork/plugin.hpp>

#include <opencv2/imgproc.hpp>

namespace {

tilefork::KernelSpec emboss() {
  using namespace tilefork;
  return {
      .name = "emboss",
      .summary = "relief lit from one side (3x3 cv::filter2D, border reflect-101)",
      .params = {{.name = "strength", .type = ParamType::real, .default_value = 1, .min = 0, .max = 8,
                  .help = "depth of the relief"},
                 {.name = "light", .type = ParamType::choice, .default_value = 0, .help = "where the light comes from",
                  .choices = {"nw", "n", "ne", "w", "e", "sw", "s", "se"}}},
      .halo = [](const Params&) { return 1; },  // a 3x3 neighbourhood
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const std::string_view light = params.choice("light");
            const int dx = light.ends_with('w') ? -1 : light.ends_with('e') ? 1 : 0;
            const int dy = light.starts_with('n') ? -1 : light.starts_with('s') ? 1 : 0;
            const auto strength = static_cast<float>(params.real("strength"));
            // The pixel itself, plus the slope: brighter where it rises away from the light.
            cv::Mat weights = cv::Mat::zeros(3, 3, CV_32F);
            weights.at<float>(1, 1) = 1;
            weights.at<float>(1 - dy, 1 - dx) += strength;
            weights.at<float>(1 + dy, 1 + dx) -= strength;
            cv::filter2D(src, dst, -1, weights);
          },
  };
}

}  // namespace

// The plugin's one entry point: its name and its kernels.
extern "C" TILEFORK_EXPORT const tf_plugin* tilefork_plugin() {
  static const tilefork::PluginTable table("emboss", {emboss()});
  return table.c_table();
}
