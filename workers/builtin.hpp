// Declarations of the built-in kernels (one per file) and the pieces several of them share.
#pragma once

#include "tilefork/kernel.hpp"

#include <opencv2/imgproc.hpp>

#include <vector>

namespace tilefork::builtin {

// cv::THRESH_* for the names of the `type` choice that threshold and otsu share (threshold.cpp).
int threshold_type(std::string_view name);

// Neighbourhood (tile) kernels.
const KernelSpec& gaussian();
const KernelSpec& box();
const KernelSpec& median();
const KernelSpec& bilateral();
const KernelSpec& sobel();
const KernelSpec& scharr();
const KernelSpec& laplacian();
const KernelSpec& filter2d();
const KernelSpec& sepfilter();
const KernelSpec& erode();
const KernelSpec& dilate();
const KernelSpec& open();
const KernelSpec& close();
const KernelSpec& gradient();
const KernelSpec& tophat();
const KernelSpec& blackhat();
const KernelSpec& adaptive_threshold();
const KernelSpec& unsharp();

// Pointwise kernels.
const KernelSpec& threshold();
const KernelSpec& invert();
const KernelSpec& gray();
const KernelSpec& gamma();
const KernelSpec& brightness_contrast();
const KernelSpec& levels();
const KernelSpec& lut();
const KernelSpec& hsv();
const KernelSpec& lab();
const KernelSpec& ycrcb();
const KernelSpec& convert();

// Frame kernels.
const KernelSpec& otsu();
const KernelSpec& equalize();
const KernelSpec& clahe();
const KernelSpec& canny();
const KernelSpec& normalize();
const KernelSpec& resize();

// The value of full intensity in tilefork's convention: 255, 65535, or 1 for float frames.
inline double full_scale(int depth) {
  switch (depth) {
    case CV_8U: return 255;
    case CV_16U: return 65535;
    default: return 1;
  }
}

// The parameter table of the morphology kernels (erode, dilate, open, close, gradient,
// tophat, blackhat): one structuring element, repeated `iterations` times.
inline std::vector<ParamSpec> morphology_params() {
  return {{.name = "shape", .type = ParamType::choice, .default_value = 0,
           .help = "structuring element (cv::getStructuringElement)",
           .choices = {"rect", "ellipse", "cross"}},
          {.name = "ksize", .type = ParamType::integer, .default_value = 3, .min = 1, .max = 101,
           .help = "structuring element width and height", .odd = true},
          {.name = "iterations", .type = ParamType::integer, .default_value = 1, .min = 1,
           .max = 50, .help = "times each erosion or dilation is applied"}};
}

inline cv::Mat structuring_element(const Params& params) {
  const auto shape = params.choice("shape");
  const int kind = shape == "ellipse" ? cv::MORPH_ELLIPSE
                   : shape == "cross" ? cv::MORPH_CROSS
                                      : cv::MORPH_RECT;
  const int ksize = params.integer("ksize");
  return cv::getStructuringElement(kind, cv::Size(ksize, ksize));
}

// How far `passes` erosions or dilations (each repeated `iterations` times) reach: what a tile
// must be grown by. OpenCV uses a constant border at the frame's edges, and inside a tile's
// copy each pass spoils ksize / 2 more pixels next to the copy's edge.
inline int morphology_reach(const Params& params, int passes) {
  return passes * params.integer("iterations") * (params.integer("ksize") / 2);
}

}  // namespace tilefork::builtin
