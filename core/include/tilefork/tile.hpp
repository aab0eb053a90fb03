// Tiles are values: a grid over a frame, and the rectangle a tile must be computed from.
#pragma once

#include <opencv2/core/types.hpp>

#include <cstdint>
#include <string_view>

namespace tilefork {

// Splits a width x height frame into tiles of at most tile_width x tile_height, row-major.
// A tile size of 0 (or larger than the frame) means the whole extent.
class TileGrid {
 public:
  TileGrid() = default;
  TileGrid(cv::Size frame, cv::Size tile);

  std::uint32_t count() const noexcept { return columns_ * rows_; }
  std::uint32_t columns() const noexcept { return columns_; }
  std::uint32_t rows() const noexcept { return rows_; }
  cv::Size frame() const noexcept { return frame_; }
  cv::Size tile() const noexcept { return tile_; }
  // The output rectangle of tile `index` (< count()), clipped to the frame.
  cv::Rect rect(std::uint32_t index) const noexcept;

 private:
  cv::Size frame_{};
  cv::Size tile_{};
  std::uint32_t columns_ = 0;
  std::uint32_t rows_ = 0;
};

// The rectangle of the input frame that a tile must be computed from so that the result is
// byte-identical to the kernel on the whole frame: the tile grown by `halo`, its left edge
// rounded down to a multiple of kColumnAlign, its right edge grown by kColumnAlign more (or to
// the frame's edge when less than kColumnAlign would be left), clipped to the frame. Nothing is
// extrapolated by hand, so OpenCV's own border handling applies at the real frame edges. Why:
// OpenCV 4.6 takes other code paths for sub-matrices, and SIMD lanes and row tails see other
// columns (DESIGN.md, "Tiles, halos and exactness"); the exactness tests decide this rule.
inline constexpr int kColumnAlign = 64;
cv::Rect source_rect(cv::Rect tile, int halo, cv::Size frame) noexcept;

// Parses a tile size as users write it: "WxH" ("256x128"; 0 is the whole width or height, so
// "0x64" is stripes of 64 rows), "N" for NxN, or "whole" for 0x0. Throws UsageError otherwise,
// with a message that begins with `what` (the option, e.g. "--tile") and the text, and says
// what is expected.
cv::Size parse_tile_size(std::string_view text, std::string_view what);

}  // namespace tilefork
