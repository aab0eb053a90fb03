// Frame kernels (one task per frame, maybe a new size) equal their OpenCV call, alone and in pipelines.
#include "cases.hpp"
#include "common/batch.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "tilefork/errors.hpp"
#include "tilefork/executor.hpp"
#include "tilefork/pipeline.hpp"
#include "tilefork/tile_runner.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

namespace tilefork::test {

const std::vector<KernelCase>& frame_kernel_cases() {
  static const std::vector<KernelCase> cases = {
      {"otsu", {CV_8UC1}},
      {"otsu type=binary_inv max=200", {CV_8UC1}},
      {"otsu type=tozero", {CV_8UC1}},
      {"equalize", {CV_8UC1, CV_8UC3}},
      {"clahe", {CV_8UC1, CV_16UC1}},
      {"clahe clip_limit=4 tile_grid=3", {CV_8UC1, CV_16UC1}},
      {"clahe clip_limit=0 tile_grid=1", {CV_8UC1, CV_16UC1}},
      {"canny", {CV_8UC1, CV_8UC3}},
      {"canny low=20 high=60 aperture=5 gradient=l2", {CV_8UC1, CV_8UC3}},
      {"canny low=2000 high=600 aperture=7", {CV_8UC1, CV_8UC3}},
      {"normalize", kAnyDepth},
      {"normalize low=10 high=200", kAnyDepth},
      {"normalize mode=inf norm=0.5", kAnyDepth},
      {"normalize mode=l2 norm=5000", kAnyDepth},
      {"normalize mode=l1 norm=100000", kAnyDepth},
      {"resize", kAnyDepth},
      {"resize width=101 height=37 interpolation=cubic", kAnyDepth},
      {"resize scale=1.37 interpolation=lanczos", kAnyDepth},
      {"resize width=63 interpolation=area", kAnyDepth},
      {"resize height=29 interpolation=nearest", kAnyDepth},
      {"resize scale=0.3 interpolation=area", kAnyDepth},
      {"resize width=1 height=3", kAnyDepth},
  };
  return cases;
}

namespace {

class FrameKernel : public ::testing::TestWithParam<KernelCase> {
 protected:
  static void SetUpTestSuite() {
    cv::setNumThreads(0);
    register_builtin_kernels();
  }

  // The frame kernel through TileRunner, as every executor runs it: one task, the whole frame,
  // into an output of the size and type the plan gives.
  static void check(const KernelCase& c, const cv::Mat& frame) {
    const Pipeline pipeline = Pipeline::parse(c.stage);
    ASSERT_TRUE(pipeline.stages()[0].kernel->whole_frame) << c.stage;
    const FramePlan plan = pipeline.plan({frame.depth(), frame.channels()}, frame.size());
    cv::Mat output(plan.sizes[1], plan.types[1].cv_type(), cv::Scalar::all(77));
    TileRunner runner;
    runner.run(pipeline.stages()[0], frame, output, cv::Rect({0, 0}, frame.size()));
    EXPECT_EQ(difference(oracle(c.stage, frame), output), "")
        << "kernel '" << pipeline.describe() << "', frame " << describe(frame);
  }
};

TEST_P(FrameKernel, EqualsTheWholeFrameCall) {
  for (const int type : GetParam().types) {
    for (const cv::Size size : {cv::Size(1, 1), cv::Size(2, 3), cv::Size(37, 23), cv::Size(64, 64)}) {
      check(GetParam(), random_frame(size, type, 7));
    }
    check(GetParam(), photo_like_frame({67, 45}, type, 3));
    check(GetParam(), photo_like_frame({201, 133}, type, 5));
  }
  check(GetParam(), photo_like_frame({1283, 997}, GetParam().types.front(), 11));
}

INSTANTIATE_TEST_SUITE_P(Kernels, FrameKernel, ::testing::ValuesIn(frame_kernel_cases()),
                         [](const ::testing::TestParamInfo<KernelCase>& param_info) {
                           return case_name(param_info.param, param_info.index);
                         });

bool accepts(const Pipeline& pipeline, const cv::Mat& frame) {
  try {
    pipeline.plan({frame.depth(), frame.channels()}, frame.size());
    return true;
  } catch (const UsageError&) {
    return false;
  }
}

// A size-changing stage followed by tiled ones, through the serial executor and its planes: the
// tiles of the later stages are cut from the new size.
TEST(FramePipelines, ResizedFramesFlowIntoTiledStages) {
  register_builtin_kernels();
  const TempDir dir;
  const std::vector<std::pair<std::string, cv::Mat>> frames = {
      {"colour", photo_like_frame({333, 217}, CV_8UC3, 1)},
      {"gray", photo_like_frame({97, 61}, CV_8UC1, 2)},
      {"tiny", random_frame({3, 2}, CV_8UC3, 4)},
  };
  const char* const pipelines[] = {
      "resize scale=0.71 interpolation=cubic | gaussian sigma=1.5 | canny low=30 high=90",
      "resize width=157 height=99 | equalize | unsharp amount=2 | resize scale=1.9 interpolation=area",
      "gray | clahe tile_grid=4 | otsu type=binary_inv | dilate ksize=5 | resize width=45 interpolation=nearest",
      "normalize low=20 high=230 | hsv | erode shape=ellipse ksize=5 | resize height=77 interpolation=lanczos",
  };
  for (const char* text : pipelines) {
    const Pipeline pipeline = Pipeline::parse(text);
    for (const cv::Size tile : {cv::Size(0, 7), cv::Size(50, 30)}) {
      RunOptions options;
      options.executor = ExecutorKind::serial;
      options.tile = tile;
      const auto items = write_batch(dir, frames, fmt::format("out-{}x{}", tile.width, tile.height));
      const RunReport report = run_batch(pipeline, items, options);
      for (std::size_t i = 0; i < items.size(); ++i) {
        const cv::Mat& frame = frames[i].second;
        if (!accepts(pipeline, frame)) {  // hsv takes colour only: the gray frame is refused, alone
          EXPECT_FALSE(report.items[i].ok) << text << ": " << frames[i].first;
          continue;
        }
        ASSERT_TRUE(report.items[i].ok) << text << ": " << frames[i].first << ": " << report.items[i].error;
        EXPECT_EQ(difference(oracle(text, frame), cv::imread(items[i].output, cv::IMREAD_UNCHANGED)), "")
            << "pipeline \"" << text << "\", frame " << frames[i].first << " " << describe(frame) << ", tile "
            << tile.width << "x" << tile.height;
      }
    }
  }
}

}  // namespace
}  // namespace tilefork::test
