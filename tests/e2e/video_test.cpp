// Videos and image sequences through the command: frames decoded and encoded in order, count,
// size, codec and frame rate kept (or chosen), pixels equal to the oracle's when the codec is
// lossless, failures that leave no file.
#include "common/batch.hpp"
#include "common/cli.hpp"
#include "common/frames.hpp"
#include "common/oracle.hpp"
#include "common/shm_census.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include <bit>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tilefork {
namespace {

struct Video {
  std::vector<cv::Mat> frames;
  double fps = 0;
  std::string fourcc;
};

Video read_video(const std::string& path) {
  Video video;
  cv::VideoCapture capture(path, cv::CAP_FFMPEG);
  if (!capture.isOpened()) return video;
  video.fps = capture.get(cv::CAP_PROP_FPS);
  const int code = static_cast<int>(capture.get(cv::CAP_PROP_FOURCC));
  for (int shift = 0; shift < 32; shift += 8) video.fourcc += static_cast<char>((code >> shift) & 0xFF);
  for (cv::Mat frame; capture.read(frame);) video.frames.push_back(frame.clone());
  return video;
}

class Videos : public ::testing::Test {
 protected:
  void SetUp() override {
    before_ = test::ShmCensus::take();
    fs::create_directories(dir_.path() / "in");
  }
  void TearDown() override { EXPECT_EQ(test::ShmCensus::take().leaked_since(before_), std::vector<std::string>{}); }

  // A lossless (FFV1) video of photo-like frames, each different, of an awkward size.
  std::string make_video(const std::string& name, int frames, cv::Size size = {97, 61}, double fps = 12) {
    const std::string path = dir_ / ("in/" + name);
    cv::VideoWriter writer(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), fps, size, true);
    EXPECT_TRUE(writer.isOpened()) << path;
    for (int i = 0; i < frames; ++i) writer.write(test::photo_like_frame(size, CV_8UC3, 100 + static_cast<unsigned>(i)));
    return path;
  }

  test::Outcome tilefork(const std::vector<std::string>& args) { return test::run_tilefork(args, dir_); }

  test::TempDir dir_;
  test::ShmCensus before_;
};

// Every frame of the output equals the oracle on the same frame of the input, in order.
void expect_frames_equal_oracle(const std::string& input, const std::string& output, const std::string& pipeline) {
  const Video in = read_video(input);
  const Video out = read_video(output);
  ASSERT_FALSE(in.frames.empty()) << input;
  ASSERT_EQ(out.frames.size(), in.frames.size()) << output;
  for (std::size_t i = 0; i < in.frames.size(); ++i) {
    EXPECT_EQ(test::difference(test::oracle(pipeline, in.frames[i]), out.frames[i]), "") << output << " frame " << i;
  }
}

TEST_F(Videos, AVideoIsWrittenAsAVideoFrameByFrameInOrder) {
  const std::string input = make_video("clip.mkv", 12);
  for (const std::string executor : {"fork", "serial", "threads"}) {
    const std::string out = dir_ / ("out-" + executor);
    const auto result = tilefork({"run", "-p", "gaussian sigma=2", "--executor", executor, "--workers", "2",
                                  "--tile", "32x16", "--json", "-o", out, input});
    ASSERT_EQ(result.code, 0) << executor << ": " << result.err;
    const auto summary = nlohmann::json::parse(result.out);
    EXPECT_EQ(summary["frames"], 12);
    EXPECT_EQ(summary["items"][0]["frames"], 12);
    EXPECT_EQ(summary["items"][0]["codec"], "FFV1");
    const Video video = read_video(out + "/clip.mkv");
    EXPECT_EQ(video.fourcc, "FFV1") << "the input's codec by default";
    EXPECT_DOUBLE_EQ(video.fps, 12) << "the input's frame rate by default";
    expect_frames_equal_oracle(input, out + "/clip.mkv", "gaussian sigma=2");
  }
}

