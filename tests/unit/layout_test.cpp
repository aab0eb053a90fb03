// SegmentLayout arithmetic: large planes counted in full, and sizes that would wrap refused.
#include "tilefork/layout.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <stdexcept>

namespace tilefork {
namespace {

TEST(SegmentLayoutTest, LargePlanesFitInTheSegment) {
  for (const std::size_t capacity : {std::size_t{1}, std::size_t{4095}, std::size_t{1} << 33}) {
    const SegmentLayout layout(64, 9, 3, capacity, 2048);
    EXPECT_GE(layout.size(), 9u * 2048u * sizeof(TraceRecord)) << "capacity " << capacity;
    EXPECT_GE(layout.size(), 64u * 3u * capacity) << "capacity " << capacity;
  }
}

// A plane capacity from a pixel count that had wrapped (2^64 - 393213 bytes: -131071 pixels of
// 3 bytes) once gave a segment of about 100 KiB with 9 traced workers, and the coordinator wrote
// the trace ring headers past its end. Such a size must be refused, never wrapped.
TEST(SegmentLayoutTest, SizesThatWouldWrapAreRefused) {
  const std::size_t max = std::numeric_limits<std::size_t>::max();
  EXPECT_THROW(SegmentLayout(1, 9, 2, max - 393212, 2048), std::invalid_argument);
  EXPECT_THROW(SegmentLayout(1, 1, 1, max, 0), std::invalid_argument);
  EXPECT_THROW(SegmentLayout(64, 1, 3, max / 64, 0), std::invalid_argument);
}

}  // namespace
}  // namespace tilefork
