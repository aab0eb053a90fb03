// Crash isolation and clean endings of the fork executor: dead workers, killed coordinators,
// interrupts, corrupt inputs. Each test checks the segment is gone and no worker is left.
#include "common/batch.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "common/shm_census.hpp"
#include "common/test_kernels.hpp"
#include "tilefork/errors.hpp"
#include "tilefork/executor.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tilefork {
namespace {

// A colour frame whose first pixel is not test::kPoison: the test kernels invert it.
cv::Mat clean_frame(cv::Size size, unsigned seed) {
  cv::Mat frame = test::photo_like_frame(size, CV_8UC3, seed);
  frame.at<cv::Vec3b>(0, 0) = {200, 200, 200};
  return frame;
}

// Waits for `pid` and returns its wait status (-1 on error).
int wait_for(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

// True when every process in `pids` has gone, within `limit`.
bool all_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    bool alive = false;
    for (pid_t pid : pids) alive = alive || test::pid_alive(pid);
    if (!alive) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Waits until `parent` has at least `count` children and returns them.
std::vector<pid_t> wait_for_children(pid_t parent, std::size_t count) {
  for (int i = 0; i < 500; ++i) {
    auto children = test::children_of(parent);
    if (children.size() >= count) return children;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {};
}

class ForkSupervision : public test::ForkBackendTest {
 protected:

  RunReport run(const std::string& pipeline_text, const std::vector<WorkItem>& items, cv::Size tile = {0, 0},
               std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    RunOptions options;
    options.backend = GetParam();
    options.workers = 2;
    options.tile = tile;
    options.task_timeout = timeout;
    return run_forked(Pipeline::parse(pipeline_text), items, options);
  }

  test::TempDir dir_;
};

TEST_P(ForkSupervision, WorkerKilledByCrashIsReplacedAndTaskRetriedOnce) {
  const std::string marker = dir_ / "crashed-once";
  setenv("TILEFORK_TEST_MARKER", marker.c_str(), 1);
  const std::vector<std::pair<std::string, cv::Mat>> frames = {
      {"a", clean_frame({90, 70}, 1)}, {"poison", test::poison_frame({50, 40})}, {"b", clean_frame({33, 20}, 2)}};
  const auto items = test::write_batch(dir_, frames, "out");
  const RunReport report = run("crash_once", items);
  unsetenv("TILEFORK_TEST_MARKER");
  EXPECT_TRUE(fs::exists(marker)) << "the kernel never crashed: the test tests nothing";
  EXPECT_EQ(report.workers_replaced, 1);
  for (std::size_t i = 0; i < items.size(); ++i) {
    ASSERT_TRUE(report.items[i].ok) << items[i].input << ": " << report.items[i].error;
    EXPECT_EQ(test::difference(test::oracle("invert", frames[i].second), cv::imread(items[i].output, cv::IMREAD_UNCHANGED)), "");
  }
}

// A worker killed after counting a phase's last task and before publishing the next left its
// frame to wait forever, and the run with it (found by reading, reproduced by hand with gdb).
// The coordinator now takes the phase end over: every frame is written, and exactly.
TEST_P(ForkSupervision, WorkerKilledBetweenPhasesLeavesNoFrameWaiting) {
  const std::string marker = dir_ / "died-before-advance";
  std::vector<std::pair<std::string, cv::Mat>> frames;
  for (unsigned i = 0; i < 6; ++i) frames.emplace_back(fmt::format("f{}", i), clean_frame({90, 70}, i + 1));
  const auto items = test::write_batch(dir_, frames, "out");
  const char* const pipeline = "gaussian sigma=1 | invert";
  std::fflush(nullptr);
  const pid_t coordinator = fork();
  ASSERT_GE(coordinator, 0);
  if (coordinator == 0) {
    alarm(60);  // a frame left waiting would hang the run: fail by SIGALRM instead
    setenv("TILEFORK_TEST_DIE_BEFORE_ADVANCE", marker.c_str(), 1);
    const RunReport report = run(pipeline, items, {32, 32});
    _exit(report.failed() != 0 ? 1 : report.workers_replaced != 1 ? 2 : 0);
  }
  const int status = wait_for(coordinator);
  ASSERT_TRUE(WIFEXITED(status)) << "the run died of signal " << WTERMSIG(status) << " (14: it hung)";
  ASSERT_TRUE(fs::exists(marker)) << "no worker died before advancing: the test tests nothing";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: a frame failed, 2: not exactly one worker was replaced";
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(test::difference(test::oracle(pipeline, frames[i].second), cv::imread(items[i].output, cv::IMREAD_UNCHANGED)),
              "")
        << items[i].input;
  }
}

TEST_P(ForkSupervision, KernelThatAlwaysCrashesCostsOneFrame) {
  const std::vector<std::pair<std::string, cv::Mat>> frames = {
      {"a", clean_frame({90, 70}, 1)}, {"poison", test::poison_frame({50, 40})}, {"b", clean_frame({33, 20}, 2)}};
  const auto items = test::write_batch(dir_, frames, "out");
  const RunReport report = run("crash_always", items);
  EXPECT_TRUE(report.items[0].ok) << report.items[0].error;
  EXPECT_TRUE(report.items[2].ok) << report.items[2].error;
  ASSERT_FALSE(report.items[1].ok);
  const std::string& error = report.items[1].error;
  for (const char* part : {"killed by signal 11", "stage 1 (crash_always)", "tile 0", "frame 1", "poison.png"}) {
    EXPECT_NE(error.find(part), std::string::npos) << "'" << part << "' missing from: " << error;
  }
  EXPECT_EQ(report.workers_replaced, 2) << "one crash, one crash of the retry";
  EXPECT_FALSE(fs::exists(items[1].output)) << "a failed frame must leave no output";
  EXPECT_EQ(test::difference(test::oracle("invert", frames[2].second), cv::imread(items[2].output, cv::IMREAD_UNCHANGED)), "");
}

TEST_P(ForkSupervision, KernelThatAbortsCostsOneFrame) {
  const std::vector<std::pair<std::string, cv::Mat>> frames = {
      {"a", clean_frame({40, 30}, 1)}, {"poison", test::poison_frame({50, 40})}, {"b", clean_frame({33, 20}, 2)}};
  const auto items = test::write_batch(dir_, frames, "out");
  const RunReport report = run("aborts", items);
  EXPECT_TRUE(report.items[0].ok && report.items[2].ok);
  ASSERT_FALSE(report.items[1].ok);
  EXPECT_NE(report.items[1].error.find("signal 6"), std::string::npos) << report.items[1].error;
  EXPECT_NE(report.items[1].error.find("stage 1 (aborts)"), std::string::npos) << report.items[1].error;
}

TEST_P(ForkSupervision, KernelThatHangsIsKilledAtTheTimeoutAndCostsOneFrame) {
  const std::vector<std::pair<std::string, cv::Mat>> frames = {
      {"a", clean_frame({40, 30}, 1)}, {"poison", test::poison_frame({50, 40})}, {"b", clean_frame({33, 20}, 2)}};
  const auto items = test::write_batch(dir_, frames, "out");
  const auto start = std::chrono::steady_clock::now();
  const RunReport report = run("hangs", items, {0, 0}, std::chrono::milliseconds(400));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(report.items[0].ok && report.items[2].ok);
  ASSERT_FALSE(report.items[1].ok);
  EXPECT_NE(report.items[1].error.find("task timeout"), std::string::npos) << report.items[1].error;
  EXPECT_NE(report.items[1].error.find("stage 1 (hangs), tile 0"), std::string::npos) << report.items[1].error;
  EXPECT_EQ(report.workers_replaced, 2) << "the hung task and its retry";
  EXPECT_EQ(test::difference(test::oracle("invert", frames[2].second), cv::imread(items[2].output, cv::IMREAD_UNCHANGED)), "");
}

TEST_P(ForkSupervision, KernelExceptionCostsOneFrameAndNoWorker) {
  const std::vector<std::pair<std::string, cv::Mat>> frames = {
      {"poison", test::poison_frame({64, 64})}, {"a", clean_frame({70, 50}, 3)}};
  const auto items = test::write_batch(dir_, frames, "out");
  const RunReport report = run("throws", items, {16, 16});
  ASSERT_FALSE(report.items[0].ok);
  EXPECT_NE(report.items[0].error.find("bad pixel"), std::string::npos) << report.items[0].error;
  EXPECT_NE(report.items[0].error.find("stage 1 (throws)"), std::string::npos) << report.items[0].error;
  EXPECT_TRUE(report.items[1].ok) << report.items[1].error;
  EXPECT_EQ(report.workers_replaced, 0);
}

TEST_P(ForkSupervision, CorruptInputCostsOneFrame) {
  const std::vector<std::pair<std::string, cv::Mat>> frames = {
      {"a", clean_frame({70, 50}, 3)}, {"corrupt", clean_frame({300, 200}, 4)}, {"b", clean_frame({20, 10}, 5)}};
  auto items = test::write_batch(dir_, frames, "out");
  {  // keep the header, ruin the pixel data
    std::fstream file(items[1].input, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(60);
    const std::string garbage(2000, '\x5a');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  const RunReport report = run("gaussian sigma=2", items, {64, 64});
  EXPECT_TRUE(report.items[0].ok) << report.items[0].error;
  EXPECT_TRUE(report.items[2].ok) << report.items[2].error;
  ASSERT_FALSE(report.items[1].ok);
  EXPECT_NE(report.items[1].error.find("corrupt.png"), std::string::npos) << report.items[1].error;
  EXPECT_FALSE(fs::exists(items[1].output));
}

// A batch slow enough (random stalls in workers) to be caught in the middle.
std::vector<WorkItem> slow_batch(const test::TempDir& dir, std::vector<std::pair<std::string, cv::Mat>>& frames) {
  for (int i = 0; i < 6; ++i) frames.push_back({fmt::format("f{}", i), clean_frame({160, 120}, 10 + i)});
  return test::write_batch(dir, frames, "out");
}

TEST_P(ForkSupervision, SigkilledCoordinatorLeavesNoSegmentAndNoWorker) {
  std::vector<std::pair<std::string, cv::Mat>> frames;
  const auto items = slow_batch(dir_, frames);
  const pid_t coordinator = fork();
  ASSERT_GE(coordinator, 0);
  if (coordinator == 0) {
    setenv("TILEFORK_STALL", "20000", 1);
    run("gaussian sigma=2 | invert", items, {16, 16});
    _exit(0);
  }
  const auto workers = wait_for_children(coordinator, 2);
  ASSERT_EQ(workers.size(), 2u) << "the coordinator did not start its workers";
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::kill(coordinator, SIGKILL);
  const int status = wait_for(coordinator);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_TRUE(all_gone(workers, std::chrono::seconds(5))) << "workers outlived their coordinator";
  for (const auto& item : items) {
    if (fs::exists(item.output)) {
      EXPECT_FALSE(cv::imread(item.output).empty()) << "partial output " << item.output;
    }
  }
  for (const auto& entry : fs::directory_iterator(dir_.path() / "out")) {
    EXPECT_NE(entry.path().filename().string().front(), '.') << "temporary file left: " << entry.path();
  }
}

TEST_P(ForkSupervision, InterruptStopsTheRunCleanly) {
  std::vector<std::pair<std::string, cv::Mat>> frames;
  const auto items = slow_batch(dir_, frames);
  const pid_t coordinator = fork();
  ASSERT_GE(coordinator, 0);
  if (coordinator == 0) {
    setenv("TILEFORK_STALL", "20000", 1);
    const RunReport report = run("gaussian sigma=2 | invert", items, {16, 16});
    _exit(report.interrupted ? 0 : 1);
  }
  const auto workers = wait_for_children(coordinator, 2);
  ASSERT_EQ(workers.size(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::kill(coordinator, SIGINT);
  const int status = wait_for(coordinator);
  ASSERT_TRUE(WIFEXITED(status)) << "coordinator died of " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the run did not report the interruption";
  EXPECT_TRUE(all_gone(workers, std::chrono::seconds(2)));
}

TEST_P(ForkSupervision, WorkerKilledFromOutsideMidRunStillGivesExactOutputs) {
  std::vector<std::pair<std::string, cv::Mat>> frames;
  const auto items = slow_batch(dir_, frames);
  const pid_t coordinator = fork();
  ASSERT_GE(coordinator, 0);
  if (coordinator == 0) {
    setenv("TILEFORK_STALL", "3000", 1);
    const RunReport report = run("gaussian sigma=2 | invert", items, {32, 32});
    int code = report.workers_replaced >= 1 ? 0 : 10;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!report.items[i].ok) {
        std::fprintf(stderr, "%s: %s\n", items[i].input.c_str(), report.items[i].error.c_str());
        code = 11;
      } else if (!test::difference(test::oracle("gaussian sigma=2 | invert", frames[i].second),
                                   cv::imread(items[i].output, cv::IMREAD_UNCHANGED)).empty()) {
        code = 12;
      }
    }
    _exit(code);
  }
  const auto workers = wait_for_children(coordinator, 2);
  ASSERT_EQ(workers.size(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  ::kill(workers[0], SIGKILL);
  const int status = wait_for(coordinator);
  ASSERT_TRUE(WIFEXITED(status)) << "coordinator died of " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: no worker replaced, 11: a frame failed, 12: output differs";
}

INSTANTIATE_TEST_SUITE_P(Backends, ForkSupervision, ::testing::Values(Backend::sysv, Backend::posix, Backend::anon),
                         [](const ::testing::TestParamInfo<Backend>& param_info) {
                           return std::string(to_string(param_info.param));
                         });

}  // namespace
}  // namespace tilefork