// OpenCV's FFmpeg backend has no frame count for Matroska: CAP_PROP_FRAME_COUNT is estimated as
// duration x fps, the duration being the Segment Info's Duration element (EBML id 0x4489, an
// 8-byte big-endian float in milliseconds, as FFmpeg's muxer writes it). Rewriting it makes the
// header announce another count while the stream keeps every frame, as a muxer that wrote a
// wrong duration (or a cut made without remuxing) does. The value found must be the one FFmpeg
// wrote, so that a stray byte pattern in the frames is never taken for it.
void set_matroska_duration(const std::string& path, double written_ms, double new_ms) {
  std::string bytes = test::slurp(path);
  const std::string id = "\x44\x89\x88";
  std::size_t at = bytes.find(id);
  for (; at != std::string::npos; at = bytes.find(id, at + 1)) {
    if (at + 11 > bytes.size()) at = std::string::npos;
    if (at == std::string::npos) break;
    std::uint64_t bits = 0;
    for (std::size_t k = 0; k < 8; ++k) bits = (bits << 8) | static_cast<unsigned char>(bytes[at + 3 + k]);
    if (std::abs(std::bit_cast<double>(bits) - written_ms) < 1) break;
  }
  ASSERT_NE(at, std::string::npos) << "no Duration of " << written_ms << " ms in " << path;
  std::uint64_t bits = std::bit_cast<std::uint64_t>(new_ms);
  for (std::size_t k = 8; k-- > 0; bits >>= 8) bytes[at + 3 + k] = static_cast<char>(bits & 0xFF);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A lossless video of `held` frames at 12 fps whose header announces `announced`: checked with
// OpenCV itself before any test relies on it.
std::string make_miscounted_video(const std::string& path, int held, int announced) {
  {
    cv::VideoWriter writer(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 12, {97, 61}, true);
    EXPECT_TRUE(writer.isOpened()) << path;
    for (int i = 0; i < held; ++i) {
      writer.write(test::photo_like_frame({97, 61}, CV_8UC3, 500 + static_cast<unsigned>(i)));
    }
  }
  set_matroska_duration(path, held * 1000.0 / 12, announced * 1000.0 / 12);
  cv::VideoCapture capture(path, cv::CAP_FFMPEG);
  EXPECT_EQ(capture.get(cv::CAP_PROP_FRAME_COUNT), announced) << "the header of " << path;
  EXPECT_EQ(read_video(path).frames.size(), static_cast<std::size_t>(held)) << "the stream of " << path;
  return path;
}

TEST_F(Videos, FramesPastTheCountTheHeaderAnnouncesAreWrittenToo) {
  // 10 frames, announced as 6: every executor writes all 10, each equal to the oracle on its input
  // frame (FFV1 is lossless both ways), and says that the header was wrong. Two slots make the
  // fork executor read the frames past the count while the earlier ones still run.
  const std::string input = make_miscounted_video(dir_ / "in/clip.mkv", 10, 6);
  const std::vector<std::vector<std::string>> executors = {
      {"--executor", "fork", "--slots", "2"},
      {"--executor", "fork"},
      {"--executor", "serial"},
      {"--executor", "threads"}};
  for (const auto& how : executors) {
    const std::string out = dir_ / fmt::format("out-{}", fmt::join(how, ""));
    std::vector<std::string> args = {"run", "-p", "gaussian sigma=2 | invert", "--workers", "2", "--tile", "32x16",
                                     "--json", "-o", out, input};
    args.insert(args.begin() + 1, how.begin(), how.end());
    const auto result = tilefork(args);
    const std::string what = fmt::format("{}", fmt::join(how, " "));
    ASSERT_EQ(result.code, 0) << what << ": " << result.err;
    const auto summary = nlohmann::json::parse(result.out);
    EXPECT_EQ(summary["frames"], 10) << what;
    EXPECT_EQ(summary["items"][0]["frames"], 10) << what;
    EXPECT_EQ(test::count_lines_with(result.err, input + ": its header announced 6 frames, its stream held 10"), 1u)
        << what << ": " << result.err;
    expect_frames_equal_oracle(input, out + "/clip.mkv", "gaussian sigma=2 | invert");
  }
}

TEST_F(Videos, AnAviWhoseStoredCountOpenCvStopsAtFailsInsteadOfLosingFrames) {
  // An AVI stores its frame count (the video stream header's dwLength), and OpenCV 4.6's reader
  // stops one frame past it, whatever the stream holds. 10 frames whose header says 6: OpenCV
  // gives 7 and no sign of the other 3, so the video must fail, not be written with 7.
  const std::string input = dir_ / "in/clip.avi";
  {
    cv::VideoWriter writer(input, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 12, {64, 48}, true);
    ASSERT_TRUE(writer.isOpened());
    for (int i = 0; i < 10; ++i) {
      writer.write(test::photo_like_frame({64, 48}, CV_8UC3, 900 + static_cast<unsigned>(i)));
    }
  }
  std::string bytes = test::slurp(input);
  const std::size_t strh = bytes.find("strh");
  ASSERT_NE(strh, std::string::npos);
  const std::size_t length = strh + 8 + 32;  // AVISTREAMHEADER: fccType, fccHandler, flags, ... dwStart, dwLength
  ASSERT_EQ(static_cast<unsigned char>(bytes[length]), 10u) << "the stream length FFmpeg wrote";
  bytes[length] = 6;
  std::ofstream(input, std::ios::binary | std::ios::trunc) << bytes;
  ASSERT_EQ(cv::VideoCapture(input, cv::CAP_FFMPEG).get(cv::CAP_PROP_FRAME_COUNT), 6);
  ASSERT_EQ(read_video(input).frames.size(), 7u) << "OpenCV stops one frame past the stored count";
  for (const std::string executor : {"fork", "serial", "threads"}) {
    const std::string out = dir_ / ("out-" + executor);
    const auto result = tilefork({"run", "-p", "invert", "--executor", executor, "--workers", "2", "--slots", "2",
                                  "-o", out, input});
    EXPECT_EQ(result.code, 3) << executor << ": " << result.err;
    const std::string line = "tilefork: error: " + input + ": frame 7: its header says it holds 6 frames";
    EXPECT_EQ(test::count_lines_with(result.err, line), 1u) << executor << ": " << result.err;
    EXPECT_NE(result.err.find("Remux it to Matroska"), std::string::npos) << executor << ": " << result.err;
    EXPECT_TRUE(!fs::exists(out) || fs::is_empty(out)) << executor << ": no output, not even a temporary one";
  }
}

TEST_F(Videos, FramesTheHeaderAnnouncesAndTheStreamLacksAreNoted) {
  const std::string input = make_miscounted_video(dir_ / "in/clip.mkv", 5, 9);
  for (const std::string executor : {"fork", "serial", "threads"}) {
    const std::string out = dir_ / ("out-" + executor);
    const auto result = tilefork({"run", "-p", "box ksize=5", "--executor", executor, "--workers", "2", "--json",
                                  "-o", out, input});
    ASSERT_EQ(result.code, 0) << executor << ": " << result.err;
    EXPECT_EQ(nlohmann::json::parse(result.out)["items"][0]["frames"], 5) << executor;
    EXPECT_EQ(test::count_lines_with(result.err, input + ": its header announced 9 frames, its stream held 5"), 1u)
        << executor << ": " << result.err;
    expect_frames_equal_oracle(input, out + "/clip.mkv", "box ksize=5");
  }
}

TEST_F(Videos, AFramePastTheAnnouncedCountThatCrashesFailsTheVideo) {
  // 7 frames announced as 3; the sixth (frame 5) crashes its worker twice: no file, and the
  // error names that frame, not the last announced one.
  const std::string input = dir_ / "in/clip.mkv";
  {
    cv::VideoWriter writer(input, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 12, {64, 48}, true);
    ASSERT_TRUE(writer.isOpened());
    for (int i = 0; i < 7; ++i) {
      cv::Mat frame = test::random_frame({64, 48}, CV_8UC3, 700 + static_cast<unsigned>(i));
      cv::max(frame, cv::Scalar::all(20), frame);
      if (i == 5) frame.at<cv::Vec3b>(20, 10) = {13, 13, 13};
      writer.write(frame);
    }
  }
  set_matroska_duration(input, 7 * 1000.0 / 12, 3 * 1000.0 / 12);
  ASSERT_EQ(cv::VideoCapture(input, cv::CAP_FFMPEG).get(cv::CAP_PROP_FRAME_COUNT), 3);
  const auto result = tilefork({"run", "--plugin", CRASHY_PLUGIN, "-p", "crashy how=abort", "--workers", "2",
                                "--slots", "2", "-o", dir_ / "out", input});
  EXPECT_EQ(result.code, 3) << result.err;
  EXPECT_EQ(test::count_lines_with(result.err, "tilefork: error: " + input + ": frame 5: "), 1u) << result.err;
  EXPECT_TRUE(fs::is_empty(dir_ / "out")) << "no output, not even a temporary one";
}

TEST_F(Videos, CodecFrameRateAndSizeCanChange) {
  const std::string input = make_video("clip.avi", 6, {80, 48});
  const auto result = tilefork({"run", "-p", "resize scale=0.5", "--codec", "MJPG", "--fps", "5", "-o", dir_ / "out", input});
  if (result.code == 2 && result.err.find("unknown kernel 'resize'") != std::string::npos) GTEST_SKIP();
  ASSERT_EQ(result.code, 0) << result.err;
  const Video video = read_video(dir_ / "out/clip.avi");
  EXPECT_EQ(video.fourcc, "MJPG");
  EXPECT_DOUBLE_EQ(video.fps, 5);
  ASSERT_EQ(video.frames.size(), 6u);
  EXPECT_EQ(video.frames[0].size(), cv::Size(40, 24));
  const auto bad = tilefork({"run", "-p", "invert", "--codec", "H2", "-o", dir_ / "bad", input});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--codec 'H2' is not a FOURCC"), std::string::npos) << bad.err;
}

TEST_F(Videos, ABrokenVideoCostsOneLineAndLeavesNoFile) {
  const std::string good = make_video("good.mkv", 4);
  std::ofstream(dir_ / "in/broken.mp4") << std::string(5000, 'x');
  ASSERT_TRUE(cv::imwrite(dir_ / "in/still.png", test::photo_like_frame({50, 40}, CV_8UC3, 7)));
  const auto result = tilefork({"run", "-p", "box ksize=3", "-o", dir_ / "out", dir_ / "in"});
  EXPECT_EQ(result.code, 3) << result.err;
  EXPECT_EQ(test::count_lines_with(result.err, "tilefork: error:"), 1u) << result.err;
  EXPECT_NE(result.err.find("broken.mp4"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "out/broken.mp4"));
  expect_frames_equal_oracle(good, dir_ / "out/good.mkv", "box ksize=3");
  EXPECT_TRUE(fs::exists(dir_ / "out/still.png"));
}

TEST_F(Videos, FramesAVideoCannotHoldFailItWithoutAFile) {
  const std::string input = make_video("clip.mkv", 3);
  const auto result = tilefork({"run", "-p", "convert to=32f", "-o", dir_ / "out", input});
  EXPECT_EQ(result.code, 3) << result.err;
  EXPECT_NE(result.err.find("a video holds 8-bit gray or colour"), std::string::npos) << result.err;
  EXPECT_TRUE(fs::is_empty(dir_ / "out")) << "no output, not even a temporary one";
}

TEST_F(Videos, AFrameThatCrashesItsWorkerFailsTheVideoWithItsOwnReason) {
  // Six frames without the value 13, but the fifth holds one pixel of it: the crashy plugin
  // aborts there (twice: the task is retried once), and the video is not written.
  const std::string input = dir_ / "in/clip.mkv";
  {
    cv::VideoWriter writer(input, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 10, {64, 48}, true);
    ASSERT_TRUE(writer.isOpened());
    for (int i = 0; i < 6; ++i) {
      cv::Mat frame = test::random_frame({64, 48}, CV_8UC3, 300 + static_cast<unsigned>(i));
      cv::max(frame, cv::Scalar::all(20), frame);
      if (i == 4) frame.at<cv::Vec3b>(30, 40) = {13, 13, 13};
      writer.write(frame);
    }
  }
  cv::Mat still = test::random_frame({40, 30}, CV_8UC3, 9);
  cv::max(still, cv::Scalar::all(20), still);
  ASSERT_TRUE(cv::imwrite(dir_ / "in/still.png", still));
  const auto result = tilefork({"run", "--plugin", CRASHY_PLUGIN, "-p", "crashy how=abort", "--workers", "2",
                                "-o", dir_ / "out", dir_ / "in"});
  EXPECT_EQ(result.code, 3) << result.err;
  EXPECT_EQ(test::count_lines_with(result.err, "tilefork: error:"), 1u) << result.err;
  EXPECT_EQ(test::count_lines_with(result.err, "tilefork: error: " + input + ": frame 4: "), 1u) << result.err;
  EXPECT_EQ(result.err.find("another frame"), std::string::npos) << "the cause, not a consequence: " << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "out/clip.mkv"));
  EXPECT_TRUE(fs::exists(dir_ / "out/still.png")) << "the rest of the batch goes on";
}

