// load_image and store_image: exact round trips, atomic replacement, and errors that name the file.
#include "tilefork/frame_io.hpp"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace tilefork {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the test's temporary directory, removed with its contents at the end.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = ::testing::TempDir() + "tilefork-frame-io-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::system_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const fs::path& path() const { return path_; }
  std::string file(std::string_view name) const { return (path_ / name).string(); }

  // Names of everything in the folder, hidden files included.
  std::set<std::string> entries() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_))
      names.insert(entry.path().filename().string());
    return names;
  }

 private:
  fs::path path_;
};

// Awkward sizes: odd widths catch row-padding mistakes in encoders and in our checks.
cv::Mat random_image(int rows, int cols, int type, std::uint64_t seed) {
  cv::Mat image(rows, cols, type);
  cv::RNG rng(seed);
  const bool floating = CV_MAT_DEPTH(type) == CV_32F || CV_MAT_DEPTH(type) == CV_64F;
  rng.fill(image, cv::RNG::UNIFORM, floating ? -1e6 : 0, floating ? 1e6 : 65536);
  return image;
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

// store_image must throw ImageError whose message names `path` and contains `fragment`.
void expect_store_error(const cv::Mat& image, const std::string& path, std::string_view fragment) {
  try {
    store_image(image, path);
    ADD_FAILURE() << "store_image wrote " << path;
  } catch (const ImageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'" + path + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos)
        << "expected '" << fragment << "' in: " << message;
  }
}

void expect_load_error(const std::string& path, std::string_view fragment) {
  try {
    const cv::Mat image = load_image(path);
    ADD_FAILURE() << "load_image decoded " << path << " as " << image.size();
  } catch (const ImageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'" + path + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos)
        << "expected '" << fragment << "' in: " << message;
  }
}

bool supports_unnamed_files(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

TEST(ImageInfo, MaxBytesCountsEverySample) {
  EXPECT_EQ((ImageInfo{cv::Size(37, 23), FrameType{CV_16U, 3}}.max_bytes()), 37u * 23u * 3u * 2u);
  EXPECT_EQ((ImageInfo{cv::Size(37, 23), FrameType{CV_8U, 1}}.max_bytes()), 37u * 23u);
  EXPECT_EQ((ImageInfo{cv::Size(5, 7), FrameType{CV_64F, 4}}.max_bytes()), 5u * 7u * 4u * 8u);
}

// ---- round trips ----------------------------------------------------------------------------

struct RoundTrip {
  std::string extension;
  int type;
};

class StoreThenLoad : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(StoreThenLoad, GivesBackTheSamePixels) {
  const ScratchDir dir;
  const std::string path = dir.file("frame" + GetParam().extension);
  const cv::Mat image = random_image(23, 37, GetParam().type, 7);
  store_image(image, path);
  const cv::Mat loaded = load_image(path);
  EXPECT_TRUE(same_pixels(loaded, image))
      << path << ": stored " << image.size() << " type " << image.type() << ", loaded "
      << loaded.size() << " type " << loaded.type();
  EXPECT_EQ(dir.entries(), std::set<std::string>{"frame" + GetParam().extension});
}

INSTANTIATE_TEST_SUITE_P(LosslessFormats, StoreThenLoad,
                         ::testing::Values(RoundTrip{".png", CV_8UC1}, RoundTrip{".png", CV_8UC3},
                                           RoundTrip{".png", CV_8UC4}, RoundTrip{".png", CV_16UC1},
                                           RoundTrip{".png", CV_16UC3}, RoundTrip{".png", CV_16UC4},
                                           RoundTrip{".PNG", CV_8UC3}, RoundTrip{".tif", CV_32FC1},
                                           RoundTrip{".tif", CV_32FC3},
                                           RoundTrip{".tiff", CV_16UC4},
                                           RoundTrip{".ppm", CV_16UC3}, RoundTrip{".pgm", CV_8UC1},
                                           RoundTrip{".bmp", CV_8UC3}),
                         [](const ::testing::TestParamInfo<RoundTrip>& param_info) {
                           return param_info.param.extension.substr(1) + "_type" +
                                  std::to_string(param_info.param.type);
                         });

TEST(StoreImage, JpegIsWrittenAtHighQuality) {
  const ScratchDir dir;
  cv::Mat image(64, 80, CV_8UC3);
  for (int y = 0; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x)
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>(3 * x), static_cast<uchar>(3 * y), 128);
  }
  store_image(image, dir.file("smooth.jpg"));
  const cv::Mat loaded = load_image(dir.file("smooth.jpg"));
  ASSERT_EQ(loaded.size(), image.size());
  EXPECT_LE(cv::norm(loaded, image, cv::NORM_INF), 8.0) << "JPEG quality looks lower than 95";
}

