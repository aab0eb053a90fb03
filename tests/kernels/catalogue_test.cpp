// Every registered kernel documents itself, has exactness cases for every type it takes, and
// says what is wrong with parameters it cannot run with.
#include "cases.hpp"
#include "tilefork/errors.hpp"
#include "tilefork/pipeline.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace tilefork::test {
namespace {

std::string first_word(const std::string& stage) {
  std::istringstream words(stage);
  std::string word;
  words >> word;
  return word;
}

class KernelCatalogue : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { register_builtin_kernels(); }
};

TEST_F(KernelCatalogue, EveryKernelHasASummaryAndHelpForEachParameter) {
  const auto kernels = KernelRegistry::instance().all();
  EXPECT_GE(kernels.size(), 28u);
  for (const KernelSpec* spec : kernels) {
    EXPECT_FALSE(spec->summary.empty()) << spec->name;
    EXPECT_FALSE(spec->depths.empty()) << spec->name;
    EXPECT_FALSE(spec->channels.empty()) << spec->name;
    EXPECT_FALSE(spec->whole_frame && spec->pointwise) << spec->name << " cannot be both frame and pointwise";
    EXPECT_TRUE(spec->pointwise || spec->whole_frame || spec->halo) << spec->name << " is a tile kernel without a halo";
    EXPECT_TRUE(spec->apply) << spec->name;
    for (const ParamSpec& param : spec->params) {
      EXPECT_FALSE(param.help.empty()) << spec->name << " parameter " << param.name;
      if (param.type == ParamType::choice) {
        EXPECT_LT(param.default_value, static_cast<double>(param.choices.size())) << spec->name << " " << param.name;
      }
    }
  }
}

// A kernel added without a test fails here: each needs a case in exactness_test.cpp (tile and
// pointwise kernels) or frame_kernels_test.cpp (frame kernels), covering every one of the usual
// frame types it declares.
TEST_F(KernelCatalogue, EveryKernelHasExactnessCasesForEveryTypeItTakes) {
  for (const KernelSpec* spec : KernelRegistry::instance().all()) {
    const auto& cases = spec->whole_frame ? frame_kernel_cases() : tile_kernel_cases();
    std::set<int> tested;
    for (const KernelCase& c : cases) {
      if (first_word(c.stage) == spec->name) tested.insert(c.types.begin(), c.types.end());
    }
    EXPECT_FALSE(tested.empty()) << spec->name << " has no exactness case in "
                                 << (spec->whole_frame ? "frame_kernels_test.cpp" : "exactness_test.cpp");
    for (const int type : kAnyDepth) {
      const bool declared =
          std::find(spec->depths.begin(), spec->depths.end(), CV_MAT_DEPTH(type)) != spec->depths.end() &&
          std::find(spec->channels.begin(), spec->channels.end(), CV_MAT_CN(type)) != spec->channels.end();
      if (declared) {
        EXPECT_TRUE(tested.contains(type)) << spec->name << " takes " << to_string({CV_MAT_DEPTH(type), CV_MAT_CN(type)})
                                           << " frames but no case tries them";
      }
    }
  }
}

// The message the pipeline gives when planning `stage` for `type`, or "" when it plans.
std::string refusal(const std::string& stage, int type) {
  try {
    Pipeline::parse(stage).plan({CV_MAT_DEPTH(type), CV_MAT_CN(type)}, {64, 48});
  } catch (const UsageError& error) {
    return error.what();
  }
  return "";
}

TEST_F(KernelCatalogue, ParameterLimitsAreExplained) {
  const std::string thirteen = fmt::format("filter2d kernel={}", fmt::join(std::vector<int>(169, 1), ","));
  const std::string nine = fmt::format("filter2d kernel={}", fmt::join(std::vector<int>(81, 1), ","));
  const std::pair<std::string, std::string> expectations[] = {
      {refusal("filter2d kernel=1,2,3,4", CV_8UC1), "it takes a square matrix with an odd side"},
      {refusal("filter2d kernel=1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1", CV_8UC1), "has 16 numbers"},
      {refusal(thirteen, CV_8UC1), "is 13x13: the largest is "},
      {refusal(nine, CV_16UC1), "with a kernel above 7x7 it takes 8-bit or float frames only"},
      {refusal("filter2d kernel=-1,0,1;-2,0,2;-1,0,1 normalize=sum", CV_8UC1), "sum to 0"},
      {refusal("sepfilter kx=1,2", CV_8UC1), "parameter 'kx' has 2 numbers"},
      {refusal("lut table=1,2,3", CV_8UC1), "it takes 256"},
      {refusal("lut", CV_8UC1), "has 0 numbers"},
      {refusal("levels in_low=200 in_high=100", CV_8UC3), "in_low must be below in_high"},
      {refusal("bilateral", CV_16UC1), "cannot take 16-bit 1-channel"},
      {refusal("hsv", CV_8UC1), "cannot take 8-bit 1-channel"},
      {refusal("adaptive_threshold", CV_8UC3), "cannot take 8-bit 3-channel"},
      {refusal("otsu", CV_16UC1), "cannot take 16-bit 1-channel"},
      {refusal("median ksize=7", CV_32FC1), "with ksize above 5 it takes 8-bit frames only"},
  };
  for (const auto& [message, expected] : expectations) {
    EXPECT_NE(message.find(expected), std::string::npos) << "message: '" << message << "'\nexpected: " << expected;
  }
  // Lists of the right shape plan.
  EXPECT_EQ(refusal(nine, CV_8UC3), "");
  EXPECT_EQ(refusal("sepfilter kx=1,2,1 ky=1", CV_16UC3), "");
  EXPECT_EQ(refusal("resize width=3", CV_32FC3), "");
}

TEST_F(KernelCatalogue, ResizeGivesTheSizeItIsAskedFor) {
  const auto size_of = [](const std::string& stage, cv::Size input) {
    return Pipeline::parse(stage).plan({CV_8U, 3}, input).sizes.back();
  };
  EXPECT_EQ(size_of("resize", {1283, 997}), cv::Size(642, 498));  // 641.5 and 498.5 round to even
  EXPECT_EQ(size_of("resize width=101 height=37", {1283, 997}), cv::Size(101, 37));
  EXPECT_EQ(size_of("resize width=63", {200, 130}), cv::Size(63, 41));
  EXPECT_EQ(size_of("resize height=29", {200, 130}), cv::Size(45, 29));
  EXPECT_EQ(size_of("resize scale=0.01", {37, 23}), cv::Size(1, 1));
  EXPECT_EQ(size_of("resize scale=1.37", {37, 23}), cv::Size(51, 32));
}

}  // namespace
}  // namespace tilefork::test
