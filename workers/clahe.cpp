// clahe: contrast-limited adaptive histogram equalisation (cv::CLAHE; a frame kernel).
#include "builtin.hpp"

#include <opencv2/imgproc.hpp>

namespace tilefork::builtin {

// CLAHE splits the frame into a grid of its own and interpolates between the grid cells'
// histograms, so every pixel depends on the frame's size: it runs as one task per frame.
const KernelSpec& clahe() {
  static const KernelSpec spec{
      .name = "clahe",
      .summary = "contrast-limited adaptive histogram equalisation over a grid of cells (cv::CLAHE)",
      .params = {{.name = "clip_limit", .type = ParamType::real, .default_value = 2, .min = 0, .max = 1000,
                  .help = "histogram clip, relative to a flat histogram; 0 does not clip"},
                 {.name = "tile_grid", .type = ParamType::integer, .default_value = 8, .min = 1, .max = 64,
                  .help = "cells across and down the frame"}},
      .depths = {CV_8U, CV_16U},
      .channels = {1},
      .whole_frame = true,
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params& params) {
            const int grid = params.integer("tile_grid");
            cv::createCLAHE(params.real("clip_limit"), cv::Size(grid, grid))->apply(src, dst);
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
