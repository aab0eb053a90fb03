// The `tilefork` command end to end: the sample batch equals the oracle; every user mistake gets
// a non-zero exit and a message naming the culprit; one bad file never stops a batch.
#include "common/batch.hpp"
#include "common/cli.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "common/shm_census.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tilefork {
namespace {

using test::count_lines_with;
using test::slurp;

test::Outcome tilefork(const std::vector<std::string>& args, const test::TempDir& scratch) {
  return test::run_tilefork(args, scratch);
}

class Cli : public ::testing::Test {
 protected:
  // a.png, b.png and c.png (gray and colour, awkward sizes) in the folder in/.
  std::vector<WorkItem> write_good_inputs() {
    auto items = test::write_batch(dir_, {{"a", test::photo_like_frame({120, 80}, CV_8UC3, 1)},
                                          {"b", test::random_frame({64, 64}, CV_8UC1, 2)},
                                          {"c", test::photo_like_frame({50, 50}, CV_8UC3, 3)}},
                                   "unused");
    fs::create_directories(dir_ / "in");
    for (const auto& item : items) fs::copy(item.input, dir_ / ("in/" + fs::path(item.input).filename().string()));
    return items;
  }

  void SetUp() override { before_ = test::ShmCensus::take(); }
  void TearDown() override {
    EXPECT_EQ(test::ShmCensus::take().leaked_since(before_), std::vector<std::string>{});
  }
  test::TempDir dir_;
  test::ShmCensus before_;
};

TEST_F(Cli, SampleBatchEqualsOracle) {
  const std::string pipeline = slurp(std::string(TILEFORK_SAMPLES) + "/pipelines/edges.txt");
  ASSERT_FALSE(pipeline.empty());
  const std::string pipeline_text = pipeline.substr(0, pipeline.find('\n'));
  const auto result = tilefork({"run", "--pipeline", pipeline_text, "--workers", "2", "-o", dir_ / "out",
                                std::string(TILEFORK_SAMPLES) + "/frames"},
                               dir_);
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.err.find("MP/s"), std::string::npos) << "no summary: " << result.err;
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(std::string(TILEFORK_SAMPLES) + "/frames")) {
    if (entry.path().extension() != ".jpg" && entry.path().extension() != ".png") continue;
    const cv::Mat input = cv::imread(entry.path().string(), cv::IMREAD_UNCHANGED);
    const cv::Mat expected = test::oracle(pipeline_text, input);
    // The output is encoded like its input; the oracle goes through the same encoder.
    std::vector<unsigned char> bytes;
    ASSERT_TRUE(cv::imencode(entry.path().extension().string(), expected, bytes, {cv::IMWRITE_JPEG_QUALITY, 95}));
    const cv::Mat expected_decoded = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
    const cv::Mat actual = cv::imread(dir_ / ("out/" + entry.path().filename().string()), cv::IMREAD_UNCHANGED);
    EXPECT_EQ(test::difference(expected_decoded, actual), "") << entry.path();
    ++compared;
  }
  EXPECT_GE(compared, 4);
}

TEST_F(Cli, ExecutorsWriteTheSameBytes) {
  const auto items = test::write_batch(dir_, {{"scene", test::photo_like_frame({333, 217}, CV_8UC3, 1)},
                                              {"noise", test::random_frame({97, 61}, CV_8UC1, 2)}},
                                       "unused");
  std::vector<std::string> outputs;
  for (const std::string& executor : std::vector<std::string>{"fork", "threads", "serial"}) {
    const auto result = tilefork({"run", "-p", "gaussian sigma=2 | sobel", "--executor", executor, "--tile", "40x30",
                                  "-o", dir_ / executor, items[0].input, items[1].input},
                                 dir_);
    ASSERT_EQ(result.code, 0) << executor << ": " << result.err;
    outputs.push_back(slurp(dir_ / (executor + "/scene.png")) + slurp(dir_ / (executor + "/noise.png")));
  }
  EXPECT_EQ(outputs[0], outputs[1]) << "fork and threads differ";
  EXPECT_EQ(outputs[0], outputs[2]) << "fork and serial differ";
  EXPECT_GT(outputs[0].size(), 100u);
}

