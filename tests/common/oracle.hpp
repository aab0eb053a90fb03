// The oracle: each kernel's OpenCV call written out on the whole frame, independently of workers/.
#pragma once

#include <opencv2/core/mat.hpp>

#include <functional>
#include <map>
#include <string>

namespace tilefork::test {

// A stage's parameters as written: "gain=1.5" gives {"gain", "1.5"}.
using StageArgs = std::map<std::string, std::string, std::less<>>;
// The oracle of a kernel the built-in table does not know (an external worker's, a plugin's),
// written out by the test that uses it.
using ExtraKernel = std::function<cv::Mat(const cv::Mat& input, const StageArgs& args)>;
using ExtraKernels = std::map<std::string, ExtraKernel, std::less<>>;

// Runs the pipeline text ("gaussian sigma=2 | sobel") stage by stage with plain OpenCV calls on
// the whole frame. Parameters not given take the documented defaults. A stage whose kernel is
// in `extra` runs that function instead; any other unknown kernel throws std::invalid_argument.
cv::Mat oracle(const std::string& pipeline, const cv::Mat& input, const ExtraKernels& extra = {});

// Empty when equal; otherwise size/type mismatch or the max difference and where it is.
std::string difference(const cv::Mat& expected, const cv::Mat& actual);

}  // namespace tilefork::test
