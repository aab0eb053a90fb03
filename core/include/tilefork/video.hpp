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
  // As the container announces (or FFmpeg estimates from its duration). The stream may hold
  // fewer or more: every frame it holds is processed, and the header only plans the batch.
  std::uint32_t frames = 0;
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

  // Decodes `frame`, which must be next_to_read(). Returns an empty Mat when the stream ends
  // before it, and the stream then ends there (end() becomes `frame`). With `destination`, the
  // frame is decoded into its memory when it has the frame's size and type (the result then
  // shares it), which saves a copy. Throws ImageError naming the file.
  cv::Mat read(std::uint32_t frame, const cv::Mat& destination = cv::Mat());
  std::uint32_t next_to_read() const { return read_next_; }
  // True for the last frame the header announced: the frames the stream holds after it, if any,
  // belong to the item of this frame, and whoever runs it reads on until the stream ends.
  bool last_announced(std::uint32_t frame) const { return frame + 1 == info_.frames; }
  // True when `frame` is the next one to encode.
  bool expects(std::uint32_t frame) const { return frame == written_; }
  // Encodes `frame` (it must be the one expected); the last frame commits the output. Throws
  // ImageError naming the file (no encoder for the codec, a frame type a video cannot hold, a
  // failed write).
  void write(std::uint32_t frame, const cv::Mat& image);
  // The stream holds no frame from `frame` on; commits the output if every frame before it is
  // written. Throws ImageError as write does. read() calls it when the stream runs out: the
  // output is committed only once the end of the stream has been seen, not at the frame count
  // the header announced.
  void end_at(std::uint32_t frame);
  // Drops the output: a video with a frame missing is not written. Later frames need not run.
  // The first failure's frame and reason are kept: the other frames fail as its consequence.
  void fail(std::uint32_t frame, std::string_view reason) noexcept;
  bool failed() const { return failed_; }
  // "frame 12: <reason>" of the first failure; empty while none.
  const std::string& failure() const { return failure_; }
  // The first frame the stream does not hold; kEndUnknown until the end has been read.
  static constexpr std::uint32_t kEndUnknown = ~std::uint32_t{0};
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
  std::uint32_t end_ = kEndUnknown;
  bool failed_ = false;
  bool committed_ = false;
  std::string failure_;
};

}  // namespace tilefork
