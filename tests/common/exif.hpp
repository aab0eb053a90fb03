// JPEG files carrying an EXIF orientation, and the EXIF specification's orientation table written
// out pixel by pixel: the oracle for what "turned upright" means.
#pragma once

#include <opencv2/core/mat.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tilefork::test {

using Bytes = std::vector<std::uint8_t>;

// The payload of an APP1 segment (what follows its length field): "Exif\0\0", a TIFF header in
// the given byte order ("MM" or "II"), and a first directory with one entry, Orientation
// (0x0112, SHORT) = `orientation`.
Bytes exif_payload(int orientation, bool big_endian);

// The marker segment FF `marker`, its length, then `payload`.
Bytes jpeg_segment(int marker, const Bytes& payload);

// `jpeg` with `segment` inserted right after SOI (before OpenCV's JFIF APP0), or right after
// the APP0 segment when `after_app0`.
Bytes with_segment(const Bytes& jpeg, const Bytes& segment, bool after_app0 = false);

// cv::imencode(".jpg") of `frame` at quality 95, as bytes.
Bytes encode_jpeg(const cv::Mat& frame);

// The frame as it shows when stored pixels `stored` carry EXIF orientation `orientation`,
// computed from the specification's wording ("the 0th row is the visual right-hand side, the
// 0th column the visual top", ...), one pixel at a time and independently of cv::rotate/flip.
cv::Mat upright_by_specification(const cv::Mat& stored, int orientation);

// The inverse: the pixels a camera stores, with orientation `orientation`, for `upright`.
cv::Mat stored_by_specification(const cv::Mat& upright, int orientation);

void write_bytes(const std::string& path, const Bytes& bytes);

}  // namespace tilefork::test
