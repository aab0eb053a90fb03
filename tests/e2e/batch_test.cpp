// Batch inputs and outputs through the command: nested folders, patterns, stdin lists, name
// templates, formats, existing outputs (refuse, overwrite, resume), --json and --dry-run.
#include "common/batch.hpp"
#include "common/cli.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "common/shm_census.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstring>
#include <pty.h>
#include <fmt/format.h>
#include <fstream>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tilefork {
namespace {

class Batch : public ::testing::Test {
 protected:
  void SetUp() override {
    before_ = test::ShmCensus::take();
    // in/top.png, in/a/one.png, in/a/b/two.png, in/a/b/notes.txt
    fs::create_directories(dir_.path() / "in/a/b");
    frames_ = {{"in/top.png", test::photo_like_frame({120, 90}, CV_8UC3, 1)},
               {"in/a/one.png", test::random_frame({61, 47}, CV_8UC1, 2)},
               {"in/a/b/two.png", test::photo_like_frame({33, 80}, CV_8UC3, 3)}};
    for (const auto& [name, frame] : frames_) ASSERT_TRUE(cv::imwrite(dir_ / name, frame));
    std::ofstream(dir_ / "in/a/b/notes.txt") << "not an image";
  }
  void TearDown() override {
    EXPECT_EQ(test::ShmCensus::take().leaked_since(before_), std::vector<std::string>{});
  }

  // The output at `relative` equals the oracle of `pipeline` on the frame written as `input`.
  void expect_output(const std::string& relative, const std::string& input, const std::string& pipeline) {
    const cv::Mat actual = cv::imread(dir_ / relative, cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(actual.empty()) << relative << " missing";
    const cv::Mat original = cv::imread(dir_ / input, cv::IMREAD_UNCHANGED);
    EXPECT_EQ(test::difference(test::oracle(pipeline, original), actual), "") << relative;
  }

  test::Outcome tilefork(const std::vector<std::string>& args, const std::string& input = {}) {
    return test::run_tilefork(args, dir_, input);
  }

  test::TempDir dir_;
  test::ShmCensus before_;
  std::vector<std::pair<std::string, cv::Mat>> frames_;
};

TEST_F(Batch, RecursiveFoldersAreMirrored) {
  const auto result = tilefork({"run", "-p", "box ksize=5", "-r", "-o", dir_ / "out", dir_ / "in"});
  ASSERT_EQ(result.code, 0) << result.err;
  expect_output("out/top.png", "in/top.png", "box ksize=5");
  expect_output("out/a/one.png", "in/a/one.png", "box ksize=5");
  expect_output("out/a/b/two.png", "in/a/b/two.png", "box ksize=5");
  const auto flat = tilefork({"run", "-p", "invert", "-o", dir_ / "flat", dir_ / "in"});
  ASSERT_EQ(flat.code, 0) << flat.err;
  EXPECT_TRUE(fs::exists(dir_ / "flat/top.png"));
  EXPECT_FALSE(fs::exists(dir_ / "flat/a")) << "without -r subfolders are not taken";
}

TEST_F(Batch, PatternsAndStandardInputLists) {
  const auto pattern = tilefork({"run", "-p", "invert", "-o", dir_ / "p", dir_ / "in/a/*/*.png"});
  ASSERT_EQ(pattern.code, 0) << pattern.err;
  expect_output("p/two.png", "in/a/b/two.png", "invert");
  EXPECT_FALSE(fs::exists(dir_ / "p/one.png"));
  const auto none = tilefork({"run", "-p", "invert", "-o", dir_ / "q", dir_ / "in/*.tif"});
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("matches no image files"), std::string::npos) << none.err;

