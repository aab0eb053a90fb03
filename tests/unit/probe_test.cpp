// probe_image against cv::imread(IMREAD_UNCHANGED): same size and type for every header variant.
#include "tilefork/frame_io.hpp"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace tilefork {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Awkward on purpose: odd, not a multiple of any block or row alignment, and not square so a
// swapped width and height shows.
constexpr int width = 37;
constexpr int height = 23;

// A fresh folder under the test's temporary directory, removed with its contents at the end.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = ::testing::TempDir() + "tilefork-probe-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::system_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::string write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write test file " + path);
  return path;
}

std::string write_text(const std::string& path, std::string_view text) {
  return write_file(path, Bytes(text.begin(), text.end()));
}

std::string write_image(const std::string& path, const cv::Mat& image,
                        const std::vector<int>& params = {}) {
  if (!cv::imwrite(path, image, params)) throw std::runtime_error("cv::imwrite failed: " + path);
  return path;
}

// A deterministic image whose samples vary along both axes, so no encoder drops a channel as
// constant (WebP drops an alpha channel that is 255 everywhere).
cv::Mat pattern_image(int type) {
  cv::Mat image(height, width, type);
  cv::Mat as_double(height, width, CV_MAKETYPE(CV_64F, image.channels()));
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width * image.channels(); ++x) {
      as_double.ptr<double>(y)[x] = (x * 7 + y * 13) % 200 + 20;
    }
  }
  as_double.convertTo(image, type);
  return image;
}

// Appends integers in either byte order; the formats below mix both.
class ByteWriter {
 public:
  explicit ByteWriter(bool big_endian) : big_endian_(big_endian) {}

  ByteWriter& number(std::uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      const int shift = 8 * (big_endian_ ? bytes - 1 - i : i);
      data_.push_back(static_cast<std::uint8_t>(value >> shift));
    }
    return *this;
  }
  ByteWriter& u8(std::uint64_t value) { return number(value, 1); }
  ByteWriter& u16(std::uint64_t value) { return number(value, 2); }
  ByteWriter& u32(std::uint64_t value) { return number(value, 4); }
  ByteWriter& text(std::string_view s) {
    data_.insert(data_.end(), s.begin(), s.end());
    return *this;
  }
  ByteWriter& bytes(const Bytes& b) {
    data_.insert(data_.end(), b.begin(), b.end());
    return *this;
  }
  ByteWriter& zeros(std::size_t count) {
    data_.resize(data_.size() + count, 0);
    return *this;
  }
  const Bytes& data() const { return data_; }
  std::size_t size() const { return data_.size(); }

 private:
  bool big_endian_;
  Bytes data_;
};

// ---- PNG by hand: the variants cv::imwrite never produces -----------------------------------

std::uint32_t crc32(const Bytes& bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const std::uint8_t byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void png_chunk(ByteWriter& png, std::string_view type, const Bytes& data) {
  ByteWriter typed(true);
  typed.text(type).bytes(data);
  png.u32(data.size()).bytes(typed.data()).u32(crc32(typed.data()));
}

// A zlib stream of stored (uncompressed) deflate blocks: valid, and needs no zlib.
Bytes zlib_stored(const Bytes& raw) {
  ByteWriter z(false);
  z.u8(0x78).u8(0x01);
  std::size_t at = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - at);
    z.u8(at + n == raw.size() ? 1 : 0).u16(n).u16(~n & 0xFFFF);
    z.bytes(Bytes(raw.begin() + static_cast<std::ptrdiff_t>(at),
                  raw.begin() + static_cast<std::ptrdiff_t>(at + n)));
    at += n;
  } while (at < raw.size());
  std::uint32_t a = 1, b = 0;
  for (const std::uint8_t byte : raw) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  ByteWriter checksum(true);
  checksum.u32(b << 16 | a);
  z.bytes(checksum.data());
  return z.data();
}

struct PngSpec {
  int bit_depth = 8;
  int colour_type = 0;                  // 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
  Bytes palette = {};                   // PLTE
  Bytes transparency = {};              // tRNS
  std::size_t text_before_palette = 0;  // bytes of a tEXt chunk placed before PLTE and tRNS
};

