// adaptive_threshold: threshold against the local mean (cv::adaptiveThreshold, border replicate).
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

const KernelSpec& adaptive_threshold() {
  static const KernelSpec spec{
      .name = "adaptive_threshold",
      .summary = "threshold each pixel against its neighbourhood's mean minus c (cv::adaptiveThreshold)",
      .params = {{.name = "method", .type = ParamType::choice, .default_value = 0,
                  .help = "plain or Gaussian-weighted mean of the block",
                  .choices = {"mean", "gaussian"}},
                 {.name = "type", .type = ParamType::choice, .default_value = 0,
                  .help = "binary gives max above the local level, binary_inv below it",
                  .choices = {"binary", "binary_inv"}},
                 {.name = "block_size", .type = ParamType::integer, .default_value = 11, .min = 3,
                  .max = 255, .help = "neighbourhood width and height in pixels", .odd = true},
                 {.name = "c", .type = ParamType::real, .default_value = 2, .min = -255, .max = 255,
                  .help = "subtracted from the mean to make the local level"},
                 {.name = "max", .type = ParamType::real, .default_value = 255, .min = 0, .max = 255,
                  .help = "value given to the pixels that pass"}},
      .depths = {CV_8U},
      .channels = {1},
      .pointwise = false,
      .halo = [](const Params& params) { return params.integer("block_size") / 2; },
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const int method =
                params.choice("method") == "gaussian" ? cv::ADAPTIVE_THRESH_GAUSSIAN_C : cv::ADAPTIVE_THRESH_MEAN_C;
            const int type = params.choice("type") == "binary_inv" ? cv::THRESH_BINARY_INV : cv::THRESH_BINARY;
            cv::adaptiveThreshold(src, dst, params.real("max"), method, type, params.integer("block_size"),
                                  params.real("c"));
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
