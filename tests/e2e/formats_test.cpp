// Pixel types and orientations through the command: 16-bit, float, alpha and gray frames keep
// their type and equal the oracle; JPEGs are turned upright by their EXIF orientation; a format
// that cannot hold a frame's depth fails that item alone.
#include "common/batch.hpp"
#include "common/cli.hpp"
#include "common/exif.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "common/shm_census.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace tilefork {
namespace {

// LZW: without a compression OpenCV stores 3-channel float TIFFs as lossy LogLuv.
const std::vector<int> lossless_tiff = {cv::IMWRITE_TIFF_COMPRESSION, 5};

// One input of the mixed batch: a file name and the frame written to it.
struct Input {
  std::string name;
  cv::Mat frame;
};

// Odd sizes, none a multiple of the tiles used below, one smaller than the blur's halo.
std::vector<Input> mixed_inputs() {
  return {
      {"png16_gray.png", test::random_frame({61, 47}, CV_16UC1, 1)},
      {"png16_colour.png", test::photo_like_frame({130, 67}, CV_16UC3, 2)},
      {"tif16_gray.tif", test::photo_like_frame({33, 80}, CV_16UC1, 3)},
      {"tif16_colour.tif", test::random_frame({2, 3}, CV_16UC3, 4)},
      {"float_gray.tif", test::photo_like_frame({45, 29}, CV_32FC1, 5)},
      {"float_colour.tif", test::random_frame({77, 31}, CV_32FC3, 6)},
      {"png8_rgba.png", test::photo_like_frame({52, 41}, CV_8UC4, 7)},
      {"png8_gray.png", test::photo_like_frame({29, 64}, CV_8UC1, 8)},
  };
}

// Every type above is taken by both kernels ("any": 8-bit, 16-bit, float; 1, 3, 4 channels).
constexpr const char* pipeline = "gaussian sigma=2 | box ksize=3";

class Formats : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    before_ = test::ShmCensus::take();
    fs::create_directories(dir_.path() / "in");
    for (const Input& input : mixed_inputs()) {
      const std::string path = dir_ / ("in/" + input.name);
      ASSERT_TRUE(cv::imwrite(path, input.frame, path.ends_with(".tif") ? lossless_tiff : std::vector<int>{}));
      // The files must hold the types under test, or the test proves nothing.
      const cv::Mat back = cv::imread(path, cv::IMREAD_UNCHANGED);
      ASSERT_EQ(back.type(), input.frame.type()) << input.name;
      ASSERT_EQ(test::difference(input.frame, back), "") << input.name << " is not stored losslessly";
    }
  }
  void TearDown() override { EXPECT_EQ(test::ShmCensus::take().leaked_since(before_), std::vector<std::string>{}); }

  test::Outcome tilefork(std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"--executor", GetParam(), "--workers", "2", "--tile", "16x8"});
    return test::run_tilefork(args, dir_);
  }

  // The output at `output` has the input's depth and channels and equals the oracle exactly.
  void expect_exact(const std::string& input, const std::string& output) {
    const cv::Mat original = cv::imread(dir_ / input, cv::IMREAD_UNCHANGED);
    const cv::Mat result = cv::imread(dir_ / output, cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(result.empty()) << output << " missing or unreadable";
    EXPECT_EQ(result.depth(), original.depth())
        << output << ": " << test::describe(original) << " in, " << test::describe(result) << " out";
    EXPECT_EQ(result.channels(), original.channels())
        << output << ": " << test::describe(original) << " in, " << test::describe(result) << " out";
    EXPECT_EQ(test::difference(test::oracle(pipeline, original), result), "")
        << output << " (" << test::describe(original) << ", \"" << pipeline << "\", executor " << GetParam() << ")";
  }

  test::TempDir dir_;
  test::ShmCensus before_;
};

TEST_P(Formats, MixedTypesInOneBatchKeepTheirTypeAndEqualTheOracle) {
  const auto result = tilefork({"run", "-p", pipeline, "-o", dir_ / "out", dir_ / "in"});
  ASSERT_EQ(result.code, 0) << result.err;
  for (const Input& input : mixed_inputs()) expect_exact("in/" + input.name, "out/" + input.name);
}

TEST_P(Formats, AFormatThatCannotHoldFloatFailsThoseItemsAlone) {
  const auto result = tilefork({"run", "-p", pipeline, "--format", "png", "-o", dir_ / "out", dir_ / "in"});
  EXPECT_EQ(result.code, 3) << result.err;
  EXPECT_EQ(test::count_lines_with(result.err, "error:"), 2u) << result.err;
  for (const Input& input : mixed_inputs()) {
    const std::string stem = fs::path(input.name).stem().string();
    const std::string output = "out/" + stem + ".png";
    if (input.frame.depth() != CV_32F) {
      expect_exact("in/" + input.name, output);
      continue;
    }
    EXPECT_FALSE(fs::exists(dir_ / output)) << output;
    // One line naming the input, the output refused and why.
    std::istringstream lines(result.err);
    std::string line;
    while (std::getline(lines, line) && line.find("error: " + (dir_ / ("in/" + input.name))) == std::string::npos) {
    }
    EXPECT_NE(line.find(dir_ / output), std::string::npos) << "no error line for " << input.name << " in:\n"
                                                           << result.err;
    EXPECT_NE(line.find("PNG stores 8- or 16-bit unsigned samples"), std::string::npos) << line;
  }
  for (const auto& entry : fs::directory_iterator(dir_ / "out")) {
    EXPECT_NE(entry.path().filename().string().front(), '.') << "temporary left: " << entry.path();
  }
}

