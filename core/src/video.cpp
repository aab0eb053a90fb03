// Decoding and encoding videos with OpenCV's FFmpeg backend, in order, into files that appear
// whole or not at all.
#include "tilefork/video.hpp"

#include "tilefork/errors.hpp"

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace tilefork {
namespace {

constexpr std::array<std::string_view, 14> kVideoExtensions = {
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv", ".ts", ".mts", ".3gp"};

// A symbolic link with the output's extension that leads to `target`: FFmpeg picks the
// container by the name it is given, and the file it should write has none (it is unnamed).
// The link lives in a private folder under the temp dir and goes as soon as FFmpeg has opened
// the file.
class NamedLink {
 public:
  NamedLink(const std::string& target, const std::string& extension) {
    std::string folder = (std::filesystem::temp_directory_path() / "tilefork-video-XXXXXX").string();
    if (::mkdtemp(folder.data()) == nullptr) {
      throw ImageError(fmt::format("cannot make a temporary folder '{}': {}", folder, std::strerror(errno)));
    }
    folder_ = folder;
    link_ = folder_ / ("video" + extension);
    if (::symlink(target.c_str(), link_.c_str()) != 0) {
      const int err = errno;
      remove();
      throw ImageError(fmt::format("cannot make a link in '{}': {}", folder_.string(), std::strerror(err)));
    }
  }
  ~NamedLink() { remove(); }
  NamedLink(const NamedLink&) = delete;
  NamedLink& operator=(const NamedLink&) = delete;
  std::string path() const { return link_.string(); }

 private:
  void remove() noexcept {
    if (!link_.empty()) ::unlink(link_.c_str());
    if (!folder_.empty()) ::rmdir(folder_.c_str());
    link_.clear();
    folder_.clear();
  }
  std::filesystem::path folder_;
  std::filesystem::path link_;
};

std::string lower_extension(std::string_view path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

// Containers whose header stores a frame count that FFmpeg hands on (AVI's stream length, the
// sample count of MP4 and QuickTime). OpenCV 4.6's FFmpeg reader will not read past one frame
// more than that count (CvCapture_FFMPEG::grabFrame returns false once frame_number exceeds
// nb_frames): a stream that ends exactly there may have been cut by it, and there is no way to
// read on through OpenCV. Matroska, WebM, MPEG-TS and the like store no count, and are read to
// their end (checked here with a Matroska file announcing 6 of its 10 frames, and an AVI whose
// stream length says 6 of its 10: OpenCV read 10 and 7).
bool stores_frame_count(std::string_view path) {
  static constexpr std::array<std::string_view, 5> kCounted = {".avi", ".mp4", ".m4v", ".mov", ".3gp"};
  const std::string extension = lower_extension(path);
  return std::find(kCounted.begin(), kCounted.end(), extension) != kCounted.end();
}

}  // namespace

bool is_video_path(std::string_view path) {
  const std::string extension = lower_extension(path);
  return std::find(kVideoExtensions.begin(), kVideoExtensions.end(), extension) != kVideoExtensions.end();
}

std::string fourcc_text(int fourcc) {
  std::string text;
  for (int shift = 0; shift < 32; shift += 8) {
    const char c = static_cast<char>((static_cast<unsigned>(fourcc) >> shift) & 0xFFu);
    if (!std::isprint(static_cast<unsigned char>(c))) return fmt::format("{:#010x}", static_cast<unsigned>(fourcc));
    text += c;
  }
  return text;
}

int parse_fourcc(std::string_view text) {
  if (text.size() != 4 || !std::all_of(text.begin(), text.end(), [](char c) {
        return std::isprint(static_cast<unsigned char>(c)) != 0;
      })) {
    throw UsageError(fmt::format("--codec '{}' is not a FOURCC: give 4 characters, e.g. avc1 (H.264), mp4v, "
                                 "MJPG or FFV1 (lossless)",
                                 text));
  }
  return cv::VideoWriter::fourcc(text[0], text[1], text[2], text[3]);
}

VideoInfo probe_video(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw ImageError(fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
  }
  cv::VideoCapture capture;
  try {
    capture.open(path, cv::CAP_FFMPEG);
  } catch (const cv::Exception& error) {
    throw ImageError(fmt::format("cannot open video '{}': {}", path, error.err));
  }
  if (!capture.isOpened()) {
    throw ImageError(fmt::format("cannot open video '{}': FFmpeg cannot decode it (corrupt, or a codec this "
                                 "build of OpenCV lacks)",
                                 path));
  }
  VideoInfo info;
  info.size = {static_cast<int>(capture.get(cv::CAP_PROP_FRAME_WIDTH)),
               static_cast<int>(capture.get(cv::CAP_PROP_FRAME_HEIGHT))};
  info.fps = capture.get(cv::CAP_PROP_FPS);
  info.fourcc = static_cast<int>(capture.get(cv::CAP_PROP_FOURCC));
  const double frames = capture.get(cv::CAP_PROP_FRAME_COUNT);
  if (info.size.width <= 0 || info.size.height <= 0) {
    throw ImageError(fmt::format("video '{}' has no frame size in its header", path));
  }
  if (!(frames >= 1) || frames > 1e9) {
    throw ImageError(fmt::format("video '{}' does not say how many frames it holds (a live stream or a broken "
                                 "header); remux it, e.g. ffmpeg -i IN -c copy OUT.mkv",
                                 path));
  }
  info.frames = static_cast<std::uint32_t>(std::llround(frames));
  return info;
}

struct VideoStream::Codec {
  cv::VideoCapture capture;
  cv::VideoWriter writer;
};

VideoStream::VideoStream(std::string input, std::string output, VideoInfo info, VideoEncoding encoding)
    : input_(std::move(input)),
      output_(std::move(output)),
      info_(info),
      encoding_(encoding),
      codec_(std::make_unique<Codec>()) {}

VideoStream::~VideoStream() = default;

cv::Mat VideoStream::read(std::uint32_t frame, const cv::Mat& destination) {
  if (frame >= end_) return {};
  if (frame != read_next_) {
    throw std::logic_error(fmt::format("video '{}': frame {} read out of order ({} was next)", input_, frame,
                                       read_next_));
  }
  if (frame == 0) {
    if (!codec_->capture.open(input_, cv::CAP_FFMPEG)) {
      throw ImageError(fmt::format("cannot open video '{}' (it could be probed before: was it changed?)", input_));
    }
  }
  // VideoCapture::read copies the decoder's picture into the Mat it is given, and reuses that
  // Mat's memory when its size and type match: so a header over `destination` takes the frame
  // straight there; any other frame gets memory of its own.
  cv::Mat image = destination;
  try {
    if (!codec_->capture.read(image) || image.empty()) {
      codec_->capture.release();
      if (frame == info_.frames + 1 && stores_frame_count(input_)) {
        throw ImageError(fmt::format(
            "its header says it holds {} frames, its stream held more, and OpenCV's FFmpeg reader stops one frame "
            "past the count a {} header stores: frames after frame {} may exist and cannot be read, so the video is "
            "not written. Remux it to Matroska, whose frames are read to the end (ffmpeg -i '{}' -c copy OUT.mkv), "
            "and run that",
            info_.frames, lower_extension(input_), frame - 1, input_));
      }
      end_at(frame);
      return {};
    }
  } catch (const cv::Exception& error) {
    throw ImageError(fmt::format("cannot decode frame {} of '{}': {}", frame, input_, error.err));
  }
  ++read_next_;
  if (image.size() != info_.size || image.type() != info_.type.cv_type()) {
    throw ImageError(fmt::format("frame {} of '{}' is {}x{} {}, not {}x{} {} as the video's header says", frame,
                                 input_, image.cols, image.rows, to_string(FrameType{image.depth(), image.channels()}),
                                 info_.size.width, info_.size.height, to_string(info_.type)));
  }
  return image;
}

void VideoStream::open_writer(const cv::Mat& first) {
  if (first.depth() != CV_8U || (first.channels() != 1 && first.channels() != 3)) {
    throw ImageError(fmt::format("cannot write video '{}': its frames come out of the pipeline as {}, and a "
                                 "video holds 8-bit gray or colour; add 'convert to=8u' to the pipeline, or drop "
                                 "the stage that changes the type",
                                 output_, to_string(FrameType{first.depth(), first.channels()})));
  }
  const int fourcc = encoding_.fourcc != 0 ? encoding_.fourcc : info_.fourcc;
  const double fps = encoding_.fps > 0 ? encoding_.fps : (info_.fps > 0 ? info_.fps : 25.0);
  file_ = std::make_unique<AtomicFile>(output_);
  std::string target = file_->reopen_path();
  if (target.front() != '/') target = std::filesystem::absolute(target).string();
  bool opened = false;
  {
    const NamedLink link(target, lower_extension(output_));
    try {
      opened = codec_->writer.open(link.path(), cv::CAP_FFMPEG, fourcc, fps, first.size(), first.channels() == 3);
    } catch (const cv::Exception& error) {
      throw ImageError(fmt::format("cannot write video '{}': {}", output_, error.err));
    }
  }
  if (!opened) {
    throw ImageError(fmt::format("cannot write video '{}' with codec '{}' at {} fps, {}x{}: FFmpeg has no such "
                                 "encoder for this container; choose one with --codec (avc1, mp4v, MJPG, FFV1 for "
                                 "lossless) or another container with --name",
                                 output_, fourcc_text(fourcc), fps, first.cols, first.rows));
  }
}

void VideoStream::write(std::uint32_t frame, const cv::Mat& image) {
  if (!expects(frame)) {
    throw std::logic_error(fmt::format("video '{}': frame {} written out of order ({} expected)", output_, frame,
                                       written_));
  }
  if (failed_) throw ImageError(fmt::format("video '{}' failed at an earlier frame", output_));
  if (!output_.empty()) {
    if (frame == 0) open_writer(image);
    try {
      codec_->writer.write(image);
    } catch (const cv::Exception& error) {
      throw ImageError(fmt::format("cannot encode frame {} into '{}': {}", frame, output_, error.err));
    }
  }
  ++written_;
  commit_if_complete();
}

void VideoStream::end_at(std::uint32_t frame) {
  end_ = std::min(end_, frame);
  commit_if_complete();
}

void VideoStream::commit_if_complete() {
  if (written_ < end_ || committed_ || failed_) return;
  committed_ = true;
  if (output_.empty()) return;
  if (end_ == 0) throw ImageError(fmt::format("video '{}' holds no frame to write", input_));
  codec_->writer.release();
  file_->commit();
}

void VideoStream::fail(std::uint32_t frame, std::string_view reason) noexcept {
  if (!failed_) {
    try {
      failure_ = fmt::format("frame {}: {}", frame, reason);
    } catch (...) {
      // Without the text the video still fails; the frames' own errors say why.
    }
  }
  failed_ = true;
  codec_->capture.release();
  codec_->writer.release();
  file_.reset();
}

}  // namespace tilefork
