// External worker programs end to end (docs/worker-protocol.md): `tilefork run --worker-exec`
// with the sample workers (samples/workers/invert.py in numpy, tilefork_sample_worker in C++)
// gives outputs equal to plain OpenCV on every backend that can share, worker count and tile
// size; a program that cannot be used is a usage error naming it; a program that dies, refuses
// or hangs on a frame costs that frame only; no segment and no program outlives a run.
#include "common/batch.hpp"
#include "common/cli.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "common/shm_census.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tilefork {
namespace {

// Debian's interpreter, the one python3-numpy is installed for (a `python3` earlier on PATH,
// e.g. a pyenv shim, may have no numpy).
const std::string kPython = "/usr/bin/python3";
const std::string kPythonSample = kPython + " " + TILEFORK_SAMPLES + "/workers/invert.py";
const std::string kCppSample = TILEFORK_SAMPLE_WORKER;
const std::string kPoisonWorker = kPython + " " + TILEFORK_TEST_WORKERS + "/poison_worker.py";

using test::count_lines_with;
using test::Outcome;
using test::slurp;

Outcome tilefork(const std::vector<std::string>& args, const test::TempDir& scratch) {
  return test::run_tilefork(args, scratch);
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> found;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(needle) != std::string::npos) found.push_back(line);
  }
  return found;
}

// Process ids whose command line contains `tag` (the tests append a unique tag to each program
// they pass to --worker-exec; the samples ignore their arguments).
std::vector<pid_t> processes_with(const std::string& tag) {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = slurp((entry.path() / "cmdline").string());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    const auto pid = static_cast<pid_t>(std::stoi(name));
    if (cmdline.find(tag) != std::string::npos && test::pid_alive(pid)) found.push_back(pid);
  }
  return found;
}

// --- the oracle of the external kernels, written out here with plain OpenCV -----------------

// py_invert: rint(255 - gain * v) in double, half to even, clipped to 0..255 (as invert.py
// states). std::nearbyint rounds half to even in the default rounding mode, like numpy.rint.
cv::Mat py_invert(const cv::Mat& in, double gain) {
  CV_Assert(in.depth() == CV_8U);
  cv::Mat out(in.size(), in.type());
  for (int y = 0; y < in.rows; ++y) {
    const uchar* s = in.ptr<uchar>(y);
    uchar* d = out.ptr<uchar>(y);
    for (int i = 0; i < in.cols * in.channels(); ++i) {
      const double product = gain * static_cast<double>(s[i]);
      const double value = std::nearbyint(255.0 - product);
      d[i] = static_cast<uchar>(std::clamp(value, 0.0, 255.0));
    }
  }
  return out;
}

// py_max3 and cpp_max3: the maximum of the in-frame 3x3 neighbourhood, i.e. cv::dilate with a
// 3x3 rectangle and its default border (the constant minimum, which never wins).
cv::Mat max3(const cv::Mat& in) {
  cv::Mat out;
  cv::dilate(in, out, cv::getStructuringElement(cv::MORPH_RECT, {3, 3}));
  return out;
}

// Runs `pipeline` stage by stage: the external kernels as above, the built-in ones through the
// shared oracle.
cv::Mat expected_output(const std::string& pipeline, const cv::Mat& input) {
  static const test::ExtraKernels external = {
      {"py_invert",
       [](const cv::Mat& in, const test::StageArgs& args) {
         const auto gain = args.find("gain");
         return py_invert(in, gain == args.end() ? 1.0 : std::stod(gain->second));
       }},
      {"cpp_invert",
       [](const cv::Mat& in, const test::StageArgs&) {
         cv::Mat out;
         cv::bitwise_not(in, out);
         return out;
       }},
      {"py_max3", [](const cv::Mat& in, const test::StageArgs&) { return max3(in); }},
      {"cpp_max3", [](const cv::Mat& in, const test::StageArgs&) { return max3(in); }},
  };
  return test::oracle(pipeline, input, external);
}

// ---------------------------------------------------------------------------------------------

class ExternalWorker : public ::testing::Test {
 protected:
  void SetUp() override { before_ = test::ShmCensus::take(); }
  void TearDown() override {
    EXPECT_EQ(test::ShmCensus::take().leaked_since(before_), std::vector<std::string>{});
    // Every program dies with its tilefork worker: none may be left once tilefork has exited.
    auto left = processes_with(tag());
    for (int wait = 0; wait < 50 && !left.empty(); ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      left = processes_with(tag());
    }
    EXPECT_EQ(left, std::vector<pid_t>{}) << "worker programs outlived the run";
  }