TEST(StoreImage, ReplacesAnExistingFile) {
  const ScratchDir dir;
  const std::string path = dir.file("frame.png");
  const cv::Mat first = random_image(23, 37, CV_8UC3, 1);
  const cv::Mat second = random_image(41, 19, CV_16UC1, 2);
  store_image(first, path);
  ASSERT_EQ(::chmod(path.c_str(), 0444), 0);  // a read-only file is replaced too, as by mv
  store_image(second, path);
  EXPECT_TRUE(same_pixels(load_image(path), second));
  EXPECT_EQ(dir.entries(), std::set<std::string>{"frame.png"});
}

TEST(StoreImage, LeavesNoTemporaryFileBehind) {
  const ScratchDir dir;
  for (int i = 0; i < 20; ++i) {
    store_image(random_image(23, 37, CV_8UC3, static_cast<std::uint64_t>(i)), dir.file("a.png"));
    store_image(random_image(23, 37, CV_32FC1, static_cast<std::uint64_t>(i)), dir.file("b.tif"));
  }
  EXPECT_EQ(dir.entries(), (std::set<std::string>{"a.png", "b.tif"}));
}

// Restores the working directory a test changed.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const fs::path& path) : saved_(fs::current_path()) {
    fs::current_path(path);
  }
  ~WorkingDirectory() {
    std::error_code ignored;
    fs::current_path(saved_, ignored);
  }
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;

 private:
  fs::path saved_;
};

TEST(StoreImage, WritesABareFileNameToTheWorkingDirectory) {
  const ScratchDir dir;
  const cv::Mat image = random_image(23, 37, CV_8UC1, 3);
  {
    const WorkingDirectory inside(dir.path());
    store_image(image, "bare.png");
  }
  EXPECT_TRUE(same_pixels(load_image(dir.file("bare.png")), image));
  EXPECT_EQ(dir.entries(), std::set<std::string>{"bare.png"});
}

// ---- refusals -------------------------------------------------------------------------------

TEST(StoreImage, MissingFolderIsNamedAndNothingIsLeft) {
  const ScratchDir dir;
  const std::string path = dir.file("no-such-folder/frame.png");
  expect_store_error(random_image(23, 37, CV_8UC3, 4), path, "does not exist, create it first");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(StoreImage, ProcIsNotWritable) {
  const std::string path = "/proc/tilefork-frame-io-test.png";
  expect_store_error(random_image(23, 37, CV_8UC3, 5), path, "cannot write");
  EXPECT_FALSE(fs::exists(path));
}

TEST(StoreImage, FolderWithoutWritePermissionIsNamedAndNothingIsLeft) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into a folder whatever its permission bits";
  const ScratchDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0500), 0);
  expect_store_error(random_image(23, 37, CV_8UC3, 6), dir.file("frame.png"), "Permission denied");
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
  EXPECT_TRUE(dir.entries().empty());
}

TEST(StoreImage, PathThatIsAFolderIsRefusedAndNothingIsLeft) {
  const ScratchDir dir;
  ASSERT_EQ(::mkdir(dir.file("frame.png").c_str(), 0755), 0);
  expect_store_error(random_image(23, 37, CV_8UC3, 7), dir.file("frame.png"), "cannot write");
  EXPECT_EQ(dir.entries(), std::set<std::string>{"frame.png"});
  EXPECT_TRUE(fs::is_directory(dir.file("frame.png")));
}

