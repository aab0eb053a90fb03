// The threads executor: oneTBB in one process, the same frames, kernels and tiles as fork.
#include "frame_steps.hpp"
#include "tilefork/tile_runner.hpp"

#include <tbb/concurrent_queue.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>
#include <opencv2/core/utility.hpp>
#include <unistd.h>

namespace tilefork {

RunReport run_threads(const Pipeline& pipeline, std::span<const WorkItem> items,
                      const RunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  // OpenCV's own threads would compete with ours; every kernel call stays on its thread.
  cv::setNumThreads(0);
  RunReport report;
  report.workers = resolve_workers(options);
  report.items.resize(items.size());
  tbb::enumerable_thread_specific<TileRunner> runners;
  // Records stay with the thread that made them until the end: no lock on the hot path.
  tbb::enumerable_thread_specific<std::vector<TraceRecord>> records;
  TraceSink trace;
  if (options.trace != nullptr) {
    options.trace->executor = "threads";
    options.trace->origin_ns = trace_clock_ns();
    options.trace->coordinator_pid = static_cast<std::int32_t>(getpid());
    trace = [&records](const TraceRecord& record) { records.local().push_back(record); };
  }
  // Plane sets go from frame to frame through a pool, not per thread: a thread waiting for the
  // tiles of its frame may start another frame meanwhile.
  tbb::concurrent_queue<std::unique_ptr<PlaneSet>> plane_sets;
  std::atomic<std::uint64_t> tasks{0};
  std::atomic<std::uint64_t> pixels{0};
  const TileLoop in_parallel = [](std::uint32_t count, const std::function<void(std::uint32_t)>& task) {
    tbb::parallel_for(std::uint32_t{0}, count, [&](std::uint32_t i) { task(i); });
  };
  std::mutex progress_mutex;
  Progress progress{0, 0, items.size(), 0, 0};
  auto process = [&](std::size_t i) {
    std::uint64_t frame_pixels = 0;
    std::unique_ptr<PlaneSet> planes;
    if (!plane_sets.try_pop(planes)) planes = std::make_unique<PlaneSet>();
    tasks += process_private_frame(pipeline, items[i], options.tile, in_parallel,
                                   [&]() -> TileRunner& { return runners.local(); }, *planes, report.items[i],
                                   frame_pixels, static_cast<std::uint32_t>(i), trace);
    plane_sets.push(std::move(planes));
    pixels += frame_pixels;
    if (options.progress) {
      const std::lock_guard lock(progress_mutex);
      progress.item = i;
      ++progress.finished;
      progress.failed += report.items[i].ok ? 0 : 1;
      progress.pixels = pixels;
      options.progress(progress);
    }
  };
  // Image files in parallel (I/O overlaps filtering); the frames of videos one after another,
  // as their codecs need, beside them. Tiles within each frame in parallel.
  std::vector<std::size_t> images;
  std::vector<std::size_t> video_frames;
  for (std::size_t i = 0; i < items.size(); ++i) (items[i].video ? video_frames : images).push_back(i);
  tbb::task_arena arena(report.workers);
  arena.execute([&] {
    tbb::parallel_invoke(
        [&] { tbb::parallel_for(std::size_t{0}, images.size(), [&](std::size_t k) { process(images[k]); }); },
        [&] {
          for (const std::size_t i : video_frames) process(i);
        });
  });
  report.tasks = tasks;
  report.pixels = pixels;
  if (options.trace != nullptr) {
    // One track per thread, numbered in the order the threads first started a task.
    std::vector<std::pair<std::uint64_t, std::int32_t>> first_seen;
    for (const auto& local : records) {
      options.trace->records.insert(options.trace->records.end(), local.begin(), local.end());
      if (!local.empty()) first_seen.emplace_back(local.front().begin_ns, local.front().pid);
    }
    std::sort(first_seen.begin(), first_seen.end());
    std::uint32_t index = 0;
    for (const auto& [begin, tid] : first_seen) options.trace->processes.push_back({.pid = tid, .worker = index++});
    options.trace->end_ns = trace_clock_ns();
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace tilefork
