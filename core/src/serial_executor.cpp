// The serial executor: one process, one thread, tile by tile. The reference for every test.
#include "frame_steps.hpp"
#include "tilefork/tile_runner.hpp"

#include <chrono>
#include <opencv2/core/utility.hpp>

namespace tilefork {

RunReport run_serial(const Pipeline& pipeline, std::span<const WorkItem> items,
                     const RunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  cv::setNumThreads(0);
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
                                          report.items[i], report.pixels);
    progress.item = i;
    ++progress.finished;
    progress.failed += report.items[i].ok ? 0 : 1;
    progress.pixels = report.pixels;
    if (options.progress) options.progress(progress);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace tilefork
