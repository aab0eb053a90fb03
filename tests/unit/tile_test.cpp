// TileGrid covers a frame exactly once; source_rect follows the alignment rule and stays inside;
// tile sizes parse as documented and bad ones are refused with a message naming them.
#include "tilefork/tile.hpp"

#include "tilefork/errors.hpp"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include <string>
#include <utility>
#include <vector>

namespace tilefork {
namespace {

TEST(TileGrid, CoversEveryPixelExactlyOnce) {
  for (const cv::Size frame : {cv::Size(1, 1), cv::Size(2, 3), cv::Size(37, 23), cv::Size(1283, 997)}) {
    for (const cv::Size tile : {cv::Size(1, 1), cv::Size(7, 5), cv::Size(64, 64), cv::Size(0, 0), cv::Size(5000, 3)}) {
      if (frame.area() > 100000 && tile.area() < 10) continue;
      const TileGrid grid(frame, tile);
      cv::Mat hits(frame, CV_32S, cv::Scalar(0));
      for (std::uint32_t i = 0; i < grid.count(); ++i) {
        const cv::Rect r = grid.rect(i);
        ASSERT_TRUE(r.width > 0 && r.height > 0);
        ASSERT_EQ(r & cv::Rect({0, 0}, frame), r) << "tile " << i << " leaves the frame";
        hits(r) += 1;
      }
      double lo = 0, hi = 0;
      cv::minMaxLoc(hits, &lo, &hi);
      EXPECT_EQ(lo, 1) << frame << " tile " << tile;
      EXPECT_EQ(hi, 1) << frame << " tile " << tile;
    }
  }
}

TEST(TileGrid, WholeFrameIsOneTile) {
  const TileGrid grid({1283, 997}, {0, 0});
  EXPECT_EQ(grid.count(), 1u);
  EXPECT_EQ(grid.rect(0), cv::Rect(0, 0, 1283, 997));
}

TEST(SourceRect, ContainsTileAndHaloAndIsAligned) {
  const cv::Size frame(1283, 997);
  for (int halo : {0, 1, 3, 10, 70}) {
    const TileGrid grid(frame, {50, 40});
    for (std::uint32_t i = 0; i < grid.count(); ++i) {
      const cv::Rect tile = grid.rect(i);
      const cv::Rect source = source_rect(tile, halo, frame);
      const cv::Rect wanted = cv::Rect(tile.x - halo, tile.y - halo, tile.width + 2 * halo,
                                       tile.height + 2 * halo) & cv::Rect({0, 0}, frame);
      ASSERT_EQ(source & wanted, wanted) << "tile " << tile << " halo " << halo;
      ASSERT_EQ(source & cv::Rect({0, 0}, frame), source);
      EXPECT_EQ(source.x % kColumnAlign, 0);
      const int right = source.x + source.width;
      EXPECT_TRUE(right == frame.width || frame.width - right >= kColumnAlign) << "sliver left at " << right;
    }
  }
}

TEST(ParseTileSize, ReadsWxHSquaresAndWhole) {
  const std::vector<std::pair<std::string, cv::Size>> cases = {
      {"256x128", {256, 128}}, {"0x64", {0, 64}}, {"64x0", {64, 0}}, {"1x1", {1, 1}},     {"0x0", {0, 0}},
      {"96", {96, 96}},        {"7", {7, 7}},     {"0", {0, 0}},     {"whole", {0, 0}}, {"0037x05", {37, 5}}};
  for (const auto& [text, size] : cases) {
    EXPECT_EQ(parse_tile_size(text, "--tile"), size) << "'" << text << "'";
  }
}

TEST(ParseTileSize, RefusesAnythingElseNamingTheValueAndWhatIsExpected) {
  for (const std::string wrong : {"", "x", "12x", "x12", "-1x4", "4x-1", "-3", "1.5x2", "whole2", "Whole", "12y12",
                                  "2x3x4", " 12", "12 ", "+5", "12X12", "99999999999x1", "1x99999999999"}) {
    try {
      const cv::Size size = parse_tile_size(wrong, "--tile");
      ADD_FAILURE() << "'" << wrong << "' gave " << size;
    } catch (const UsageError& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.rfind("--tile '" + wrong + "' ", 0), 0u) << message;
      for (const char* part : {"WxH", "NxN", "'whole'"}) {
        EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' missing from: " << message;
      }
    }
  }
}

}  // namespace
}  // namespace tilefork
