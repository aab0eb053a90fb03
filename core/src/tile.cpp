// TileGrid arithmetic, the aligned source rectangle of a tile, and tile sizes as users write them.
#include "tilefork/tile.hpp"

#include "tilefork/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace tilefork {
namespace {

std::uint32_t tiles_along(int extent, int tile) {
  if (extent <= 0) return 0;
  return static_cast<std::uint32_t>((extent + tile - 1) / tile);
}

int clamp_tile(int tile, int extent) { return (tile <= 0 || tile > extent) ? extent : tile; }

// One side of a tile size: a whole number from 0, nothing before or after it.
int parse_tile_side(std::string_view side, std::string_view text, std::string_view what) {
  int value = 0;
  const auto [end, error] = std::from_chars(side.data(), side.data() + side.size(), value);
  if (error != std::errc{} || end != side.data() + side.size() || value < 0) {
    throw UsageError(fmt::format("{} '{}' is not a tile size: give WxH (e.g. 256x256, or 0x64 for stripes of 64 "
                                 "rows: 0 is the whole width or height), N for NxN, or 'whole'",
                                 what, text));
  }
  return value;
}

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

cv::Size parse_tile_size(std::string_view text, std::string_view what) {
  if (text == "whole") return {0, 0};
  const auto x = text.find('x');
  if (x == std::string_view::npos) {
    const int side = parse_tile_side(text, text, what);
    return {side, side};
  }
  return {parse_tile_side(text.substr(0, x), text, what), parse_tile_side(text.substr(x + 1), text, what)};
}

}  // namespace tilefork
