// What tracing costs: the same batch through the fork executor with tracing off and on,
// alternately (so that drift in the machine hits both alike), medians of the repetitions, and
// the ratios, of wall time and of CPU time (coordinator and workers, from getrusage). Frames
// come from memory and results are not written, so the run is tasks and scheduling, where the
// cost of a record shows most. CPU time is the steadier figure on a shared machine: wall time
// of two workers on two busy cores swings by tens of percent from run to run.
//
//   build/release/bench/bench_trace_overhead [repetitions=9]
#include "tilefork/executor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <sys/resource.h>
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

// CPU seconds (user + system) of this process and of its reaped children (the workers).
double cpu_seconds() {
  double total = 0;
  for (const int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage usage{};
    getrusage(who, &usage);
    total += static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
             static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  }
  return total;
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
  fmt::print("{:<26} {:>6} {:>6} | {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} {:>8}\n", "pipeline", "tiles", "tasks",
             "wall off", "wall on", "ratio", "cpu off", "cpu on", "ratio", "ns/task");
  for (const Case& c : {Case{"gaussian sigma=2", {0, 64}}, Case{"gaussian sigma=1 | invert", {64, 64}},
                        Case{"invert", {32, 32}}}) {
    const Pipeline pipeline = Pipeline::parse(c.pipeline);
    RunOptions options;
    options.workers = 2;
    options.tile = c.tile;
    std::vector<double> off;
    std::vector<double> on;
    std::vector<double> cpu_off;
    std::vector<double> cpu_on;
    std::uint64_t tasks = 0;
    for (int r = -1; r < repetitions; ++r) {
      for (const bool traced : {false, true}) {
        RunTrace trace;
        options.trace = traced ? &trace : nullptr;
        const double cpu_before = cpu_seconds();
        const RunReport report = run_batch(pipeline, items, options);
        const double cpu = cpu_seconds() - cpu_before;
        if (report.failed() != 0) {
          fmt::print(stderr, "run failed: {}\n", report.items[0].error);
          return 1;
        }
        tasks = report.tasks;
        if (traced && trace.tasks() != report.tasks) {
          fmt::print(stderr, "trace holds {} tasks, the run {}\n", trace.tasks(), report.tasks);
          return 1;
        }
        if (r >= 0) {
          (traced ? on : off).push_back(report.seconds);
          (traced ? cpu_on : cpu_off).push_back(cpu);
        }
      }
    }
    const double wall_off = median(off);
    const double wall_on = median(on);
    const double median_cpu_off = median(cpu_off);
    const double median_cpu_on = median(cpu_on);
    fmt::print("{:<26} {:>6} {:>6} | {:>8.4f} {:>8.4f} {:>+7.2f}% | {:>8.4f} {:>8.4f} {:>+7.2f}% {:>8.0f}\n", c.pipeline,
               fmt::format("{}x{}", c.tile.width, c.tile.height), tasks, wall_off, wall_on,
               100 * (wall_on / wall_off - 1), median_cpu_off, median_cpu_on, 100 * (median_cpu_on / median_cpu_off - 1),
               (median_cpu_on - median_cpu_off) * 1e9 / static_cast<double>(tasks));
  }
  return 0;
}
