// Per-tile cost of a kernel's home: the same 8-bit invert built in, as a plugin, and in the
// external C++ and Python worker programs, one fork worker, 4 frames of 1024x1024 cut into tiles
// of 32x32 (4096 tiles) and of 16x16 (16384). The slope between the two tile sizes is the cost
// of one tile, free of per-run costs (forking, a worker program's start-up); compare slopes.
//
//   build/release/bench/bench_overhead --benchmark_min_time=1
#include "tilefork/executor.hpp"
#include "tilefork/external_worker.hpp"
#include "tilefork/plugin_loader.hpp"

#include <benchmark/benchmark.h>

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>

namespace {

using namespace tilefork;

constexpr int kFrames = 4;
const cv::Size kFrame(1024, 1024);

std::vector<WorkItem> batch() {
  static const cv::Mat image = [] {
    cv::Mat frame(kFrame, CV_8UC1);
    cv::randu(frame, 0, 256);
    return frame;
  }();
  std::vector<WorkItem> items(kFrames);
  for (auto& item : items) {
    item.input = "memory";
    item.image = image;
    item.info = {image.size(), {CV_8U, 1}};
  }
  return items;
}

void setup_once() {
  static const bool done = [] {
    cv::setNumThreads(0);
    register_builtin_kernels();
    load_plugin(TILEFORK_BENCH_PLUGIN);
    for (const std::string& program : {std::string(TILEFORK_SAMPLE_WORKER), std::string("/usr/bin/python3 " TILEFORK_SAMPLES "/workers/invert.py")}) {
      for (const KernelSpec& spec : describe_external_worker(program)) KernelRegistry::instance().add(spec);
    }
    return true;
  }();
  (void)done;
}

void BM_Invert(benchmark::State& state, const std::string& pipeline_text, const std::string& worker_exec) {
  setup_once();
  const Pipeline pipeline = Pipeline::parse(pipeline_text);
  const auto items = batch();
  RunOptions options;
  options.workers = 1;
  const int side = static_cast<int>(state.range(0));
  options.tile = {side, side};
  options.worker_exec = worker_exec;
  std::uint64_t kicks = 0;
  for (auto _ : state) {
    const RunReport report = run_batch(pipeline, items, options);
    if (report.failed() != 0) state.SkipWithError(report.items[0].error.c_str());
    kicks += report.idle_kicks;
  }
  state.counters["idle_kicks"] = static_cast<double>(kicks);
  const double tiles = kFrames * (1024.0 / side) * (1024.0 / side);
  state.counters["tiles"] = tiles;
  // seconds per million tiles = microseconds per tile, all costs included
  state.counters["us_per_tile"] = benchmark::Counter(tiles * static_cast<double>(state.iterations()) / 1e6,
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK_CAPTURE(BM_Invert, built_in, std::string("invert"), std::string())->Arg(32)->Arg(16)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Invert, plugin, std::string("bench_invert"), std::string())->Arg(32)->Arg(16)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Invert, external_cpp, std::string("cpp_invert"), std::string(TILEFORK_SAMPLE_WORKER))
    ->Arg(32)->Arg(16)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Invert, external_python, std::string("py_invert"),
                  std::string("/usr/bin/python3 " TILEFORK_SAMPLES "/workers/invert.py"))
    ->Arg(32)->Arg(16)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