Bytes make_png(const PngSpec& spec) {
  const int samples = spec.colour_type == 2   ? 3
                      : spec.colour_type == 4 ? 2
                      : spec.colour_type == 6 ? 4
                                              : 1;
  const std::size_t row_bytes =
      (static_cast<std::size_t>(width) * samples * spec.bit_depth + 7) / 8;
  Bytes raw;
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);  // filter: none
    for (std::size_t i = 0; i < row_bytes; ++i) raw.push_back(static_cast<std::uint8_t>(i * 5 + y));
  }
  ByteWriter png(true);
  png.bytes({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
  ByteWriter header(true);
  header.u32(width).u32(height).u8(spec.bit_depth).u8(spec.colour_type).u8(0).u8(0).u8(0);
  png_chunk(png, "IHDR", header.data());
  if (spec.text_before_palette > 0) {
    ByteWriter text(true);
    text.text("Comment").u8(0).text(std::string(spec.text_before_palette, 'x'));
    png_chunk(png, "tEXt", text.data());
  }
  if (!spec.palette.empty()) png_chunk(png, "PLTE", spec.palette);
  if (!spec.transparency.empty()) png_chunk(png, "tRNS", spec.transparency);
  png_chunk(png, "IDAT", zlib_stored(raw));
  png_chunk(png, "IEND", {});
  return png.data();
}

Bytes palette_of(int entries) {
  Bytes palette;
  for (int i = 0; i < entries; ++i) {
    palette.push_back(static_cast<std::uint8_t>(i * 255 / std::max(1, entries - 1)));
    palette.push_back(static_cast<std::uint8_t>(255 - i * 255 / std::max(1, entries - 1)));
    palette.push_back(static_cast<std::uint8_t>(i * 97));
  }
  return palette;
}

// ---- JPEG -----------------------------------------------------------------------------------

Bytes encode(const std::string& extension, const cv::Mat& image,
             const std::vector<int>& params = {}) {
  Bytes bytes;
  if (!cv::imencode(extension, image, bytes, params)) throw std::runtime_error("imencode failed");
  return bytes;
}

// Offset of the frame header (SOFn marker) in a JPEG stream.
std::size_t jpeg_frame_header(const Bytes& jpeg) {
  std::size_t at = 2;
  while (at + 4 <= jpeg.size() && jpeg[at] == 0xFF) {
    const int marker = jpeg[at + 1];
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      return at;
    }
    at += 2 + static_cast<std::size_t>(jpeg[at + 2] << 8 | jpeg[at + 3]);
  }
  throw std::runtime_error("no frame header in test JPEG");
}

Bytes insert_at(Bytes data, std::size_t at, const Bytes& inserted) {
  data.insert(data.begin() + static_cast<std::ptrdiff_t>(at), inserted.begin(), inserted.end());
  return data;
}

Bytes jpeg_segment(int marker, const Bytes& payload) {
  ByteWriter segment(true);
  segment.u8(0xFF).u8(marker).u16(payload.size() + 2).bytes(payload);
  return segment.data();
}

// A 13x7 CMYK JPEG (Adobe marker, 4 components), made once with libjpeg (in_color_space
// JCS_CMYK, quality 50, optimized Huffman tables): cv::imwrite cannot make one, and libjpeg
// is not a dependency of the tests.
const Bytes cmyk_jpeg_13x7 = {
    0xff, 0xd8, 0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x10, 0x0b, 0x0c, 0x0e, 0x0c, 0x0a, 0x10, 0x0e, 0x0d,
    0x0e, 0x12, 0x11, 0x10, 0x13, 0x18, 0x28, 0x1a, 0x18, 0x16, 0x16, 0x18, 0x31, 0x23, 0x25, 0x1d,
    0x28, 0x3a, 0x33, 0x3d, 0x3c, 0x39, 0x33, 0x38, 0x37, 0x40, 0x48, 0x5c, 0x4e, 0x40, 0x44, 0x57,
    0x45, 0x37, 0x38, 0x50, 0x6d, 0x51, 0x57, 0x5f, 0x62, 0x67, 0x68, 0x67, 0x3e, 0x4d, 0x71, 0x79,
    0x70, 0x64, 0x78, 0x5c, 0x65, 0x67, 0x63, 0xff, 0xc0, 0x00, 0x14, 0x08, 0x00, 0x07, 0x00, 0x0d,
    0x04, 0x43, 0x11, 0x00, 0x4d, 0x11, 0x00, 0x59, 0x11, 0x00, 0x4b, 0x11, 0x00, 0xff, 0xc4, 0x00,
    0x18, 0x00, 0x00, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x06, 0x04, 0x05, 0x07, 0xff, 0xc4, 0x00, 0x1a, 0x10, 0x01, 0x00, 0x02, 0x03,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x05, 0x16,
    0x34, 0x52, 0x42, 0xff, 0xda, 0x00, 0x0e, 0x04, 0x43, 0x00, 0x4d, 0x00, 0x59, 0x00, 0x4b, 0x00,
    0x00, 0x3f, 0x00, 0x53, 0x50, 0x50, 0x79, 0x32, 0x21, 0x62, 0xb0, 0xe6, 0x21, 0xa2, 0xd6, 0x6b,
    0x81, 0x8a, 0xc3, 0x98, 0xbf, 0xff, 0xd9};

// ---- BMP by hand ----------------------------------------------------------------------------

struct BmpSpec {
  int header_size = 40;  // 12 (OS/2), 40, 108 or 124
  int bits = 24;
  int compression = 0;  // 0 RGB, 1 RLE8, 3 BITFIELDS
  bool top_down = false;
  Bytes palette = {};                     // 4 bytes per entry (3 for OS/2)
  std::vector<std::uint32_t> masks = {};  // after a 40-byte header, or inside a V4/V5 header
  Bytes pixels = {};                      // when empty: rows of a pattern
};

