// `tilefork top` end to end: it finds a running job through the run registry, attaches read-only
// from another process and reads progress that grows; refuses what it cannot watch with a message
// that says why; and nothing (entry, segment) is left once the run is over.
#include "common/batch.hpp"
#include "common/cli.hpp"
#include "common/frames.hpp"
#include "common/shm_census.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <thread>

namespace fs = std::filesystem;

namespace tilefork {
namespace {

using namespace std::chrono_literals;
using test::EnvChange;
using test::Outcome;
using test::TempDir;

constexpr int kFrames = 80;
constexpr int kWorkers = 2;

// A batch slow enough to watch (TILEFORK_STALL pauses every task up to 30 ms), with a registry
// of its own (XDG_RUNTIME_DIR), so tests running at the same time never see each other's runs.
class Top : public ::testing::Test {
 protected:
  void SetUp() override {
    before_ = test::ShmCensus::take();
    fs::create_directories(dir_.path() / "in");
    for (int i = 0; i < kFrames; ++i) {
      cv::imwrite(dir_ / fmt::format("in/f{:03}.png", i), test::random_frame({64, 48}, CV_8UC3, static_cast<unsigned>(i)));
    }
    fs::create_directory(runtime());
    fs::permissions(runtime(), fs::perms::owner_all, fs::perm_options::replace);
  }

  void TearDown() override {
    // A segment outlives its run only while a watcher is attached; every watcher has exited here.
    std::vector<std::string> leaked;
    for (int attempt = 0; attempt < 50; ++attempt) {
      leaked = test::ShmCensus::take().leaked_since(before_);
      if (leaked.empty()) break;
      std::this_thread::sleep_for(100ms);  // workers of a SIGKILLed coordinator are still dying
    }
    EXPECT_EQ(leaked, std::vector<std::string>{});
  }

  fs::path runtime() const { return dir_.path() / "runtime"; }
  fs::path registry() const { return runtime() / "tilefork"; }
  std::vector<EnvChange> env() const { return {{"XDG_RUNTIME_DIR", runtime().string()}}; }

  pid_t start_run(const std::string& backend) {
    std::vector<EnvChange> changes = env();
    changes.emplace_back("TILEFORK_STALL", "30000");
    return test::start_tilefork({"run", "-p", "gaussian sigma=1", "--workers", std::to_string(kWorkers), "--backend",
                                 backend, "-q", "-o", dir_ / "out", dir_ / "in"},
                                run_scratch_, {}, changes);
  }

  Outcome top(const std::vector<std::string>& args) {
    std::vector<std::string> all{"top"};
    all.insert(all.end(), args.begin(), args.end());
    return test::run_tilefork(all, top_scratch_, {}, env());
  }

  // Waits until the run's entry appears; false if the run ended or 30 s went by first.
  bool wait_for_entry(pid_t run) const {
    for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
      if (fs::exists(registry() / fmt::format("{}.json", run))) return true;
      if (!test::pid_alive(run)) return false;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  std::vector<std::string> registry_files() const {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(registry(), error)) names.push_back(entry.path().filename());
    return names;
  }

