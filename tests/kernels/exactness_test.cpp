// Every kernel, tile by tile, is byte-identical to its OpenCV call on the whole frame.
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "tilefork/pipeline.hpp"
#include "tilefork/tile.hpp"
#include "tilefork/tile_runner.hpp"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>

namespace tilefork {
namespace {

struct KernelCase {
  std::string stage;          // one stage of pipeline text
  std::vector<int> types;     // frame types to try
};

std::ostream& operator<<(std::ostream& out, const KernelCase& c) { return out << c.stage; }

const std::vector<int> kAnyDepth = {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC1, CV_16UC3, CV_32FC1, CV_32FC3};
const std::vector<int> kEightBit = {CV_8UC1, CV_8UC3, CV_8UC4};

const KernelCase kCases[] = {
    {"gaussian sigma=2", kAnyDepth},
    {"gaussian sigma=0.8 ksize=5", kAnyDepth},
    {"gaussian sigma=3.5", kEightBit},
    {"box ksize=3", kAnyDepth},
    {"box ksize=8", kAnyDepth},
    {"box ksize=15", kEightBit},
    {"median ksize=3", kAnyDepth},
    {"median ksize=5", kAnyDepth},
    {"median ksize=7", kEightBit},
    {"median ksize=21", kEightBit},
    {"sobel", kEightBit},
    {"sobel ksize=5", kEightBit},
    {"sobel mode=dx ksize=1", kEightBit},
    {"sobel mode=dy ksize=7", kEightBit},
    {"threshold value=100", kAnyDepth},
    {"threshold value=0.4 type=tozero_inv", {CV_32FC1, CV_32FC3}},
    {"threshold value=60 type=trunc", kEightBit},
    {"invert", kAnyDepth},
    {"gray", kAnyDepth},
};

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
    const cv::Mat expected = test::oracle(c.stage, frame);
    for (const cv::Size tile : tiles) {
      const cv::Mat actual = run_tiled(pipeline, frame, tile);
      EXPECT_EQ(test::difference(expected, actual), "")
          << "kernel '" << c.stage << "', frame " << test::describe(frame) << ", tile " << tile.width << "x"
          << tile.height;
    }
  }
};

TEST_P(KernelExactness, SmallAndOddFramesAllTileSizes) {
  // {0, h}: full-width stripes of h rows.
  const std::vector<cv::Size> tiles = {{1, 1}, {7, 5}, {64, 64}, {256, 256}, {0, 0}, {0, 1}, {0, 7}};
  for (const int type : GetParam().types) {
    for (const cv::Size size : {cv::Size(1, 1), cv::Size(2, 3), cv::Size(37, 23), cv::Size(64, 64)}) {
      check(GetParam(), test::random_frame(size, type, 7), tiles);
    }
    check(GetParam(), test::photo_like_frame({67, 45}, type, 3), tiles);
  }
}

TEST_P(KernelExactness, MediumFramesSmallTiles) {
  for (const int type : GetParam().types) {
    check(GetParam(), test::photo_like_frame({200, 130}, type, 5), {{7, 5}, {13, 64}, {100, 100}, {0, 3}, {0, 50}});
    check(GetParam(), test::random_frame({130, 200}, type, 9), {{50, 50}, {64, 7}});
  }
}

TEST_P(KernelExactness, LargeFrames) {
  // 1283x997: odd in both directions, many SIMD row tails.
  const std::vector<cv::Size> tiles = {{64, 64}, {256, 256}, {100, 37}, {0, 0}, {0, 64}, {0, 13}};
  for (const int type : GetParam().types) {
    check(GetParam(), test::photo_like_frame({1283, 997}, type, 11), tiles);
  }
  check(GetParam(), test::random_frame({1283, 997}, GetParam().types.front(), 13), {{7, 5}});
}

TEST_P(KernelExactness, SamplePhotograph) {
  const cv::Mat photo = test::sample_photo("LadyBird.jpg", {1283, 997});
  check(GetParam(), photo, {{64, 64}, {256, 256}, {0, 0}, {0, 64}});
}

INSTANTIATE_TEST_SUITE_P(Kernels, KernelExactness, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<KernelCase>& param_info) {
                           std::string name;
                           for (char c : param_info.param.stage) {
                             name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace tilefork
