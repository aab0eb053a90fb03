// run_batch and what all executors share: names, worker counts, the per-frame steps.
#include "tilefork/executor.hpp"

#include "frame_steps.hpp"
#include "tilefork/errors.hpp"
#include "tilefork/tile.hpp"
#include "tilefork/tile_runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tilefork {

std::string_view to_string(ExecutorKind kind) noexcept {
  switch (kind) {
    case ExecutorKind::fork: return "fork";
    case ExecutorKind::threads: return "threads";
    case ExecutorKind::serial: return "serial";
  }
  return "unknown";
}

ExecutorKind parse_executor(std::string_view text) {
  if (text == "fork") return ExecutorKind::fork;
  if (text == "threads") return ExecutorKind::threads;
  if (text == "serial") return ExecutorKind::serial;
  throw UsageError(fmt::format("unknown --executor '{}': expected fork, threads or serial", text));
}

std::size_t RunReport::failed() const {
  return static_cast<std::size_t>(
      std::count_if(items.begin(), items.end(), [](const ItemResult& r) { return !r.ok; }));
}

int resolve_workers(const RunOptions& options) {
  if (options.workers > 0) return options.workers;
  // The cores this process may run on (taskset, cpusets, Slurm's binding), not all the machine's.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0) return CPU_COUNT(&allowed);
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return cores > 0 ? static_cast<int>(cores) : 1;
}

RunReport run_batch(const Pipeline& pipeline, std::span<const WorkItem> items,
                    const RunOptions& options) {
  for (const Stage& stage : pipeline.stages()) {
    if (stage.kernel->external && options.executor != ExecutorKind::fork) {
      throw UsageError(fmt::format("kernel '{}' runs in an external worker program, which only --executor fork "
                                   "starts", stage.kernel->name));
    }
  }
  switch (options.executor) {
    case ExecutorKind::serial: return run_serial(pipeline, items, options);
    case ExecutorKind::threads: return run_threads(pipeline, items, options);
    case ExecutorKind::fork: return run_forked(pipeline, items, options);
  }
  throw std::logic_error("unknown executor");
}

LoadedFrame load_frame(const Pipeline& pipeline, const WorkItem& item, const cv::Mat& destination) {
  LoadedFrame frame;
  frame.image = item.image.empty() ? load_image(item.input, destination) : item.image;
  frame.plan = pipeline.plan({frame.image.depth(), frame.image.channels()}, frame.image.size());
  return frame;
}

LoadedFrame read_video_frame(const Pipeline& pipeline, VideoStream& video, std::uint32_t frame, std::string& error,
                             const cv::Mat& destination) {
  error.clear();
  if (video.failed()) {
    error = fmt::format("frame {} not processed: another frame of this video failed", frame);
    return {};
  }
  try {
    LoadedFrame loaded;
    loaded.image = video.read(frame, destination);
    if (loaded.image.empty()) return {};  // the stream ended before this frame
    loaded.plan = pipeline.plan({loaded.image.depth(), loaded.image.channels()}, loaded.image.size());
    return loaded;
  } catch (const std::exception& failure) {
    error = failure.what();
    video.fail(frame, error);
    return {};
  }
}

LoadedFrame read_video_item(const Pipeline& pipeline, const WorkItem& item, ItemResult& result,
                            const cv::Mat& destination) {
  LoadedFrame frame = read_video_frame(pipeline, *item.video, item.video_frame, result.error, destination);
  if (frame.image.empty() && result.error.empty()) {  // announced, and not in the stream: fine
    result.ok = true;
    result.absent = true;
  }
  return frame;
}

bool write_video_frame(VideoStream& video, std::uint32_t frame, const cv::Mat& image, std::string& error) {
  if (video.failed()) {
    error = fmt::format("frame {} not written: another frame of this video failed", frame);
    return false;
  }
  try {
    video.write(frame, image);
    return true;
  } catch (const std::exception& failure) {
    error = failure.what();
    video.fail(frame, error);
    return false;
  }
}

std::string describe_tile_failure(const Pipeline& pipeline, std::uint32_t stage, std::uint32_t tile,
                                  cv::Rect rect, std::string_view what) {
  return fmt::format("stage {} ({}), tile {} at {},{} {}x{}: {}", stage + 1,
                     pipeline.stages().at(stage).kernel->name, tile, rect.x, rect.y, rect.width,
                     rect.height, what);
}

std::size_t plane_bytes(const Pipeline& pipeline, const ImageInfo& info, int* planes) {
  const FramePlan plan = pipeline.plan(info.type, info.size);
  if (planes != nullptr) *planes = plan.planes;
  return plan.max_plane_bytes();
}

}  // namespace tilefork

