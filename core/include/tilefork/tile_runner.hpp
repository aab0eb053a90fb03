// TileRunner: computes one tile of one stage, exactly as the kernel on the whole frame would.
#pragma once

#include "tilefork/pipeline.hpp"

#include <opencv2/core/mat.hpp>

#include <vector>

namespace tilefork {

// A Mat of `size` and `type` over `buffer`, which grows when too small and is otherwise reused:
// fresh memory costs a page fault per page on first touch, dearer than the filtering itself
// for large frames in a virtual machine.
cv::Mat scratch_mat(std::vector<unsigned char>& buffer, cv::Size size, int type);

// The one tile function that the serial, threads and fork executors all call. It owns scratch
// buffers that grow to the largest tile seen and are reused, so it is per worker / per thread.
class TileRunner {
 public:
  // Writes the pixels of `tile` of `output` from `input` (both whole frames of the stage's input
  // and output types, in different memory). A neighbourhood kernel runs on a
  // contiguous copy of source_rect(tile) and only the tile's own pixels are written back.
  // Throws whatever the kernel throws (cv::Exception, std::exception).
  void run(const Stage& stage, const cv::Mat& input, cv::Mat& output, cv::Rect tile);

 private:
  std::vector<unsigned char> source_buffer_;
  std::vector<unsigned char> result_buffer_;
};

}  // namespace tilefork
