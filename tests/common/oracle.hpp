// The oracle: each kernel's OpenCV call written out on the whole frame, independently of workers/.
#pragma once

#include <opencv2/core/mat.hpp>

#include <string>

namespace tilefork::test {

// Runs the pipeline text ("gaussian sigma=2 | sobel") stage by stage with plain OpenCV calls on
// the whole frame. Parameters not given take the documented defaults.
cv::Mat oracle(const std::string& pipeline, const cv::Mat& input);

// Empty when equal; otherwise size/type mismatch or the max difference and where it is.
std::string difference(const cv::Mat& expected, const cv::Mat& actual);

}  // namespace tilefork::test
