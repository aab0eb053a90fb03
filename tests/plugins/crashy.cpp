// crashy: inverts 8-bit frames, except on a tile holding the `poison` value, where it does what
// `how` says: segfault, abort, or hang. How crash isolation is tested with a real plugin.
#include "tilefork/plugin.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <thread>

namespace {

tilefork::KernelSpec crashy() {
  using namespace tilefork;
  return {
      .name = "crashy",
      .summary = "inverts, but crashes or hangs on a tile holding the poison value",
      .params = {{.name = "poison", .type = ParamType::integer, .default_value = 13, .min = 0, .max = 255,
                  .help = "the value it cannot stand"},
                 {.name = "how", .type = ParamType::choice, .default_value = 0, .help = "what it does then",
                  .choices = {"segfault", "abort", "hang"}}},
      .depths = {CV_8U},
      .channels = {1, 3},
      .pointwise = true,
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            if (cv::countNonZero(src.reshape(1) == params.integer("poison")) > 0) {
              const std::string_view how = params.choice("how");
              if (how == "segfault") std::raise(SIGSEGV);
              if (how == "abort") std::abort();
              while (true) std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            cv::bitwise_not(src, dst);
          },
  };
}

}  // namespace

extern "C" TILEFORK_EXPORT const tf_plugin* tilefork_plugin() {
  static const tilefork::PluginTable table("crashy", {crashy()});
  return table.c_table();
}
