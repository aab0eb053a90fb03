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

// Frame `frame` of `video`, decoded in order (into `destination` when it has the frame's size and
// type), and its plan. Returns an empty image when the frame is not to run: the stream ended
// before it (`error` empty; the video's end is then known), or it could not be decoded or its
// video failed before (`error` says why; the video is failed). Never throws.
LoadedFrame read_video_frame(const Pipeline& pipeline, VideoStream& video, std::uint32_t frame, std::string& error,
                             const cv::Mat& destination = cv::Mat());

// The frame of a video item, as read_video_frame, with `result` saying why when it is settled
// without running: failed, or ok and absent (announced by the header, not in the stream).
LoadedFrame read_video_item(const Pipeline& pipeline, const WorkItem& item, ItemResult& result,
                            const cv::Mat& destination = cv::Mat());

// Encodes frame `frame` of `video` in order. Returns false with `error` saying why (the video is
// then failed). Never throws.
bool write_video_frame(VideoStream& video, std::uint32_t frame, const cv::Mat& image, std::string& error);

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

// Takes one trace record from whichever thread ran the task; empty: tracing is off.
using TraceSink = std::function<void(const TraceRecord&)>;

// Runs `task(index)` for every index below `count`: in a loop (serial) or in parallel (threads).
using TileLoop = std::function<void(std::uint32_t count, const std::function<void(std::uint32_t)>& task)>;
// The whole of one item in private memory (serial and threads executors): load, every stage tile
// by tile through `runner_for_this_thread()`, store. Fills `result`; returns the tasks run.
// `trace` gets a record of each task, as the fork executor's workers write them (item = `index`).
std::uint64_t process_private_frame(const Pipeline& pipeline, const WorkItem& item, cv::Size tile,
                                    const TileLoop& loop,
                                    const std::function<TileRunner&()>& runner_for_this_thread,
                                    PlaneSet& planes, ItemResult& result, std::uint64_t& pixels,
                                    std::uint32_t index = 0, const TraceSink& trace = {});

}  // namespace tilefork
