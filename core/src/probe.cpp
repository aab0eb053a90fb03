// probe_image: a frame's size and pixel type from its file header, without decoding pixels.
//
// Each parser mirrors the decision OpenCV 4.6's own decoder takes in readHeader(), because
// the type reported here must be what cv::imread(path, IMREAD_UNCHANGED) returns: frame slots
// are sized and pipelines checked from it before any frame is decoded. Where OpenCV would
// refuse a file we refuse it here too, so the user hears about it before work starts. The
// quirks were measured on Debian 12's OpenCV 4.6 and are pinned by tests/unit/probe_test.cpp.
// One departure: load_image turns a JPEG upright by its EXIF orientation after decoding, so the
// JPEG parser reads that tag too and reports the upright size (tests/unit/orientation_test.cpp).
#include "tilefork/frame_io.hpp"

#include "orientation.hpp"

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace tilefork {
namespace {

using Bytes = std::vector<std::uint8_t>;

// OpenCV's default limits (CV_IO_MAX_IMAGE_WIDTH/HEIGHT/PIXELS): imread refuses anything
// larger, so a bigger header is reported now rather than as a failed decode later.
constexpr std::uint64_t max_side = std::uint64_t{1} << 20;
constexpr std::uint64_t max_pixels = std::uint64_t{1} << 30;

// Bytes fetched per read. Every header we parse fits; JPEG markers, PNG chunks and TIFF
// directories further in are reached by seeking, never by reading what lies between.
constexpr std::size_t read_window = 64 * 1024;

std::string describe_errno(int err) { return std::system_category().message(err); }

// An open image file read by offset through a small window. Knowing the file size lets every
// parser tell a truncated header ("ends after N bytes") from a malformed one.
class HeaderFile {
 public:
  explicit HeaderFile(const std::string& path) : path_(path) {
    // O_NONBLOCK so that a FIFO given by mistake is reported instead of blocking the planner.
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) {
      const int err = errno;
      throw ImageError(fmt::format("cannot read '{}': {}{}", path, describe_errno(err),
                                   err == ENOENT   ? "; check the path"
                                   : err == EACCES ? "; check the file's permissions"
                                                   : ""));
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      ::close(fd_);
      throw ImageError(fmt::format("cannot read '{}': {}", path, describe_errno(err)));
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd_);
      throw ImageError(fmt::format("'{}' is a directory, not an image file", path));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw ImageError(fmt::format("'{}' is not a regular file; give an image file", path));
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  // A file already read whole (load_image): every read is served from `bytes`, which must
  // outlive this object, and the file is not opened again. `path` only names it in messages.
  HeaderFile(const std::string& path, std::span<const std::uint8_t> bytes)
      : path_(path), size_(bytes.size()), whole_(bytes), in_memory_(true) {}
  ~HeaderFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  HeaderFile(const HeaderFile&) = delete;
  HeaderFile& operator=(const HeaderFile&) = delete;

  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }

  // Exactly `count` bytes at `offset`; a file that ends earlier is reported as truncated.
  Bytes read(std::uint64_t offset, std::size_t count) const {
    if (offset > size_ || count > size_ - offset) truncated();
    if (in_memory_) {
      const auto begin = whole_.begin() + static_cast<std::ptrdiff_t>(offset);
      return Bytes(begin, begin + static_cast<std::ptrdiff_t>(count));
    }
    if (offset < window_at_ || offset + count > window_at_ + window_.size()) {
      fill_window(offset, std::max(count, read_window));
    }
    const auto begin = window_.begin() + static_cast<std::ptrdiff_t>(offset - window_at_);
    return Bytes(begin, begin + static_cast<std::ptrdiff_t>(count));
  }

  // Up to `count` bytes at `offset`, fewer where the file ends.
  Bytes read_some(std::uint64_t offset, std::size_t count) const {
    if (offset >= size_) return {};
    return read(offset, static_cast<std::size_t>(std::min<std::uint64_t>(count, size_ - offset)));
  }

  [[noreturn]] void truncated() const {
    if (size_ == 0) {
      throw ImageError(fmt::format(
          "'{}' is empty (0 bytes); it was probably not written completely, create it again",
          path_));
    }
    throw ImageError(fmt::format(
        "'{}' is truncated (header ends after {} bytes); the file is incomplete, copy or "
        "write it again",
        path_, size_));
  }
  [[noreturn]] void damaged(std::string_view format, std::string_view reason) const {
    throw ImageError(
        fmt::format("'{}' is a damaged {} file ({}); create it again", path_, format, reason));
  }
  [[noreturn]] void unsupported(std::string_view format, std::string_view reason) const {
    throw ImageError(fmt::format(
        "'{}' is a {} file that OpenCV 4.6 cannot decode ({}); convert it to PNG or TIFF "
        "with 8 or 16 bits per sample",
        path_, format, reason));
  }

 private:
  void fill_window(std::uint64_t offset, std::size_t count) const {
    const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(count, size_ - offset));
    window_.resize(wanted);
    std::size_t done = 0;
    while (done < wanted) {
      const ssize_t got =
          ::pread(fd_, window_.data() + done, wanted - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        const int err = errno;
        throw ImageError(fmt::format("cannot read '{}': {}", path_, describe_errno(err)));
      }
      if (got == 0) break;  // the file shrank under us: what is there is all there is
      done += static_cast<std::size_t>(got);
    }
    window_.resize(done);
    window_at_ = offset;
    if (done < wanted) {
      size_ = offset + done;
      truncated();
    }
  }

  std::string path_;
  int fd_ = -1;
  mutable std::uint64_t size_ = 0;
  mutable std::uint64_t window_at_ = 0;
  mutable Bytes window_;
  std::span<const std::uint8_t> whole_;  // the whole file, when in_memory_
  bool in_memory_ = false;
};

