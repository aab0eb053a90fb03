// What tracing costs: the same batch through the fork executor with tracing off and on,
// alternately (so that drift in the machine hits both alike), medians of the repetitions, and
// the ratio. Frames come from memory and results are not written, so the run is tasks and
// scheduling, where the cost of a record shows most.
//
//   build/release/bench/bench_trace_overhead [repetitions=9]
#include "tilefork/executor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#ifndef TILEFORK_SAMPLES
#define TILEFORK_SAMPLES "samples"
#endif

namespace {

using namespace tilefork;

std::vector<WorkItem> batch(int frames, cv::Size size) {
  cv::Mat photo = cv::imread(TILEFORK_SAMPLES "/frames/Garden.jpg", cv::IMREAD_COLOR);
  if (photo.empty()) photo = cv::Mat(size, CV_8UC3, cv::Scalar(90, 120, 150));
  cv::Mat frame;
  cv::resize(photo, frame, size, 0, 0, cv::INTER_AREA);
  std::vector<WorkItem> items(static_cast<std::size_t>(frames));
  for (WorkItem& item : items) {
    item.input = "memory";
    item.image = frame;
    item.info = {frame.size(), {frame.depth(), frame.channels()}};
  }
  return items;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

struct Case {
  const char* pipeline;
  cv::Size tile;
};

}  // namespace

int main(int argc, char** argv) {
  cv::setNumThreads(0);
  register_builtin_kernels();
  const int repetitions = argc > 1 ? std::max(1, std::atoi(argv[1])) : 9;
  const auto items = batch(24, {1920, 1080});
  fmt::print("fork executor, 2 workers, 24 frames of 1920x1080 colour from memory, {} repetitions each "
             "(alternating off/on, after one warm-up of each)\n\n",
             repetitions);
  fmt::print("{:<28} {:>8} {:>8} {:>11} {:>11} {:>9} {:>10}\n", "pipeline", "tiles", "tasks", "off (s)", "on (s)",
             "overhead", "ns/task");
  for (const Case& c : {Case{"gaussian sigma=2", {0, 64}}, Case{"gaussian sigma=1 | invert", {64, 64}},
                        Case{"invert", {32, 32}}}) {
    const Pipeline pipeline = Pipeline::parse(c.pipeline);
    RunOptions options;
    options.workers = 2;
    options.tile = c.tile;
    std::vector<double> off;
    std::vector<double> on;
    std::uint64_t tasks = 0;
    for (int r = -1; r < repetitions; ++r) {
      for (const bool traced : {false, true}) {
        RunTrace trace;
        options.trace = traced ? &trace : nullptr;
        const RunReport report = run_batch(pipeline, items, options);
        if (report.failed() != 0) {
          fmt::print(stderr, "run failed: {}\n", report.items[0].error);
          return 1;
        }
        tasks = report.tasks;
        if (traced && trace.tasks() != report.tasks) {
          fmt::print(stderr, "trace holds {} tasks, the run {}\n", trace.tasks(), report.tasks);
          return 1;
        }
        if (r >= 0) (traced ? on : off).push_back(report.seconds);
      }
    }
    const double median_off = median(off);
    const double median_on = median(on);
    fmt::print("{:<28} {:>8} {:>8} {:>11.4f} {:>11.4f} {:>8.2f}% {:>10.0f}\n", c.pipeline,
               fmt::format("{}x{}", c.tile.width, c.tile.height), tasks, median_off, median_on,
               100 * (median_on / median_off - 1), (median_on - median_off) * 1e9 / static_cast<double>(tasks));
  }
  return 0;
}
