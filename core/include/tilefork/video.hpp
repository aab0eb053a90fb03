// Video files in and out, through OpenCV's videoio (FFmpeg). A video's frames are items of a
// batch like image files, but a codec is sequential: frames are decoded in order and encoded in
// order, by one process (the coordinator in the fork executor), while their tiles run on every
// worker.
#pragma once

#include "tilefork/frame_io.hpp"

#include <opencv2/core/mat.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tilefork {

// True for the file name extensions read as videos (.mp4 .mkv .avi .mov .webm ...).
bool is_video_path(std::string_view path);

struct VideoInfo {
  cv::Size size;
  FrameType type{CV_8U, 3};  // FFmpeg frames come to OpenCV as 8-bit BGR
  double fps = 0;
  int fourcc = 0;            // the codec, as a FOURCC ("avc1", "MJPG", ...)
  std::uint32_t frames = 0;  // as the container announces; the stream may hold fewer
};

// Opens `path` and reads its stream's properties. Throws ImageError naming the path and the
// reason (missing, not a video FFmpeg can decode, no frame count).
VideoInfo probe_video(const std::string& path);

// "avc1" from its FOURCC code; "0x00000000" style for codes that are not printable.
std::string fourcc_text(int fourcc);
// The FOURCC code of a 4-character text. Throws UsageError naming `text` otherwise.
int parse_fourcc(std::string_view text);

// How an output video is encoded; 0 means "as the input".
struct VideoEncoding {
  int fourcc = 0;
  double fps = 0;
};

// One video of a batch: its decoder, its encoder and the frames between. Not thread-safe: one
// thread of one process reads and writes it. The output appears complete or not at all
// (AtomicFile); a stream destroyed before its last frame leaves nothing.
class VideoStream {
 public:
  // `output` empty: frames are computed and not written (benchmarks).
  VideoStream(std::string input, std::string output, VideoInfo info, VideoEncoding encoding);
  ~VideoStream();
  VideoStream(const VideoStream&) = delete;
  VideoStream& operator=(const VideoStream&) = delete;

  const std::string& input() const { return input_; }
  const std::string& output() const { return output_; }
  const VideoInfo& info() const { return info_; }

  // Decodes `frame`, which must follow the last one read. Returns an empty Mat when the stream
  // ends before it (it then ends there: see end_at). Throws ImageError naming the file.
  cv::Mat read(std::uint32_t frame);
  // True when `frame` is the next one to encode.
  bool expects(std::uint32_t frame) const { return frame == written_; }
  // Encodes `frame` (it must be the one expected); the last frame commits the output. Throws
  // ImageError naming the file (no encoder for the codec, a frame type a video cannot hold, a
  // failed write).
  void write(std::uint32_t frame, const cv::Mat& image);
  // The stream holds no frame from `frame` on; commits the output if every frame before it is
  // written. Throws ImageError as write does.
  void end_at(std::uint32_t frame);
  // Drops the output: a video with a frame missing is not written. Later frames need not run.
  // The first failure's frame and reason are kept: the other frames fail as its consequence.
  void fail(std::uint32_t frame, std::string_view reason) noexcept;
  bool failed() const { return failed_; }
  // "frame 12: <reason>" of the first failure; empty while none.
  const std::string& failure() const { return failure_; }
  std::uint32_t end() const { return end_; }

 private:
  void open_writer(const cv::Mat& first);
  void commit_if_complete();

  std::string input_;
  std::string output_;
  VideoInfo info_;
  VideoEncoding encoding_;
  struct Codec;  // the OpenCV capture and writer, kept out of this header
  std::unique_ptr<Codec> codec_;
  std::unique_ptr<AtomicFile> file_;
  std::uint32_t read_next_ = 0;
  std::uint32_t written_ = 0;
  std::uint32_t end_;
  bool failed_ = false;
  bool committed_ = false;
  std::string failure_;
};

}  // namespace tilefork
