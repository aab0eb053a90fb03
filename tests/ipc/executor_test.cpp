// Every executor, backend, worker count and tile size gives the oracle's bytes, and leaks nothing.
#include "common/batch.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "common/shm_census.hpp"
#include "tilefork/executor.hpp"
#include "tilefork/trace.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

namespace tilefork {
namespace {

struct Setup {
  ExecutorKind executor;
  Backend backend;
};

std::string name_of(const ::testing::TestParamInfo<Setup>& param_info) {
  std::string name(to_string(param_info.param.executor));
  if (param_info.param.executor == ExecutorKind::fork) name += "_" + std::string(to_string(param_info.param.backend));
  return name;
}

const char* const kPipelines[] = {
    "gaussian sigma=1.5 | median ksize=5 | sobel | threshold value=40 | invert",
    "gray | box ksize=5 | threshold value=100 type=tozero | gaussian sigma=0.7 ksize=3",
};

class ExecutorTest : public ::testing::TestWithParam<Setup> {
 protected:
  static void SetUpTestSuite() {
    cv::setNumThreads(0);
    register_builtin_kernels();
  }

  // Runs `pipeline` over the frames with each worker count and tile size, comparing every output
  // with the oracle on the whole frame.
  void check(const std::vector<std::pair<std::string, cv::Mat>>& frames, const std::vector<cv::Size>& tiles) {
    const test::ShmCensus before = test::ShmCensus::take();
    const std::vector<int> worker_counts =
        GetParam().executor == ExecutorKind::serial ? std::vector<int>{1} : std::vector<int>{1, 2, 3};
    for (const char* pipeline_text : kPipelines) {
      const Pipeline pipeline = Pipeline::parse(pipeline_text);
      for (const int workers : worker_counts) {
        for (const cv::Size tile : tiles) {
          const std::string out = fmt::format("out-{}-{}x{}", workers, tile.width, tile.height);
          const auto items = test::write_batch(dir_, frames, out);
          RunOptions options;
          options.executor = GetParam().executor;
          options.backend = GetParam().backend;
          options.workers = workers;
          options.tile = tile;
          const RunReport report = run_batch(pipeline, items, options);
          const std::string where = fmt::format("pipeline \"{}\", {} workers, tile {}x{}", pipeline_text,
                                                workers, tile.width, tile.height);
          ASSERT_EQ(report.items.size(), items.size()) << where;
          for (std::size_t i = 0; i < items.size(); ++i) {
            ASSERT_TRUE(report.items[i].ok) << where << ": " << items[i].input << ": " << report.items[i].error;
            const cv::Mat expected = test::oracle(pipeline_text, frames[i].second);
            const cv::Mat actual = cv::imread(items[i].output, cv::IMREAD_UNCHANGED);
            EXPECT_EQ(test::difference(expected, actual), "")
                << where << ", frame " << frames[i].first << " " << test::describe(frames[i].second);
          }
        }
      }
    }
    EXPECT_EQ(test::ShmCensus::take().leaked_since(before), std::vector<std::string>{});
  }