std::uint32_t be16(const Bytes& b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at] << 8 | b[at + 1]);
}
std::uint32_t be32(const Bytes& b, std::size_t at) { return be16(b, at) << 16 | be16(b, at + 2); }
std::uint32_t le16(const Bytes& b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at] | b[at + 1] << 8);
}
std::uint32_t le24(const Bytes& b, std::size_t at) {
  return le16(b, at) | std::uint32_t{b[at + 2]} << 16;
}
std::uint32_t le32(const Bytes& b, std::size_t at) { return le16(b, at) | le16(b, at + 2) << 16; }
bool starts_with(const Bytes& b, std::size_t at, std::string_view text) {
  return b.size() >= at + text.size() && std::memcmp(b.data() + at, text.data(), text.size()) == 0;
}

// A header's claim, before the size limits are checked.
struct Header {
  std::uint64_t width = 0;
  std::uint64_t height = 0;
  FrameType type;
  int orientation = 1;  // EXIF orientation load_image applies; width and height are upright
};

// ---- PNG ------------------------------------------------------------------------------------

// libpng only honours a tRNS chunk placed before the image data, so the chunks between IHDR
// and the first IDAT decide. OpenCV then asks for an alpha channel for colour and palette
// images, but not for gray ones.
bool png_has_transparency(const HeaderFile& file) {
  std::uint64_t at = 33;  // signature (8) + IHDR chunk (25)
  for (;;) {
    const Bytes chunk = file.read(at, 8);
    const std::uint32_t length = be32(chunk, 0);
    if (starts_with(chunk, 4, "tRNS")) return length > 0;
    if (starts_with(chunk, 4, "IDAT") || starts_with(chunk, 4, "IEND")) return false;
    at += 12 + std::uint64_t{length};  // length, type, data, crc
  }
}