TEST_F(Cli, UnknownKernelIsNamed) {
  const auto result = tilefork({"run", "-p", "gausian sigma=2", "-o", dir_ / "out", std::string(TILEFORK_SAMPLES) + "/frames"}, dir_);
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("unknown kernel 'gausian'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("did you mean 'gaussian'"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "out")) << "nothing may be written for a bad pipeline";
}

TEST_F(Cli, BadParameterValueIsNamed) {
  const auto result = tilefork({"run", "-p", "gaussian sigma=-3", "-o", dir_ / "out", std::string(TILEFORK_SAMPLES) + "/frames"}, dir_);
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find("'sigma' = -3 is out of range"), std::string::npos) << result.err;
}

TEST_F(Cli, MissingInputIsNamed) {
  const std::string missing = dir_ / "no-such-frame.png";
  const auto result = tilefork({"run", "-p", "invert", "-o", dir_ / "out", missing}, dir_);
  EXPECT_EQ(result.code, 2);
  EXPECT_NE(result.err.find(missing), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("does not exist"), std::string::npos) << result.err;
}

TEST_F(Cli, UnwritableOutputFolderIsNamed) {
  std::ofstream(dir_ / "a-file") << "not a folder";
  for (const std::string& output : {dir_ / "a-file", dir_ / "a-file/sub", std::string("/proc/tilefork-out")}) {
    const auto result = tilefork({"run", "-p", "invert", "-o", output, std::string(TILEFORK_SAMPLES) + "/frames"}, dir_);
    EXPECT_EQ(result.code, 2) << output << ": " << result.err;
    EXPECT_NE(result.err.find(output), std::string::npos) << result.err;
  }
}

TEST_F(Cli, BadOptionValuesAreNamed) {
  const std::string frames = std::string(TILEFORK_SAMPLES) + "/frames";
  const auto backend = tilefork({"run", "-p", "invert", "--backend", "dma", "-o", dir_ / "o", frames}, dir_);
  EXPECT_EQ(backend.code, 2);
  EXPECT_NE(backend.err.find("'dma'"), std::string::npos) << backend.err;
  const auto tile = tilefork({"run", "-p", "invert", "--tile", "12xq", "-o", dir_ / "o", frames}, dir_);
  EXPECT_EQ(tile.code, 2);
  EXPECT_NE(tile.err.find("12xq"), std::string::npos) << tile.err;
  const auto executor = tilefork({"run", "-p", "invert", "--executor", "gpu", "-o", dir_ / "o", frames}, dir_);
  EXPECT_EQ(executor.code, 2);
  EXPECT_NE(executor.err.find("'gpu'"), std::string::npos) << executor.err;
}

TEST_F(Cli, CorruptImagesInAFolderCostOneLineEachAndTheRestIsWritten) {
  const auto items = write_good_inputs();
  std::ofstream(dir_ / "in/not-an-image.png") << "this is text, not a PNG";
  {  // a real PNG header followed by garbage
    const std::string good = slurp(items[0].input);
    std::ofstream(dir_ / "in/truncated.png", std::ios::binary) << good.substr(0, 100) << std::string(500, '\x11');
  }
  const auto result = tilefork({"run", "-p", "gaussian sigma=1 | invert", "-o", dir_ / "out", dir_ / "in"}, dir_);
  EXPECT_EQ(result.code, 3) << result.err;
  EXPECT_EQ(count_lines_with(result.err, "tilefork: error:"), 2u) << result.err;
  EXPECT_EQ(count_lines_with(result.err, "not-an-image.png"), 1u) << result.err;
  EXPECT_EQ(count_lines_with(result.err, "truncated.png"), 1u) << result.err;
  for (const char* name : {"a.png", "b.png", "c.png"}) {
    const cv::Mat input = cv::imread(dir_ / (std::string("in/") + name), cv::IMREAD_UNCHANGED);
    const cv::Mat output = cv::imread(dir_ / (std::string("out/") + name), cv::IMREAD_UNCHANGED);
    EXPECT_EQ(test::difference(test::oracle("gaussian sigma=1 | invert", input), output), "") << name;
  }
  EXPECT_FALSE(fs::exists(dir_ / "out/not-an-image.png"));
  EXPECT_FALSE(fs::exists(dir_ / "out/truncated.png"));
}

