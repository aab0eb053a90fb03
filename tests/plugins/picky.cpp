// picky: copies 8-bit gray frames, and throws on a tile holding the `poison` value: how a kernel
// error is reported (that frame fails, the others are written).
#include "tilefork/plugin.hpp"

#include <opencv2/core.hpp>

#include <stdexcept>
#include <string>

namespace {

tilefork::KernelSpec picky() {
  using namespace tilefork;
  return {
      .name = "picky",
      .summary = "copies, but throws on a tile holding the poison value",
      .params = {{.name = "poison", .type = ParamType::integer, .default_value = 77, .min = 0, .max = 255,
                  .help = "the value it refuses"},
                 {.name = "how", .type = ParamType::choice, .default_value = 0, .help = "what it throws",
                  .choices = {"std", "opencv", "other"}}},
      .depths = {CV_8U},
      .channels = {1},
      .pointwise = true,
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const int poison = params.integer("poison");
            if (cv::countNonZero(src == poison) > 0) {
              const std::string_view how = params.choice("how");
              if (how == "opencv") CV_Error(cv::Error::StsBadArg, "picky: found the poison value");
              if (how == "other") throw 42;
              throw std::runtime_error("picky: found the poison value " + std::to_string(poison));
            }
            src.copyTo(dst);
          },
  };
}

}  // namespace

extern "C" TILEFORK_EXPORT const tf_plugin* tilefork_plugin() {
  static const tilefork::PluginTable table("picky", {picky()});
  return table.c_table();
}