Bytes make_bmp(const BmpSpec& spec) {
  const std::size_t stride = ((static_cast<std::size_t>(width) * spec.bits + 31) / 32) * 4;
  Bytes pixels = spec.pixels;
  if (pixels.empty()) {
    for (std::size_t i = 0; i < stride * height; ++i)
      pixels.push_back(static_cast<std::uint8_t>(i % 251));
  }
  const bool masks_after_header = spec.header_size == 40 && !spec.masks.empty();
  const std::size_t offset = 14 + spec.header_size +
                             (masks_after_header ? 4 * spec.masks.size() : 0) + spec.palette.size();
  ByteWriter bmp(false);
  bmp.text("BM").u32(offset + pixels.size()).u32(0).u32(offset).u32(spec.header_size);
  if (spec.header_size == 12) {
    bmp.u16(width).u16(height).u16(1).u16(spec.bits);
  } else {
    const std::int64_t rows = spec.top_down ? -height : height;
    bmp.u32(width).u32(static_cast<std::uint32_t>(rows)).u16(1).u16(spec.bits);
    bmp.u32(spec.compression).u32(pixels.size()).u32(2835).u32(2835);
    bmp.u32(spec.palette.size() / 4).u32(0);
    if (spec.header_size > 40) {
      for (const std::uint32_t mask : spec.masks) bmp.u32(mask);
      bmp.zeros(14 + static_cast<std::size_t>(spec.header_size) - bmp.size());
    }
    if (masks_after_header) {
      for (const std::uint32_t mask : spec.masks) bmp.u32(mask);
    }
  }
  bmp.bytes(spec.palette).bytes(pixels);
  return bmp.data();
}

Bytes bmp_palette(int entries, bool gray, int bytes_per_entry = 4) {
  Bytes palette;
  for (int i = 0; i < entries; ++i) {
    const auto level = static_cast<std::uint8_t>(i * 255 / std::max(1, entries - 1));
    palette.push_back(level);
    palette.push_back(gray ? level : static_cast<std::uint8_t>(255 - level));
    palette.push_back(level);
    if (bytes_per_entry == 4) palette.push_back(0);
  }
  return palette;
}

// RLE8: each row one run of `width` pixels, an end-of-line, and an end-of-bitmap at the end.
Bytes rle8_rows() {
  Bytes data;
  for (int y = 0; y < height; ++y) {
    data.insert(data.end(),
                {static_cast<std::uint8_t>(width), static_cast<std::uint8_t>(y * 11), 0, 0});
  }
  data.insert(data.end(), {0, 1});
  return data;
}

// ---- TIFF by hand ---------------------------------------------------------------------------

struct TiffField {
  TiffField(std::uint16_t field_tag, std::vector<std::uint32_t> field_values, bool as_long = false)
      : tag(field_tag), values(std::move(field_values)), long_values(as_long) {}
  std::uint16_t tag;
  std::vector<std::uint32_t> values;
  bool long_values;  // LONG instead of SHORT
};

struct TiffSpec {
  int bits = 8;
  int samples = 1;
  int photometric = 1;
  int sample_format = 0;  // 0: leave the field out
  std::vector<TiffField> extra = {};
  bool big_endian = false;
  bool big_tiff = false;
  bool directory_last = false;  // after the pixels, as libtiff writes it
  std::size_t padding = 0;      // bytes between the pixels and a directory placed last
  bool omit_bits = false;
  bool transposed_size = false;  // store height x width (for orientations 5..8)
};