TEST(StoreImage, UnsupportedExtensionIsNamed) {
  const ScratchDir dir;
  expect_store_error(random_image(23, 37, CV_8UC3, 8), dir.file("frame.foo"), "'.foo'");
  expect_store_error(random_image(23, 37, CV_8UC3, 8), dir.file("frame"), "no extension");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(StoreImage, DepthTheFormatWouldClipIsRefused) {
  const ScratchDir dir;
  expect_store_error(random_image(23, 37, CV_16UC3, 9), dir.file("frame.jpg"), "JPEG stores 8-bit");
  expect_store_error(random_image(23, 37, CV_32FC1, 9), dir.file("frame.png"),
                     "PNG stores 8- or 16-bit");
  expect_store_error(random_image(23, 37, CV_16UC4, 9), dir.file("frame.webp"), "WebP");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(StoreImage, ChannelCountsOpenCVCannotWriteAreRefused) {
  const ScratchDir dir;
  expect_store_error(random_image(23, 37, CV_8UC2, 10), dir.file("frame.png"),
                     "1, 3 or 4 channels");
  expect_store_error(cv::Mat(), dir.file("frame.png"), "empty");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(StoreImage, EncoderErrorsAreReportedWithThePath) {
  const ScratchDir dir;
  // PPM holds 3 channels only; OpenCV's encoder raises the error.
  expect_store_error(random_image(23, 37, CV_8UC1, 11), dir.file("frame.ppm"), "cannot encode");
  EXPECT_TRUE(dir.entries().empty());
}

// ---- loading --------------------------------------------------------------------------------

TEST(LoadImage, CorruptPngNamesThePath) {
  const ScratchDir dir;
  std::vector<uchar> png;
  ASSERT_TRUE(cv::imencode(".png", random_image(23, 37, CV_8UC3, 12), png));
  for (std::size_t i = 33; i < png.size(); ++i) png[i] = static_cast<uchar>(i * 31);  // after IHDR
  std::ofstream(dir.file("corrupt.png"), std::ios::binary)
      .write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  expect_load_error(dir.file("corrupt.png"), "cannot decode");
}

TEST(LoadImage, MissingFileSaysSo) {
  const ScratchDir dir;
  expect_load_error(dir.file("missing.png"), "No such file or directory");
}

TEST(LoadImage, DirectorySaysSo) {
  const ScratchDir dir;
  expect_load_error(dir.path().string(), "is a directory");
}

// ---- a writer killed at random moments ------------------------------------------------------

// Forks a child that stores `images` in turn to `path` until it is killed with SIGKILL after
// a random delay, several times. The final path must always hold one whole image. With unnamed
// files (O_TMPFILE) no partial file ever gets a name: the only leftover possible is a complete
// file whose writer died between linkat() and rename(), a window of microseconds.
void kill_writers_at_random(const std::string& extension, const std::vector<cv::Mat>& images,
                            int rounds, int max_delay_ms) {
  const ScratchDir dir;
  const std::string name = "frame" + extension;
  const std::string path = dir.file(name);
  store_image(images[0], path);
  const bool unnamed = supports_unnamed_files(dir.path());

  const auto seed = std::random_device{}();
  SCOPED_TRACE("delay seed " + std::to_string(seed));
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> delay_ms(1, max_delay_ms);

  for (int round = 0; round < rounds; ++round) {
    std::fflush(nullptr);  // or buffered output is printed twice
    const pid_t child = ::fork();
    ASSERT_GE(child, 0) << "fork: " << std::strerror(errno);
    if (child == 0) {
      try {
        for (std::size_t i = 1;; ++i) store_image(images[i % images.size()], path);
      } catch (...) {
        ::_exit(3);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "round " << round << ": the writer ended by itself, status " << status;

    cv::Mat loaded;
    ASSERT_NO_THROW(loaded = load_image(path)) << "round " << round << ": partial file at " << path;
    bool whole = false;
    for (const cv::Mat& image : images) whole = whole || same_pixels(loaded, image);
    EXPECT_TRUE(whole) << "round " << round << ": " << path << " holds none of the images";

    for (const std::string& entry : dir.entries()) {
      if (entry == name) continue;
      EXPECT_EQ(entry.rfind("." + name + ".tilefork-", 0), 0u) << "unexpected file " << entry;
      if (unnamed) {
        cv::Mat leftover;
        EXPECT_NO_THROW(leftover = load_image(dir.file(entry))) << "partial temporary " << entry;
      }
    }
  }
}

TEST(StoreImage, KilledWriterNeverLeavesAPartialBmp) {
  // BMP encodes in almost no time, so most kills land while the file is being written.
  kill_writers_at_random(
      ".bmp", {random_image(1500, 2001, CV_8UC3, 20), random_image(1500, 2001, CV_8UC3, 21)}, 12,
      60);
}

TEST(StoreImage, KilledWriterNeverLeavesAPartialPng) {
  kill_writers_at_random(
      ".png", {random_image(700, 901, CV_8UC3, 22), random_image(700, 901, CV_16UC1, 23)}, 8, 150);
}

}  // namespace
}  // namespace tilefork

namespace tilefork {
namespace {

// Workers decode into their frame slot: the frame lands in the given memory when it has the
// destination's size and type, and elsewhere (the destination untouched) when it has not.
TEST(LoadImage, DecodesIntoTheDestinationWhenSizeAndTypeMatch) {
  ScratchDir dir;
  for (const int type : {CV_8UC1, CV_8UC3, CV_16UC3, CV_8UC4}) {
    const cv::Mat original = random_image(37, 23, type, 5);
    const std::string path = dir.file("frame.png");
    ASSERT_TRUE(cv::imwrite(path, original));
    std::vector<std::uint8_t> memory(original.total() * original.elemSize(), 0xAB);
    const cv::Mat destination(original.size(), type, memory.data());
    const cv::Mat decoded = load_image(path, destination);
    EXPECT_EQ(decoded.data, memory.data()) << "type " << type;
    EXPECT_EQ(cv::norm(decoded, original, cv::NORM_INF), 0) << "type " << type;

    std::vector<std::uint8_t> other(memory.size() * 2, 0xAB);
    const cv::Mat wrong_size(original.rows + 1, original.cols, type, other.data());
    const cv::Mat elsewhere = load_image(path, wrong_size);
    EXPECT_NE(elsewhere.data, other.data());
    EXPECT_EQ(cv::norm(elsewhere, original, cv::NORM_INF), 0);
    EXPECT_TRUE(std::all_of(other.begin(), other.end(), [](std::uint8_t b) { return b == 0xAB; }));
  }
}

}  // namespace
}  // namespace tilefork
