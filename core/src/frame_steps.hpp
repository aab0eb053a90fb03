// The steps of one frame that every executor shares: load and plan, describe failures.
#pragma once

#include "tilefork/executor.hpp"
#include "tilefork/tile_runner.hpp"

#include <string>

namespace tilefork {

struct LoadedFrame {
  cv::Mat image;
  FramePlan plan;
};

// Decodes the item and plans the pipeline for the decoded type. Throws ImageError (unreadable or
// corrupt input) or UsageError (a stage cannot take the frame's type).
// With `destination`, the frame is decoded into its memory when it has its size and type.
LoadedFrame load_frame(const Pipeline& pipeline, const WorkItem& item, const cv::Mat& destination = cv::Mat());

// The frame of a video item, decoded in order, and its plan. Returns an empty image when the
// frame is settled without running, with `result` saying why: its video failed at an earlier
// frame, or the stream ended before it (ok, absent). Never throws: a frame that cannot be decoded
// fails `result` and the video.
LoadedFrame read_video_frame(const Pipeline& pipeline, const WorkItem& item, ItemResult& result);

// Encodes the result of a video item's frame in order. Never throws: a failure fails `result`
// and the video.
void write_video_frame(const WorkItem& item, const cv::Mat& image, ItemResult& result);

// "stage 2 (gaussian), tile 12 at 64,0 64x64: <what>"
std::string describe_tile_failure(const Pipeline& pipeline, std::uint32_t stage, std::uint32_t tile,
                                  cv::Rect rect, std::string_view what);

// Bytes of the largest plane that frames of `info` need through `pipeline` (planned from the
// probed type, which bounds the decoded one). Throws UsageError when the pipeline cannot take it.
std::size_t plane_bytes(const Pipeline& pipeline, const ImageInfo& info, int* planes);

}  // namespace tilefork

#include <functional>

namespace tilefork {

// The planes of one frame in private memory, kept from frame to frame so that their pages are
// touched once, not once per frame.
class PlaneSet {
 public:
  cv::Mat plane(int index, cv::Size size, int type) { return scratch_mat(bytes_[index], size, type); }

 private:
  std::vector<unsigned char> bytes_[3];
};

// Runs `task(index)` for every index below `count`: in a loop (serial) or in parallel (threads).
using TileLoop = std::function<void(std::uint32_t count, const std::function<void(std::uint32_t)>& task)>;
// The whole of one item in private memory (serial and threads executors): load, every stage tile
// by tile through `runner_for_this_thread()`, store. Fills `result`; returns the tasks run.
std::uint64_t process_private_frame(const Pipeline& pipeline, const WorkItem& item, cv::Size tile,
                                    const TileLoop& loop,
                                    const std::function<TileRunner&()>& runner_for_this_thread,
                                    PlaneSet& planes, ItemResult& result, std::uint64_t& pixels);

}  // namespace tilefork
