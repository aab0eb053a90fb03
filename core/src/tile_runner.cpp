// Runs one tile of a stage from an aligned contiguous copy, so tiles equal the whole-frame call.
#include "tilefork/tile_runner.hpp"

#include "tilefork/tile.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace tilefork {
namespace {

// A kernel must write into the Mat it is given; one that reallocates it would lose the tile.
void apply_checked(const Stage& stage, const cv::Mat& source, cv::Mat& result) {
  const auto* before = result.data;
  stage.kernel->apply(source, result, stage.params);
  if (result.data != before) {
    throw std::logic_error(fmt::format("kernel '{}' reallocated its output instead of writing into it",
                                       stage.kernel->name));
  }
}

}  // namespace

cv::Mat scratch_mat(std::vector<unsigned char>& buffer, cv::Size size, int type) {
  const std::size_t bytes = static_cast<std::size_t>(size.area()) * CV_ELEM_SIZE(type);
  if (buffer.size() < bytes) buffer.resize(bytes);
  return cv::Mat(size, type, buffer.data());
}

void TileRunner::run(const Stage& stage, const cv::Mat& input, cv::Mat& output, cv::Rect tile) {
  const cv::Rect whole({0, 0}, input.size());
  if (stage.kernel->whole_frame) {
    apply_checked(stage, input, output);  // one task, the whole frame; sizes may differ
    return;
  }
  if (tile == whole && input.isContinuous() && output.isContinuous()) {
    apply_checked(stage, input, output);
    return;
  }
  // Even a pointwise kernel runs over the aligned rectangle: OpenCV's SIMD body and scalar row
  // tail can round floats differently (cv::cvtColor on 32-bit float differs by 1 ulp), so each
  // pixel must sit at the same place in its row's vector lanes as in the whole-frame call.
  const cv::Rect source = source_rect(tile, stage.halo, input.size());
  cv::Mat region = input(source);
  if (!stage.kernel->pointwise) {
    // A ROI makes OpenCV read past its edges (and take other code paths): give it a copy.
    cv::Mat copy = scratch_mat(source_buffer_, source.size(), input.type());
    region.copyTo(copy);
    region = copy;
  }
  cv::Mat result = scratch_mat(result_buffer_, source.size(), output.type());
  apply_checked(stage, region, result);
  result(tile - source.tl()).copyTo(output(tile));
}

}  // namespace tilefork