  test::TempDir dir_;
};

TEST_P(ExecutorTest, SmallFramesTinyTiles) {
  check({{"one", test::random_frame({1, 1}, CV_8UC3, 1)},
         {"two_by_three", test::random_frame({2, 3}, CV_8UC1, 2)},
         {"odd_gray", test::random_frame({37, 23}, CV_8UC1, 3)},
         {"odd_colour", test::photo_like_frame({45, 31}, CV_8UC3, 4)}},
        {{1, 1}, {7, 5}});
}

TEST_P(ExecutorTest, PhotoFramesUsualTiles) {
  check({{"photo", test::sample_photo("Garden.jpg", {1283, 997})},
         {"gray_noise", test::random_frame({301, 257}, CV_8UC1, 5)},
         {"colour_scene", test::photo_like_frame({640, 360}, CV_8UC3, 6)},
         {"one", test::random_frame({1, 1}, CV_8UC1, 7)}},
        {{64, 64}, {256, 256}, {0, 0}});
}

INSTANTIATE_TEST_SUITE_P(Executors, ExecutorTest,
                         ::testing::Values(Setup{ExecutorKind::fork, Backend::sysv},
                                           Setup{ExecutorKind::fork, Backend::posix},
                                           Setup{ExecutorKind::fork, Backend::anon},
                                           Setup{ExecutorKind::threads, Backend::sysv},
                                           Setup{ExecutorKind::serial, Backend::sysv}),
                         name_of);

// Many small frames through many slots keep the workers claiming while the coordinator renumbers
// slots and every few microseconds a stage ends. Two scheduler races were found this way: the
// claim order was sorted with a comparison that changed under std::sort, which then ran past its
// array (workers died of SIGSEGV "between tasks" in about one run of 400 frames in four), and a
// claim could land between the fields of a new stage and its claim word. Either shows as a
// replaced worker, a task count off the plan, or wrong bytes.
TEST(ForkScheduler, ManySmallFramesThroughManySlotsLoseNoWorkerAndNoTask) {
  cv::setNumThreads(0);
  register_builtin_kernels();
  const test::ShmCensus before = test::ShmCensus::take();
  const char* const pipeline_text = "invert | box ksize=3 | invert | gaussian sigma=1";
  const Pipeline pipeline = Pipeline::parse(pipeline_text);
  const cv::Size size{96, 64};
  const cv::Size tile{32, 32};
  const std::uint64_t tasks_per_frame = 2 + 4 * 6;  // load, store, 4 stages of 3x2 tiles
  std::vector<WorkItem> items(400);
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].input = fmt::format("memory-{}", i);
    items[i].image = test::random_frame(size, CV_8UC1, static_cast<unsigned>(i + 1));
    items[i].info = {size, {CV_8U, 1}};
  }
  for (const Backend backend : {Backend::anon, Backend::sysv}) {
    RunOptions options;
    options.backend = backend;
    options.workers = 4;  // more workers than the 2 cores CI has: preempted mid-claim
    options.slots = 8;
    options.tile = tile;
    for (int run = 0; run < 6; ++run) {
      const RunReport report = run_batch(pipeline, items, options);
      const std::string where = fmt::format("backend {}, run {}", to_string(backend), run);
      ASSERT_EQ(report.failed(), 0u) << where;
      ASSERT_EQ(report.workers_replaced, 0) << where;
      ASSERT_EQ(report.tasks, tasks_per_frame * items.size()) << where;
    }
  }
  // And the bytes, against the oracle, for a batch written out.
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "out");
  std::vector<WorkItem> written(items.begin(), items.begin() + 120);
  for (std::size_t i = 0; i < written.size(); ++i) written[i].output = dir / fmt::format("out/{}.png", i);
  RunOptions options;
  options.workers = 4;
  options.slots = 8;
  options.tile = tile;
  const RunReport report = run_batch(pipeline, written, options);
  ASSERT_EQ(report.failed(), 0u);
  for (std::size_t i = 0; i < written.size(); ++i) {
    EXPECT_EQ(test::difference(test::oracle(pipeline_text, written[i].image),
                               cv::imread(written[i].output, cv::IMREAD_UNCHANGED)),
              "")
        << "frame " << i;
  }
  EXPECT_EQ(test::ShmCensus::take().leaked_since(before), std::vector<std::string>{});
}

// A stage that makes a frame too large to count in int (resize to 65535x65535) once wrapped the
// plane size, and with 9 traced workers the whole layout wrapped to a segment of about 100 KiB:
// the coordinator wrote past its end at once (ASan: a wild write in SegmentLayout::initialise).
// The frame must be reported failed, with the size, before any segment is made.
TEST(ForkScheduler, FrameTooLargeToCountFailsWithItsSizeInsteadOfWrappingTheSegment) {
  cv::setNumThreads(0);
  register_builtin_kernels();
  const test::ShmCensus before = test::ShmCensus::take();
  std::vector<WorkItem> items(1);
  items[0].input = "memory-0";
  items[0].image = test::random_frame({2560, 1600}, CV_8UC3, 1);
  items[0].info = {{2560, 1600}, {CV_8U, 3}};
  RunTrace trace;
  RunOptions options;
  options.workers = 9;
  options.slots = 1;
  options.trace = &trace;
  const RunReport report = run_forked(Pipeline::parse("resize width=65535 height=65535"), items, options);
  ASSERT_EQ(report.items.size(), 1u);
  EXPECT_FALSE(report.items[0].ok);
  EXPECT_NE(report.items[0].error.find("65535x65535"), std::string::npos) << report.items[0].error;
  EXPECT_EQ(test::ShmCensus::take().leaked_since(before), std::vector<std::string>{});
}

}  // namespace
}  // namespace tilefork