  // The tag that marks this test's programs: its scratch folder's name.
  std::string tag() const { return "tilefork-tag=" + dir_.path().filename().string(); }
  std::string tagged(const std::string& program) const { return program + " " + tag(); }

  // Writes `frames` as <dir>/in/<name>.png and returns their paths.
  std::vector<std::string> write_frames(const std::vector<std::pair<std::string, cv::Mat>>& frames) const {
    fs::create_directories(dir_.path() / "in");
    std::vector<std::string> paths;
    for (const auto& [name, frame] : frames) {
      paths.push_back(dir_ / ("in/" + name + ".png"));
      EXPECT_TRUE(cv::imwrite(paths.back(), frame)) << paths.back();
    }
    return paths;
  }

  // Checks <dir>/<out>/<name>.png against the oracle of `pipeline` on the frame as written.
  void expect_outputs(const std::vector<std::string>& inputs, const std::string& out, const std::string& pipeline) const {
    for (const auto& input : inputs) {
      const std::string output = dir_ / (out + "/" + fs::path(input).filename().string());
      ASSERT_TRUE(fs::exists(output)) << output;
      const cv::Mat frame = cv::imread(input, cv::IMREAD_UNCHANGED);
      const cv::Mat actual = cv::imread(output, cv::IMREAD_UNCHANGED);
      EXPECT_EQ(test::difference(expected_output(pipeline, frame), actual), "")
          << fs::path(input).filename() << " " << test::describe(frame) << " through " << pipeline;
    }
  }

  test::TempDir dir_;
  test::ShmCensus before_;
};

// Frames of both channel counts, odd sizes, a single pixel, a single row and column.
std::vector<std::pair<std::string, cv::Mat>> odd_frames() {
  return {{"scene", test::photo_like_frame({333, 217}, CV_8UC3, 1)},
          {"noise", test::random_frame({97, 61}, CV_8UC1, 2)},
          {"gray_scene", test::photo_like_frame({130, 71}, CV_8UC1, 3)},
          {"dot", test::random_frame({1, 1}, CV_8UC1, 4)},
          {"colour_dot", test::random_frame({1, 1}, CV_8UC3, 5)},
          {"row", test::random_frame({201, 1}, CV_8UC3, 6)},
          {"column", test::random_frame({1, 150}, CV_8UC1, 7)}};
}

// --- every sample x backend x workers x tile equals the oracle --------------------------------

struct Case {
  std::string language;  // "python" or "cpp"
  std::string backend;
  int workers;
  std::string tile;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.language << " sample, --backend " << c.backend << " --workers " << c.workers << " --tile " << c.tile;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.language + "_" + info.param.backend + "_w" + std::to_string(info.param.workers) + "_" + info.param.tile;
}

class ExternalWorkerSample : public ExternalWorker, public ::testing::WithParamInterface<Case> {};

