// `tilefork run --trace / --summary / --json / --compare-serial` end to end: the trace file is a
// valid Chrome trace with one event per task, the profile in --json agrees with it, and a run
// that crashes or is interrupted still writes it with every finished task.
#include "common/batch.hpp"
#include "common/cli.hpp"
#include "common/frames.hpp"
#include "common/shm_census.hpp"
#include "common/trace_check.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#ifndef CRASHY_PLUGIN
#define CRASHY_PLUGIN "libcrashy.so"
#endif

namespace fs = std::filesystem;

namespace tilefork {
namespace {

class TraceCommand : public ::testing::Test {
 protected:
  void SetUp() override { before_ = test::ShmCensus::take(); }
  void TearDown() override { EXPECT_EQ(test::ShmCensus::take().leaked_since(before_), std::vector<std::string>{}); }

  // Writes the frames as PNGs into in/ and returns their paths.
  std::vector<std::string> write_inputs(const std::vector<std::pair<std::string, cv::Mat>>& frames) {
    fs::create_directories(dir_ / "in");
    std::vector<std::string> paths;
    for (const auto& [name, frame] : frames) {
      paths.push_back(dir_ / ("in/" + name + ".png"));
      cv::imwrite(paths.back(), frame);
    }
    return paths;
  }

  test::TempDir dir_;
  test::ShmCensus before_;
};

// Frames with no sample equal to crashy's poison value (13).
cv::Mat clean(cv::Size size, int type, unsigned seed) {
  cv::Mat frame = test::photo_like_frame(size, type, seed);
  cv::max(frame, cv::Scalar::all(20), frame);
  return frame;
}

// Frames are given to the command as a folder: items are in sorted order, a.png = frame 0, ...
test::ExpectedTiles grids(const std::vector<cv::Size>& sizes, int stages, cv::Size tile) {
  test::ExpectedTiles expected;
  for (std::size_t f = 0; f < sizes.size(); ++f) {
    for (int s = 1; s <= stages; ++s) expected[{static_cast<int>(f), s}] = TileGrid(sizes[f], tile);
  }
  return expected;
}

TEST_F(TraceCommand, TraceHasEveryTaskOnceAndTheJsonProfileAgreesWithIt) {
  const std::vector<std::pair<std::string, cv::Mat>> frames = {{"a", clean({203, 157}, CV_8UC3, 1)},
                                                               {"b", clean({97, 61}, CV_8UC1, 2)},
                                                               {"c", clean({150, 40}, CV_8UC3, 3)}};
  write_inputs(frames);
  const std::string trace_path = dir_ / "t.json";
  const test::Outcome outcome =
      test::run_tilefork({"run", "-p", "gaussian sigma=2 | sobel | invert", "--tile", "50x30", "-j", "2", "--trace",
                          trace_path, "--json", "--summary", "--compare-serial", "-o", dir_ / "out", dir_ / "in"},
                         dir_, {}, {{"TILEFORK_STALL", "200"}});
  ASSERT_EQ(outcome.code, 0) << outcome.err;
  const test::ParsedTrace trace = test::parse_trace(trace_path);
  const auto expected = grids({{203, 157}, {97, 61}, {150, 40}}, 3, {50, 30});
  std::size_t tiles = 0;
  for (const auto& [key, grid] : expected) tiles += grid.count();
  EXPECT_EQ(trace.tasks(), tiles + 2 * frames.size());
  EXPECT_EQ(test::tile_coverage(trace, expected), "");
  EXPECT_EQ(test::overlaps(trace), "");
  EXPECT_EQ(trace.process_names.size(), 3u) << "the coordinator and two workers";

  const nlohmann::json profile = nlohmann::json::parse(outcome.out).at("profile");
  EXPECT_EQ(profile.at("tasks"), trace.tasks());
  for (const auto& stage : profile.at("stages")) {
    double seconds = 0;
    std::size_t count = 0;
    for (const auto& event : trace.events) {
      if (event.cat == "tile" && event.args.at("stage") == stage.at("stage")) {
        seconds += event.seconds();
        ++count;
      }
    }
    EXPECT_EQ(stage.at("tiles"), count);
    EXPECT_NEAR(stage.at("seconds").get<double>(), seconds, 1e-6);
  }
  for (const auto& worker : profile.at("workers")) {
    double busy = 0;
    std::size_t count = 0;
    for (const auto& event : trace.events) {
      if (event.task() && event.pid == worker.at("pids").at(0)) {
        busy += event.seconds();
        ++count;
      }
    }
    EXPECT_EQ(worker.at("tasks"), count);
    EXPECT_NEAR(worker.at("busy").get<double>(), busy, 1e-6);
  }
  EXPECT_GT(profile.at("serial_seconds").get<double>(), 0);
  EXPECT_NEAR(profile.at("speedup").get<double>(),
              profile.at("serial_seconds").get<double>() / profile.at("seconds").get<double>(), 1e-9);
  for (const char* line : {"tilefork: profile: fork executor, 2 workers", "stage 1 gaussian", "worker 1 (pid",
                           "load imbalance", "dispatch overhead", "slowest tiles", "speed-up against serial"}) {
    EXPECT_NE(outcome.err.find(line), std::string::npos) << "'" << line << "' missing from:\n" << outcome.err;
  }
}

TEST_F(TraceCommand, CrashingKernelStillGivesATraceWithEveryFinishedTask) {
  cv::Mat poisoned = clean({80, 64}, CV_8UC1, 4);
  poisoned.rowRange(16, 32).setTo(13);  // only tile 1 of stage 1 holds the poison: it dies, and its retry
  write_inputs({{"a", clean({90, 70}, CV_8UC1, 1)}, {"b", poisoned}, {"c", clean({33, 20}, CV_8UC3, 2)}});
  const std::string trace_path = dir_ / "t.json";
  const test::Outcome outcome =
      test::run_tilefork({"run", "--plugin", CRASHY_PLUGIN, "-p", "crashy how=segfault | invert", "--tile", "0x16",
                          "-j", "2", "--trace", trace_path, "--json", "-o", dir_ / "out", dir_ / "in"},
                         dir_);
  ASSERT_EQ(outcome.code, 3) << outcome.err;
  const test::ParsedTrace trace = test::parse_trace(trace_path);
  EXPECT_EQ(test::overlaps(trace), "");
  const nlohmann::json profile = nlohmann::json::parse(outcome.out).at("profile");
  EXPECT_EQ(profile.at("tasks"), trace.tasks());
  auto expected = grids({{90, 70}, {80, 64}, {33, 20}}, 2, {0, 16});
  expected.erase({1, 1});
  expected.erase({1, 2});
  test::ParsedTrace good = trace;
  std::erase_if(good.events, [](const test::TraceEvent& e) { return e.args.value("frame", -1) == 1; });
  EXPECT_EQ(test::tile_coverage(good, expected), "") << "the frames without poison are complete";
  for (const auto& event : trace.events) {
    if (event.cat == "tile" && event.args.at("frame") == 1 && event.args.at("stage") == 1) {
      EXPECT_NE(event.args.at("tile"), 1) << "tile 1 died twice and cannot have a record";
    }
  }
  EXPECT_EQ(trace.process_names.size(), 5u) << "the coordinator, two workers, two replacements";
}

TEST_F(TraceCommand, InterruptedRunWritesTheTraceAndExits130) {
  std::vector<std::pair<std::string, cv::Mat>> frames;
  for (int i = 0; i < 6; ++i) frames.push_back({fmt::format("f{}", i), clean({160, 120}, CV_8UC3, 10 + i)});
  const auto inputs = write_inputs(frames);
  const std::string trace_path = dir_ / "t.json";
  const pid_t command = test::start_tilefork({"run", "-p", "gaussian sigma=2 | invert", "--tile", "16x16", "-j", "2",
                                        "--trace", trace_path, "--json", "-o", dir_ / "out", dir_ / "in"},
                                       dir_, {}, {{"TILEFORK_STALL", "20000"}});
  ASSERT_GT(command, 0);
  std::vector<pid_t> workers;
  for (int i = 0; i < 1000 && workers.size() < 2; ++i) {
    workers = test::children_of(command);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(workers.size(), 2u) << "the command never started its workers";
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ::kill(command, SIGINT);
  int status = 0;
  while (waitpid(command, &status, 0) < 0 && errno == EINTR) {
  }
  ASSERT_TRUE(WIFEXITED(status)) << "died of " << status;
  ASSERT_EQ(WEXITSTATUS(status), 130) << test::slurp(dir_ / "stderr.txt");
  const test::ParsedTrace trace = test::parse_trace(trace_path);
  EXPECT_GT(trace.tasks(), 0u) << "interrupted before any task: the test tests nothing";
  EXPECT_EQ(test::overlaps(trace), "");
  const nlohmann::json profile = nlohmann::json::parse(test::slurp(dir_ / "stdout.txt")).at("profile");
  EXPECT_EQ(profile.at("tasks"), trace.tasks());
  // Every frame that was written has all its tasks in the trace.
  std::size_t written = 0;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    if (!fs::exists(dir_ / fmt::format("out/f{}.png", f))) continue;
    ++written;
    test::ParsedTrace mine = trace;
    std::erase_if(mine.events, [&](const test::TraceEvent& e) { return e.args.value("frame", -1) != static_cast<int>(f); });
    test::ExpectedTiles expected;
    for (int s = 1; s <= 2; ++s) expected[{static_cast<int>(f), s}] = TileGrid({160, 120}, {16, 16});
    EXPECT_EQ(test::tile_coverage(mine, expected), "") << "frame " << f;
    EXPECT_EQ(mine.tasks(), 2u * 80u + 2u) << "frame " << f << ": load, 2 x 80 tiles, store";
  }
  EXPECT_LT(written, frames.size()) << "the run finished before the interrupt: the test tests less than it says";
}

TEST_F(TraceCommand, TraceIntoAMissingFolderIsAUsageError) {
  write_inputs({{"a", clean({20, 10}, CV_8UC1, 1)}});
  const test::Outcome outcome = test::run_tilefork(
      {"run", "-p", "invert", "--trace", dir_ / "nowhere/t.json", "-o", dir_ / "out", dir_ / "in"}, dir_);
  EXPECT_EQ(outcome.code, 2) << outcome.err;
  EXPECT_NE(outcome.err.find("nowhere"), std::string::npos) << outcome.err;
  EXPECT_FALSE(fs::exists(dir_ / "out/a.png")) << "nothing runs after a usage error";
}

}  // namespace
}  // namespace tilefork