Bytes make_tiff(const TiffSpec& spec) {
  const int stored_width = spec.transposed_size ? height : width;
  const int stored_height = spec.transposed_size ? width : height;
  const std::size_t row_bytes =
      (static_cast<std::size_t>(stored_width) * spec.bits * spec.samples + 7) / 8;
  Bytes pixels(row_bytes * stored_height);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i % 89);
  if (spec.sample_format == 3 && spec.bits == 32) {
    std::fill(pixels.begin(), pixels.end(), 0);  // zeros are valid floats in any byte order
  }

  std::vector<TiffField> fields = {
      {256, {static_cast<std::uint32_t>(stored_width)}, true},
      {257, {static_cast<std::uint32_t>(stored_height)}},
      {259, {1}},
      {262, {static_cast<std::uint32_t>(spec.photometric)}},
      {273, {0}, true},  // StripOffsets, filled in below
      {277, {static_cast<std::uint32_t>(spec.samples)}},
      {278, {static_cast<std::uint32_t>(stored_height)}},
      {279, {static_cast<std::uint32_t>(pixels.size())}, true},
      {284, {1}},
  };
  if (!spec.omit_bits) {
    fields.push_back({258, std::vector<std::uint32_t>(spec.samples, spec.bits)});
  }
  if (spec.sample_format != 0) {
    fields.push_back({339, std::vector<std::uint32_t>(spec.samples, spec.sample_format)});
  }
  fields.insert(fields.end(), spec.extra.begin(), spec.extra.end());
  std::sort(fields.begin(), fields.end(),
            [](const auto& a, const auto& b) { return a.tag < b.tag; });

  const int offset_bytes = spec.big_tiff ? 8 : 4;
  const std::size_t header_bytes = spec.big_tiff ? 16 : 8;
  const std::size_t directory_bytes =
      (spec.big_tiff ? 8 : 2) + fields.size() * (spec.big_tiff ? 20 : 12) + offset_bytes;
  const auto value_bytes = [](const TiffField& f) {
    return f.values.size() * (f.long_values ? 4 : 2);
  };
  std::size_t outside_bytes = 0;
  for (const auto& f : fields) {
    if (value_bytes(f) > static_cast<std::size_t>(offset_bytes)) outside_bytes += value_bytes(f);
  }
  const std::size_t pixels_at =
      spec.directory_last ? header_bytes : header_bytes + directory_bytes + outside_bytes;
  // A directory starts on a word boundary.
  const std::size_t gap = pixels.size() % 2 + spec.padding;
  const std::size_t directory_at =
      spec.directory_last ? header_bytes + pixels.size() + gap : header_bytes;
  for (auto& f : fields) {
    if (f.tag == 273) f.values = {static_cast<std::uint32_t>(pixels_at)};
  }

  ByteWriter tiff(spec.big_endian);
  tiff.text(spec.big_endian ? "MM" : "II").u16(spec.big_tiff ? 43 : 42);
  if (spec.big_tiff) tiff.u16(8).u16(0);
  tiff.number(directory_at, offset_bytes);
  if (spec.directory_last) tiff.bytes(pixels).zeros(gap);

  ByteWriter outside(spec.big_endian);
  const std::size_t outside_at = directory_at + directory_bytes;
  tiff.number(fields.size(), spec.big_tiff ? 8 : 2);
  for (const auto& f : fields) {
    tiff.u16(f.tag).u16(f.long_values ? 4 : 3).number(f.values.size(), offset_bytes);
    ByteWriter values(spec.big_endian);
    for (const std::uint32_t v : f.values) values.number(v, f.long_values ? 4 : 2);
    if (values.size() <= static_cast<std::size_t>(offset_bytes)) {
      tiff.bytes(values.data()).zeros(offset_bytes - values.size());
    } else {
      tiff.number(outside_at + outside.size(), offset_bytes);
      outside.bytes(values.data());
    }
  }
  tiff.number(0, offset_bytes);  // no next directory
  tiff.bytes(outside.data());
  if (!spec.directory_last) tiff.bytes(pixels);
  return tiff.data();
}

// ---- the checks -----------------------------------------------------------------------------

