// EXIF orientation of JPEG files: the tag read from an APP1 segment, and a frame turned upright.
#pragma once

#include <opencv2/core/mat.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace tilefork {

// The Orientation tag (0x0112) of an APP1 segment's payload (the bytes after its length field):
// nullopt when the payload is not EXIF ("Exif\0\0" and a TIFF structure; XMP also uses APP1),
// otherwise 1..8 as EXIF numbers them. An EXIF block without the tag, or one that is malformed
// (unknown byte order, offsets past the segment, a value outside 1..8), gives 1: the frame is
// taken as stored, as photo viewers do, rather than refused for a broken metadata block.
// Reads only inside `payload`; never throws.
std::optional<int> exif_orientation(std::span<const std::uint8_t> payload) noexcept;

// Orientations 5..8 store the frame transposed: turning it upright swaps width and height.
constexpr bool swaps_sides(int orientation) { return orientation >= 5 && orientation <= 8; }

// `stored` turned so that it shows as EXIF orientation `orientation` says it should (1 or a
// value outside 1..8: `stored` itself). Throws cv::Exception only if OpenCV cannot allocate.
cv::Mat turn_upright(const cv::Mat& stored, int orientation);

// The EXIF orientation probe_image reports for `path` (probe.cpp), parsed from `bytes`, the
// whole file as load_image read it: that of the first EXIF APP1 segment before a JPEG's frame
// header, 1 for files of other formats. Reads nothing from the file; `path` names it in
// messages. Throws ImageError naming the path when the JPEG header is truncated or damaged.
int stored_orientation(const std::string& path, std::span<const std::uint8_t> bytes);

}  // namespace tilefork
