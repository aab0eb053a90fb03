// Decoding frames, encoding them, and writing output files so that no reader ever sees a partial
// one.
#include "tilefork/frame_io.hpp"

#include "orientation.hpp"

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace tilefork {
namespace {

std::string errno_text(int err) { return std::system_category().message(err); }

// ---- encoding -------------------------------------------------------------------------------

// Fixed here because store_image takes no options yet. JPEG at OpenCV's usual quality. PNG keeps
// OpenCV's default (zlib level 1, SUB filter): on samples/frames/Garden.jpg (2560x1600) it wrote
// 3.24 MB in 110 ms where level 3 wrote 3.12 MB in 303 ms; encoding dominates batch time.
constexpr int jpeg_quality = 95;
constexpr int tiff_lzw = 5;  // COMPRESSION_LZW in libtiff's numbering

// The sample depths a format stores as they are. OpenCV converts any other depth with
// saturate_cast before encoding, which silently clips a 16-bit or float frame into garbage
// (a 0..1 float image becomes black), so such a store is refused instead. Formats not listed
// are left to OpenCV: TIFF stores every depth it can, float formats (EXR, HDR, PFM) convert to
// float, and combinations an encoder cannot write raise an error reported below.
struct StoredDepths {
  std::string_view extension;
  std::string_view format;
  unsigned depths;  // bit d set: stores depth d (CV_8U = 0, CV_16U = 2)
  std::string_view depth_names;
};

constexpr unsigned depth_bit(int depth) { return 1u << depth; }
constexpr unsigned u8 = depth_bit(CV_8U);
constexpr unsigned u8_u16 = depth_bit(CV_8U) | depth_bit(CV_16U);

constexpr StoredDepths stored_depths[] = {
    {".png", "PNG", u8_u16, "8- or 16-bit unsigned"},
    {".jpg", "JPEG", u8, "8-bit unsigned"},
    {".jpeg", "JPEG", u8, "8-bit unsigned"},
    {".jpe", "JPEG", u8, "8-bit unsigned"},
    {".bmp", "BMP", u8, "8-bit unsigned"},
    {".dib", "BMP", u8, "8-bit unsigned"},
    {".webp", "WebP", u8, "8-bit unsigned"},
    {".ppm", "PNM", u8_u16, "8- or 16-bit unsigned"},
    {".pgm", "PNM", u8_u16, "8- or 16-bit unsigned"},
    {".pnm", "PNM", u8_u16, "8- or 16-bit unsigned"},
    {".pbm", "PBM", u8, "8-bit unsigned"},
    {".ras", "Sun raster", u8, "8-bit unsigned"},
    {".sr", "Sun raster", u8, "8-bit unsigned"},
};

std::string lower_case_extension(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension;
}

std::vector<int> encoder_parameters(std::string_view extension, int quality) {
  if (extension == ".jpg" || extension == ".jpeg" || extension == ".jpe") {
    return {cv::IMWRITE_JPEG_QUALITY, quality > 0 ? quality : jpeg_quality};
  }
  if (extension == ".webp" && quality > 0) return {cv::IMWRITE_WEBP_QUALITY, quality};
  if (extension == ".tif" || extension == ".tiff") {
    // Without an explicit compression OpenCV 4.6 stores 3-channel float frames as LogLuv
    // (SGILOG), which is lossy (0 comes back as -0.006). Naming any compression makes it
    // write plain floats; LZW is what it uses for the other types anyway.
    return {cv::IMWRITE_TIFF_COMPRESSION, tiff_lzw};
  }
  return {};
}

std::vector<std::uint8_t> encode(const cv::Mat& image, const std::string& path, int quality) {
  const std::string extension = lower_case_extension(path);
  if (extension.empty() || extension == ".") {
    throw ImageError(fmt::format(
        "cannot write '{}': the name has no extension to choose the format by; end it in .png, "
        ".tif, .jpg, .webp, .bmp or .ppm",
        path));
  }
  if (!cv::haveImageWriter(extension)) {
    throw ImageError(fmt::format(
        "cannot write '{}': OpenCV has no encoder for '{}'; use .png, .tif, .jpg, .webp, .bmp "
        "or .ppm",
        path, extension));
  }
  if (image.empty()) throw ImageError(fmt::format("cannot write '{}': the image is empty", path));
  const FrameType type{image.depth(), image.channels()};
  if (type.channels != 1 && type.channels != 3 && type.channels != 4) {
    throw ImageError(fmt::format(
        "cannot write '{}': the image is {}; OpenCV writes images of 1, 3 or 4 channels", path,
        to_string(type)));
  }
  for (const StoredDepths& format : stored_depths) {
    if (format.extension == extension && (format.depths & depth_bit(type.depth)) == 0) {
      throw ImageError(fmt::format(
          "cannot write '{}': {} stores {} samples and the image is {}, which OpenCV would "
          "clip; write .tif, or convert the frame in the pipeline first",
          path, format.format, format.depth_names, to_string(type)));
    }
  }
  std::vector<std::uint8_t> bytes;
  try {
    if (!cv::imencode(extension, image, bytes, encoder_parameters(extension, quality))) {
      throw ImageError(fmt::format("cannot encode '{}': OpenCV's encoder for '{}' failed on {}",
                                   path, extension, to_string(type)));
    }
  } catch (const cv::Exception& e) {
    throw ImageError(fmt::format("cannot encode '{}' ({}): {}", path, to_string(type), e.err));
  }
  return bytes;
}

// ---- writing --------------------------------------------------------------------------------

// What the user can do about a failed write, chosen by errno.
std::string write_hint(int err, const std::filesystem::path& folder) {
  const std::string name = folder.string();
  switch (err) {
    case ENOENT: {
      struct stat st {};
      if (::stat(name.c_str(), &st) != 0) {
        return fmt::format("; the folder '{}' does not exist, create it first", name);
      }
      return fmt::format("; the folder '{}' does not take new files, write elsewhere", name);
    }
    case EACCES:
    case EPERM:
      return fmt::format(
          "; you may not create files in '{}', check its permissions or write "
          "elsewhere",
          name);
    case ENOSPC:
    case EDQUOT:
      return fmt::format(
          "; the file system holding '{}' is full, free some space or write "
          "elsewhere",
          name);
    case EROFS:
      return fmt::format("; '{}' is on a read-only file system, write elsewhere", name);
    case ENOTDIR:
      return fmt::format("; a part of '{}' is not a folder", name);
    case EISDIR:
      return "; that name is a folder, choose a file name";
    case ENAMETOOLONG:
      return "; choose a shorter name";
    default:
      return {};
  }
}

[[noreturn]] void throw_write_error(const std::string& path, const std::filesystem::path& folder,
                                    int err) {
  throw ImageError(
      fmt::format("cannot write '{}': {}{}", path, errno_text(err), write_hint(err, folder)));
}

// Returns 0 or an errno.
int write_all(int fd, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const ssize_t written =
        ::write(fd, bytes.data(), std::min<std::size_t>(bytes.size(), std::size_t{1} << 30));
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (written == 0) return EIO;  // a regular file never does this; do not spin on it
    bytes = bytes.subspan(static_cast<std::size_t>(written));
  }
  return 0;
}

std::atomic<std::uint64_t> temporary_serial{0};

// ".<name>.tilefork-<pid>-<n>" beside the output: hidden, on the same file system so that
// rename() is atomic, and unique per process and call. The name part is cut so the whole
// stays within NAME_MAX (255).
std::filesystem::path temporary_name(const std::filesystem::path& folder, const std::string& name) {
  return folder / fmt::format(".{}.tilefork-{}-{}", name.substr(0, 200), ::getpid(),
                              temporary_serial.fetch_add(1));
}

// Cleanup never throws: a temporary that cannot be removed is reported and left.
void remove_quietly(const std::filesystem::path& temporary) noexcept {
  if (temporary.empty() || ::unlink(temporary.c_str()) == 0 || errno == ENOENT) return;
  const int err = errno;
  try {
    fmt::print(stderr, "tilefork: could not remove temporary file '{}': {}\n", temporary.string(),
               errno_text(err));
  } catch (...) {
    // Nothing sensible is left to do when even the report fails.
  }
}

// How often a temporary name taken by someone else (a writer with our pid that was killed)
// is skipped before giving up.
constexpr int name_attempts = 100;

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  const std::filesystem::path target(path_);
  name_ = target.filename().string();
  if (name_.empty() || name_ == "." || name_ == "..") {
    throw ImageError(fmt::format("cannot write '{}': it names a folder, not a file", path_));
  }
  folder_ = target.has_parent_path() ? target.parent_path() : ".";
  // An unnamed file first: a writer killed at any point leaves nothing behind.
  fd_ = ::open(folder_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
  if (fd_ >= 0 && ::access("/proc/self/fd", F_OK) == 0) return;
  const int err = errno;
  if (fd_ >= 0) {
    ::close(fd_);  // no /proc to give it a name through
  } else if (err != EOPNOTSUPP && err != EISDIR) {
    // EOPNOTSUPP: this file system cannot; EISDIR: the kernel predates O_TMPFILE.
    throw_write_error(path_, folder_, err);
  }
  // The fallback: a named hidden temporary, which a killed writer leaves behind (never a
  // partial `path`).
  for (int attempt = 1;; ++attempt) {
    temporary_ = temporary_name(folder_, name_);
    fd_ = ::open(temporary_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ >= 0) return;
    const int open_error = errno;
    if (open_error == EEXIST && attempt < name_attempts) continue;
    throw_write_error(path_, folder_, open_error);
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) remove_quietly(temporary_);
}

std::string AtomicFile::reopen_path() const {
  return temporary_.empty() ? fmt::format("/proc/self/fd/{}", fd_) : temporary_.string();
}

void AtomicFile::write(std::span<const std::uint8_t> bytes) {
  if (const int err = write_all(fd_, bytes); err != 0) throw_write_error(path_, folder_, err);
}

void AtomicFile::commit() {
  if (temporary_.empty()) {
    // Linking through /proc needs no privilege, unlike linkat(AT_EMPTY_PATH); linkat cannot
    // replace a file, so the complete file is linked under a temporary name and renamed.
    const std::string unnamed = fmt::format("/proc/self/fd/{}", fd_);
    for (int attempt = 1;; ++attempt) {
      std::filesystem::path temporary = temporary_name(folder_, name_);
      if (::linkat(AT_FDCWD, unnamed.c_str(), AT_FDCWD, temporary.c_str(), AT_SYMLINK_FOLLOW) == 0) {
        temporary_ = std::move(temporary);
        break;
      }
      const int err = errno;
      if (err == EEXIST && attempt < name_attempts) continue;
      throw_write_error(path_, folder_, err);
    }
  }
  // Close first: some file systems (NFS, quotas) report a failed write only at close. EINTR
  // is not an error: Linux has closed the descriptor anyway.
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && errno != EINTR) throw_write_error(path_, folder_, errno);
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) throw_write_error(path_, folder_, errno);
  committed_ = true;
}