Header probe_png(const HeaderFile& file) {
  const Bytes head = file.read(0, 29);  // signature, IHDR length and type, 13 bytes of IHDR
  if (be32(head, 8) != 13 || !starts_with(head, 12, "IHDR")) {
    file.damaged("PNG", "the first chunk is not IHDR");
  }
  const unsigned depth = head[24];
  const unsigned colour = head[25];
  const bool depth_ok = depth == 8 || depth == 16 ||
                        ((colour == 0 || colour == 3) && (depth == 1 || depth == 2 || depth == 4));
  const bool colour_ok = colour == 0 || colour == 2 || colour == 3 || colour == 4 || colour == 6;
  if (!colour_ok || !depth_ok || (colour == 3 && depth == 16)) {
    file.damaged("PNG", fmt::format("colour type {} with bit depth {}", colour, depth));
  }
  int channels = 1;  // gray of any depth, expanded to 8 bits; a gray tRNS is dropped
  if (colour == 4 || colour == 6) {
    channels = 4;  // OpenCV widens gray+alpha to BGRA
  } else if (colour == 2 || colour == 3) {
    channels = png_has_transparency(file) ? 4 : 3;
  }
  return {be32(head, 16), be32(head, 20), FrameType{depth == 16 ? CV_16U : CV_8U, channels}};
}

// ---- JPEG -----------------------------------------------------------------------------------

bool is_start_of_frame(unsigned marker) {
  // SOF0..SOF15; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frame headers.
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

Header probe_jpeg(const HeaderFile& file) {
  // Walk the marker segments up to the frame header. EXIF, ICC and thumbnails can make them
  // far longer than one read window; each segment's length lets us seek past it.
  std::uint64_t at = 2;
  std::optional<int> orientation;  // from the first EXIF segment; EXIF puts it before the frame
  for (;;) {
    // Like libjpeg, skip stray bytes before a marker and any 0xFF fill bytes.
    while (file.read(at, 1)[0] != 0xFF) ++at;
    while (file.read(at + 1, 1)[0] == 0xFF) ++at;
    const unsigned marker = file.read(at + 1, 1)[0];
    at += 2;
    if (marker == 0x00) continue;  // a stuffed zero outside entropy-coded data: libjpeg skips it
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9 || marker == 0xDA) {
      file.damaged("JPEG", "no frame header before the image data");
    }
    const std::uint32_t length = be16(file.read(at, 2), 0);
    if (length < 2) file.damaged("JPEG", fmt::format("a marker segment of length {}", length));
    if (is_start_of_frame(marker)) {
      const Bytes frame = file.read(at + 2, 6);  // precision, height, width, components
      const unsigned precision = frame[0];
      const unsigned components = frame[5];
      if (components == 0) file.damaged("JPEG", "a frame with no components");
      // libjpeg converts every multi-component image (YCbCr, RGB, CMYK, YCCK) to BGR for OpenCV.
      // Debian's libjpeg-turbo decodes 8-bit samples only; 12- and 16-bit ones are given as
      // 16-bit here, an upper bound, and fail later in load_image.
      // load_image turns the frame upright (orientation.hpp), so 5..8 swap width and height.
      const int turn = orientation.value_or(1);
      const std::uint64_t width = be16(frame, 3);
      const std::uint64_t height = be16(frame, 1);
      return {swaps_sides(turn) ? height : width, swaps_sides(turn) ? width : height,
              FrameType{precision <= 8 ? CV_8U : CV_16U, components == 1 ? 1 : 3}, turn};
    }
    constexpr unsigned app1 = 0xE1;
    if (marker == app1 && !orientation) {
      orientation = exif_orientation(file.read(at + 2, length - 2));
    }
    at += length;
  }
}

// ---- BMP ------------------------------------------------------------------------------------

