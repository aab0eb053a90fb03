// Every tile and pointwise kernel, tile by tile, is byte-identical to its OpenCV call on the whole frame.
#include "cases.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "tilefork/pipeline.hpp"
#include "tilefork/tile.hpp"
#include "tilefork/tile_runner.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <functional>

namespace tilefork::test {

namespace {

// "f(0),f(1),...,f(count - 1)": long numbers parameters (matrices, lookup tables).
std::string number_list(int count, const std::function<double(int)>& value) {
  std::string text;
  for (int i = 0; i < count; ++i) text += fmt::format("{}{:g}", i == 0 ? "" : ",", value(i));
  return text;
}

const std::vector<int> kBilateral = {CV_8UC1, CV_8UC3};
const std::vector<int> kEightBitAndFloat = {CV_8UC1, CV_8UC3, CV_8UC4, CV_32FC1, CV_32FC3};
const std::vector<int> kColourEightBitAndFloat = {CV_8UC3, CV_8UC4, CV_32FC3};

std::vector<KernelCase> make_cases() {
  constexpr auto all = LargeFrames::all_types;
  // An asymmetric 11x11 integer matrix (the largest filter2d takes), and a 7x7 of fractions.
  const std::string matrix11 = number_list(121, [](int i) { return (i * 7 + i / 11) % 9 - 4; });
  const std::string matrix7 = number_list(49, [](int i) { return ((i % 7 + 2 * (i / 7)) % 5) * 0.01 + 0.005; });
  const std::string posterise = number_list(256, [](int i) { return (i / 64) * 85; });
  const std::string inverse_square = number_list(256, [](int i) { return 255 - (i * i) / 255; });
  return {
      {"gaussian sigma=2", kAnyDepth, all},
      {"gaussian sigma=0.8 ksize=5", kAnyDepth, all},
      {"gaussian sigma=3.5", kEightBit, all},
      {"box ksize=3", kAnyDepth, all},
      {"box ksize=8", kAnyDepth, all},
      {"box ksize=15", kEightBit, all},
      {"median ksize=3", kAnyDepth, all},
      {"median ksize=5", kAnyDepth, all},
      {"median ksize=7", kEightBit, all},
      {"median ksize=21", kEightBit, all},
      {"sobel", kEightBit, all},
      {"sobel ksize=5", kEightBit, all},
      {"sobel mode=dx ksize=1", kEightBit, all},
      {"sobel mode=dy ksize=7", kEightBit, all},
      {"threshold value=100", kAnyDepth, all},
      {"threshold value=0.4 type=tozero_inv", {CV_32FC1, CV_32FC3}, all},
      {"threshold value=60 type=trunc", kEightBit, all},
      {"invert", kAnyDepth, all},
      {"gray", kAnyDepth, all},

      {"bilateral", kBilateral},
      {"bilateral d=9 sigma_color=30 sigma_space=3", kBilateral},
      {"bilateral d=0 sigma_color=12 sigma_space=2", kBilateral},
      {"scharr", kEightBit},
      {"scharr mode=dx", kEightBit},
      {"scharr mode=dy", kEightBit},
      {"laplacian", kEightBitAndFloat},
      {"laplacian ksize=3 scale=2 delta=10", kEightBitAndFloat},
      {"laplacian ksize=5", kEightBitAndFloat},
      {"laplacian ksize=7 scale=0.25 delta=-3", kEightBitAndFloat},
      {"filter2d", kAnyDepth},
      {"filter2d kernel=1,2,1;2,4,2;1,2,1 normalize=sum", kAnyDepth},
      {"filter2d kernel=-1,0,1;-2,0,2;-1,0,1", kAnyDepth},
      {"filter2d kernel=" + matrix7, kAnyDepth},
      {"filter2d kernel=" + matrix11, {CV_8UC1, CV_8UC3, CV_32FC1}},
      {"sepfilter", kAnyDepth},
      {"sepfilter kx=1,4,6,4,1 ky=-1,0,1", kAnyDepth},
      {"sepfilter kx=0.1,0.2,0.4,0.2,0.1 ky=0.25,0.5,0.25", kAnyDepth},
      {"sepfilter kx=1 ky=0.3,-0.1,0.2,0.5,0.2,-0.1,0.3", kAnyDepth},
      {"erode", kAnyDepth},
      {"erode shape=ellipse ksize=5 iterations=2", kAnyDepth},
      {"erode ksize=7 iterations=3", kAnyDepth},
      {"dilate", kAnyDepth},
      {"dilate shape=cross ksize=5 iterations=3", kAnyDepth},
      {"open", kAnyDepth},
      {"open shape=ellipse ksize=7 iterations=2", kAnyDepth},
      {"close", kAnyDepth},
      {"close shape=cross ksize=3 iterations=4", kAnyDepth},
      {"gradient", kAnyDepth},
      {"gradient shape=ellipse ksize=9 iterations=2", kAnyDepth},
      {"tophat ksize=5", kAnyDepth},
      {"tophat shape=cross ksize=3 iterations=3", kAnyDepth},
      {"blackhat ksize=5", kAnyDepth},
      {"blackhat shape=ellipse ksize=5 iterations=2", kAnyDepth},
      {"adaptive_threshold", {CV_8UC1}},
      {"adaptive_threshold method=gaussian block_size=7 c=-3", {CV_8UC1}},
      {"adaptive_threshold type=binary_inv block_size=31 c=5 max=200", {CV_8UC1}},
      {"unsharp", kAnyDepth},
      {"unsharp sigma=2.5 amount=1.5", kAnyDepth},
      {"unsharp sigma=1.2 amount=0.7 threshold=4", kEightBit},
      {"unsharp sigma=0.6 amount=3 threshold=0.02", {CV_32FC1, CV_32FC3}},

      {"gamma", kAnyDepth},
      {"gamma gamma=0.45", kAnyDepth},
      {"brightness_contrast alpha=1.3 beta=-20", kAnyDepth},
      {"brightness_contrast alpha=0.5 beta=0.1", kAnyDepth},
      {"brightness_contrast alpha=-1 beta=255", kAnyDepth},
      {"levels in_low=20 in_high=230", kEightBit},
      {"levels in_low=10 in_high=200 out_low=30 out_high=220 gamma=1.6", kEightBit},
      {"levels out_low=255 out_high=0 gamma=0.7", kEightBit},
      {"lut table=" + posterise, kEightBit},
      {"lut table=" + inverse_square, kEightBit},
      {"hsv", kColourEightBitAndFloat},
      {"hsv hue=full", kColourEightBitAndFloat},
      {"lab", kColourEightBitAndFloat},
      {"ycrcb", {CV_8UC3, CV_8UC4, CV_16UC3, CV_32FC3}},
      {"convert", kAnyDepth},
      {"convert to=8u", kAnyDepth},
      {"convert to=16u", kAnyDepth},
      {"convert to=8u scale=0.5 offset=10", kAnyDepth},
      {"convert to=32f scale=2 offset=-0.5", kAnyDepth},
  };
}

}  // namespace

const std::vector<KernelCase>& tile_kernel_cases() {
  static const std::vector<KernelCase> cases = make_cases();
  return cases;
}

namespace {

// The sample photograph (8-bit BGR) as a frame of `type`, for kernels that do not take 8UC3.
cv::Mat photo_as(int type) {
  cv::Mat photo = sample_photo("LadyBird.jpg", {1283, 997});
  if (CV_MAT_CN(type) == 1) cv::cvtColor(photo, photo, cv::COLOR_BGR2GRAY);
  if (CV_MAT_CN(type) == 4) cv::cvtColor(photo, photo, cv::COLOR_BGR2BGRA);
  const int depth = CV_MAT_DEPTH(type);
  photo.convertTo(photo, depth, depth == CV_16U ? 257.0 : depth == CV_32F ? 1 / 255.0 : 1.0);
  return photo;
}

class KernelExactness : public ::testing::TestWithParam<KernelCase> {
 protected:
  static void SetUpTestSuite() {
    cv::setNumThreads(0);
    register_builtin_kernels();
  }

