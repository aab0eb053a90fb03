// The serial executor: one process, one thread, tile by tile. The reference for every test.
#include "frame_steps.hpp"
#include "tilefork/tile_runner.hpp"

#include <chrono>
#include <opencv2/core/utility.hpp>
#include <unistd.h>

namespace tilefork {

RunReport run_serial(const Pipeline& pipeline, std::span<const WorkItem> items,
                     const RunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  cv::setNumThreads(0);
  TraceSink trace;
  if (options.trace != nullptr) {
    options.trace->executor = "serial";
    options.trace->origin_ns = trace_clock_ns();
    options.trace->coordinator_pid = static_cast<std::int32_t>(getpid());
    options.trace->processes.push_back({.pid = static_cast<std::int32_t>(getpid()), .worker = 0});
    trace = [&options](const TraceRecord& record) { options.trace->records.push_back(record); };
  }
  RunReport report;
  report.workers = 1;
  report.items.resize(items.size());
  TileRunner runner;
  PlaneSet planes;
  const TileLoop in_order = [](std::uint32_t count, const std::function<void(std::uint32_t)>& task) {
    for (std::uint32_t i = 0; i < count; ++i) task(i);
  };
  Progress progress{0, 0, items.size(), 0, 0};
  for (std::size_t i = 0; i < items.size(); ++i) {
    report.tasks += process_private_frame(pipeline, items[i], options.tile, in_order,
                                          [&]() -> TileRunner& { return runner; }, planes,
                                          report.items[i], report.pixels, static_cast<std::uint32_t>(i), trace);
    progress.item = i;
    ++progress.finished;
    progress.failed += report.items[i].ok ? 0 : 1;
    progress.pixels = report.pixels;
    if (options.progress) options.progress(progress);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options.trace != nullptr) options.trace->end_ns = trace_clock_ns();
  return report;
}

}  // namespace tilefork