namespace {

void write_atomically(const std::string& path, std::span<const std::uint8_t> bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
}

}  // namespace

std::size_t ImageInfo::max_bytes() const {
  return static_cast<std::size_t>(size.width) * static_cast<std::size_t>(size.height) *
         static_cast<std::size_t>(type.channels) *
         static_cast<std::size_t>(CV_ELEM_SIZE1(type.depth));
}

namespace {

// The whole file, or an ImageError saying why not (missing, unreadable, a folder).
std::vector<std::uint8_t> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    throw ImageError(fmt::format("cannot read '{}': {}", path, errno_text(err)));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw ImageError(fmt::format("'{}' is a directory, not an image file", path));
  }
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(std::max<off_t>(st.st_size, 0)));
  std::size_t have = 0;
  while (true) {
    if (have == bytes.size()) bytes.resize(std::max<std::size_t>(4096, bytes.size() * 2));  // grew since fstat
    const ssize_t got = ::read(fd, bytes.data() + have, bytes.size() - have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int err = errno;
      ::close(fd);
      throw ImageError(fmt::format("cannot read '{}': {}", path, errno_text(err)));
    }
    if (got == 0) break;
    have += static_cast<std::size_t>(got);
  }
  ::close(fd);
  bytes.resize(have);
  return bytes;
}

}  // namespace

cv::Mat load_image(const std::string& path) { return load_image(path, cv::Mat()); }

cv::Mat load_image(const std::string& path, const cv::Mat& destination) {
  const std::vector<std::uint8_t> bytes = read_file(path);
  // OpenCV 4.6 applies EXIF orientation only when asked to convert the frame too, so it is
  // applied here, from the same parser that gave probe_image its upright size. A frame to be
  // turned is decoded apart: turning cannot happen in place.
  const int orientation = stored_orientation(path, bytes);
  cv::Mat image = orientation == 1 ? destination : cv::Mat();
  try {
    // imdecode writes into `image`'s memory when the frame has its size and type.
    cv::imdecode(bytes, cv::IMREAD_UNCHANGED, &image);
  } catch (const cv::Exception& e) {
    throw ImageError(fmt::format("cannot decode '{}': {}", path, e.err));
  }
  if (image.empty()) throw ImageError(fmt::format("cannot decode '{}': corrupt or unsupported image", path));
  return turn_upright(image, orientation);
}

void store_image(const cv::Mat& image, const std::string& path, int quality) {
  write_atomically(path, encode(image, path, quality));
}

}  // namespace tilefork