// probe_image must report exactly what cv::imread(IMREAD_UNCHANGED) returns: for every
// variant below that is equality, not just an upper bound.
void expect_probe_matches_imread(const std::string& path) {
  const cv::Mat decoded = cv::imread(path, cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(decoded.empty()) << "the test file does not decode: " << path;
  const FrameType decoded_type{decoded.depth(), decoded.channels()};
  ImageInfo info;
  ASSERT_NO_THROW(info = probe_image(path)) << path;
  EXPECT_EQ(info.size, decoded.size())
      << path << ": probe " << info.size << ", imread " << decoded.size();
  EXPECT_TRUE(info.type == decoded_type) << path << ": probe says " << to_string(info.type)
                                         << ", imread gives " << to_string(decoded_type);
  EXPECT_GE(info.max_bytes(), decoded.total() * decoded.elemSize()) << path;
}

// probe_image must throw ImageError whose message names the file and contains `fragment`.
void expect_probe_error(const std::string& path, std::string_view fragment) {
  try {
    const ImageInfo info = probe_image(path);
    ADD_FAILURE() << "probe_image accepted " << path << " as " << info.size << ", "
                  << to_string(info.type);
  } catch (const ImageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'" + path + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos)
        << "expected '" << fragment << "' in: " << message;
  }
}

// ---- one test per header variant ------------------------------------------------------------

struct Variant {
  std::string name;
  std::function<std::string(const ScratchDir&)> make;  // writes the file, returns its path
};

std::function<std::string(const ScratchDir&)> imwritten(std::string name, int type,
                                                        std::vector<int> params = {}) {
  return [=](const ScratchDir& dir) {
    return write_image(dir.file(name), pattern_image(type), params);
  };
}

std::function<std::string(const ScratchDir&)> handmade(std::string name,
                                                       std::function<Bytes()> bytes) {
  return [=](const ScratchDir& dir) { return write_file(dir.file(name), bytes()); };
}

std::function<std::string(const ScratchDir&)> text_file(std::string name, std::string text) {
  return [=](const ScratchDir& dir) { return write_text(dir.file(name), text); };
}

std::string ascii_samples(int count, int value) {
  std::string text;
  for (int i = 0; i < count; ++i)
    text += std::to_string((i * 7 + value) % (value + 1)) + (i % 16 == 15 ? "\n" : " ");
  return text;
}

std::vector<Variant> variants() {
  std::vector<Variant> v = {
      // PNG written by OpenCV
      {"png_gray8", imwritten("a.png", CV_8UC1)},
      {"png_bgr8", imwritten("a.png", CV_8UC3)},
      {"png_bgra8", imwritten("a.png", CV_8UC4)},
      {"png_gray16", imwritten("a.png", CV_16UC1)},
      {"png_bgr16", imwritten("a.png", CV_16UC3)},
      {"png_bgra16", imwritten("a.png", CV_16UC4)},
      {"png_bilevel", imwritten("a.png", CV_8UC1, {cv::IMWRITE_PNG_BILEVEL, 1})},
      // PNG by hand
      {"png_gray_alpha8", handmade("a.png", [] {
         return make_png({.bit_depth = 8, .colour_type = 4});
       })},
      {"png_gray_alpha16", handmade("a.png", [] {
         return make_png({.bit_depth = 16, .colour_type = 4});
       })},
      {"png_gray2", handmade("a.png", [] { return make_png({.bit_depth = 2, .colour_type = 0}); })},
      {"png_gray_transparent", handmade("a.png", [] {
         return make_png({.colour_type = 0, .transparency = {0, 7}});
       })},
      {"png_rgb_transparent", handmade("a.png", [] {
         return make_png({.colour_type = 2, .transparency = {0, 7, 0, 7, 0, 7}});
       })},
      {"png_rgb16_transparent", handmade("a.png", [] {
         return make_png({.bit_depth = 16, .colour_type = 2, .transparency = {0, 7, 0, 7, 0, 7}});
       })},
      {"png_palette", handmade("a.png", [] {
         return make_png({.colour_type = 3, .palette = palette_of(256)});
       })},
      {"png_palette_transparent", handmade("a.png", [] {
         return make_png({.colour_type = 3, .palette = palette_of(256), .transparency = {0, 128}});
       })},
      {"png_palette4", handmade("a.png", [] {
         return make_png({.bit_depth = 4, .colour_type = 3, .palette = palette_of(16)});
       })},
      {"png_palette_transparent_after_100k_text", handmade("a.png", [] {
         return make_png({.colour_type = 3,
                          .palette = palette_of(256),
                          .transparency = {0},
                          .text_before_palette = 100000});
       })},
      // JPEG
      {"jpeg_gray", imwritten("a.jpg", CV_8UC1)},
      {"jpeg_colour", imwritten("a.jpg", CV_8UC3)},
      {"jpeg_progressive", imwritten("a.jpg", CV_8UC3, {cv::IMWRITE_JPEG_PROGRESSIVE, 1})},
      {"jpeg_optimized_restart",
       imwritten("a.jpg", CV_8UC3,
                 {cv::IMWRITE_JPEG_OPTIMIZE, 1, cv::IMWRITE_JPEG_RST_INTERVAL, 2})},
      {"jpeg_cmyk", handmade("a.jpg", [] { return cmyk_jpeg_13x7; })},
      // JPEGs with an EXIF orientation are turned upright by load_image, so their probe is
      // checked against it, not against IMREAD_UNCHANGED: see orientation_test.cpp.
      {"jpeg_sof_after_130k_of_comments", handmade("a.jpg", [] {
         const Bytes comment = jpeg_segment(0xFE, Bytes(65000, 'c'));
         const Bytes jpeg = encode(".jpg", pattern_image(CV_8UC1));
         return insert_at(insert_at(jpeg, 2, comment), 2, comment);
       })},
      {"jpeg_fill_bytes_before_sof", handmade("a.jpg", [] {
         const Bytes jpeg = encode(".jpg", pattern_image(CV_8UC3));
         return insert_at(jpeg, jpeg_frame_header(jpeg), {0xFF, 0xFF, 0xFF});
       })},
      // BMP
      {"bmp_bgr", imwritten("a.bmp", CV_8UC3)},
      {"bmp_gray", imwritten("a.bmp", CV_8UC1)},
      // OpenCV writes BGRA as plain 32-bit BMP and reads that back as 3 channels.
      {"bmp_from_bgra", imwritten("a.bmp", CV_8UC4)},
      {"bmp_v5_bitfields32", handmade("a.bmp", [] {
         return make_bmp({.header_size = 124,
                          .bits = 32,
                          .compression = 3,
                          .masks = {0xFF0000, 0xFF00, 0xFF, 0xFF000000u}});
       })},
      {"bmp_v3_bitfields32", handmade("a.bmp", [] {
         return make_bmp({.bits = 32, .compression = 3, .masks = {0xFF0000, 0xFF00, 0xFF}});
       })},
      {"bmp_top_down", handmade("a.bmp", [] { return make_bmp({.top_down = true}); })},
      {"bmp_rgb565", handmade("a.bmp", [] {
         return make_bmp({.bits = 16, .compression = 3, .masks = {0xF800, 0x7E0, 0x1F}});
       })},
      {"bmp_rgb555", handmade("a.bmp", [] { return make_bmp({.bits = 16}); })},
      {"bmp_palette8_colour", handmade("a.bmp", [] {
         return make_bmp({.bits = 8, .palette = bmp_palette(256, false)});
       })},
      {"bmp_palette8_gray_16_entries", handmade("a.bmp", [] {
         return make_bmp({.bits = 8, .palette = bmp_palette(16, true)});
       })},
      {"bmp_palette1_gray", handmade("a.bmp", [] {
         return make_bmp({.bits = 1, .palette = bmp_palette(2, true)});
       })},
      {"bmp_palette4_colour", handmade("a.bmp", [] {
         return make_bmp({.bits = 4, .palette = bmp_palette(16, false)});
       })},
      {"bmp_rle8_gray", handmade("a.bmp", [] {
         return make_bmp({.bits = 8,
                          .compression = 1,
                          .palette = bmp_palette(256, true),
                          .pixels = rle8_rows()});
       })},
      // OpenCV 4.6 reads every OS/2 bitmap as one gray channel.
      {"bmp_os2_24", handmade("a.bmp", [] { return make_bmp({.header_size = 12}); })},
      {"bmp_os2_palette8_colour", handmade("a.bmp", [] {
         return make_bmp({.header_size = 12, .bits = 8, .palette = bmp_palette(256, false, 3)});
       })},
      // PNM
      {"pgm8", imwritten("a.pgm", CV_8UC1)},
      {"pgm16", imwritten("a.pgm", CV_16UC1)},
      {"ppm8", imwritten("a.ppm", CV_8UC3)},
      {"ppm16", imwritten("a.ppm", CV_16UC3)},
      {"pbm", imwritten("a.pbm", CV_8UC1)},
      {"pgm_ascii_comments",
       text_file("a.pgm", "P2\n# made by hand\n37 # width\n# height next\n23\n255\n" +
                              ascii_samples(width * height, 255))},
      {"ppm_ascii_maxval300",
       text_file("a.ppm", "P3 37 23 300\n" + ascii_samples(3 * width * height, 300))},
      {"pbm_ascii", text_file("a.pbm", "P1\n37 23\n" + ascii_samples(width * height, 1))},
      {"ppm_binary_maxval1000", handmade("a.ppm", [] {
         ByteWriter ppm(true);
         ppm.text("P6\n37\t23\r1000\n").zeros(static_cast<std::size_t>(width) * height * 6);
         return ppm.data();
       })},
      // TIFF written by OpenCV
      {"tiff_8u_c1", imwritten("a.tif", CV_8UC1)},
      {"tiff_8u_c3", imwritten("a.tif", CV_8UC3)},
      {"tiff_8u_c4", imwritten("a.tif", CV_8UC4)},
      {"tiff_16u_c1", imwritten("a.tif", CV_16UC1)},
      {"tiff_16u_c3", imwritten("a.tif", CV_16UC3)},
      {"tiff_16u_c4", imwritten("a.tif", CV_16UC4)},
      {"tiff_32f_c1", imwritten("a.tif", CV_32FC1)},
      {"tiff_32f_c3", imwritten("a.tif", CV_32FC3)},
      {"tiff_32f_c4", imwritten("a.tif", CV_32FC4)},
      {"tiff_64f_c1", imwritten("a.tif", CV_64FC1)},
      {"tiff_32s_c1", imwritten("a.tif", CV_32SC1)},
      {"tiff_16s_c1", imwritten("a.tif", CV_16SC1)},
      {"tiff_8s_c1", imwritten("a.tif", CV_8SC1)},
      // TIFF by hand
      {"tiff_big_endian_gray8", handmade("a.tif", [] { return make_tiff({.big_endian = true}); })},
      {"tiff_big_endian_rgb16", handmade("a.tif", [] {
         return make_tiff({.bits = 16, .samples = 3, .photometric = 2, .big_endian = true});
       })},
      {"tiff_big_endian_float", handmade("a.tif", [] {
         return make_tiff({.bits = 32, .sample_format = 3, .big_endian = true});
       })},
      {"tiff_directory_after_pixels", handmade("a.tif", [] {
         return make_tiff({.bits = 16,
                           .samples = 4,
                           .photometric = 2,
                           .extra = {{338, {2}}},
                           .directory_last = true,
                           .padding = 100000});
       })},
      {"tiff_bigtiff", handmade("a.tif", [] {
         return make_tiff({.samples = 3, .photometric = 2, .big_tiff = true});
       })},
      // Gray with an extra (alpha) sample: OpenCV keeps one channel, and reads 16 bits as 8.
      {"tiff_gray_alpha8", handmade("a.tif", [] {
         return make_tiff({.samples = 2, .extra = {{338, {2}}}});
       })},
      {"tiff_gray_alpha16", handmade("a.tif", [] {
         return make_tiff({.bits = 16, .samples = 2, .extra = {{338, {2}}}});
       })},
      {"tiff_palette8", handmade("a.tif", [] {
         const TiffField colour_map(320, std::vector<std::uint32_t>(768, 4000));
         return make_tiff({.photometric = 3, .extra = {colour_map}});
       })},
      {"tiff_bilevel_without_bits", handmade("a.tif", [] {
         return make_tiff({.bits = 1, .photometric = 0, .omit_bits = true});
       })},
      {"tiff_gray12", handmade("a.tif", [] { return make_tiff({.bits = 12}); })},
      {"tiff_rgb12", handmade("a.tif", [] {
         return make_tiff({.bits = 12, .samples = 3, .photometric = 2});
       })},
      {"tiff_cmyk8", handmade("a.tif", [] { return make_tiff({.samples = 4, .photometric = 5}); })},
      {"tiff_signed8_rgb", handmade("a.tif", [] {
         return make_tiff({.samples = 3, .photometric = 2, .sample_format = 2});
       })},
      // Orientation 6 stores the image transposed; OpenCV turns it upright.
      {"tiff_orientation6_8u", handmade("a.tif", [] {
         return make_tiff(
             {.samples = 3, .photometric = 2, .extra = {{274, {6}}}, .transposed_size = true});
       })},
      {"tiff_orientation8_16u", handmade("a.tif", [] {
         return make_tiff({.bits = 16, .extra = {{274, {8}}}, .transposed_size = true});
       })},
      {"tiff_orientation3_32f", handmade("a.tif", [] {
         return make_tiff({.bits = 32, .sample_format = 3, .extra = {{274, {3}}}});
       })},
      // WebP: OpenCV writes lossless unless given a quality of at most 100
      {"webp_lossy", imwritten("a.webp", CV_8UC3, {cv::IMWRITE_WEBP_QUALITY, 80})},
      {"webp_lossy_alpha", imwritten("a.webp", CV_8UC4, {cv::IMWRITE_WEBP_QUALITY, 80})},
      {"webp_lossless", imwritten("a.webp", CV_8UC3)},
      {"webp_lossless_alpha", imwritten("a.webp", CV_8UC4)},
      {"webp_from_gray", imwritten("a.webp", CV_8UC1)},
      {"webp_opaque_alpha_dropped", [](const ScratchDir& dir) {
         std::vector<cv::Mat> planes;
         cv::split(pattern_image(CV_8UC4), planes);
         planes[3].setTo(255);
         cv::Mat image;
         cv::merge(planes, image);
         return write_image(dir.file("a.webp"), image);
       }},
      // Formats without a header parser: decoded once
      {"decoded_pfm", imwritten("a.pfm", CV_32FC3)},
      {"decoded_sun_raster", imwritten("a.ras", CV_8UC3)},
      {"decoded_pam_gray_alpha16", handmade("a.pam", [] {
         ByteWriter pam(true);
         pam.text("P7\nWIDTH 37\nHEIGHT 23\nDEPTH 2\nMAXVAL 65535\n");
         pam.text("TUPLTYPE GRAYSCALE_ALPHA\nENDHDR\n");
         pam.zeros(static_cast<std::size_t>(width) * height * 4);
         return pam.data();
       })},
  };
  return v;
}

class ProbeMatchesImread : public ::testing::TestWithParam<Variant> {};

TEST_P(ProbeMatchesImread, SizeAndType) {
  const ScratchDir dir;
  expect_probe_matches_imread(GetParam().make(dir));
}

INSTANTIATE_TEST_SUITE_P(Formats, ProbeMatchesImread, ::testing::ValuesIn(variants()),
                         [](const ::testing::TestParamInfo<Variant>& param_info) {
                           return param_info.param.name;
                         });

// ---- errors ---------------------------------------------------------------------------------

TEST(ProbeImage, MissingFileNamesPathAndReason) {
  const ScratchDir dir;
  expect_probe_error(dir.file("missing.png"), "No such file or directory");
}

TEST(ProbeImage, DirectoryIsRefused) {
  const ScratchDir dir;
  ASSERT_EQ(::mkdir(dir.file("frames.png").c_str(), 0755), 0);
  expect_probe_error(dir.file("frames.png"), "is a directory");
}

TEST(ProbeImage, FifoIsRefusedWithoutBlocking) {
  const ScratchDir dir;
  ASSERT_EQ(::mkfifo(dir.file("pipe.png").c_str(), 0644), 0);
  expect_probe_error(dir.file("pipe.png"), "not a regular file");
}

TEST(ProbeImage, TextFileNamedPngIsNotAnImage) {
  const ScratchDir dir;
  expect_probe_error(write_text(dir.file("notes.png"), "these are notes, not pixels\n"),
                     "is not an image tilefork can read (unknown header)");
}

TEST(ProbeImage, PngCutAfter20BytesIsTruncated) {
  const ScratchDir dir;
  Bytes png = encode(".png", pattern_image(CV_8UC3));
  png.resize(20);
  expect_probe_error(write_file(dir.file("cut.png"), png),
                     "is truncated (header ends after 20 bytes)");
}

TEST(ProbeImage, PngCutInsideItsSignatureIsTruncated) {
  const ScratchDir dir;
  expect_probe_error(write_file(dir.file("cut.png"), {0x89, 'P', 'N'}), "truncated");
}

TEST(ProbeImage, EmptyJpegIsRefused) {
  const ScratchDir dir;
  expect_probe_error(write_file(dir.file("empty.jpg"), {}), "is empty");
}

TEST(ProbeImage, JpegCutBeforeItsFrameHeaderIsTruncated) {
  const ScratchDir dir;
  Bytes jpeg = encode(".jpg", pattern_image(CV_8UC3));
  jpeg.resize(jpeg_frame_header(jpeg) + 5);
  expect_probe_error(write_file(dir.file("cut.jpg"), jpeg), "truncated");
}

TEST(ProbeImage, JpegWithoutFrameHeaderIsDamaged) {
  const ScratchDir dir;
  expect_probe_error(write_file(dir.file("bare.jpg"), {0xFF, 0xD8, 0xFF, 0xD9}), "no frame header");
}

Bytes png_claiming(std::uint32_t png_width, std::uint32_t png_height) {
  Bytes png = make_png({.colour_type = 0});
  ByteWriter size(true);
  size.u32(png_width).u32(png_height);
  std::copy(size.data().begin(), size.data().end(), png.begin() + 16);  // IHDR width, height
  return png;
}

TEST(ProbeImage, ZeroWidthIsDamaged) {
  const ScratchDir dir;
  expect_probe_error(write_file(dir.file("zero.png"), png_claiming(0, 23)), "0x23");
}

TEST(ProbeImage, SidesLongerThanOpenCVDecodesAreRefused) {
  const ScratchDir dir;
  expect_probe_error(write_file(dir.file("wide.png"), png_claiming(2000000, 1)), "too large");
}

TEST(ProbeImage, MorePixelsThanOpenCVDecodesAreRefused) {
  const ScratchDir dir;
  expect_probe_error(write_file(dir.file("huge.png"), png_claiming(40000, 40000)), "too large");
}

// What OpenCV 4.6 refuses to decode, the probe refuses too, so the planner reports it early.
void expect_refused_by_both(const std::string& path, std::string_view fragment) {
  EXPECT_TRUE(cv::imread(path, cv::IMREAD_UNCHANGED).empty()) << "OpenCV decodes " << path;
  expect_probe_error(path, fragment);
}

TEST(ProbeImage, TiffOfFourBitSamplesIsRefused) {
  const ScratchDir dir;
  expect_refused_by_both(write_file(dir.file("a.tif"), make_tiff({.bits = 4})),
                         "4 bits per sample");
}

TEST(ProbeImage, TiffOfFiveSamplesIsRefused) {
  const ScratchDir dir;
  expect_refused_by_both(
      write_file(dir.file("a.tif"),
                 make_tiff({.samples = 5, .photometric = 2, .extra = {{338, {0, 0}}}})),
      "5 samples per pixel");
}

TEST(ProbeImage, TiffOfUnsigned32BitSamplesIsRefused) {
  const ScratchDir dir;
  expect_refused_by_both(write_file(dir.file("a.tif"), make_tiff({.bits = 32, .sample_format = 1})),
                         "SampleFormat 1");
}

TEST(ProbeImage, BmpOfTwoBitsPerPixelIsRefused) {
  const ScratchDir dir;
  expect_refused_by_both(
      write_file(dir.file("a.bmp"), make_bmp({.bits = 2, .palette = bmp_palette(4, true)})),
      "2 bits per pixel");
}

TEST(ProbeImage, PnmWithMaxvalAbove65535IsRefused) {
  const ScratchDir dir;
  ByteWriter pgm(true);
  pgm.text("P5\n37 23\n70000\n").zeros(static_cast<std::size_t>(width) * height * 2);
  expect_refused_by_both(write_file(dir.file("a.pgm"), pgm.data()), "maximum sample value 70000");
}

TEST(ProbeImage, AnimatedWebpIsRefused) {
  const ScratchDir dir;
  ByteWriter webp(false);
  webp.text("RIFF").u32(22).text("WEBP").text("VP8X").u32(10);
  webp.u8(0x12).zeros(3).number(width - 1, 3).number(height - 1, 3);  // flags: alpha, animation
  expect_refused_by_both(write_file(dir.file("anim.webp"), webp.data()), "animation");
}

}  // namespace
}  // namespace tilefork
