// EXIF test files and the orientation table of the EXIF specification (2.32, tag 0x0112).
#include "common/exif.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

namespace tilefork::test {
namespace {

void put(Bytes& out, std::uint32_t value, int bytes, bool big_endian) {
  for (int i = 0; i < bytes; ++i) {
    const int shift = 8 * (big_endian ? bytes - 1 - i : i);
    out.push_back(static_cast<std::uint8_t>(value >> shift));
  }
}

enum class Side { top, bottom, left, right };

// Where the stored 0th row and 0th column show, as the specification's table states it.
struct Placement {
  Side row0;
  Side column0;
};

Placement placement(int orientation) {
  switch (orientation) {
    case 1:
      return {Side::top, Side::left};
    case 2:
      return {Side::top, Side::right};
    case 3:
      return {Side::bottom, Side::right};
    case 4:
      return {Side::bottom, Side::left};
    case 5:
      return {Side::left, Side::top};
    case 6:
      return {Side::right, Side::top};
    case 7:
      return {Side::right, Side::bottom};
    case 8:
      return {Side::left, Side::bottom};
    default:
      throw std::invalid_argument("EXIF orientation " + std::to_string(orientation));
  }
}

// Where stored pixel (row, column) of a `rows` x `columns` image shows.
cv::Point visual_position(int orientation, int row, int column, int rows, int columns) {
  const Placement p = placement(orientation);
  if (p.row0 == Side::top || p.row0 == Side::bottom) {
    const int y = p.row0 == Side::top ? row : rows - 1 - row;
    const int x = p.column0 == Side::left ? column : columns - 1 - column;
    return {x, y};
  }
  // Stored rows are visual columns; the visual width is the stored height.
  const int x = p.row0 == Side::left ? row : rows - 1 - row;
  const int y = p.column0 == Side::top ? column : columns - 1 - column;
  return {x, y};
}

bool transposed(int orientation) { return orientation >= 5; }

}  // namespace

Bytes exif_payload(int orientation, bool big_endian) {
  Bytes out = {'E', 'x', 'i', 'f', 0, 0};
  out.push_back(big_endian ? 'M' : 'I');
  out.push_back(big_endian ? 'M' : 'I');
  put(out, 42, 2, big_endian);
  put(out, 8, 4, big_endian);       // the first directory follows the header
  put(out, 1, 2, big_endian);       // one entry
  put(out, 0x0112, 2, big_endian);  // Orientation
  put(out, 3, 2, big_endian);       // SHORT
  put(out, 1, 4, big_endian);       // one value, inline, left-justified
  put(out, static_cast<std::uint32_t>(orientation), 2, big_endian);
  put(out, 0, 2, big_endian);
  put(out, 0, 4, big_endian);  // no next directory
  return out;
}

Bytes jpeg_segment(int marker, const Bytes& payload) {
  Bytes out = {0xFF, static_cast<std::uint8_t>(marker)};
  put(out, static_cast<std::uint32_t>(payload.size() + 2), 2, true);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes with_segment(const Bytes& jpeg, const Bytes& segment, bool after_app0) {
  std::size_t at = 2;
  if (after_app0) {
    if (jpeg.size() < 6 || jpeg[2] != 0xFF || jpeg[3] != 0xE0) throw std::runtime_error("no APP0 after SOI");
    at = 4 + (std::size_t{jpeg[4]} << 8 | jpeg[5]);
  }
  Bytes out(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(at));
  out.insert(out.end(), segment.begin(), segment.end());
  out.insert(out.end(), jpeg.begin() + static_cast<std::ptrdiff_t>(at), jpeg.end());
  return out;
}

Bytes encode_jpeg(const cv::Mat& frame) {
  Bytes out;
  if (!cv::imencode(".jpg", frame, out, {cv::IMWRITE_JPEG_QUALITY, 95})) throw std::runtime_error("imencode .jpg");
  return out;
}

cv::Mat upright_by_specification(const cv::Mat& stored, int orientation) {
  const cv::Size size = transposed(orientation) ? cv::Size(stored.rows, stored.cols) : stored.size();
  cv::Mat upright(size, stored.type());
  const std::size_t pixel = stored.elemSize();
  for (int r = 0; r < stored.rows; ++r) {
    for (int c = 0; c < stored.cols; ++c) {
      const cv::Point v = visual_position(orientation, r, c, stored.rows, stored.cols);
      std::memcpy(upright.ptr(v.y, v.x), stored.ptr(r, c), pixel);
    }
  }
  return upright;
}

cv::Mat stored_by_specification(const cv::Mat& upright, int orientation) {
  const cv::Size size = transposed(orientation) ? cv::Size(upright.rows, upright.cols) : upright.size();
  cv::Mat stored(size, upright.type());
  const std::size_t pixel = upright.elemSize();
  for (int r = 0; r < stored.rows; ++r) {
    for (int c = 0; c < stored.cols; ++c) {
      const cv::Point v = visual_position(orientation, r, c, stored.rows, stored.cols);
      std::memcpy(stored.ptr(r, c), upright.ptr(v.y, v.x), pixel);
    }
  }
  return stored;
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace tilefork::test
