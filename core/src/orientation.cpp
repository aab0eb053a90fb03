// EXIF orientation: parsing the Orientation tag out of an APP1 payload, and turning frames upright.
#include "orientation.hpp"

#include <opencv2/core.hpp>

#include <cstring>

namespace tilefork {
namespace {

// A TIFF structure inside an EXIF payload: offsets are relative to its first byte, and every
// read is checked against its end, because the payload comes from files that may be corrupt.
class TiffBlock {
 public:
  TiffBlock(std::span<const std::uint8_t> bytes, bool big_endian)
      : bytes_(bytes), big_endian_(big_endian) {}

  bool contains(std::uint64_t at, std::size_t count) const {
    return at <= bytes_.size() && count <= bytes_.size() - at;
  }

  // The `width`-byte (at most 4) unsigned number at `at`, or nullopt when it does not lie
  // inside the block.
  std::optional<std::uint32_t> number(std::uint64_t at, std::size_t width) const {
    if (!contains(at, width)) return std::nullopt;
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      const std::size_t byte = big_endian_ ? at + i : at + width - 1 - i;
      value = value << 8 | bytes_[byte];
    }
    return value;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  bool big_endian_;
};

constexpr std::uint32_t orientation_tag = 0x0112;
constexpr std::uint32_t type_short = 3;
constexpr std::uint32_t type_long = 4;
constexpr std::size_t ifd_entry_bytes = 12;  // tag, type, count, value or offset

// The Orientation value in the first image file directory (IFD0, the main image's; IFD1
// describes the thumbnail), or 1 when it is missing or malformed.
int orientation_in(std::span<const std::uint8_t> tiff) {
  if (tiff.size() < 8) return 1;
  bool big_endian = false;
  if (tiff[0] == 'M' && tiff[1] == 'M') {
    big_endian = true;
  } else if (tiff[0] != 'I' || tiff[1] != 'I') {
    return 1;
  }
  const TiffBlock block(tiff, big_endian);
  if (block.number(2, 2) != 42u) return 1;
  const std::uint64_t directory = *block.number(4, 4);
  const std::optional<std::uint32_t> entries = block.number(directory, 2);
  if (!entries) return 1;
  for (std::uint64_t i = 0; i < *entries; ++i) {
    const std::uint64_t entry = directory + 2 + i * ifd_entry_bytes;
    if (!block.contains(entry, ifd_entry_bytes)) return 1;  // the directory runs past the segment
    if (*block.number(entry, 2) != orientation_tag) continue;
    // EXIF says SHORT; LONG is read too, since some writers use it. Either fits in the entry.
    const std::uint32_t type = *block.number(entry + 2, 2);
    const std::uint32_t count = *block.number(entry + 4, 4);
    if (count == 0 || (type != type_short && type != type_long)) return 1;
    const std::uint32_t value = *block.number(entry + 8, type == type_short ? 2 : 4);
    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
  }
  return 1;
}

}  // namespace

std::optional<int> exif_orientation(std::span<const std::uint8_t> payload) noexcept {
  constexpr char exif_signature[] = {'E', 'x', 'i', 'f', 0, 0};
  if (payload.size() < sizeof exif_signature ||
      std::memcmp(payload.data(), exif_signature, sizeof exif_signature) != 0) {
    return std::nullopt;
  }
  return orientation_in(payload.subspan(sizeof exif_signature));
}

cv::Mat turn_upright(const cv::Mat& stored, int orientation) {
  cv::Mat upright;
  switch (orientation) {
    case 2:  // stored mirrored left to right
      cv::flip(stored, upright, 1);
      return upright;
    case 3:  // stored upside down
      cv::rotate(stored, upright, cv::ROTATE_180);
      return upright;
    case 4:  // stored mirrored top to bottom
      cv::flip(stored, upright, 0);
      return upright;
    case 5:  // stored transposed: the first row is the left column
      cv::transpose(stored, upright);
      return upright;
    case 6:  // the first row is the right column: turn a quarter clockwise
      cv::rotate(stored, upright, cv::ROTATE_90_CLOCKWISE);
      return upright;
    case 7:  // the first row is the right column, read bottom up
      cv::transpose(stored, upright);
      cv::flip(upright, upright, -1);
      return upright;
    case 8:  // the first row is the left column, read bottom up: a quarter anticlockwise
      cv::rotate(stored, upright, cv::ROTATE_90_COUNTERCLOCKWISE);
      return upright;
    default:
      return stored;
  }
}

}  // namespace tilefork
