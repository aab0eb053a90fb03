// TileGrid arithmetic and the aligned source rectangle of a tile.
#include "tilefork/tile.hpp"

#include <algorithm>

namespace tilefork {
namespace {

std::uint32_t tiles_along(int extent, int tile) {
  if (extent <= 0) return 0;
  return static_cast<std::uint32_t>((extent + tile - 1) / tile);
}

int clamp_tile(int tile, int extent) { return (tile <= 0 || tile > extent) ? extent : tile; }

}  // namespace

TileGrid::TileGrid(cv::Size frame, cv::Size tile)
    : frame_(frame),
      tile_(clamp_tile(tile.width, frame.width), clamp_tile(tile.height, frame.height)),
      columns_(tiles_along(frame.width, tile_.width)),
      rows_(tiles_along(frame.height, tile_.height)) {}

cv::Rect TileGrid::rect(std::uint32_t index) const noexcept {
  const int column = static_cast<int>(index % columns_);
  const int row = static_cast<int>(index / columns_);
  const int x = column * tile_.width;
  const int y = row * tile_.height;
  return {x, y, std::min(tile_.width, frame_.width - x), std::min(tile_.height, frame_.height - y)};
}

cv::Rect source_rect(cv::Rect tile, int halo, cv::Size frame) noexcept {
  int left = std::max(0, tile.x - halo);
  left -= left % kColumnAlign;
  int right = tile.x + tile.width + halo + kColumnAlign;
  if (frame.width - right < kColumnAlign) right = frame.width;
  right = std::min(right, frame.width);
  const int top = std::max(0, tile.y - halo);
  const int bottom = std::min(frame.height, tile.y + tile.height + halo);
  return {left, top, right - left, bottom - top};
}

}  // namespace tilefork