  const auto listed = tilefork({"run", "-p", "invert", "-o", dir_ / "s", "-"},
                               (dir_ / "in/top.png") + "\n\n" + (dir_ / "in/a/one.png") + "\n");
  ASSERT_EQ(listed.code, 0) << listed.err;
  expect_output("s/top.png", "in/top.png", "invert");
  expect_output("s/one.png", "in/a/one.png", "invert");
}

TEST_F(Batch, NameTemplateAndFormat) {
  const auto result = tilefork({"run", "-p", "gray", "--name", "{index}-{stem}-{pipeline}.{ext}", "--format", "png",
                                "-o", dir_ / "n", dir_ / "in/top.png", dir_ / "in/a/one.png"});
  ASSERT_EQ(result.code, 0) << result.err;
  expect_output("n/00000-top-gray.png", "in/top.png", "gray");
  expect_output("n/00001-one-gray.png", "in/a/one.png", "gray");
  const auto jpeg = tilefork({"run", "-p", "invert", "--format", "jpg", "--quality", "60", "-o", dir_ / "j",
                              dir_ / "in/top.png"});
  ASSERT_EQ(jpeg.code, 0) << jpeg.err;
  std::vector<unsigned char> bytes;
  cv::imencode(".jpg", test::oracle("invert", frames_[0].second), bytes, {cv::IMWRITE_JPEG_QUALITY, 60});
  EXPECT_EQ(test::difference(cv::imdecode(bytes, cv::IMREAD_UNCHANGED), cv::imread(dir_ / "j/top.jpg", cv::IMREAD_UNCHANGED)), "");
  const auto clash = tilefork({"run", "-p", "invert", "--name", "same.png", "-o", dir_ / "c", dir_ / "in/top.png",
                               dir_ / "in/a/one.png"});
  EXPECT_EQ(clash.code, 2);
  EXPECT_NE(clash.err.find("would both be written to"), std::string::npos) << clash.err;
  const auto field = tilefork({"run", "-p", "invert", "--name", "{stemm}.png", "-o", dir_ / "c", dir_ / "in/top.png"});
  EXPECT_EQ(field.code, 2);
  EXPECT_NE(field.err.find("{stemm}"), std::string::npos) << field.err;
}

TEST_F(Batch, ExistingOutputsAreRefusedOverwrittenOrSkipped) {
  const std::vector<std::string> base = {"run", "-p", "invert", "-r", "-o", dir_ / "out", dir_ / "in"};
  ASSERT_EQ(tilefork(base).code, 0);
  const auto refused = tilefork(base);
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("exist already"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--overwrite"), std::string::npos);

  auto with = [&](const std::string& flag) {
    auto args = base;
    args.push_back(flag);
    args.push_back("--json");
    return tilefork(args);
  };
  // Touch one input: it is newer than its output now, so a resume redoes it and only it.
  fs::last_write_time(dir_ / "in/a/one.png", fs::file_time_type::clock::now() + std::chrono::seconds(5));
  const auto resumed = with("--skip-existing");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const auto summary = nlohmann::json::parse(resumed.out);
  EXPECT_EQ(summary["totals"]["skipped"], 2);
  EXPECT_EQ(summary["totals"]["ok"], 1);
  for (const auto& item : summary["items"]) {
    EXPECT_EQ(item["status"], item["input"].get<std::string>().ends_with("one.png") ? "ok" : "skipped") << item;
  }
  const auto overwritten = with("--overwrite");
  ASSERT_EQ(overwritten.code, 0) << overwritten.err;
  EXPECT_EQ(nlohmann::json::parse(overwritten.out)["totals"]["ok"], 3);
  expect_output("out/a/b/two.png", "in/a/b/two.png", "invert");
}

TEST_F(Batch, KilledRunResumedGivesTheSameBytes) {
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(cv::imwrite(dir_ / fmt::format("in/a/b/big{}.png", i), test::photo_like_frame({640, 480}, CV_8UC3, 10 + i)));
  }
  const std::vector<std::string> args = {"run", "-p", "gaussian sigma=2 | sobel", "-r", "-o", dir_ / "out", dir_ / "in"};
  const auto reference = tilefork({"run", "-p", "gaussian sigma=2 | sobel", "-r", "-o", dir_ / "ref", dir_ / "in"});
  ASSERT_EQ(reference.code, 0) << reference.err;
  // Start a slow run (random stalls in workers), kill the whole process group part-way.
  const pid_t pid = test::start_tilefork_group(args, {{"TILEFORK_STALL", "30000"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ASSERT_TRUE(WIFSIGNALED(test::kill_group(pid))) << "the run finished before it could be killed; make it slower";
  std::size_t written = 0;
  // On a loaded machine the kill can come before the output folder is made.
  fs::create_directories(dir_ / "out");
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "out")) {
    if (!entry.is_regular_file()) continue;
    EXPECT_NE(entry.path().filename().string().front(), '.') << "temporary left: " << entry.path();
    EXPECT_FALSE(cv::imread(entry.path().string()).empty()) << "partial output: " << entry.path();
    ++written;
  }
  auto resume = args;
  resume.push_back("--skip-existing");
  const auto resumed = tilefork(resume);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  std::size_t compared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "ref")) {
    if (!entry.is_regular_file()) continue;
    const fs::path relative = fs::relative(entry.path(), dir_ / "ref");
    EXPECT_EQ(test::slurp(entry.path().string()), test::slurp((dir_.path() / "out" / relative).string())) << relative;
    ++compared;
  }
  EXPECT_EQ(compared, 11u);
  RecordProperty("written_before_kill", static_cast<int>(written));
}

