// bench_invert: the built-in `invert` for 8-bit frames, as a plugin, to measure what crossing the
// plugin boundary costs per tile (bench/overhead.cpp).
#include "tilefork/plugin.hpp"

#include <opencv2/core.hpp>

namespace {

tilefork::KernelSpec bench_invert() {
  return {.name = "bench_invert",
          .summary = "255 - v, as a plugin",
          .depths = {CV_8U},
          .pointwise = true,
          .apply = [](const cv::Mat& src, cv::Mat& dst, const tilefork::Params&) { cv::bitwise_not(src, dst); }};
}

}  // namespace

extern "C" TILEFORK_EXPORT const tf_plugin* tilefork_plugin() {
  static const tilefork::PluginTable table("bench_invert", {bench_invert()});
  return table.c_table();
}