TEST_P(ExternalWorkerSample, OutputsEqualTheOracle) {
  const Case& c = GetParam();
  const bool python = c.language == "python";
  const std::string program = python ? kPythonSample : kCppSample;
  // Both kernels of the program, the neighbourhood one between two pointwise ones so that its
  // halo reads what another tile of the previous stage wrote.
  const std::string pipeline = python ? "py_invert gain=1.5 | py_max3 | py_invert" : "cpp_invert | cpp_max3 | cpp_invert";
  const auto inputs = write_frames(odd_frames());
  std::vector<std::string> args{"run",     "--worker-exec", tagged(program), "-p", pipeline, "--backend", c.backend,
                                "--workers", std::to_string(c.workers), "--tile", c.tile, "-o", dir_ / "out"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  const auto result = tilefork(args, dir_);
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(count_lines_with(result.err, "error"), 0u) << result.err;
  expect_outputs(inputs, "out", pipeline);
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const char* language : {"python", "cpp"}) {
    for (const char* backend : {"sysv", "posix"}) {
      for (int workers : {1, 2}) {
        for (const char* tile : {"0x64", "37x23"}) cases.push_back({language, backend, workers, tile});
      }
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Samples, ExternalWorkerSample, ::testing::ValuesIn(all_cases()), case_name);

// --- built-in and external stages in one pipeline ---------------------------------------------

TEST_F(ExternalWorker, BuiltInAndExternalStagesMix) {
  const auto inputs = write_frames({{"scene", test::photo_like_frame({333, 217}, CV_8UC3, 11)},
                                    {"noise", test::random_frame({97, 61}, CV_8UC1, 12)},
                                    {"dot", test::random_frame({1, 1}, CV_8UC3, 13)}});
  int run = 0;
  for (const auto& [program, pipeline] : std::vector<std::pair<std::string, std::string>>{
           {kPythonSample, "gaussian sigma=1 | py_invert | box ksize=3"},
           {kPythonSample, "py_max3 | gaussian sigma=2 | py_invert gain=0.7 | sobel"},
           {kCppSample, "gaussian sigma=1 | cpp_invert | box ksize=3"},
           {kCppSample, "cpp_max3 | median ksize=3 | cpp_invert"}}) {
    const std::string folder = "out" + std::to_string(run++);
    std::vector<std::string> args{"run", "--worker-exec", tagged(program), "-p", pipeline, "--workers", "2",
                                  "--tile", "37x23", "-o", dir_ / folder};
    args.insert(args.end(), inputs.begin(), inputs.end());
    const auto result = tilefork(args, dir_);
    ASSERT_EQ(result.code, 0) << pipeline << ": " << result.err;
    expect_outputs(inputs, folder, pipeline);
  }
}

// --- what cannot be used is a usage error naming the culprit ----------------------------------

TEST_F(ExternalWorker, AnonBackendIsRefused) {
  const auto inputs = write_frames({{"a", test::random_frame({20, 10}, CV_8UC1, 1)}});
  const auto result = tilefork({"run", "--worker-exec", tagged(kPythonSample), "-p", "py_invert", "--backend", "anon",
                                "-o", dir_ / "out", inputs[0]},
                               dir_);
  EXPECT_EQ(result.code, 2) << result.err;
  EXPECT_NE(result.err.find("--backend"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "out/a.png"));
}

TEST_F(ExternalWorker, MissingProgramIsNamed) {
  const auto inputs = write_frames({{"a", test::random_frame({20, 10}, CV_8UC1, 1)}});
  const std::string missing = dir_ / "no-such-worker-program";
  const auto result = tilefork({"run", "--worker-exec", missing, "-p", "invert", "-o", dir_ / "out", inputs[0]}, dir_);
  EXPECT_EQ(result.code, 2) << result.err;
  EXPECT_NE(result.err.find(missing), std::string::npos) << result.err;
  const auto list = tilefork({"kernels", "--worker-exec", missing}, dir_);
  EXPECT_EQ(list.code, 2) << list.err;
  EXPECT_NE(list.err.find(missing), std::string::npos) << list.err;
}

TEST_F(ExternalWorker, MalformedHelloIsRefused) {
  const auto inputs = write_frames({{"a", test::random_frame({20, 10}, CV_8UC1, 1)}});
  const std::string kernel =
      R"({"name": "x_copy", "summary": "s", "halo": 0, "depths": ["8U"], "channels": [1], "params": []})";
  const std::vector<std::pair<std::string, std::string>> hellos{
      {"not_json", "hello, tilefork\n"},
      {"empty", ""},
      {"not_an_object", "[1, 2, 3]\n"},
      {"other_version", R"({"tilefork_worker": 2, "kernels": [)" + kernel + "]}\n"},
      {"no_kernels", R"({"tilefork_worker": 1})" "\n"},
      {"kernels_not_a_list", R"({"tilefork_worker": 1, "kernels": 5})" "\n"},
      {"nameless_kernel", R"({"tilefork_worker": 1, "kernels": [{"summary": "no name"}]})" "\n"},
      {"bad_depth", R"({"tilefork_worker": 1, "kernels": [{"name": "x_copy", "depths": ["64F"]}]})" "\n"},
      {"clashes_with_builtin", R"({"tilefork_worker": 1, "kernels": [{"name": "invert", "depths": ["8U"]}]})" "\n"},
  };
  for (const auto& [name, hello] : hellos) {
    const std::string file = dir_ / (name + ".hello");
    std::ofstream(file) << hello;
    // `cat` says the hello line and ends: malformed or not, nothing else is ever answered.
    const std::string program = "cat " + file;
    const auto result = tilefork({"run", "--worker-exec", program, "-p", "x_copy", "-o", dir_ / "out", inputs[0]}, dir_);
    EXPECT_EQ(result.code, 2) << name << ": " << result.err;
    // The message names the culprit: the program, or for a clash the kernel name.
    const std::string culprit = name == "clashes_with_builtin" ? "'invert'" : file;
    EXPECT_NE(result.err.find(culprit), std::string::npos) << name << ": " << result.err;
    EXPECT_FALSE(fs::exists(dir_ / "out/a.png")) << name;
  }
}

// --- a program that misbehaves on one frame costs that frame only -----------------------------

class ExternalWorkerPoison : public ExternalWorker, public ::testing::WithParamInterface<std::string> {
 protected:
  // Three good frames and `poisoned` (first byte `poison`), through py_invert on 2 workers.
  void run_with_poison(uchar poison, const std::string& expected_message, const std::vector<std::string>& extra = {}) {
    cv::Mat bad = test::photo_like_frame({150, 140}, CV_8UC3, 21);
    bad.at<cv::Vec3b>(0, 0) = {poison, poison, poison};
    std::vector<std::pair<std::string, cv::Mat>> frames{{"a", test::photo_like_frame({150, 140}, CV_8UC3, 22)},
                                                        {"b", test::random_frame({97, 61}, CV_8UC1, 23)},
                                                        {"poisoned", bad},
                                                        {"c", test::random_frame({64, 300}, CV_8UC3, 24)}};
    for (auto& [name, frame] : frames) {
      if (name == "poisoned") continue;
      uchar* first = frame.ptr<uchar>(0);
      if (*first >= 13 && *first <= 15) *first = 12;
    }
    const auto inputs = write_frames(frames);
    std::vector<std::string> args{"run",       "--worker-exec", tagged(kPoisonWorker), "-p", "py_invert",
                                  "--backend", GetParam(),      "--workers",           "2",  "-o",
                                  dir_ / "out"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), inputs.begin(), inputs.end());
    const auto result = tilefork(args, dir_);
    EXPECT_EQ(result.code, 3) << result.err;
    // One error line, for the poisoned frame (lines about killed and replaced workers may come
    // before it, naming the frame too: they are no error of the batch).
    const auto errors = lines_with(result.err, "error:");
    ASSERT_EQ(errors.size(), 1u) << result.err;
    EXPECT_NE(errors[0].find("poisoned.png"), std::string::npos) << result.err;
    if (!expected_message.empty()) {
      EXPECT_NE(result.err.find(expected_message), std::string::npos) << result.err;
    }
    EXPECT_FALSE(fs::exists(dir_ / "out/poisoned.png"));
    expect_outputs({inputs[0], inputs[1], inputs[3]}, "out", "py_invert");
  }
};

TEST_P(ExternalWorkerPoison, ProgramDyingOnAFrameCostsThatFrameOnly) { run_with_poison(13, ""); }

TEST_P(ExternalWorkerPoison, ProgramRefusingAFrameFailsItWithItsMessage) { run_with_poison(14, "poison 14 refused"); }

TEST_P(ExternalWorkerPoison, ProgramHangingOnAFrameIsKilledAndCostsThatFrameOnly) {
  run_with_poison(15, "", {"--task-timeout", "2"});
}

INSTANTIATE_TEST_SUITE_P(Backends, ExternalWorkerPoison, ::testing::Values("sysv", "posix"));

// --- `tilefork kernels --worker-exec` lists what the program offers ---------------------------

TEST_F(ExternalWorker, KernelsListsWhatTheProgramOffers) {
  for (const auto& [program, names] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {kPythonSample, {"py_invert", "py_max3"}}, {kCppSample, {"cpp_invert", "cpp_max3"}}}) {
    const auto list = tilefork({"kernels", "--worker-exec", tagged(program)}, dir_);
    ASSERT_EQ(list.code, 0) << list.err;
    for (const auto& name : names) EXPECT_NE(list.out.find(name), std::string::npos) << name << " missing:\n" << list.out;
    EXPECT_NE(list.out.find("gaussian"), std::string::npos) << "the built-in kernels are listed too:\n" << list.out;

    const auto json = tilefork({"kernels", "--json", "--worker-exec", tagged(program)}, dir_);
    ASSERT_EQ(json.code, 0) << json.err;
    const auto parsed = nlohmann::json::parse(json.out);
    ASSERT_TRUE(parsed.is_array());
    for (const auto& name : names) {
      const auto it = std::find_if(parsed.begin(), parsed.end(), [&](const auto& k) { return k.value("name", "") == name; });
      ASSERT_NE(it, parsed.end()) << name;
      EXPECT_EQ(it->value("external", false), true) << it->dump();
    }
  }
  const auto one = tilefork({"kernels", "py_invert", "--worker-exec", tagged(kPythonSample)}, dir_);
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_NE(one.out.find("gain"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("0..4"), std::string::npos) << one.out;
  const auto without = tilefork({"kernels", "py_invert"}, dir_);
  EXPECT_EQ(without.code, 2) << "py_invert exists only with --worker-exec: " << without.out;
}

}  // namespace
}  // namespace tilefork
