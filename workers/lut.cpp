// lut: an arbitrary 8-bit lookup table given as 256 numbers, the same for every channel (cv::LUT).
#include "builtin.hpp"

#include "tilefork/errors.hpp"

#include <fmt/format.h>

#include <opencv2/core.hpp>

#include <cmath>

namespace tilefork::builtin {

const KernelSpec& lut() {
  static const KernelSpec spec{
      .name = "lut",
      .summary = "8-bit lookup table: value i becomes entry i of 256 (cv::LUT, every channel)",
      .params = {{.name = "table", .type = ParamType::numbers, .min = 0, .max = 255,
                  .help = "256 whole numbers 0..255, the output for inputs 0, 1, ..., 255"}},
      .depths = {CV_8U},
      .pointwise = true,
      .halo = nullptr,
      .output_type =
          [](FrameType input, const Params& params) {
            const auto& table = params.numbers("table");
            if (table.size() != 256) {
              throw UsageError(fmt::format("parameter 'table' has {} numbers: it takes 256, the outputs "
                                           "for inputs 0 to 255",
                                           table.size()));
            }
            for (std::size_t i = 0; i < table.size(); ++i) {
              if (table[i] != std::floor(table[i])) {
                throw UsageError(fmt::format("parameter 'table': entry {} is {}, not a whole number", i, table[i]));
              }
            }
            return input;
          },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            cv::Mat table;
            cv::Mat(params.numbers("table")).convertTo(table, CV_8U);
            cv::LUT(src, table, dst);
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