TEST_F(Videos, AKilledRunLeavesNoPartialVideo) {
  const std::string input = make_video("long.mkv", 40, {320, 240});
  const pid_t pid = test::start_tilefork_group({"run", "-p", "gaussian sigma=2", "-o", dir_ / "out", input},
                                              {{"TILEFORK_STALL", "20000"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  ASSERT_TRUE(WIFSIGNALED(test::kill_group(pid))) << "the run finished before it could be killed; make it slower";
  EXPECT_TRUE(!fs::exists(dir_ / "out") || fs::is_empty(dir_ / "out"));
}

TEST_F(Videos, ImageSequencesAreTakenInNumberOrder) {
  std::vector<cv::Mat> frames;
  for (int i = 0; i < 12; i += 1) {
    frames.push_back(test::random_frame({33, 21}, CV_8UC1, 200 + static_cast<unsigned>(i)));
    ASSERT_TRUE(cv::imwrite(dir_ / fmt::format("in/shot_{:04}.png", i * 5), frames.back()));
  }
  ASSERT_TRUE(cv::imwrite(dir_ / "in/shot_7.png", frames[0]));     // not 4 digits
  ASSERT_TRUE(cv::imwrite(dir_ / "in/other_0001.png", frames[0]));  // another name
  const auto result = tilefork({"run", "-p", "invert", "--name", "{index}.{ext}", "-o", dir_ / "out",
                                dir_ / "in/shot_%04d.png"});
  ASSERT_EQ(result.code, 0) << result.err;
  std::size_t outputs = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir_ / "out")) ++outputs;
  EXPECT_EQ(outputs, frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const cv::Mat output = cv::imread(dir_ / fmt::format("out/{:05}.png", i), cv::IMREAD_UNCHANGED);
    EXPECT_EQ(test::difference(test::oracle("invert", frames[i]), output), "") << "frame " << i;
  }
  const auto any_digits = tilefork({"run", "-p", "invert", "--dry-run", "-o", dir_ / "d", dir_ / "in/shot_%d.png"});
  ASSERT_EQ(any_digits.code, 0) << any_digits.err;
  EXPECT_NE(any_digits.out.find("inputs: 13 to do"), std::string::npos) << any_digits.out;
  const auto none = tilefork({"run", "-p", "invert", "-o", dir_ / "n", dir_ / "in/none_%03d.png"});
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("matches no files"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace tilefork