Header probe_bmp(const HeaderFile& file) {
  const std::uint32_t header_size = le32(file.read(14, 4), 0);
  if (header_size == 12) {
    // OS/2 BITMAPCOREHEADER. OpenCV 4.6 never marks these as colour and decodes them to one
    // gray channel, whatever their bit depth or palette.
    const Bytes h = file.read(18, 8);
    const std::uint32_t bpp = le16(h, 6);
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 24 && bpp != 32) {
      file.unsupported("BMP", fmt::format("{} bits per pixel", bpp));
    }
    return {le16(h, 0), le16(h, 2), FrameType{CV_8U, 1}};
  }
  if (header_size < 36) file.damaged("BMP", fmt::format("header size {}", header_size));

  const Bytes h = file.read(18, 32);
  const auto width = static_cast<std::int32_t>(le32(h, 0));
  const auto height = static_cast<std::int32_t>(le32(h, 4));  // negative: rows stored top-down
  const std::uint32_t bpp = le16(h, 10);
  const std::uint32_t compression = le32(h, 12);  // 0 RGB, 1 RLE8, 2 RLE4, 3 BITFIELDS
  const std::uint32_t colours_used = le32(h, 28);
  const bool plain =
      compression == 0 && (bpp == 1 || bpp == 4 || bpp == 8 || bpp == 16 || bpp == 24 || bpp == 32);
  const bool known = plain || (compression == 3 && (bpp == 16 || bpp == 32)) ||
                     (compression == 1 && bpp == 8) || (compression == 2 && bpp == 4);
  if (!known) {
    file.unsupported("BMP", fmt::format("{} bits per pixel with compression {}", bpp, compression));
  }
  if (width <= 0 || height == 0) file.damaged("BMP", fmt::format("size {}x{}", width, height));

  // OpenCV reads the palette or the colour masks right after the header it was told the size of.
  const std::uint64_t after_header = 14 + std::uint64_t{header_size};
  bool colour = true;
  if (bpp <= 8) {
    if (colours_used > 256)
      file.unsupported("BMP", fmt::format("{} palette entries", colours_used));
    const std::uint32_t entries = colours_used == 0 ? 1u << bpp : colours_used;
    const Bytes palette = file.read(after_header, std::size_t{entries} * 4);  // B, G, R, reserved
    colour = false;
    for (std::size_t i = 0; i < palette.size(); i += 4) {
      colour = colour || palette[i] != palette[i + 1] || palette[i] != palette[i + 2];
    }
  } else if (bpp == 16 && compression == 3) {
    const Bytes masks = file.read(after_header, 12);
    const std::uint32_t red = le32(masks, 0), green = le32(masks, 4), blue = le32(masks, 8);
    const bool rgb555 = red == 0x7C00 && green == 0x03E0 && blue == 0x001F;
    const bool rgb565 = red == 0xF800 && green == 0x07E0 && blue == 0x001F;
    if (!rgb555 && !rgb565) file.unsupported("BMP", "16-bit colour masks other than 555 and 565");
  }
  // 32-bit pixels keep their fourth byte only when BITFIELDS says how they are laid out;
  // OpenCV's own 4-channel BMPs are plain 32-bit and come back with 3 channels.
  const int channels = !colour ? 1 : (bpp == 32 && compression == 3) ? 4 : 3;
  return {static_cast<std::uint64_t>(width),
          static_cast<std::uint64_t>(std::abs(static_cast<std::int64_t>(height))),
          FrameType{CV_8U, channels}};
}

// ---- PNM ------------------------------------------------------------------------------------

// The numbers of a PNM header, read the way OpenCV does: whitespace and '#' comments before a
// number, decimal digits, and one terminating byte consumed after it.
class PnmHeader {
 public:
  PnmHeader(const HeaderFile& file, Bytes text) : file_(file), text_(std::move(text)) {}

