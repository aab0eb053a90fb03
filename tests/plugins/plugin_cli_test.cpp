// Plugins through the `tilefork` command: the sample plugin equals its OpenCV oracle under every
// executor, plugin kernels are listed, each way loading can fail exits 2 naming the culprit before
// any pixel is touched, and a kernel that throws costs its frame only.
#include "common/batch.hpp"
#include "common/cli.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "common/shm_census.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tilefork {
namespace {

using test::Outcome;
using test::slurp;

// Runs tilefork with TILEFORK_PLUGIN_PATH set to `plugin_path` (unset when null, whatever the
// caller's environment says).
Outcome tilefork(const std::vector<std::string>& args, const test::TempDir& scratch,
                 const char* plugin_path = nullptr) {
  return test::run_tilefork(args, scratch, {},
                            {{"TILEFORK_PLUGIN_PATH", plugin_path ? std::optional<std::string>(plugin_path) : std::nullopt}});
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

using test::count_lines_with;

// The sample's emboss written out with plain OpenCV: the pixel plus `strength` times the step from
// the neighbour towards the light to the one away from it, 3x3 correlation, reflect-101 border.
cv::Mat emboss_oracle(const cv::Mat& input, double strength, const std::string& light) {
  static const std::map<std::string, cv::Point> kTowardsLight = {
      {"nw", {-1, -1}}, {"n", {0, -1}}, {"ne", {1, -1}}, {"w", {-1, 0}},
      {"e", {1, 0}},    {"sw", {-1, 1}}, {"s", {0, 1}},  {"se", {1, 1}}};
  const cv::Point towards = kTowardsLight.at(light);
  cv::Mat weights = cv::Mat::zeros(3, 3, CV_32F);
  weights.at<float>(1, 1) = 1;
  weights.at<float>(1 - towards.y, 1 - towards.x) = static_cast<float>(strength);
  weights.at<float>(1 + towards.y, 1 + towards.x) = -static_cast<float>(strength);
  cv::Mat output;
  cv::filter2D(input, output, -1, weights, {-1, -1}, 0, cv::BORDER_REFLECT_101);
  return output;
}

std::string file_name(const std::string& path) { return fs::path(path).filename().string(); }

class PluginCli : public ::testing::Test {
 protected:
  void SetUp() override { before_ = test::ShmCensus::take(); }
  void TearDown() override {
    EXPECT_EQ(test::ShmCensus::take().leaked_since(before_), std::vector<std::string>{});
  }
  // Asserts a usage error (exit 2) whose message holds every one of `needles`, and that the
  // run's output folder `out` was never made: nothing ran.
  void expect_usage_error(const Outcome& result, const std::vector<std::string>& needles,
                          const std::string& out = {}) {
    EXPECT_EQ(result.code, 2) << result.err;
    for (const auto& needle : needles) EXPECT_TRUE(contains(result.err, needle)) << "no '" << needle << "' in:\n" << result.err;
    if (!out.empty()) {
      EXPECT_FALSE(fs::exists(out)) << "a pixel was touched before the plugin error";
    }
  }
  std::string frames() const { return std::string(TILEFORK_SAMPLES) + "/frames"; }

  test::TempDir dir_;
  test::ShmCensus before_;
};

TEST_F(PluginCli, SamplePluginEqualsOracleUnderEveryExecutor) {
  const auto items = test::write_batch(dir_,
                                       {{"photo", test::sample_photo("LadyBird.jpg", {301, 197})},
                                        {"gray16", test::photo_like_frame({97, 61}, CV_16UC1, 2)},
                                        {"rgba", test::photo_like_frame({40, 33}, CV_8UC4, 3)},
                                        {"tiny", test::random_frame({1, 1}, CV_8UC3, 4)}},
                                       "unused");
  struct Case {
    std::string pipeline;
    std::function<cv::Mat(const cv::Mat&)> oracle;
  };
  const std::vector<Case> cases = {
      {"emboss", [](const cv::Mat& in) { return emboss_oracle(in, 1, "nw"); }},
      {"emboss strength=2.5 light=se", [](const cv::Mat& in) { return emboss_oracle(in, 2.5, "se"); }},
      {"gaussian sigma=1 | emboss light=n strength=0.75",
       [](const cv::Mat& in) { return emboss_oracle(test::oracle("gaussian sigma=1", in), 0.75, "n"); }},
  };
  for (const std::string& executor : std::vector<std::string>{"fork", "threads", "serial"}) {
    for (std::size_t c = 0; c < cases.size(); ++c) {
      const std::string out = dir_ / ("out-" + executor + "-" + std::to_string(c));
      std::vector<std::string> args{"run", "--plugin", EMBOSS_PLUGIN, "-p", cases[c].pipeline, "--executor", executor,
                                    "--tile", "37x23", "--workers", "2", "-q", "-o", out};
      for (const auto& item : items) args.push_back(item.input);
      const auto result = tilefork(args, dir_);
      ASSERT_EQ(result.code, 0) << executor << " \"" << cases[c].pipeline << "\": " << result.err;
      for (const auto& item : items) {
        const cv::Mat input = cv::imread(item.input, cv::IMREAD_UNCHANGED);
        const cv::Mat actual = cv::imread(out + "/" + file_name(item.input), cv::IMREAD_UNCHANGED);
        EXPECT_EQ(test::difference(cases[c].oracle(input), actual), "")
            << executor << " \"" << cases[c].pipeline << "\" on " << test::describe(input);
      }
    }
  }
}

TEST_F(PluginCli, KernelWrittenInCEqualsOracle) {
  const auto items = test::write_batch(dir_,
                                       {{"photo", test::sample_photo("Storm.jpg", {123, 77})},
                                        {"gray", test::random_frame({65, 31}, CV_8UC1, 5)}},
                                       "unused");
  for (const int value : {-20, 100}) {
    const std::string out = dir_ / ("out" + std::to_string(value));
    const auto result = tilefork({"run", "--plugin", C_ADD_PLUGIN, "-p", "c_add value=" + std::to_string(value),
                                  "--tile", "16x16", "--workers", "2", "-q", "-o", out, items[0].input, items[1].input},
                                 dir_);
    ASSERT_EQ(result.code, 0) << result.err;
    for (const auto& item : items) {
      const cv::Mat input = cv::imread(item.input, cv::IMREAD_UNCHANGED);
      cv::Mat expected;
      cv::add(input, cv::Scalar::all(value), expected);
      const cv::Mat actual = cv::imread(out + "/" + file_name(item.input), cv::IMREAD_UNCHANGED);
      EXPECT_EQ(test::difference(expected, actual), "") << "value=" << value << " on " << test::describe(input);
    }
  }
}

TEST_F(PluginCli, KernelsListsPluginKernelsWithThePluginOptionBeforeOrAfter) {
  const auto list = tilefork({"kernels", "--plugin", EMBOSS_PLUGIN, "--plugin", C_ADD_PLUGIN}, dir_);
  ASSERT_EQ(list.code, 0) << list.err;
  for (const char* line : {"emboss ", "relief lit from one side", "c_add ", "gaussian "}) {
    EXPECT_TRUE(contains(list.out, line)) << "no '" << line << "' in:\n" << list.out;
  }
  const auto one = tilefork({"--plugin", EMBOSS_PLUGIN, "kernels", "emboss"}, dir_);
  ASSERT_EQ(one.code, 0) << one.err;
  for (const char* text : {"strength", "0..8", "light", "nw|n|ne|w|e|sw|s|se", "where the light comes from"}) {
    EXPECT_TRUE(contains(one.out, text)) << "no '" << text << "' in:\n" << one.out;
  }
  const auto without = tilefork({"kernels"}, dir_);
  ASSERT_EQ(without.code, 0) << without.err;
  EXPECT_FALSE(contains(without.out, "emboss")) << without.out;
}

TEST_F(PluginCli, MissingFileIsNamed) {
  const std::string missing = dir_ / "no-such-plugin.so";
  const std::string out = dir_ / "out";
  expect_usage_error(tilefork({"run", "--plugin", missing, "-p", "invert", "-o", out, frames()}, dir_),
                     {"cannot load plugin '" + missing + "'", "no such file", "TILEFORK_PLUGIN_PATH"}, out);
}

TEST_F(PluginCli, FileThatIsNotALibraryIsNamed) {
  const std::string fake = dir_ / "fake.so";
  std::ofstream(fake) << "this is text, not a shared library";
  const std::string out = dir_ / "out";
  expect_usage_error(tilefork({"run", "-p", "invert", "--plugin", fake, "-o", out, frames()}, dir_),
                     {"cannot load plugin '" + fake + "'"}, out);
}

TEST_F(PluginCli, LibraryWithoutTheEntryPointIsNamed) {
  const std::string out = dir_ / "out";
  expect_usage_error(tilefork({"run", "--plugin", NO_ENTRY_PLUGIN, "-p", "invert", "-o", out, frames()}, dir_),
                     {std::string("plugin '") + NO_ENTRY_PLUGIN + "'", "no entry point 'tilefork_plugin'"}, out);
}

TEST_F(PluginCli, WrongAbiVersionIsRefusedBeforeTheTableIsRead) {
  // The plugin's other members are bogus pointers: reading one would crash instead of exit 2.
  const std::string out = dir_ / "out";
  expect_usage_error(tilefork({"run", "--plugin", WRONG_ABI_PLUGIN, "-p", "invert", "-o", out, frames()}, dir_),
                     {std::string("plugin '") + WRONG_ABI_PLUGIN + "'", "built for plugin ABI 42",
                      "this tilefork speaks 1", "rebuild it"},
                     out);
}

TEST_F(PluginCli, KernelNameTakenByABuiltInIsNamed) {
  const std::string out = dir_ / "out";
  expect_usage_error(tilefork({"run", "--plugin", TAKEN_NAME_PLUGIN, "-p", "gaussian", "-o", out, frames()}, dir_),
                     {std::string("plugin '") + TAKEN_NAME_PLUGIN + "'", "kernel 'gaussian'", "taken by a built-in"},
                     out);
}

TEST_F(PluginCli, KernelNameTakenByAnotherPluginIsNamed) {
  // Two copies of one plugin are two files (two inodes): the second one's kernel name is taken.
  fs::create_directories(dir_ / "a");
  fs::create_directories(dir_ / "b");
  fs::copy_file(EMBOSS_PLUGIN, dir_ / "a/libemboss.so");
  fs::copy_file(EMBOSS_PLUGIN, dir_ / "b/libemboss.so");
  expect_usage_error(tilefork({"kernels", "--plugin", dir_ / "a/libemboss.so", "--plugin", dir_ / "b/libemboss.so"}, dir_),
                     {"plugin '" + dir_ / "b/libemboss.so" + "'", "kernel 'emboss'",
                      "taken by plugin 'emboss' (" + dir_ / "a/libemboss.so" + ")"});
}

TEST_F(PluginCli, TheSameFileTwiceIsLoadedOnce) {
  const auto twice = tilefork({"kernels", "--plugin", EMBOSS_PLUGIN, "--plugin", EMBOSS_PLUGIN}, dir_, EMBOSS_PLUGIN);
  EXPECT_EQ(twice.code, 0) << twice.err;
  EXPECT_EQ(count_lines_with(twice.out, "emboss "), 1u) << twice.out;
}

TEST_F(PluginCli, PluginPathVariableLoadsFilesAndFolders) {
  fs::create_directories(dir_ / "plugins");
  fs::copy_file(EMBOSS_PLUGIN, dir_ / "plugins/libemboss.so");
  fs::copy_file(C_ADD_PLUGIN, dir_ / "plugins/libc_add.so");
  std::ofstream(dir_ / "plugins/README.txt") << "not a plugin: not a .so, so not loaded";
  const auto folder = tilefork({"kernels"}, dir_, (dir_ / "plugins").c_str());
  ASSERT_EQ(folder.code, 0) << folder.err;
  EXPECT_TRUE(contains(folder.out, "emboss ")) << folder.out;
  EXPECT_TRUE(contains(folder.out, "c_add ")) << folder.out;

  const std::string list = std::string(":") + PICKY_PLUGIN + "::" + C_ADD_PLUGIN + ":";
  const auto files = tilefork({"kernels"}, dir_, list.c_str());
  ASSERT_EQ(files.code, 0) << files.err;
  EXPECT_TRUE(contains(files.out, "picky ")) << files.out;
  EXPECT_TRUE(contains(files.out, "c_add ")) << files.out;

  // And a run uses them like --plugin.
  const std::string out = dir_ / "out";
  const auto run = tilefork({"run", "-p", "c_add value=1", "-q", "-o", out, frames() + "/Storm.jpg"}, dir_,
                            (dir_ / "plugins").c_str());
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(fs::exists(out + "/Storm.jpg"));
}

TEST_F(PluginCli, PluginPathVariableErrorsNameTheVariable) {
  const std::string missing = dir_ / "gone.so";
  const std::string out = dir_ / "out";
  expect_usage_error(tilefork({"run", "-p", "invert", "-o", out, frames()}, dir_, (std::string(EMBOSS_PLUGIN) + ":" + missing).c_str()),
                     {"TILEFORK_PLUGIN_PATH", "cannot load plugin '" + missing + "'"}, out);
  expect_usage_error(tilefork({"kernels"}, dir_, WRONG_ABI_PLUGIN), {"TILEFORK_PLUGIN_PATH", "built for plugin ABI 42"});
}

TEST_F(PluginCli, KernelThatThrowsFailsItsFrameOnlyUnderEveryExecutor) {
  auto clean = [](cv::Mat frame) {
    frame.setTo(78, frame == 77);
    return frame;
  };
  cv::Mat poisoned = clean(test::random_frame({90, 70}, CV_8UC1, 7));
  poisoned.at<unsigned char>(40, 5) = 77;
  const auto items = test::write_batch(dir_,
                                       {{"a", clean(test::random_frame({64, 48}, CV_8UC1, 6))},
                                        {"b", poisoned},
                                        {"c", clean(test::photo_like_frame({33, 50}, CV_8UC1, 8))}},
                                       "unused");
  for (const std::string& executor : std::vector<std::string>{"fork", "threads", "serial"}) {
    const std::string out = dir_ / ("out-" + executor);
    const auto result = tilefork({"run", "--plugin", PICKY_PLUGIN, "-p", "picky", "--executor", executor, "--tile",
                                  "16x16", "--workers", "2", "-o", out, items[0].input, items[1].input, items[2].input},
                                 dir_);
    EXPECT_EQ(result.code, 3) << executor << ": " << result.err;
    EXPECT_EQ(count_lines_with(result.err, "tilefork: error:"), 1u) << executor << ": " << result.err;
    EXPECT_EQ(count_lines_with(result.err, "b.png"), 1u) << executor << ": " << result.err;
    EXPECT_TRUE(contains(result.err, "stage 1 (picky)")) << executor << ": " << result.err;
    EXPECT_TRUE(contains(result.err, "picky: found the poison value 77")) << executor << ": " << result.err;
    EXPECT_FALSE(fs::exists(out + "/b.png")) << executor;
    for (const std::size_t i : {0u, 2u}) {
      const cv::Mat input = cv::imread(items[i].input, cv::IMREAD_UNCHANGED);
      const cv::Mat output = cv::imread(out + "/" + file_name(items[i].input), cv::IMREAD_UNCHANGED);
      EXPECT_EQ(test::difference(input, output), "") << executor << " " << items[i].input;
    }
  }
}

// A plugin kernel that segfaults, aborts or hangs on one tile costs that frame: the worker is
// replaced, the tile retried once, the frame reported with kernel, frame, tile and cause, and
// every other frame written; the exit code says the batch was partial.
TEST_F(PluginCli, KernelThatCrashesOrHangsCostsOneFrame) {
  auto clean = [](cv::Mat frame) {
    frame.setTo(14, frame == 13);
    return frame;
  };
  cv::Mat poisoned = clean(test::random_frame({90, 70}, CV_8UC1, 7));
  poisoned.at<unsigned char>(50, 60) = 13;
  const auto items = test::write_batch(dir_,
                                       {{"a", clean(test::random_frame({64, 48}, CV_8UC1, 6))},
                                        {"b", poisoned},
                                        {"c", clean(test::photo_like_frame({33, 50}, CV_8UC1, 8))}},
                                       "unused");
  const std::map<std::string, std::string> causes = {
      {"segfault", "signal 11"}, {"abort", "signal 6"}, {"hang", "task timeout"}};
  for (const auto& [how, cause] : causes) {
    const std::string out = dir_ / ("out-" + how);
    const auto result = tilefork({"run", "--plugin", CRASHY_PLUGIN, "-p", "crashy how=" + how, "--tile", "16x16",
                                  "--workers", "2", "--task-timeout", "1", "-o", out, items[0].input,
                                  items[1].input, items[2].input},
                                 dir_);
    EXPECT_EQ(result.code, 3) << how << ": " << result.err;
    EXPECT_EQ(count_lines_with(result.err, "tilefork: error:"), 1u) << how << ": " << result.err;
    for (const std::string& needle : {cause, std::string("stage 1 (crashy)"), std::string("(crashy), tile "),
                                      std::string("b.png"), std::string("giving up")}) {
      EXPECT_TRUE(contains(result.err, needle)) << how << ": '" << needle << "' missing from " << result.err;
    }
    EXPECT_TRUE(contains(result.err, "retrying it once")) << how << ": " << result.err;
    EXPECT_FALSE(fs::exists(out + "/b.png")) << how;
    for (const std::size_t i : {0u, 2u}) {
      const cv::Mat input = cv::imread(items[i].input, cv::IMREAD_UNCHANGED);
      const cv::Mat output = cv::imread(out + "/" + file_name(items[i].input), cv::IMREAD_UNCHANGED);
      EXPECT_EQ(test::difference(test::oracle("invert", input), output), "") << how << " " << items[i].input;
    }
  }
}

TEST_F(PluginCli, EveryKindOfExceptionBecomesAFrameError) {
  cv::Mat poisoned(20, 30, CV_8UC1, cv::Scalar(77));
  const auto items = test::write_batch(dir_, {{"p", poisoned}}, "unused");
  const std::map<std::string, std::string> messages = {
      {"opencv", "picky: found the poison value"}, {"other", "not a std::exception"}};
  for (const auto& [how, message] : messages) {
    const auto result = tilefork({"run", "--plugin", PICKY_PLUGIN, "-p", "picky how=" + how, "--workers", "2", "-o",
                                  dir_ / ("out-" + how), items[0].input},
                                 dir_);
    EXPECT_EQ(result.code, 3) << how << ": " << result.err;
    EXPECT_TRUE(contains(result.err, message)) << how << ": " << result.err;
    EXPECT_TRUE(contains(result.err, "stage 1 (picky)")) << how << ": " << result.err;
  }
}

}  // namespace
}  // namespace tilefork
