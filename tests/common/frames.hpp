// Test frames: random noise, photo-like synthetic scenes, and crops of the bundled photographs.
#pragma once

#include <opencv2/core/mat.hpp>

#include <string>

namespace tilefork::test {

// Uniform noise over the type's range (floats in [0, 1]).
cv::Mat random_frame(cv::Size size, int type, unsigned seed = 1);
// Smooth gradients, hard edges, a few shapes and a little noise: what photographs look like to
// a filter, at any size and type.
cv::Mat photo_like_frame(cv::Size size, int type, unsigned seed = 1);
// A bundled sample photograph (8-bit BGR), optionally cropped from its top-left corner.
cv::Mat sample_photo(const std::string& name, cv::Size crop = {});

// "37x23 8UC3"
std::string describe(const cv::Mat& frame);

}  // namespace tilefork::test
