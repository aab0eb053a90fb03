// Reading image headers, decoding and encoding frames, and writing outputs atomically.
#pragma once

#include "tilefork/kernel.hpp"

#include <opencv2/core/mat.hpp>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace tilefork {

// What an image file's header says, before any pixel is decoded. The coordinator sizes frame
// slots from it, so `type` is an upper bound of what load_image returns (channels and depth
// never exceed it; for most formats they are equal) and `size` is the upright size load_image
// returns: for a JPEG whose EXIF orientation is 5..8, the stored width and height swapped.
struct ImageInfo {
  cv::Size size;
  FrameType type;
  // The EXIF orientation (1..8) load_image applies to a JPEG; 1 for other formats and for
  // JPEGs without a readable EXIF Orientation tag (the frame is taken as stored).
  int orientation = 1;
  std::size_t max_bytes() const;  // width * height * channels * bytes per sample
};

// Reads the header of `path` (PNG, JPEG, BMP, PNM, TIFF, WebP by their own headers; any other
// format OpenCV reads by decoding it once). Throws ImageError naming the path and the reason
// (missing, unreadable, not an image, truncated header).
ImageInfo probe_image(const std::string& path);

// Decodes `path` as cv::imread(path, IMREAD_UNCHANGED) does (every depth and channel count
// kept), then turns a JPEG upright as its EXIF Orientation tag says, as photo viewers show it;
// the tag is not carried to any output, so the result shows the same everywhere. Other formats
// come as OpenCV's decoder gives them (its TIFF decoder honours the TIFF Orientation field;
// EXIF in PNG or WebP is ignored). Throws ImageError naming the path.
cv::Mat load_image(const std::string& path);
// The same, decoded into `destination`'s memory when the frame has its size and type (the result
// then shares it: a worker decodes straight into its frame slot); otherwise into new memory.
cv::Mat load_image(const std::string& path, const cv::Mat& destination);

// Encodes `image` in the format named by `path`'s extension and writes it so that `path` either
// does not change or holds the whole new file: the bytes go to an unnamed file (O_TMPFILE) in the
// same folder, which is given its name only when complete. A process killed at any point leaves
// no partial file. Throws ImageError naming the path and the reason.
void store_image(const cv::Mat& image, const std::string& path, int quality = -1);
// `quality` 1..100 sets JPEG and WebP quality (-1: JPEG 95, WebP lossless).

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file that appears at its path complete or not at all: the bytes go to an unnamed file
// (O_TMPFILE) in the same folder, and commit() gives it its name with a rename, which replaces
// an existing file atomically. Where the file system has no unnamed files, a hidden temporary
// ".<name>.tilefork-<pid>-<n>" beside it stands in (a killed writer leaves that, never a
// partial file at `path`). Linux only: names are given through /proc/self/fd.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // throws ImageError naming the path and the reason
  ~AtomicFile();                          // uncommitted: nothing stays behind; never throws
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // A path that opens this same file, for libraries that insist on a name (FFmpeg).
  std::string reopen_path() const;
  void write(std::span<const std::uint8_t> bytes);  // throws ImageError
  void commit();                                    // throws ImageError; then nothing stays

 private:
  std::string path_;
  std::filesystem::path folder_;
  std::string name_;
  std::filesystem::path temporary_;  // the hidden name, when it has one
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace tilefork