  // Runs the single stage over `frame` tile by tile, through the same TileRunner the executors use.
  static cv::Mat run_tiled(const Pipeline& pipeline, const cv::Mat& frame, cv::Size tile) {
    const FramePlan plan = pipeline.plan({frame.depth(), frame.channels()}, frame.size());
    const cv::Mat input = frame.clone();
    cv::Mat output(frame.size(), plan.types[1].cv_type(), cv::Scalar::all(77));
    const TileGrid grid(frame.size(), tile);
    TileRunner runner;
    for (std::uint32_t t = 0; t < grid.count(); ++t) runner.run(pipeline.stages()[0], input, output, grid.rect(t));
    return output;
  }

  static void check(const KernelCase& c, const cv::Mat& frame, const std::vector<cv::Size>& tiles) {
    const Pipeline pipeline = Pipeline::parse(c.stage);
    const cv::Mat expected = oracle(c.stage, frame);
    for (const cv::Size tile : tiles) {
      const cv::Mat actual = run_tiled(pipeline, frame, tile);
      EXPECT_EQ(difference(expected, actual), "")
          << "kernel '" << pipeline.describe() << "', frame " << describe(frame) << ", tile " << tile.width << "x"
          << tile.height;
    }
  }
};

TEST_P(KernelExactness, SmallAndOddFramesAllTileSizes) {
  // {0, h}: full-width stripes of h rows.
  const std::vector<cv::Size> tiles = {{1, 1}, {7, 5}, {64, 64}, {256, 256}, {0, 0}, {0, 1}, {0, 7}};
  for (const int type : GetParam().types) {
    for (const cv::Size size : {cv::Size(1, 1), cv::Size(2, 3), cv::Size(37, 23), cv::Size(64, 64)}) {
      check(GetParam(), random_frame(size, type, 7), tiles);
    }
    check(GetParam(), photo_like_frame({67, 45}, type, 3), tiles);
  }
}

TEST_P(KernelExactness, MediumFramesSmallTiles) {
  for (const int type : GetParam().types) {
    check(GetParam(), photo_like_frame({200, 130}, type, 5), {{7, 5}, {13, 64}, {100, 100}, {0, 3}, {0, 50}});
    check(GetParam(), random_frame({130, 200}, type, 9), {{50, 50}, {64, 7}});
  }
}

TEST_P(KernelExactness, LargeFrames) {
  // 1283x997: odd in both directions, many SIMD row tails.
  const KernelCase& c = GetParam();
  if (c.large == LargeFrames::first_type) {
    check(c, photo_like_frame({1283, 997}, c.types.front(), 11), {{256, 256}, {100, 37}, {0, 64}});
    check(c, random_frame({1283, 997}, c.types.back(), 13), {{0, 13}});
    return;
  }
  const std::vector<cv::Size> tiles = {{64, 64}, {256, 256}, {100, 37}, {0, 0}, {0, 64}, {0, 13}};
  for (const int type : c.types) {
    check(c, photo_like_frame({1283, 997}, type, 11), tiles);
  }
  check(c, random_frame({1283, 997}, c.types.front(), 13), {{7, 5}});
}

TEST_P(KernelExactness, SamplePhotograph) {
  const KernelCase& c = GetParam();
  const bool colour = std::find(c.types.begin(), c.types.end(), CV_8UC3) != c.types.end();
  const cv::Mat photo = photo_as(colour ? CV_8UC3 : c.types.front());
  if (c.large == LargeFrames::first_type) {
    check(c, photo, {{64, 64}, {0, 64}});
  } else {
    check(c, photo, {{64, 64}, {256, 256}, {0, 0}, {0, 64}});
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, KernelExactness, ::testing::ValuesIn(tile_kernel_cases()),
                         [](const ::testing::TestParamInfo<KernelCase>& param_info) {
                           return case_name(param_info.param, param_info.index);
                         });

}  // namespace
}  // namespace tilefork::test