  TempDir dir_;
  TempDir run_scratch_;
  TempDir top_scratch_;
  test::ShmCensus before_;
};

class TopBackend : public Top, public ::testing::WithParamInterface<std::string> {};

TEST_P(TopBackend, ReadsGrowingProgressOfARunningJobFromAnotherProcess) {
  const pid_t run = start_run(GetParam());
  ASSERT_TRUE(wait_for_entry(run)) << test::slurp(run_scratch_ / "stderr.txt");
  std::vector<nlohmann::json> snapshots;
  bool saw_all_workers = false;
  while (test::pid_alive(run)) {
    // The run's children, listed on both sides of the look: a worker started during it is in the
    // second list, one that left as the run ended (on a loaded machine top may take a while) in
    // the first.
    std::vector<pid_t> children = test::children_of(run);
    const Outcome outcome = top({"--once", "--json", std::to_string(run)});
    for (const pid_t child : test::children_of(run)) children.push_back(child);
    if (outcome.code != 0) {
      // Only the end of the run may stop a look (exit code 1: it is not running any more).
      EXPECT_EQ(outcome.code, 1) << outcome.err;
      break;
    }
    const nlohmann::json snapshot = nlohmann::json::parse(outcome.out);
    snapshots.push_back(snapshot);
    EXPECT_EQ(snapshot.at("pid"), run);
    EXPECT_EQ(snapshot.at("backend"), GetParam());
    EXPECT_EQ(snapshot.at("items_total"), kFrames);
    EXPECT_EQ(snapshot.at("pipeline").get<std::string>().rfind("gaussian", 0), 0u) << snapshot.at("pipeline");
    ASSERT_EQ(snapshot.at("workers").size(), static_cast<std::size_t>(kWorkers));
    if (snapshot.at("state") == "running" && snapshot.at("items_finished") < kFrames) {
      // While items remain, the workers it shows are the run's own children.
      std::vector<pid_t> shown;
      for (const auto& worker : snapshot.at("workers")) {
        const auto pid = worker.at("pid").get<pid_t>();
        if (pid == 0) continue;  // not started yet
        shown.push_back(pid);
        EXPECT_NE(std::find(children.begin(), children.end(), pid), children.end())
            << "worker pid " << pid << " is not a child of run " << run;
        EXPECT_GE(worker.at("busy_percent").get<double>(), 0.0);
        EXPECT_LE(worker.at("busy_percent").get<double>(), 100.0);
      }
      std::sort(shown.begin(), shown.end());
      saw_all_workers |= shown.size() == kWorkers && std::adjacent_find(shown.begin(), shown.end()) == shown.end();
    }
    std::this_thread::sleep_for(100ms);
  }
  const Outcome result = test::wait_tilefork(run, run_scratch_);
  EXPECT_EQ(result.code, 0) << result.err;

  ASSERT_GE(snapshots.size(), 3u) << "the run ended before top could look three times";
  for (std::size_t i = 1; i < snapshots.size(); ++i) {
    EXPECT_GE(snapshots[i].at("items_finished"), snapshots[i - 1].at("items_finished")) << "look " << i;
    EXPECT_GE(snapshots[i].at("megapixels"), snapshots[i - 1].at("megapixels")) << "look " << i;
  }
  EXPECT_GT(snapshots.back().at("items_finished"), snapshots.front().at("items_finished"));
  EXPECT_TRUE(saw_all_workers);

  // The run is over: its entry is gone, and top says it is not running.
  EXPECT_EQ(registry_files(), std::vector<std::string>{});
  const Outcome after = top({"--once", std::to_string(run)});
  EXPECT_EQ(after.code, 1) << after.err;
  EXPECT_NE(after.err.find(fmt::format("no tilefork run with pid {} is running", run)), std::string::npos) << after.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, TopBackend, ::testing::Values("sysv", "posix"),
                         [](const auto& param_info) { return param_info.param; });

TEST_F(Top, WithoutPidFollowsTheOnlyRunUntilItEnds) {
  const pid_t run = start_run("sysv");
  ASSERT_TRUE(wait_for_entry(run)) << test::slurp(run_scratch_ / "stderr.txt");
  const Outcome watched = top({"--interval", "0.2"});  // returns when the run ends
  const Outcome result = test::wait_tilefork(run, run_scratch_);
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(watched.code, 0) << watched.err;
  // Not a terminal: one block per refresh, the last one saying the run finished with every frame.
  EXPECT_GE(test::count_lines_with(watched.out, fmt::format("tilefork run {}: running", run)), 2u) << watched.out;
  EXPECT_EQ(test::count_lines_with(watched.out, fmt::format("tilefork run {}: finished", run)), 1u) << watched.out;
  EXPECT_NE(watched.out.find(fmt::format("progress  {}/{} frames (100.0%)", kFrames, kFrames)), std::string::npos)
      << watched.out;
  EXPECT_EQ(registry_files(), std::vector<std::string>{});
}

TEST_F(Top, SaysClearlyWhenNothingRuns) {
  const Outcome none = top({"--once"});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("no tilefork run of yours is running"), std::string::npos) << none.err;

  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  const Outcome dead = top({"--once", std::to_string(gone)});
  EXPECT_EQ(dead.code, 1);
  EXPECT_NE(dead.err.find(fmt::format("no tilefork run with pid {} is running", gone)), std::string::npos) << dead.err;
}

TEST_F(Top, AnonRunIsRefusedWithAHintAndAnInterruptedRunRemovesItsEntry) {
  const pid_t run = start_run("anon");
  ASSERT_TRUE(wait_for_entry(run)) << test::slurp(run_scratch_ / "stderr.txt");
  const Outcome refused = top({"--once", std::to_string(run)});
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("--backend anon"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--backend sysv"), std::string::npos) << refused.err;
  ::kill(run, SIGTERM);
  const Outcome result = test::wait_tilefork(run, run_scratch_);
  EXPECT_EQ(result.code, 130) << result.err;
  EXPECT_EQ(registry_files(), std::vector<std::string>{});
}

// What a terminal sends the whole process group when it closes (SIGHUP) or on Ctrl-backslash
// (SIGQUIT) ends the run like Ctrl-C: exit code 130, the registry entry removed, the workers
// gone with the coordinator (they ignore both), no partial output.
TEST_F(Top, HangUpOrQuitToTheWholeGroupEndsTheRunLikeAnInterrupt) {
  for (const int signal : {SIGHUP, SIGQUIT}) {
    const pid_t run = start_run("sysv");
    ASSERT_TRUE(wait_for_entry(run)) << test::slurp(run_scratch_ / "stderr.txt");
    std::vector<pid_t> workers;
    for (int attempt = 0; attempt < 100 && workers.size() < kWorkers; ++attempt) {
      workers = test::children_of(run);
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(workers.size(), static_cast<std::size_t>(kWorkers));
    // To every process of the run, as a terminal does to its foreground group.
    for (const pid_t worker : workers) ::kill(worker, signal);
    ::kill(run, signal);
    const Outcome result = test::wait_tilefork(run, run_scratch_);
    EXPECT_EQ(result.code, 130) << strsignal(signal) << ": " << result.err;
    EXPECT_EQ(registry_files(), std::vector<std::string>{}) << strsignal(signal);
    for (const pid_t worker : workers) {
      for (int attempt = 0; attempt < 100 && test::pid_alive(worker); ++attempt) std::this_thread::sleep_for(20ms);
      EXPECT_FALSE(test::pid_alive(worker)) << strsignal(signal) << ": worker " << worker << " outlived its run";
    }
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(dir_.path() / "out", error)) {
      EXPECT_NE(entry.path().filename().string().front(), '.') << "temporary file left: " << entry.path();
    }
  }
}

TEST_F(Top, EntryOfAKilledRunIsRemovedByTheNextLook) {
  const pid_t run = start_run("sysv");
  ASSERT_TRUE(wait_for_entry(run)) << test::slurp(run_scratch_ / "stderr.txt");
  ::kill(run, SIGKILL);
  test::wait_tilefork(run, run_scratch_);
  EXPECT_EQ(registry_files(), std::vector<std::string>{fmt::format("{}.json", run)});  // SIGKILL cannot clean up
  const Outcome none = top({"--once"});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("no tilefork run of yours is running"), std::string::npos) << none.err;
  EXPECT_EQ(registry_files(), std::vector<std::string>{});
}

// Root's run, watched by user nobody: the kernel refuses the segment (mode 0600) and top says
// whose run it is and what to do. Needs root to become nobody.
class TopOtherUser : public Top, public ::testing::WithParamInterface<std::string> {};

TEST_P(TopOtherUser, RunOfAnotherUserIsRefusedWithWhoseItIs) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root, to watch as user nobody";
  const pid_t run = start_run(GetParam());
  ASSERT_TRUE(wait_for_entry(run)) << test::slurp(run_scratch_ / "stderr.txt");
  const std::string out = top_scratch_ / "nobody.out";
  const std::string err = top_scratch_ / "nobody.err";
  std::fflush(nullptr);
  const pid_t watcher = fork();
  if (watcher == 0) {
    // Open the output files as root, then become nobody, then run top with nobody's own registry.
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0 || err_fd < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(120);
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(121);
    unsetenv("XDG_RUNTIME_DIR");
    const std::string pid = std::to_string(run);
    execl(TILEFORK_BINARY, TILEFORK_BINARY, "top", "--once", pid.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(watcher, &status, 0);
  ::kill(run, SIGTERM);
  test::wait_tilefork(run, run_scratch_);
  const std::string message = test::slurp(err);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 2) << message;
  EXPECT_NE(message.find(fmt::format("cannot watch run {}: it belongs to user root", run)), std::string::npos) << message;
  EXPECT_NE(message.find("sudo -u root tilefork top"), std::string::npos) << message;
  if (GetParam() == "sysv") {
    // The refusal is the kernel's: shmat of a 0600 segment by another user.
    EXPECT_NE(message.find("Permission denied"), std::string::npos) << message;
    EXPECT_NE(message.find("SHM_RDONLY"), std::string::npos) << message;
  }
  EXPECT_EQ(test::slurp(out), "");
  EXPECT_EQ(registry_files(), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(Backends, TopOtherUser, ::testing::Values("sysv", "posix"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace tilefork