  std::uint64_t next_number() {
    for (;;) {
      const int c = next_byte();
      if (c >= '0' && c <= '9') {
        std::uint64_t value = static_cast<std::uint64_t>(c - '0');
        for (int d = next_byte(); d >= '0' && d <= '9'; d = next_byte()) {
          value = std::min<std::uint64_t>(value * 10 + static_cast<std::uint64_t>(d - '0'),
                                          std::uint64_t{1} << 40);
        }
        return value;
      }
      if (c == '#') {
        for (int d = next_byte(); d != '\n' && d != '\r'; d = next_byte()) {
        }
      } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') {
        file_.damaged("PNM", fmt::format("unexpected byte 0x{:02x} in the header", c));
      }
    }
  }

 private:
  int next_byte() {
    if (at_ < text_.size()) return text_[at_++];
    if (text_.size() < file_.size()) file_.damaged("PNM", "a header longer than 64 KiB");
    file_.truncated();
  }

  const HeaderFile& file_;
  Bytes text_;
  std::size_t at_ = 3;  // past "P<digit><whitespace>"
};

Header probe_pnm(const HeaderFile& file) {
  PnmHeader header(file, file.read_some(0, read_window));
  const char kind = static_cast<char>(file.read(1, 1)[0]);
  const std::uint64_t width = header.next_number();
  const std::uint64_t height = header.next_number();
  const bool bitmap = kind == '1' || kind == '4';
  const std::uint64_t maxval = bitmap ? 1 : header.next_number();
  if (maxval == 0 || maxval > 65535) {
    file.unsupported("PNM", fmt::format("maximum sample value {}", maxval));
  }
  const int channels = kind == '3' || kind == '6' ? 3 : 1;
  return {width, height, FrameType{maxval > 255 ? CV_16U : CV_8U, channels}};
}

// ---- TIFF -----------------------------------------------------------------------------------

// The fields of the first image file directory that decide what OpenCV makes of a TIFF.
struct TiffFields {
  std::uint64_t width = 0;
  std::uint64_t height = 0;
  bool has_width = false;
  bool has_height = false;
  bool has_photometric = false;
  bool has_bits = false;
  std::uint64_t photometric = 0;
  std::uint64_t bits = 1;           // libtiff's default: a bilevel image needs no BitsPerSample
  std::uint64_t samples = 1;        // libtiff's default SamplesPerPixel
  std::uint64_t sample_format = 1;  // 1 unsigned, 2 signed, 3 IEEE float
  std::uint64_t orientation = 1;
};

// Byte order and offset width of a classic TIFF or a BigTIFF.
class TiffReader {
 public:
  TiffReader(const HeaderFile& file, bool big_endian, bool big_tiff)
      : file_(file), big_endian_(big_endian), big_tiff_(big_tiff) {}