TEST_F(Cli, ACorruptInputAndAnUnwritableOutputAmongGoodOnes) {
  const auto items = write_good_inputs();
  std::ofstream(dir_ / "in/corrupt.png") << "this is text, not a PNG";
  // b's output cannot be written: a folder (with a file in it) stands at its name.
  fs::create_directories(dir_ / "out/b.png");
  std::ofstream(dir_ / "out/b.png/keep") << "mine";
  const auto result = tilefork({"run", "-p", "box ksize=3", "--overwrite", "--json", "-o", dir_ / "out", dir_ / "in"}, dir_);
  EXPECT_EQ(result.code, 3) << result.err;
  EXPECT_EQ(count_lines_with(result.err, "tilefork: error:"), 2u) << result.err;
  EXPECT_EQ(count_lines_with(result.err, "corrupt.png"), 1u) << result.err;
  EXPECT_EQ(count_lines_with(result.err, "b.png"), 1u) << result.err;
  EXPECT_NE(result.err.find("2 failed"), std::string::npos) << "the summary counts the failures: " << result.err;
  const auto summary = nlohmann::json::parse(result.out);
  EXPECT_EQ(summary["totals"]["ok"], 2);
  EXPECT_EQ(summary["totals"]["failed"], 2);
  for (const char* name : {"a.png", "c.png"}) {
    const cv::Mat input = cv::imread(dir_ / (std::string("in/") + name), cv::IMREAD_UNCHANGED);
    const cv::Mat output = cv::imread(dir_ / (std::string("out/") + name), cv::IMREAD_UNCHANGED);
    EXPECT_EQ(test::difference(test::oracle("box ksize=3", input), output), "") << name;
  }
  EXPECT_EQ(slurp(dir_ / "out/b.png/keep"), "mine") << "the folder in the way is left as it was";
  EXPECT_FALSE(fs::exists(dir_ / "out/corrupt.png"));
  for (const auto& entry : fs::directory_iterator(dir_ / "out")) {
    EXPECT_NE(entry.path().filename().string().front(), '.') << "temporary left: " << entry.path();
  }
}

TEST_F(Cli, KernelsAreListedFromTheirTables) {
  const auto list = tilefork({"kernels"}, dir_);
  ASSERT_EQ(list.code, 0) << list.err;
  for (const char* name : {"gaussian", "box", "median", "sobel", "threshold", "invert", "gray"}) {
    EXPECT_NE(list.out.find(name), std::string::npos) << name << " missing from:\n" << list.out;
  }
  const auto one = tilefork({"kernels", "gaussian"}, dir_);
  ASSERT_EQ(one.code, 0);
  EXPECT_NE(one.out.find("sigma"), std::string::npos);
  EXPECT_NE(one.out.find("0.05..100"), std::string::npos) << one.out;
  const auto json = tilefork({"kernels", "--json"}, dir_);
  ASSERT_EQ(json.code, 0);
  const auto parsed = nlohmann::json::parse(json.out);
  ASSERT_TRUE(parsed.is_array());
  EXPECT_EQ(parsed.size(), 35u);
  const auto unknown = tilefork({"kernels", "gauss"}, dir_);
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("'gauss'"), std::string::npos);
}

TEST_F(Cli, HelpAndVersion) {
  const auto version = tilefork({"--version"}, dir_);
  EXPECT_EQ(version.code, 0);
  EXPECT_NE(version.out.find("tilefork 0."), std::string::npos) << version.out;
  const auto help = tilefork({"run", "--help"}, dir_);
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--pipeline"), std::string::npos);
  const auto nothing = tilefork({}, dir_);
  EXPECT_EQ(nothing.code, 2);
}

}  // namespace
}  // namespace tilefork
