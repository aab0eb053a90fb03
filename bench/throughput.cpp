// Throughput of `gaussian sigma=2` on 24-megapixel frames: fork with 1 and 2 workers, threads,
// serial, and cv::GaussianBlur on the whole frame, in one run. Frames come from memory and
// results are not encoded, so the figures are filtering (plus the copy into the segment).
//
//   build/release/bench/bench_throughput --benchmark_min_time=2
#include "tilefork/executor.hpp"

#include <benchmark/benchmark.h>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#ifndef TILEFORK_SAMPLES
#define TILEFORK_SAMPLES "samples"
#endif

namespace {

using namespace tilefork;

constexpr int kFrames = 12;  // more frames than slots, so slots are reused as in a real batch
const cv::Size kFrameSize(6000, 4000);  // 24 MP

const cv::Mat& frame() {
  static const cv::Mat image = [] {
    cv::Mat photo = cv::imread(TILEFORK_SAMPLES "/frames/LadyBird.jpg", cv::IMREAD_COLOR);
    if (photo.empty()) photo = cv::Mat(kFrameSize, CV_8UC3, cv::Scalar(90, 120, 150));
    cv::Mat large;
    cv::resize(photo, large, kFrameSize, 0, 0, cv::INTER_CUBIC);
    return large;
  }();
  return image;
}

std::vector<WorkItem> batch() {
  std::vector<WorkItem> items(kFrames);
  for (auto& item : items) {
    item.input = "memory";
    item.image = frame();
    item.info = {frame().size(), {frame().depth(), frame().channels()}};
  }
  return items;
}

void set_rate(benchmark::State& state) {
  state.counters["MP/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * kFrames *
                                                  static_cast<double>(frame().total()) / 1e6,
                                              benchmark::Counter::kIsRate);
}

void BM_Executor(benchmark::State& state, ExecutorKind executor, int workers) {
  cv::setNumThreads(0);
  register_builtin_kernels();
  const Pipeline pipeline = Pipeline::parse("gaussian sigma=2");
  const auto items = batch();
  RunOptions options;
  options.executor = executor;
  options.workers = workers;
  options.tile = {static_cast<int>(state.range(0)), static_cast<int>(state.range(1))};
  double busy = 0;
  for (auto _ : state) {
    const RunReport report = run_batch(pipeline, items, options);
    if (report.failed() != 0) state.SkipWithError(report.items[0].error.c_str());
    for (double seconds : report.worker_busy_seconds) busy += seconds;
  }
  if (busy > 0) state.counters["worker_busy_s"] = busy / static_cast<double>(state.iterations());
  set_rate(state);
}

void BM_OpenCvWholeFrame(benchmark::State& state) {
  cv::setNumThreads(static_cast<int>(state.range(0)));
  cv::Mat output;
  for (auto _ : state) {
    for (int i = 0; i < kFrames; ++i) cv::GaussianBlur(frame(), output, {0, 0}, 2, 2);
    benchmark::DoNotOptimize(output.data);
  }
  set_rate(state);
  cv::setNumThreads(0);
}

}  // namespace

// Registered in this order on purpose: OpenCV's own threads (last) start only after every
// forking benchmark has run, as the coordinator's fork-first rule requires.
BENCHMARK(BM_OpenCvWholeFrame)->Arg(0)->ArgName("opencv_threads")->UseRealTime()->Unit(benchmark::kMillisecond);
// Tiles: 256x256 squares and full-width stripes (width 0) of 64 and 128 rows.
#define TILEFORK_TILES ->Args({256, 256})->Args({0, 64})->Args({0, 128})->ArgNames({"tile_w", "tile_h"})->UseRealTime()->Unit(benchmark::kMillisecond)
BENCHMARK_CAPTURE(BM_Executor, serial, ExecutorKind::serial, 1) TILEFORK_TILES;
BENCHMARK_CAPTURE(BM_Executor, fork_1_worker, ExecutorKind::fork, 1) TILEFORK_TILES;
BENCHMARK_CAPTURE(BM_Executor, fork_2_workers, ExecutorKind::fork, 2) TILEFORK_TILES;
BENCHMARK_CAPTURE(BM_Executor, threads_2, ExecutorKind::threads, 2) TILEFORK_TILES;
BENCHMARK(BM_OpenCvWholeFrame)->Arg(2)->ArgName("opencv_threads")->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