  std::uint64_t number(const Bytes& b, std::size_t at, std::size_t width) const {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      const std::size_t byte = big_endian_ ? at + i : at + width - 1 - i;
      value = value << 8 | b[byte];
    }
    return value;
  }

  TiffFields first_directory() const {
    const Bytes head = file_.read(0, big_tiff_ ? 16 : 8);
    if (big_tiff_ && (number(head, 4, 2) != 8 || number(head, 6, 2) != 0)) {
      file_.damaged("BigTIFF", "offsets that are not 8 bytes wide");
    }
    const std::uint64_t directory = big_tiff_ ? number(head, 8, 8) : number(head, 4, 4);
    const std::size_t count_width = big_tiff_ ? 8 : 2;
    const std::size_t entry_width = big_tiff_ ? 20 : 12;
    const std::uint64_t entries = number(file_.read(directory, count_width), 0, count_width);
    if (entries == 0 || entries > 65535) {
      file_.damaged("TIFF", fmt::format("a first directory of {} entries", entries));
    }
    TiffFields fields;
    for (std::uint64_t i = 0; i < entries; ++i) {
      const Bytes entry = file_.read(directory + count_width + i * entry_width, entry_width);
      const auto tag = number(entry, 0, 2);
      switch (tag) {
        case 256:
          fields.width = first_value(entry), fields.has_width = true;
          break;
        case 257:
          fields.height = first_value(entry), fields.has_height = true;
          break;
        case 258:
          fields.bits = first_value(entry), fields.has_bits = true;
          break;
        case 262:
          fields.photometric = first_value(entry), fields.has_photometric = true;
          break;
        case 274:
          fields.orientation = first_value(entry);
          break;
        case 277:
          fields.samples = first_value(entry);
          break;
        case 339:
          fields.sample_format = first_value(entry);
          break;
        default:
          break;
      }
    }
    return fields;
  }

 private:
  // The first value of an entry, inline or at the offset the entry holds. libtiff reads a field
  // of several values (BitsPerSample of an RGB image) as its first value.
  std::uint64_t first_value(const Bytes& entry) const {
    const std::uint64_t type = number(entry, 2, 2);
    std::size_t width = 0;
    switch (type) {
      case 1:
      case 6:
        width = 1;
        break;  // BYTE, SBYTE
      case 3:
      case 8:
        width = 2;
        break;  // SHORT, SSHORT
      case 4:
      case 9:
      case 13:
        width = 4;
        break;  // LONG, SLONG, IFD
      case 16:
      case 17:
      case 18:
        width = 8;
        break;  // LONG8, SLONG8, IFD8
      default:
        file_.damaged("TIFF", fmt::format("an integer field stored as type {}", type));
    }
    const std::size_t count_width = big_tiff_ ? 8 : 4;
    const std::uint64_t count = number(entry, 4, count_width);
    if (count == 0) file_.damaged("TIFF", "a field with no values");
    const std::size_t value_at = 4 + count_width;
    if (count * width <= count_width) return number(entry, value_at, width);
    return number(file_.read(number(entry, value_at, count_width), width), 0, width);
  }

  const HeaderFile& file_;
  bool big_endian_;
  bool big_tiff_;
};

Header probe_tiff(const HeaderFile& file) {
  const Bytes head = file.read(0, 4);
  const bool big_endian = head[0] == 'M';
  const bool big_tiff = (big_endian ? head[3] : head[2]) == 43;
  const TiffFields f = TiffReader(file, big_endian, big_tiff).first_directory();
  if (!f.has_width || !f.has_height) file.damaged("TIFF", "no ImageWidth or ImageLength");
  if (!f.has_photometric) file.unsupported("TIFF", "no PhotometricInterpretation field");

  // Orientations 5 to 8 store the image transposed; OpenCV turns it upright, so rows and
  // columns swap.
  const bool transposed = f.orientation >= 5 && f.orientation <= 8;
  const std::uint64_t width = transposed ? f.height : f.width;
  const std::uint64_t height = transposed ? f.width : f.height;

  constexpr std::uint64_t min_is_white = 0, min_is_black = 1, palette = 3, log_luv = 32845;
  const std::uint64_t unsigned_int = 1, signed_int = 2, ieee_float = 3;
  const bool gray = f.photometric == min_is_white || f.photometric == min_is_black;
  if (f.samples == 3 && f.photometric == log_luv) return {width, height, FrameType{CV_32F, 3}};
  if (f.samples == 0 || f.samples > 4) {
    file.unsupported("TIFF", fmt::format("{} samples per pixel", f.samples));
  }
  const int samples = static_cast<int>(f.samples);

  // Wide samples that libtiff's RGBA interface must convert (colour spaces other than gray and
  // RGB, or odd sample counts such as gray+alpha) are read as 8-bit.
  std::uint64_t bits = f.bits;
  if (bits > 8 && (f.photometric > 2 || (samples != 1 && samples != 3 && samples != 4))) bits = 8;

  const bool integer = f.sample_format == unsigned_int || f.sample_format == signed_int;
  const bool is_signed = f.sample_format == signed_int;
  const auto reject_format = [&] {
    file.unsupported("TIFF",
                     fmt::format("{}-bit samples of SampleFormat {}", bits, f.sample_format));
  };
  switch (bits) {
    case 1:
    case 8:
      if (!integer) reject_format();
      // Gray images give one channel even with extra (alpha) samples; palettes expand to BGR.
      return {width, height,
              FrameType{is_signed ? CV_8S : CV_8U, f.photometric == palette && bits == 8 ? 3
                                                   : gray                                ? 1
                                                          : samples}};
    case 10:
    case 12:
    case 14:
    case 16:
      if (!integer) reject_format();
      return {width, height, FrameType{is_signed ? CV_16S : CV_16U, gray ? 1 : samples}};
    case 32:
      if (f.sample_format != ieee_float && f.sample_format != signed_int) reject_format();
      return {width, height, FrameType{f.sample_format == ieee_float ? CV_32F : CV_32S, samples}};
    case 64:
      if (f.sample_format != ieee_float) reject_format();
      return {width, height, FrameType{CV_64F, samples}};
    default:
      file.unsupported("TIFF", fmt::format("{} bits per sample", bits));
  }
}