// ---- EXIF orientation -----------------------------------------------------------------------

// Whether the JPEG at `path` has an APP1 segment holding EXIF, walking its markers to the scan.
bool has_exif_segment(const std::string& path) {
  const std::string bytes = test::slurp(path);
  std::size_t at = 2;
  while (at + 4 <= bytes.size() && static_cast<unsigned char>(bytes[at]) == 0xFF) {
    const auto marker = static_cast<unsigned char>(bytes[at + 1]);
    if (marker == 0xDA) return false;  // start of scan: no more header segments
    const std::size_t length = static_cast<std::size_t>(static_cast<unsigned char>(bytes[at + 2]) << 8 |
                                                        static_cast<unsigned char>(bytes[at + 3]));
    if (marker == 0xE1 && bytes.compare(at + 4, 6, std::string("Exif\0\0", 6)) == 0) return true;
    at += 2 + length;
  }
  return false;
}

class Orientation : public Formats {
 protected:
  void SetUp() override {
    before_ = test::ShmCensus::take();
    fs::create_directories(dir_.path() / "shots");
    for (int orientation = 1; orientation <= 8; ++orientation) {
      const int type = orientation % 2 == 0 ? CV_8UC1 : CV_8UC3;
      const cv::Mat upright = test::photo_like_frame(upright_size, type, static_cast<unsigned>(orientation));
      const cv::Mat stored = test::stored_by_specification(upright, orientation);
      test::write_bytes(shot(orientation),
                        test::with_segment(test::encode_jpeg(stored),
                                           test::jpeg_segment(0xE1, test::exif_payload(orientation, orientation > 4))));
    }
  }

  std::string shot(int orientation) const { return dir_ / fmt::format("shots/o{}.jpg", orientation); }

  // What a viewer shows for shot `orientation`: its stored pixels as libjpeg decodes them,
  // placed by the EXIF specification's table.
  cv::Mat upright_shot(int orientation) const {
    return test::upright_by_specification(cv::imread(shot(orientation), cv::IMREAD_UNCHANGED), orientation);
  }

  const cv::Size upright_size{45, 29};
};

TEST_P(Orientation, ShotsAreFilteredUprightAndWrittenWithoutATag) {
  const std::string blur = "gaussian sigma=2";
  const auto plan = tilefork({"run", "-p", blur, "--dry-run", "-o", dir_ / "png", dir_ / "shots"});
  ASSERT_EQ(plan.code, 0) << plan.err;
  std::istringstream lines(plan.out);
  int planned = 0;
  for (std::string line; std::getline(lines, line);) {
    for (int orientation = 1; orientation <= 8; ++orientation) {
      if (line.find(shot(orientation) + " ->") == std::string::npos) continue;
      ++planned;
      EXPECT_NE(line.find(fmt::format("({}x{} ", upright_size.width, upright_size.height)), std::string::npos)
          << "orientation " << orientation << " planned at the stored size: " << line;
    }
  }
  EXPECT_EQ(planned, 8) << plan.out;

  const auto png = tilefork({"run", "-p", blur, "--format", "png", "-o", dir_ / "png", dir_ / "shots"});
  ASSERT_EQ(png.code, 0) << png.err;
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const cv::Mat result = cv::imread(dir_ / fmt::format("png/o{}.png", orientation), cv::IMREAD_UNCHANGED);
    EXPECT_EQ(test::difference(test::oracle(blur, upright_shot(orientation)), result), "")
        << "orientation " << orientation << ", executor " << GetParam();
  }

  // JPEG out: upright pixels and no orientation tag, so every viewer shows them the same way.
  const auto jpeg = tilefork({"run", "-p", blur, "-o", dir_ / "jpg", dir_ / "shots"});
  ASSERT_EQ(jpeg.code, 0) << jpeg.err;
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const std::string path = dir_ / fmt::format("jpg/o{}.jpg", orientation);
    EXPECT_FALSE(has_exif_segment(path)) << path;
    EXPECT_TRUE(has_exif_segment(shot(orientation))) << "the test input lost its tag";
    EXPECT_EQ(cv::imread(path, cv::IMREAD_UNCHANGED).size(), upright_size) << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Executors, Formats, ::testing::Values("fork", "serial"));
INSTANTIATE_TEST_SUITE_P(Executors, Orientation, ::testing::Values("fork", "serial"));

}  // namespace
}  // namespace tilefork