namespace tilefork {

std::uint64_t process_private_frame(const Pipeline& pipeline, const WorkItem& item, cv::Size tile,
                                    const TileLoop& loop,
                                    const std::function<TileRunner&()>& runner_for_this_thread,
                                    PlaneSet& plane_set, ItemResult& result, std::uint64_t& pixels,
                                    std::uint32_t index, const TraceSink& trace) {
  if (!item.error.empty()) {
    result.error = item.error;
    return 0;
  }
  // A record per task, as a fork worker writes it; the thread id names the track.
  auto record = [&](TraceKind kind, std::uint64_t begin, std::uint32_t stage, std::uint32_t tile_index, cv::Rect rect) {
    trace({.begin_ns = begin,
           .end_ns = trace_clock_ns(),
           .item = index,
           .tile = tile_index,
           .x = rect.x,
           .y = rect.y,
           .width = rect.width,
           .height = rect.height,
           .pid = static_cast<std::int32_t>(::syscall(SYS_gettid)),
           .stage = static_cast<std::uint16_t>(stage),
           .kind = kind});
  };
  // One frame through every stage, and its output stored (an image) or encoded (a video frame,
  // `frame_number`). Returns false when the video frame could not be encoded (`write_error` says why).
  std::uint64_t tasks = 0;
  auto run_frame = [&](const LoadedFrame& frame, std::uint32_t frame_number, std::string& write_error) {
    std::vector<cv::Mat> planes(frame.plan.planes);
    planes[0] = frame.image;
    tasks += 2;
    for (std::uint32_t s = 0; s < pipeline.stages().size(); ++s) {
      const int in = frame.plan.in_plane[s];
      const int out = frame.plan.out_plane[s];
      planes[out] = plane_set.plane(out, frame.plan.sizes[s + 1], frame.plan.types[s + 1].cv_type());
      const bool whole_frame = pipeline.stages()[s].kernel->whole_frame;
      const TileGrid grid(frame.plan.sizes[s + 1], whole_frame ? cv::Size() : tile);
      loop(grid.count(), [&](std::uint32_t t) {
        const std::uint64_t tile_begin = trace ? trace_clock_ns() : 0;
        try {
          runner_for_this_thread().run(pipeline.stages()[s], planes[in], planes[out], grid.rect(t));
        } catch (const std::exception& error) {
          throw std::runtime_error(describe_tile_failure(pipeline, s, t, grid.rect(t), error.what()));
        }
        if (trace) record(TraceKind::tile, tile_begin, s, t, grid.rect(t));
      });
      tasks += grid.count();
    }
    const cv::Mat& output = planes[frame.plan.result_plane()];
    const std::uint64_t begin = trace ? trace_clock_ns() : 0;
    bool written = true;
    if (item.video) {
      written = write_video_frame(*item.video, frame_number, output, write_error);
    } else if (!item.output.empty()) {
      store_image(output, item.output, item.quality);
    }
    if (trace) record(TraceKind::store, begin, 0, 0, cv::Rect({0, 0}, output.size()));
    if (written) pixels += static_cast<std::uint64_t>(frame.image.total());
    return written;
  };
  std::uint32_t frame_number = item.video_frame;
  try {
    std::uint64_t begin = trace ? trace_clock_ns() : 0;
    LoadedFrame frame = item.video ? read_video_item(pipeline, item, result) : load_frame(pipeline, item);
    if (frame.image.empty()) return 0;  // a video frame settled without running
    if (trace) record(TraceKind::load, begin, 0, 0, cv::Rect({0, 0}, frame.image.size()));
    result.ok = run_frame(frame, frame_number, result.error);
    // The frames the stream holds past the ones its header announced: on to the end.
    while (result.ok && item.video && item.video->last_announced(item.video_frame)) {
      begin = trace ? trace_clock_ns() : 0;
      frame_number = item.video->next_to_read();
      std::string error;
      frame = read_video_frame(pipeline, *item.video, frame_number, error);
      if (frame.image.empty() && error.empty()) break;  // the end of the stream
      if (!frame.image.empty()) {
        ++result.extra_frames;
        if (trace) record(TraceKind::load, begin, 0, 0, cv::Rect({0, 0}, frame.image.size()));
        if (run_frame(frame, frame_number, error)) continue;
      }
      result.ok = false;
      result.error = fmt::format("frame {}: {}", frame_number, error);
    }
    return tasks;
  } catch (const std::exception& error) {
    result.ok = false;
    result.error = frame_number == item.video_frame ? std::string(error.what())
                                                    : fmt::format("frame {}: {}", frame_number, error.what());
    if (item.video) item.video->fail(frame_number, error.what());
    return 0;
  }
}

}  // namespace tilefork