// ---- WebP -----------------------------------------------------------------------------------

Header probe_webp(const HeaderFile& file) {
  // OpenCV hands libwebp only the first 32 bytes to learn the features, so the first chunk
  // alone decides: VP8X by its flags (an ALPH chunk without the flag is ignored), VP8L by its
  // alpha bit, plain VP8 never has alpha.
  const Bytes head = file.read(0, 20);
  if (starts_with(head, 12, "VP8 ")) {
    const Bytes frame = file.read(20, 10);
    if ((frame[0] & 1) != 0 || frame[3] != 0x9D || frame[4] != 0x01 || frame[5] != 0x2A) {
      file.damaged("WebP", "a lossy bitstream that does not start with a key frame");
    }
    return {le16(frame, 6) & 0x3FFF, le16(frame, 8) & 0x3FFF, FrameType{CV_8U, 3}};
  }
  if (starts_with(head, 12, "VP8L")) {
    const Bytes stream = file.read(20, 5);
    if (stream[0] != 0x2F) file.damaged("WebP", "a lossless bitstream without its signature");
    const std::uint32_t bits = le32(stream, 1);
    const bool alpha = (bits >> 28 & 1) != 0;
    return {(bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1, FrameType{CV_8U, alpha ? 4 : 3}};
  }
  if (starts_with(head, 12, "VP8X")) {
    const Bytes extended = file.read(20, 10);
    const unsigned flags = extended[0];
    if ((flags & 0x02) != 0) file.unsupported("WebP", "an animation");
    const bool alpha = (flags & 0x10) != 0;
    return {le24(extended, 4) + 1, le24(extended, 7) + 1, FrameType{CV_8U, alpha ? 4 : 3}};
  }
  file.damaged("WebP", "the first chunk is not VP8, VP8L or VP8X");
}

// ---- anything else --------------------------------------------------------------------------

// Formats without a parser here (OpenEXR, JPEG 2000, PFM, PAM, Radiance HDR, Sun raster, ...)
// are decoded once, completely, to learn their size and type: slower, but always exact.
Header probe_by_decoding(const HeaderFile& file) {
  cv::Mat image;
  try {
    image = cv::imread(file.path(), cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception&) {
    image.release();  // reported below like any other file OpenCV cannot read
  }
  if (image.empty()) {
    if (file.size() == 0) file.truncated();
    throw ImageError(fmt::format(
        "'{}' is not an image tilefork can read (unknown header); give a PNG, JPEG, TIFF, BMP, "
        "WebP, PNM or another format OpenCV decodes",
        file.path()));
  }
  return {static_cast<std::uint64_t>(image.cols), static_cast<std::uint64_t>(image.rows),
          FrameType{image.depth(), image.channels()}};
}

// ---- dispatch -------------------------------------------------------------------------------

using Parser = Header (*)(const HeaderFile&);

struct Signature {
  std::string_view magic;
  std::size_t at;
  std::string_view also = {};  // a second piece further on (WebP's "WEBP" after the RIFF size)
  std::size_t also_at = 0;
};

struct Format {
  Signature signature;
  Parser parse;
};

using namespace std::string_view_literals;

// The signatures OpenCV's decoders check, so that a file goes to the parser matching the
// decoder imread would pick.
const Signature jpeg_signature{"\xFF\xD8\xFF"sv, 0};
const Format formats[] = {
    {{"\x89PNG\r\n\x1a\n"sv, 0}, probe_png},
    {jpeg_signature, probe_jpeg},
    {{"BM"sv, 0}, probe_bmp},
    {{"II\x2A\x00"sv, 0}, probe_tiff},
    {{"MM\x00\x2A"sv, 0}, probe_tiff},
    {{"II\x2B\x00"sv, 0}, probe_tiff},
    {{"MM\x00\x2B"sv, 0}, probe_tiff},
    {{"RIFF"sv, 0, "WEBP"sv, 8}, probe_webp},
};

// PNM's signature is "P1".."P6" followed by whitespace.
bool is_pnm(const Bytes& head) {
  return head.size() >= 3 && head[0] == 'P' && head[1] >= '1' && head[1] <= '6' &&
         std::strchr(" \t\n\r\v\f", head[2]) != nullptr && head[2] != 0;
}

// Whether `head` matches the signature, or would if the file were not cut short.
enum class Match { no, yes, cut_short };

Match match_piece(const Bytes& head, std::string_view magic, std::size_t at) {
  if (head.size() >= at + magic.size()) {
    return std::memcmp(head.data() + at, magic.data(), magic.size()) == 0 ? Match::yes : Match::no;
  }
  if (head.size() <= at) return Match::cut_short;
  const std::size_t have = head.size() - at;
  return std::memcmp(head.data() + at, magic.data(), have) == 0 ? Match::cut_short : Match::no;
}

Match match(const Bytes& head, const Signature& s) {
  const Match first = match_piece(head, s.magic, s.at);
  if (first != Match::yes || s.also.empty()) return first;
  return match_piece(head, s.also, s.also_at);
}

void check_size(const HeaderFile& file, const Header& header) {
  if (header.width == 0 || header.height == 0) {
    throw ImageError(
        fmt::format("'{}' claims a size of {}x{} pixels; the file is damaged, create it again",
                    file.path(), header.width, header.height));
  }
  if (header.width > max_side || header.height > max_side ||
      header.width * header.height > max_pixels) {
    throw ImageError(fmt::format(
        "'{}' is too large ({}x{} pixels); OpenCV decodes at most {} pixels per side and {} "
        "in all, split the image first",
        file.path(), header.width, header.height, max_side, max_pixels));
  }
}

}  // namespace

int stored_orientation(const std::string& path, std::span<const std::uint8_t> bytes) {
  const HeaderFile file(path, bytes);
  if (match(file.read_some(0, jpeg_signature.magic.size()), jpeg_signature) != Match::yes) return 1;
  return probe_jpeg(file).orientation;
}

ImageInfo probe_image(const std::string& path) {
  const HeaderFile file(path);
  const Bytes head = file.read_some(0, 16);
  Parser parse = nullptr;
  bool cut_short = false;
  for (const Format& format : formats) {
    const Match m = match(head, format.signature);
    if (m == Match::yes) {
      parse = format.parse;
      break;
    }
    cut_short = cut_short || m == Match::cut_short;
  }
  if (parse == nullptr && is_pnm(head)) parse = probe_pnm;
  if (parse == nullptr && (head.empty() || cut_short)) file.truncated();
  const Header header = parse != nullptr ? parse(file) : probe_by_decoding(file);
  check_size(file, header);
  return ImageInfo{cv::Size(static_cast<int>(header.width), static_cast<int>(header.height)),
                   header.type, header.orientation};
}

}  // namespace tilefork
