// Tracing in the executors: one record per executed task, every tile once, no overlap within a
// worker, nothing dropped when rings run full, and the records of finished tasks kept when a
// worker crashes or the run is interrupted. Each test checks that no segment is left.
#include "common/batch.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "common/shm_census.hpp"
#include "common/test_kernels.hpp"
#include "common/trace_check.hpp"
#include "tilefork/executor.hpp"
#include "tilefork/layout.hpp"
#include "tilefork/profile.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <set>
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tilefork {
namespace {

constexpr const char* kPipeline = "gaussian sigma=1.5 | sobel | invert";

// Frames of different sizes and types that the tiles below do not divide.
std::vector<std::pair<std::string, cv::Mat>> awkward_frames() {
  return {{"a", test::photo_like_frame({203, 157}, CV_8UC3, 1)},
          {"b", test::photo_like_frame({97, 61}, CV_8UC1, 2)},
          {"c", test::photo_like_frame({150, 40}, CV_8UC3, 3)},
          {"d", test::photo_like_frame({33, 101}, CV_8UC1, 4)}};
}

// Two clean frames with a poisoned one (common/test_kernels.hpp) between them.
std::vector<std::pair<std::string, cv::Mat>> frames_with_poison() {
  return {{"a", test::photo_like_frame({90, 70}, CV_8UC1, 1)},
          {"poison", test::poison_frame({50, 40})},
          {"b", test::photo_like_frame({33, 20}, CV_8UC1, 2)}};
}

// The grid every stage of every frame is cut with (no stage here changes the size).
test::ExpectedTiles expected_tiles(const std::vector<std::pair<std::string, cv::Mat>>& frames, std::size_t stages,
                                   cv::Size tile) {
  test::ExpectedTiles expected;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    for (std::size_t s = 1; s <= stages; ++s) {
      expected[{static_cast<int>(f), static_cast<int>(s)}] = TileGrid(frames[f].second.size(), tile);
    }
  }
  return expected;
}

// The summary's figures recomputed from the file: they must agree with it.
void expect_summary_agrees(const Profile& profile, const test::ParsedTrace& parsed, const RunTrace& trace) {
  EXPECT_EQ(profile.tasks, parsed.tasks());
  for (const StageProfile& stage : profile.stages) {
    double seconds = 0;
    std::uint64_t tiles = 0;
    for (const auto& event : parsed.events) {
      if (event.cat == "tile" && event.args.at("stage") == stage.stage + 1) {
        seconds += event.seconds();
        ++tiles;
      }
    }
    EXPECT_EQ(stage.tasks, tiles) << "stage " << stage.stage + 1;
    EXPECT_NEAR(stage.seconds, seconds, 1e-6) << "stage " << stage.stage + 1;
  }
  double busy_total = 0;
  for (const WorkerProfile& worker : profile.workers) {
    double busy = 0;
    std::uint64_t tasks = 0;
    for (const auto& event : parsed.events) {
      const bool mine = std::find(worker.pids.begin(), worker.pids.end(), event.pid) != worker.pids.end();
      if (mine && event.task()) {
        busy += event.seconds();
        ++tasks;
      }
    }
    EXPECT_EQ(worker.tasks, tasks) << "worker " << worker.worker;
    EXPECT_NEAR(worker.busy, busy, 1e-6) << "worker " << worker.worker;
    EXPECT_LE(worker.busy, worker.wall + 1e-9) << "worker " << worker.worker;
    busy_total += worker.busy;
  }
  EXPECT_NEAR(profile.split.load + profile.split.filter + profile.split.write, busy_total, 1e-6);
  std::set<std::uint32_t> indices;
  for (const TraceProcess& process : trace.processes) indices.insert(process.worker);
  EXPECT_EQ(profile.workers.size(), indices.size());
}

class Tracing : public test::ForkBackendTest {
 protected:
  void TearDown() override {
    unsetenv("TILEFORK_STALL");
    ForkBackendTest::TearDown();
  }

  RunOptions options(RunTrace& trace, cv::Size tile, int workers = 3) {
    RunOptions run;
    run.backend = GetParam();
    run.workers = workers;
    run.tile = tile;
    run.trace = &trace;
    run.task_timeout = std::chrono::seconds(60);
    return run;
  }

  test::TempDir dir_;
};

TEST_P(Tracing, EveryTaskOnceEveryTileOnceNoOverlapAndTheSummaryAgrees) {
  setenv("TILEFORK_STALL", "300", 1);  // random pauses in workers: varied interleavings
  const auto frames = awkward_frames();
  const auto items = test::write_batch(dir_, frames, "out");
  const cv::Size tile(48, 40);
  RunTrace trace;
  const Pipeline pipeline = Pipeline::parse(kPipeline);
  const RunReport report = run_forked(pipeline, items, options(trace, tile));
  for (std::size_t i = 0; i < items.size(); ++i) {
    ASSERT_TRUE(report.items[i].ok) << report.items[i].error;
    EXPECT_EQ(test::difference(test::oracle(kPipeline, frames[i].second), cv::imread(items[i].output, cv::IMREAD_UNCHANGED)), "");
  }
  std::uint64_t expected_tasks = 0;
  for (const auto& [key, grid] : expected_tiles(frames, 3, tile)) expected_tasks += grid.count();
  expected_tasks += 2 * frames.size();  // a load and a store each
  EXPECT_EQ(report.tasks, expected_tasks);
  EXPECT_EQ(trace.tasks(), report.tasks) << "one record per executed task";
  EXPECT_EQ(trace.processes.size(), 3u);

  const std::string path = dir_ / "trace.json";
  write_chrome_trace(trace, pipeline, items, path);
  const test::ParsedTrace parsed = test::parse_trace(path);
  EXPECT_EQ(parsed.tasks(), report.tasks);
  EXPECT_EQ(test::tile_coverage(parsed, expected_tiles(frames, 3, tile)), "");
  EXPECT_EQ(test::overlaps(parsed), "");
  for (std::size_t f = 0; f < frames.size(); ++f) {
    for (const char* kind : {"load", "store"}) {
      const auto count = std::count_if(parsed.events.begin(), parsed.events.end(), [&](const test::TraceEvent& e) {
        return e.cat == kind && e.args.at("frame") == f;
      });
      EXPECT_EQ(count, 1) << kind << " of frame " << f;
    }
  }
  for (const TraceProcess& process : trace.processes) {
    EXPECT_EQ(parsed.process_names.at(process.pid), fmt::format("worker {} (pid {})", process.worker, process.pid));
  }
  EXPECT_EQ(parsed.process_names.at(getpid()), fmt::format("coordinator (pid {})", getpid()));
  for (const auto& event : parsed.events) {
    if (event.cat != "tile") continue;
    const int stage = event.args.at("stage");
    EXPECT_EQ(event.args.at("kernel"), pipeline.stages().at(static_cast<std::size_t>(stage - 1)).kernel->name);
    EXPECT_EQ(event.args.at("input"), items.at(event.args.at("frame").get<std::size_t>()).input);
  }
  const Profile profile = summarize(trace, pipeline);
  expect_summary_agrees(profile, parsed, trace);
  EXPECT_EQ(profile.workers.size(), 3u);
  EXPECT_GE(profile.imbalance, 1.0);
  EXPECT_EQ(profile.slowest_tiles.size(), 5u);
  for (std::size_t i = 1; i < profile.slowest_tiles.size(); ++i) {
    EXPECT_GE(profile.slowest_tiles[i - 1].milliseconds(), profile.slowest_tiles[i].milliseconds());
  }
}

TEST_P(Tracing, TinyRingsMakeWorkersWaitInsteadOfDroppingRecords) {
  const std::vector<std::pair<std::string, cv::Mat>> frames = {{"a", test::photo_like_frame({64, 64}, CV_8UC1, 5)},
                                                               {"b", test::photo_like_frame({70, 50}, CV_8UC1, 6)}};
  const auto items = test::write_batch(dir_, frames, "out");
  // Whether a ring runs full depends on how fast the coordinator drains, so run until one has
  // (a few runs at most); every run must lose nothing either way.
  std::uint64_t full_waits = 0;
  for (int attempt = 0; attempt < 10 && full_waits == 0; ++attempt) {
    RunTrace trace;
    RunOptions run = options(trace, {8, 8}, 2);
    run.trace_ring_records = 4;  // 2 x (64 + 63) tiles per stage through rings of 4 records
    const RunReport report = run_forked(Pipeline::parse("invert | invert"), items, run);
    ASSERT_EQ(report.failed(), 0u);
    EXPECT_EQ(trace.ring_capacity, 4u);
    EXPECT_EQ(trace.tasks(), report.tasks);
    const std::string path = dir_ / "trace.json";
    write_chrome_trace(trace, Pipeline::parse("invert | invert"), items, path);
    const test::ParsedTrace parsed = test::parse_trace(path);
    EXPECT_EQ(test::tile_coverage(parsed, expected_tiles(frames, 2, {8, 8})), "");
    EXPECT_EQ(test::overlaps(parsed), "");
    full_waits = trace.ring_full_waits;
  }
  EXPECT_GT(full_waits, 0u) << "the rings never ran full in 10 runs: the test tests nothing";
}

// What a run prints on standard error (the coordinator's log, and its workers'), by fd 2.
class StderrCapture {
 public:
  explicit StderrCapture(const std::string& path) : path_(path) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    const int file = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    ::dup2(file, 2);
    ::close(file);
  }
  ~StderrCapture() { restore(); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;
  // Puts fd 2 back and returns what was written meanwhile (also passed on to the real stderr).
  std::string finish() {
    restore();
    std::ifstream file(path_);
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::fputs(text.c_str(), stderr);
    return text;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

// A worker may still publish a record after the last frame is settled (its sleep, ended by the
// stop). With a ring that is full then, it waits for room, so the coordinator must go on draining
// while the workers stop: otherwise the worker waits until it is killed (SIGTERM after the 5 s
// grace) and its last record is lost. Tiny frames, rings of 2 records, more workers than cores
// and random pauses leave rings full at the end of some runs; every worker must stop on its own.
TEST_P(Tracing, WorkersStopOnTheirOwnWhenTheirRingsAreFullAtTheEnd) {
  const std::string pipeline_text = "invert";
  const Pipeline pipeline = Pipeline::parse(pipeline_text);
  const cv::Size size{16, 8};
  std::vector<WorkItem> items(24);
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].input = fmt::format("memory-{}", i);
    items[i].image = test::random_frame(size, CV_8UC1, static_cast<unsigned>(i + 1));
    items[i].info = {size, {CV_8U, 1}};
  }
  setenv("TILEFORK_STALL", "50", 1);
  std::uint64_t full_waits = 0;
  for (int run = 0; run < 20; ++run) {
    RunTrace trace;
    RunOptions options = this->options(trace, {8, 8}, 6);
    options.slots = 8;
    options.trace_ring_records = 2;
    // A slow progress callback (a terminal, say) holds the coordinator between its drain and
    // the frames it settles after the callback: the workers fill their rings meanwhile.
    options.progress = [](const Progress&) { std::this_thread::sleep_for(std::chrono::milliseconds(2)); };
    StderrCapture capture(dir_ / "stderr.txt");
    const RunReport report = run_forked(pipeline, items, options);
    const std::string log = capture.finish();
    ASSERT_EQ(report.failed(), 0u) << "run " << run;
    ASSERT_EQ(report.workers_replaced, 0) << "run " << run;
    EXPECT_EQ(trace.tasks(), report.tasks) << "run " << run;
    ASSERT_EQ(log.find("ended with"), std::string::npos) << "run " << run << ": a worker did not stop on its own:\n" << log;
    full_waits += trace.ring_full_waits;
  }
  EXPECT_GT(full_waits, 0u) << "no ring ever ran full: the test tests nothing";
}

TEST_P(Tracing, OffTakesNoRingsAndRecordsNothing) {
  const auto frames = awkward_frames();
  const auto items = test::write_batch(dir_, frames, "out");
  RunTrace trace;
  RunOptions on = options(trace, {48, 40});
  RunOptions off = on;
  off.trace = nullptr;
  const Pipeline pipeline = Pipeline::parse(kPipeline);
  const RunReport without = run_forked(pipeline, items, off);
  ASSERT_EQ(without.failed(), 0u);
  EXPECT_TRUE(trace.records.empty());
  std::vector<WorkItem> planned(items.begin(), items.end());
  EXPECT_EQ(plan_segment(pipeline, planned, off).segment_bytes,
            SegmentLayout(plan_segment(pipeline, planned, off).slots, 3, plan_segment(pipeline, planned, off).planes,
                          plan_segment(pipeline, planned, off).plane_bytes)
                .size())
      << "tracing off must not change the segment";
  const RunReport with = run_forked(pipeline, items, on);
  ASSERT_EQ(with.failed(), 0u);
  EXPECT_GE(with.segment_bytes, without.segment_bytes + 3 * kTraceRingRecords * sizeof(TraceRecord));
}

TEST_P(Tracing, CrashedTaskHasNoRecordAndItsRetryHasOne) {
  const std::string marker = dir_ / "crashed-once";
  setenv("TILEFORK_TEST_MARKER", marker.c_str(), 1);
  const auto frames = frames_with_poison();
  const auto items = test::write_batch(dir_, frames, "out");
  RunTrace trace;
  const Pipeline pipeline = Pipeline::parse("crash_once");
  const RunReport report = run_forked(pipeline, items, options(trace, {0, 0}, 2));
  unsetenv("TILEFORK_TEST_MARKER");
  ASSERT_TRUE(std::filesystem::exists(marker)) << "the kernel never crashed: the test tests nothing";
  ASSERT_EQ(report.workers_replaced, 1);
  ASSERT_EQ(report.failed(), 0u);
  EXPECT_EQ(trace.processes.size(), 3u) << "two workers and the replacement";
  EXPECT_EQ(trace.tasks(), report.tasks);
  const std::string path = dir_ / "trace.json";
  write_chrome_trace(trace, pipeline, items, path);
  const test::ParsedTrace parsed = test::parse_trace(path);
  EXPECT_EQ(test::tile_coverage(parsed, expected_tiles(frames, 1, {0, 0})), "") << "the retry has one record";
  EXPECT_EQ(test::overlaps(parsed), "");
  EXPECT_EQ(parsed.tasks(), 3u * 3u);
  EXPECT_EQ(parsed.process_names.size(), 4u) << "coordinator, two workers, the replacement";
}

TEST_P(Tracing, FrameThatAlwaysCrashesKeepsTheRecordsOfEveryFinishedTask) {
  const auto frames = frames_with_poison();
  const auto items = test::write_batch(dir_, frames, "out");
  RunTrace trace;
  const Pipeline pipeline = Pipeline::parse("crash_always");
  const RunReport report = run_forked(pipeline, items, options(trace, {0, 0}, 2));
  ASSERT_FALSE(report.items[1].ok);
  EXPECT_EQ(trace.tasks(), report.tasks);
  const std::string path = dir_ / "trace.json";
  write_chrome_trace(trace, pipeline, items, path);
  const test::ParsedTrace parsed = test::parse_trace(path);
  test::ExpectedTiles good = expected_tiles(frames, 1, {0, 0});
  good.erase({1, 1});
  EXPECT_EQ(test::tile_coverage(parsed, good), "") << "the poison frame's tile died twice: no record";
  EXPECT_EQ(test::overlaps(parsed), "");
  EXPECT_EQ(parsed.tasks(), 2u * 3u + 1u) << "two whole frames and the poison frame's load";
}

TEST_P(Tracing, InterruptedRunKeepsTheRecordsOfEveryFinishedTask) {
  std::vector<std::pair<std::string, cv::Mat>> frames;
  for (int i = 0; i < 6; ++i) frames.push_back({fmt::format("f{}", i), test::photo_like_frame({160, 120}, CV_8UC3, 10 + i)});
  const auto items = test::write_batch(dir_, frames, "out");
  const std::string path = dir_ / "trace.json";
  const std::string tasks_file = dir_ / "tasks.txt";
  const pid_t coordinator = fork();
  ASSERT_GE(coordinator, 0);
  if (coordinator == 0) {
    setenv("TILEFORK_STALL", "20000", 1);
    RunTrace trace;
    const Pipeline pipeline = Pipeline::parse("gaussian sigma=2 | invert");
    const RunReport report = run_forked(pipeline, items, options(trace, {16, 16}, 2));
    write_chrome_trace(trace, pipeline, items, path);
    std::ofstream(tasks_file) << report.tasks;
    _exit(report.interrupted ? 0 : 1);
  }
  std::vector<pid_t> workers;
  for (int i = 0; i < 500 && workers.size() < 2; ++i) {
    workers = test::children_of(coordinator);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(workers.size(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(coordinator, SIGINT);
  int status = 0;
  while (waitpid(coordinator, &status, 0) < 0 && errno == EINTR) {
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the run did not report the interruption: " << status;
  const test::ParsedTrace parsed = test::parse_trace(path);
  std::size_t tasks = 0;
  std::ifstream(tasks_file) >> tasks;
  EXPECT_GT(tasks, 0u) << "interrupted before any task: the test tests nothing";
  EXPECT_EQ(parsed.tasks(), tasks) << "every finished task has its record";
  EXPECT_EQ(test::overlaps(parsed), "");
  std::size_t all_tiles = 0;
  for (const auto& [key, grid] : expected_tiles(frames, 2, {16, 16})) all_tiles += grid.count();
  EXPECT_LT(parsed.tasks(), all_tiles + 2 * frames.size()) << "the run was not interrupted mid-way";
}

INSTANTIATE_TEST_SUITE_P(Backends, Tracing, ::testing::Values(Backend::sysv, Backend::posix, Backend::anon),
                         [](const ::testing::TestParamInfo<Backend>& param_info) {
                           return std::string(to_string(param_info.param));
                         });

// The serial and threads executors record the same way (required only of fork, checked anyway).
class PrivateExecutorTracing : public ::testing::TestWithParam<ExecutorKind> {};

TEST_P(PrivateExecutorTracing, EveryTaskOnceEveryTileOnceNoOverlap) {
  cv::setNumThreads(0);
  register_builtin_kernels();
  test::TempDir dir;
  const auto frames = awkward_frames();
  const auto items = test::write_batch(dir, frames, "out");
  RunTrace trace;
  RunOptions run;
  run.executor = GetParam();
  run.workers = 2;
  run.tile = {48, 40};
  run.trace = &trace;
  const Pipeline pipeline = Pipeline::parse(kPipeline);
  const RunReport report = run_batch(pipeline, items, run);
  ASSERT_EQ(report.failed(), 0u);
  EXPECT_EQ(trace.tasks(), report.tasks);
  const std::string path = dir / "trace.json";
  write_chrome_trace(trace, pipeline, items, path);
  const test::ParsedTrace parsed = test::parse_trace(path);
  EXPECT_EQ(parsed.tasks(), report.tasks);
  EXPECT_EQ(test::tile_coverage(parsed, expected_tiles(frames, 3, {48, 40})), "");
  EXPECT_EQ(test::overlaps(parsed), "");
}

INSTANTIATE_TEST_SUITE_P(Executors, PrivateExecutorTracing, ::testing::Values(ExecutorKind::serial, ExecutorKind::threads),
                         [](const ::testing::TestParamInfo<ExecutorKind>& param_info) {
                           return std::string(to_string(param_info.param));
                         });

}  // namespace
}  // namespace tilefork