TEST_F(Batch, ProgressLinesWhenNotATerminalAndNothingWhenQuiet) {
  const auto lines = tilefork({"run", "-p", "invert", "-r", "--progress-interval", "0", "-o", dir_ / "a", dir_ / "in"});
  ASSERT_EQ(lines.code, 0) << lines.err;
  EXPECT_EQ(test::count_lines_with(lines.err, " inputs, "), 3u) << "one line per frame:\n" << lines.err;
  EXPECT_NE(lines.err.find("tilefork: 100% 3/3 inputs, "), std::string::npos) << lines.err;
  EXPECT_NE(lines.err.find(" MP/s, "), std::string::npos) << lines.err;
  EXPECT_EQ(lines.err.find('\r'), std::string::npos) << "no bar when stderr is a file";
  const auto paced = tilefork({"run", "-p", "invert", "-r", "-o", dir_ / "b", dir_ / "in"});
  ASSERT_EQ(paced.code, 0) << paced.err;
  EXPECT_EQ(test::count_lines_with(paced.err, " inputs, "), 0u) << "the default interval (10 s) is longer than this run";
  const auto quiet = tilefork({"run", "-p", "invert", "-r", "-q", "--progress-interval", "0", "-o", dir_ / "c", dir_ / "in"});
  ASSERT_EQ(quiet.code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
}

TEST_F(Batch, ProgressBarOnATerminal) {
  int terminal = -1;
  const std::string out = dir_ / "out";
  const std::string in = dir_ / "in";
  const pid_t pid = forkpty(&terminal, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    execl(TILEFORK_BINARY, TILEFORK_BINARY, "run", "-p", "box ksize=3", "-r", "-o", out.c_str(), in.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string screen;
  char buffer[4096];
  for (ssize_t n; (n = ::read(terminal, buffer, sizeof buffer)) > 0;) screen.append(buffer, static_cast<std::size_t>(n));
  ::close(terminal);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << screen;
  // Drawn in place ("\r", erase line, the bar) and erased before the summary line.
  EXPECT_NE(screen.find("\r\033[K["), std::string::npos) << screen;
  EXPECT_NE(screen.find("/3 inputs, "), std::string::npos) << screen;
  EXPECT_NE(screen.find("\r\033[Ktilefork: 3 of 3 inputs written"), std::string::npos) << screen;
}

TEST_F(Batch, DryRunPrintsThePlanAndWritesNothing) {
  const auto result = tilefork({"run", "-p", "gaussian sigma=2 | resize scale=0.5", "--dry-run", "-r", "-o",
                                dir_ / "out", dir_ / "in"});
  if (result.code == 2 && result.err.find("unknown kernel 'resize'") != std::string::npos) {
    GTEST_SKIP() << "resize kernel not built";
  }
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("inputs: 3 to do (3 frames)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("segment: sysv backend"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("two.png"), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

}  // namespace
}  // namespace tilefork
