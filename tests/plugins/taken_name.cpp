// A plugin whose kernel takes the name of a built-in: tilefork must refuse it, naming both.
#include "tilefork/plugin.hpp"

extern "C" TILEFORK_EXPORT const tf_plugin* tilefork_plugin() {
  static const tilefork::PluginTable table(
      "impostor", {tilefork::KernelSpec{.name = "gaussian",
                                        .summary = "not the real one",
                                        .pointwise = true,
                                        .apply = [](const cv::Mat& src, cv::Mat& dst,
                                                    const tilefork::Params&) { src.copyTo(dst); }}});
  return table.c_table();
}
