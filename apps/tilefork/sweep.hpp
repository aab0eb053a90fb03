// `tilefork bench --sweep`: one pipeline over executors x backends x workers x tiles, on frames
// held in memory, with repeated runs, speed-ups against serial and a recommended configuration.
#pragma once

#include "plot.hpp"
#include "tilefork/executor.hpp"
#include "tilefork/segment.hpp"

#include <opencv2/core/mat.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tilefork::bench {

// A tile size as parse_tile_size() (tilefork/tile.hpp) reads it: "0x64", "256x256", "whole" for 0x0.
std::string format_tile_size(cv::Size tile);
// 0x64, 0x128, 256x256, whole.
std::vector<cv::Size> default_tile_sizes();
// 1 and the powers of two below `cores`, then `cores`: 1,2 on 2 cores; 1,2,4,6 on 6.
std::vector<int> default_worker_counts(int cores);

// A frame of the sweep, decoded once: every run reads it from memory (WorkItem::image), and
// nothing is encoded, so the sweep measures the pipeline, not the disk or the codecs.
struct SweepFrame {
  std::string name;  // for reports: the file it came from, or "synthetic-1"
  cv::Mat image;
};

// `count` photo-like frames (gradients, hard-edged shapes, fine noise; 8-bit colour) of `size`,
// for when no photograph is at hand. The same for the same arguments.
std::vector<SweepFrame> synthetic_frames(int count, cv::Size size);

struct SweepOptions {
  std::string pipeline = "gaussian sigma=2";
  std::vector<SweepFrame> frames;
  // Serial is measured in every sweep, once per tile: it is the reference of the speed-ups. When
  // it is not listed here it is reported but never recommended.
  std::vector<ExecutorKind> executors{ExecutorKind::fork, ExecutorKind::threads, ExecutorKind::serial};
  std::vector<Backend> backends{Backend::sysv};  // the fork executor's only: threads and serial have none
  std::vector<int> workers;                      // empty: default_worker_counts(resolve_workers({}))
  std::vector<cv::Size> tiles = default_tile_sizes();
  // Per configuration, after one untimed warm-up run: at least this many timed runs, and more
  // until they add up to min_time.
  int repetitions = 3;
  std::chrono::duration<double> min_time{0};
  // Polled between runs; when it returns true the sweep stops with Interrupted. Empty: never.
  std::function<bool()> interrupted;
};

struct SweepConfiguration {
  ExecutorKind executor = ExecutorKind::serial;
  Backend backend = Backend::sysv;  // meaningful for fork only
  int workers = 1;                  // 1 for serial
  cv::Size tile;
  // "fork sysv", "threads", "serial": one line of a plot.
  std::string series() const;
  // "fork sysv, 2 workers, tile 0x64".
  std::string describe() const;
};

struct SweepResult {
  SweepConfiguration configuration;
  std::vector<double> seconds;  // each timed run, in the order run: the whole run_batch() call
  double megapixels = 0;        // input pixels of one run, in 10^6
  double median_mps = 0;        // megapixels per second of the median run
  double min_mps = 0;           // of the slowest and fastest runs: the spread
  double max_mps = 0;
  // Median time of serial with the same tile / this median time (1 for serial itself), and that
  // per worker. nullopt until the reference is measured: never in a finished sweep.
  std::optional<double> speedup;
  std::optional<double> efficiency;
  bool reference_only = false;  // serial measured as the reference without being asked for
  double median_seconds() const;
};

struct SweepRecommendation {
  std::size_t chosen = 0;   // index into SweepReport::results
  std::size_t fastest = 0;  // the highest median MP/s among the configurations that may be recommended
  std::string why;
  std::string command;  // a `tilefork run` command line with the chosen options
};

struct SweepReport {
  std::string pipeline;  // as given
  std::vector<std::string> frame_names;
  double megapixels = 0;  // of one run
  int repetitions = 0;
  double min_seconds = 0;
  std::vector<SweepResult> results;  // in the order measured: serial, fork, threads
  SweepRecommendation recommendation;
  const SweepResult& chosen() const { return results.at(recommendation.chosen); }
};

// Parses the pipeline, then measures every configuration that means something: serial once per
// tile; fork for every backend x workers x tile; threads for every workers x tile. Serial and
// fork run in this process; threads run in a child forked for them, so that this process never
// starts a thread and later forks stay safe (DESIGN.md: fork first). Calls `on_result` with each
// result as soon as it is measured (serial first, so every later result has its speed-up).
// Throws UsageError for a wrong pipeline, a frame the pipeline cannot take, empty lists or a
// worker count or repetition count below 1; Interrupted; std::runtime_error when a run fails a
// frame (the message names the configuration and the error); SystemError when the machinery
// fails. Whatever it throws, no segment or process is left behind.
SweepReport run_sweep(const SweepOptions& options, const std::function<void(const SweepResult&)>& on_result = {});

// The configuration to use, chosen from `results` (at least one may be recommended): the highest
// median MP/s, except that fork is preferred when its median lies within the spread of the
// fastest (at or above the fastest's slowest run): its workers are processes, so a crashing
// kernel costs a frame instead of the run. `why` says which rule decided.
SweepRecommendation recommend(const std::string& pipeline, const std::vector<SweepResult>& results);

// The plots, as charts for draw_chart(). Speed-up against workers for each executor (fork once
// per backend) at the recommended tile size, with the ideal line; MP/s against tile size for each
// executor at the recommended worker count (or, for an executor without it, its best one).
// Both draw the spread (slowest..fastest run) as error bars.
Chart speedup_chart(const SweepReport& report);
Chart tile_chart(const SweepReport& report);

}  // namespace tilefork::bench
