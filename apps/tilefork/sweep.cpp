// The sweep of `tilefork bench --sweep`: timed runs of every configuration, the threads executor's
// in a child process, speed-ups against serial, the recommendation and the charts.
#include "sweep.hpp"

#include "transport.hpp"  // Interrupted

#include "tilefork/errors.hpp"
#include "tilefork/pipeline.hpp"
#include "tilefork/worker_pool.hpp"

#include <fmt/format.h>

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <unistd.h>

namespace tilefork::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxRuns = 10'000;  // per configuration, whatever min_time asks

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  if (n == 0) return 0;
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// ---------------------------------------------------------------------------------------------
// Measuring one configuration.

class Measurement {
 public:
  Measurement(const Pipeline& pipeline, const std::vector<WorkItem>& items, const SweepOptions& options,
              std::function<bool()> interrupted)
      : pipeline_(pipeline), items_(items), options_(options), interrupted_(std::move(interrupted)) {}

  // One warm-up run, then the timed runs. Throws as run_sweep() documents.
  std::vector<double> seconds(const SweepConfiguration& configuration) const {
    RunOptions run;
    run.executor = configuration.executor;
    run.workers = configuration.workers;
    run.tile = configuration.tile;
    run.backend = configuration.backend;
    once(configuration, run);
    std::vector<double> times;
    double total = 0;
    while ((static_cast<int>(times.size()) < options_.repetitions || total < options_.min_time.count()) &&
           static_cast<int>(times.size()) < kMaxRuns) {
      times.push_back(once(configuration, run));
      total += times.back();
    }
    return times;
  }

 private:
  double once(const SweepConfiguration& configuration, const RunOptions& run) const {
    if (interrupted_ && interrupted_()) throw Interrupted("interrupted");
    const auto start = Clock::now();
    const RunReport report = run_batch(pipeline_, items_, run);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    // The fork executor catches SIGINT itself and ends its run early.
    if (report.interrupted || (interrupted_ && interrupted_())) throw Interrupted("interrupted");
    for (std::size_t i = 0; i < report.items.size(); ++i) {
      if (!report.items[i].ok) {
        throw std::runtime_error(fmt::format("{}: frame '{}' failed: {}", configuration.describe(), items_[i].input,
                                             report.items[i].error));
      }
    }
    return seconds;
  }

  const Pipeline& pipeline_;
  const std::vector<WorkItem>& items_;
  const SweepOptions& options_;
  std::function<bool()> interrupted_;
};

// ---------------------------------------------------------------------------------------------
// The threads executor's runs, in a child: oneTBB's threads outlive their arena, and a process
// with threads must not fork again (the fork executor's workers, a later sweep).

// Whole records over a pipe. A record: int32 status (0: times follow, 1: an error message
// follows), then uint32 count and count doubles, or uint32 length and the message.
void write_all(int fd, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd, bytes, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) throw_system_error(errno, "could not send a result to the sweep", "write() on a pipe");
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
}

void send_times(int fd, const std::vector<double>& times) {
  const std::int32_t status = 0;
  const auto count = static_cast<std::uint32_t>(times.size());
  write_all(fd, &status, sizeof status);
  write_all(fd, &count, sizeof count);
  write_all(fd, times.data(), times.size() * sizeof(double));
}

void send_error(int fd, const std::string& message) {
  const std::int32_t status = 1;
  const auto length = static_cast<std::uint32_t>(message.size());
  write_all(fd, &status, sizeof status);
  write_all(fd, &length, sizeof length);
  write_all(fd, message.data(), message.size());
}

class ThreadsChild {
 public:
  ThreadsChild(const Measurement& measurement, const std::vector<SweepConfiguration>& configurations,
               const std::function<bool()>& interrupted)
      : interrupted_(interrupted) {
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) throw_system_error(errno, "could not create a pipe for the threads runs", "pipe2()");
    read_end_ = ends[0];
    const int write_end = ends[1];
    try {
      pool_.emplace(1, [&measurement, &configurations, write_end, read_end = ends[0]](std::uint32_t) {
        ::close(read_end);
        cv::setNumThreads(0);
        for (const auto& configuration : configurations) {
          try {
            send_times(write_end, measurement.seconds(configuration));
          } catch (const std::exception& error) {
            send_error(write_end, error.what());
            return;
          }
        }
      });
    } catch (...) {
      ::close(read_end_);
      ::close(write_end);
      throw;
    }
    ::close(write_end);
  }
  ~ThreadsChild() {
    pool_.reset();  // kills and reaps the child if it still runs
    ::close(read_end_);
  }
  ThreadsChild(const ThreadsChild&) = delete;
  ThreadsChild& operator=(const ThreadsChild&) = delete;

  // The times of the next configuration. Throws the child's error, Interrupted, or an error
  // saying how the child ended if it did before sending them.
  std::vector<double> next() {
    std::int32_t status = 0;
    read_exactly(&status, sizeof status);
    std::uint32_t count = 0;
    read_exactly(&count, sizeof count);
    if (status != 0) {
      std::string message(count, '\0');
      read_exactly(message.data(), count);
      throw std::runtime_error(message);
    }
    std::vector<double> times(count);
    read_exactly(times.data(), count * sizeof(double));
    return times;
  }

  // Waits for the child to leave after its last result.
  void finish() {
    for (const auto& death : pool_->stop(std::chrono::seconds(5))) {
      throw std::runtime_error(fmt::format("the threads executor's process (pid {}) ended: {}", death.pid,
                                           describe_wait_status(death.status)));
    }
  }

 private:
  void read_exactly(void* data, std::size_t size) {
    auto* bytes = static_cast<char*>(data);
    while (size > 0) {
      pollfd wait{read_end_, POLLIN, 0};
      const int ready = ::poll(&wait, 1, 100);
      if (interrupted_ && interrupted_()) throw Interrupted("interrupted");
      if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
      const ssize_t got = ::read(read_end_, bytes, size);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw_system_error(errno, "could not read the threads runs' results", "read() on a pipe");
      if (got == 0) gone();
      bytes += got;
      size -= static_cast<std::size_t>(got);
    }
  }

  [[noreturn]] void gone() {
    const auto deaths = pool_->stop(std::chrono::seconds(2));
    if (interrupted_ && interrupted_()) throw Interrupted("interrupted");
    throw std::runtime_error(fmt::format("the threads executor's process ended before sending its results: {}",
                                         deaths.empty() ? std::string("exit code 0")
                                                        : describe_wait_status(deaths.front().status)));
  }

  const std::function<bool()>& interrupted_;
  int read_end_ = -1;
  std::optional<WorkerPool> pool_;
};

// ---------------------------------------------------------------------------------------------

std::string shell_quoted(const std::string& text) {
  if (text.find_first_of("\"$`\\!") == std::string::npos) return "\"" + text + "\"";
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string run_command(const std::string& pipeline, const SweepConfiguration& configuration) {
  std::string command = fmt::format("tilefork run -p {}", shell_quoted(pipeline));
  switch (configuration.executor) {
    case ExecutorKind::fork:
      command += fmt::format(" --workers {} --tile {} --backend {}", configuration.workers,
                             format_tile_size(configuration.tile), to_string(configuration.backend));
      break;
    case ExecutorKind::threads:
      command += fmt::format(" --executor threads --workers {} --tile {}", configuration.workers,
                             format_tile_size(configuration.tile));
      break;
    case ExecutorKind::serial:
      command += fmt::format(" --executor serial --tile {}", format_tile_size(configuration.tile));
      break;
  }
  return command + " -o OUTDIR INPUT...";
}

std::string mps(double value) { return fmt::format("{:.0f} MP/s", value); }

bool same_tile(cv::Size a, cv::Size b) { return a.width == b.width && a.height == b.height; }

const SweepResult* serial_of(const SweepReport& report, cv::Size tile) {
  for (const auto& result : report.results) {
    if (result.configuration.executor == ExecutorKind::serial && same_tile(result.configuration.tile, tile)) {
      return &result;
    }
  }
  return nullptr;
}

// The series of `report` but serial's, in the order first measured.
std::vector<std::string> parallel_series(const SweepReport& report) {
  std::vector<std::string> names;
  for (const auto& result : report.results) {
    if (result.configuration.executor == ExecutorKind::serial) continue;
    const std::string name = result.configuration.series();
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

}  // namespace

std::string format_tile_size(cv::Size tile) {
  if (tile.width == 0 && tile.height == 0) return "whole";
  return fmt::format("{}x{}", tile.width, tile.height);
}

std::vector<cv::Size> default_tile_sizes() { return {{0, 64}, {0, 128}, {256, 256}, {0, 0}}; }

std::vector<int> default_worker_counts(int cores) {
  std::vector<int> counts;
  for (int count = 1; count < cores; count *= 2) counts.push_back(count);
  counts.push_back(std::max(1, cores));
  return counts;
}

std::vector<SweepFrame> synthetic_frames(int count, cv::Size size) {
  std::vector<SweepFrame> frames;
  for (int index = 0; index < count; ++index) {
    cv::RNG rng(0x5eed + static_cast<std::uint64_t>(index));
    // A sky-to-ground gradient, like most photographs.
    cv::Mat scene(size, CV_32FC3);
    for (int y = 0; y < size.height; ++y) {
      auto* row = scene.ptr<cv::Vec3f>(y);
      const float fy = static_cast<float>(y) / static_cast<float>(std::max(1, size.height - 1));
      for (int x = 0; x < size.width; ++x) {
        const float fx = static_cast<float>(x) / static_cast<float>(std::max(1, size.width - 1));
        row[x] = {0.85f - 0.5f * fy, 0.6f - 0.2f * fy + 0.1f * fx, 0.35f + 0.3f * fy * fx};
      }
    }
    // Objects with hard edges, then a soft blur over some of them (depth of field).
    for (int i = 0; i < 40; ++i) {
      const cv::Point centre(rng.uniform(0, size.width), rng.uniform(0, size.height));
      const int radius = rng.uniform(4, std::max(5, std::min(size.width, size.height) / 6));
      const cv::Scalar colour(rng.uniform(0.f, 1.f), rng.uniform(0.f, 1.f), rng.uniform(0.f, 1.f));
      if (i % 3 == 0) {
        cv::circle(scene, centre, radius, colour, cv::FILLED, cv::LINE_AA);
      } else if (i % 3 == 1) {
        cv::rectangle(scene, cv::Rect(centre, cv::Size(radius, radius * 2 / 3 + 1)), colour, cv::FILLED);
      } else {
        cv::line(scene, centre, centre + cv::Point(radius, -radius / 2), colour, 3, cv::LINE_AA);
      }
      if (i == 20) cv::GaussianBlur(scene, scene, {0, 0}, 3);
    }
    // Sensor noise.
    cv::Mat noise(size, CV_32FC3);
    rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(0.02));
    scene += noise;
    cv::Mat frame;
    scene.convertTo(frame, CV_8U, 255);
    frames.push_back({fmt::format("synthetic-{}", index + 1), frame});
  }
  return frames;
}

std::string SweepConfiguration::series() const {
  if (executor == ExecutorKind::fork) return fmt::format("fork {}", to_string(backend));
  return std::string(to_string(executor));
}

std::string SweepConfiguration::describe() const {
  if (executor == ExecutorKind::serial) return fmt::format("serial, tile {}", format_tile_size(tile));
  return fmt::format("{}, {} worker{}, tile {}", series(), workers, workers == 1 ? "" : "s", format_tile_size(tile));
}

double SweepResult::median_seconds() const { return median_of(seconds); }

SweepReport run_sweep(const SweepOptions& options, const std::function<void(const SweepResult&)>& on_result) {
  if (options.frames.empty()) throw UsageError("the sweep has no frames to run on");
  if (options.tiles.empty()) throw UsageError("the sweep needs at least one tile size");
  if (options.executors.empty()) throw UsageError("the sweep needs at least one executor");
  if (options.repetitions < 1) throw UsageError("the sweep needs at least 1 timed run per configuration");
  const bool forks = std::find(options.executors.begin(), options.executors.end(), ExecutorKind::fork) !=
                     options.executors.end();
  const bool threads = std::find(options.executors.begin(), options.executors.end(), ExecutorKind::threads) !=
                       options.executors.end();
  const bool serial_asked = std::find(options.executors.begin(), options.executors.end(), ExecutorKind::serial) !=
                            options.executors.end();
  if (forks && options.backends.empty()) throw UsageError("the sweep needs at least one backend for --executor fork");
  for (const cv::Size tile : options.tiles) {
    if (tile.width < 0 || tile.height < 0) throw UsageError(fmt::format("tile {}x{} is negative", tile.width, tile.height));
  }
  std::vector<int> workers = options.workers;
  if (workers.empty()) workers = default_worker_counts(resolve_workers({}));
  for (const int count : workers) {
    if (count < 1) throw UsageError(fmt::format("worker count {} is below 1", count));
  }

  // Fork first: this process must not have threads when it forks (workers, the threads child).
  cv::setNumThreads(0);
  const Pipeline pipeline = Pipeline::parse(options.pipeline);
  SweepReport report;
  report.pipeline = options.pipeline;
  report.repetitions = options.repetitions;
  report.min_seconds = options.min_time.count();
  std::vector<WorkItem> items;
  for (const auto& frame : options.frames) {
    if (frame.image.empty()) throw UsageError(fmt::format("frame '{}' is empty", frame.name));
    WorkItem item;
    item.input = frame.name;
    item.image = frame.image;
    item.info.size = frame.image.size();
    item.info.type = {frame.image.depth(), frame.image.channels()};
    try {
      pipeline.plan(item.info.type, item.info.size);
    } catch (const UsageError& error) {
      throw UsageError(fmt::format("frame '{}' ({}x{} {}): {}", frame.name, frame.image.cols, frame.image.rows,
                                   to_string(item.info.type), error.what()));
    }
    report.frame_names.push_back(frame.name);
    report.megapixels += static_cast<double>(frame.image.total()) / 1e6;
    items.push_back(std::move(item));
  }

  std::vector<SweepConfiguration> in_process, in_child;
  for (const cv::Size tile : options.tiles) in_process.push_back({ExecutorKind::serial, Backend::sysv, 1, tile});
  if (forks) {
    for (const Backend backend : options.backends) {
      for (const int count : workers) {
        for (const cv::Size tile : options.tiles) in_process.push_back({ExecutorKind::fork, backend, count, tile});
      }
    }
  }
  if (threads) {
    for (const int count : workers) {
      for (const cv::Size tile : options.tiles) in_child.push_back({ExecutorKind::threads, Backend::sysv, count, tile});
    }
  }

  const Measurement measurement(pipeline, items, options, options.interrupted);
  // The threads child ignores SIGINT and polls nothing: this process watches for interruptions
  // and kills it.
  const Measurement in_child_measurement(pipeline, items, options, {});
  auto settle = [&](const SweepConfiguration& configuration, std::vector<double> times) {
    SweepResult result;
    result.configuration = configuration;
    result.seconds = std::move(times);
    result.megapixels = report.megapixels;
    const double median = result.median_seconds();
    const auto [fastest, slowest] = std::minmax_element(result.seconds.begin(), result.seconds.end());
    result.median_mps = median > 0 ? report.megapixels / median : 0;
    result.min_mps = *slowest > 0 ? report.megapixels / *slowest : 0;
    result.max_mps = *fastest > 0 ? report.megapixels / *fastest : 0;
    result.reference_only = configuration.executor == ExecutorKind::serial && !serial_asked;
    if (const SweepResult* reference = serial_of(report, configuration.tile)) {
      result.speedup = median > 0 ? reference->median_seconds() / median : 0;
    } else if (configuration.executor == ExecutorKind::serial) {
      result.speedup = 1.0;
    }
    if (result.speedup) result.efficiency = *result.speedup / configuration.workers;
    report.results.push_back(std::move(result));
    if (on_result) on_result(report.results.back());
  };
  for (const auto& configuration : in_process) settle(configuration, measurement.seconds(configuration));
  if (!in_child.empty()) {
    ThreadsChild child(in_child_measurement, in_child, options.interrupted);
    for (const auto& configuration : in_child) settle(configuration, child.next());
    child.finish();
  }
  report.recommendation = recommend(options.pipeline, report.results);
  return report;
}

SweepRecommendation recommend(const std::string& pipeline, const std::vector<SweepResult>& results) {
  std::optional<std::size_t> fastest, best_fork;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].reference_only) continue;
    if (!fastest || results[i].median_mps > results[*fastest].median_mps) fastest = i;
    if (results[i].configuration.executor == ExecutorKind::fork &&
        (!best_fork || results[i].median_mps > results[*best_fork].median_mps)) {
      best_fork = i;
    }
  }
  if (!fastest) throw UsageError("no configuration of the sweep may be recommended");
  SweepRecommendation recommendation;
  recommendation.fastest = *fastest;
  recommendation.chosen = *fastest;
  const SweepResult& top = results[*fastest];
  if (top.configuration.executor == ExecutorKind::fork) {
    recommendation.why = fmt::format("the fastest configuration ({} median)", mps(top.median_mps));
  } else if (best_fork && results[*best_fork].median_mps >= top.min_mps) {
    const SweepResult& fork = results[*best_fork];
    recommendation.chosen = *best_fork;
    recommendation.why = fmt::format(
        "{} median is within the spread of the fastest, {} ({} median, slowest run {}); fork is preferred "
        "then: its workers are processes, so a crashing kernel costs one frame, not the run",
        mps(fork.median_mps), top.configuration.describe(), mps(top.median_mps), mps(top.min_mps));
  } else if (best_fork) {
    recommendation.why = fmt::format(
        "the fastest configuration ({} median); the best fork one, {}, ran at {}, below the fastest's slowest "
        "run ({}), so the crash isolation of fork would cost speed here",
        mps(top.median_mps), results[*best_fork].configuration.describe(), mps(results[*best_fork].median_mps),
        mps(top.min_mps));
  } else {
    recommendation.why = fmt::format("the fastest configuration ({} median); fork was not measured", mps(top.median_mps));
  }
  recommendation.command = run_command(pipeline, results[recommendation.chosen].configuration);
  return recommendation;
}

Chart speedup_chart(const SweepReport& report) {
  const cv::Size tile = report.chosen().configuration.tile;
  const SweepResult* reference = serial_of(report, tile);
  Chart chart;
  chart.title = fmt::format("Speed-up vs workers: {}", report.pipeline);
  chart.note = fmt::format("tile {} (the recommended one); speed-up = serial time / time; bars: slowest..fastest run",
                           format_tile_size(tile));
  chart.x_label = "workers";
  chart.y_label = "speed-up against serial";
  chart.integer_x = true;
  chart.ideal_line = true;
  chart.ideal_name = "ideal (= workers)";
  const double reference_mps = reference ? reference->median_mps : 0;
  for (const std::string& name : parallel_series(report)) {
    ChartSeries series{name, {}};
    for (const auto& result : report.results) {
      if (result.configuration.series() != name || !same_tile(result.configuration.tile, tile) || !result.speedup) {
        continue;
      }
      const double low = reference_mps > 0 ? result.min_mps / reference_mps : *result.speedup;
      const double high = reference_mps > 0 ? result.max_mps / reference_mps : *result.speedup;
      series.points.push_back({static_cast<double>(result.configuration.workers), *result.speedup, low, high});
    }
    std::sort(series.points.begin(), series.points.end(), [](const auto& a, const auto& b) { return a.x < b.x; });
    if (!series.points.empty()) chart.series.push_back(std::move(series));
  }
  return chart;
}

Chart tile_chart(const SweepReport& report) {
  std::vector<cv::Size> tiles;
  for (const auto& result : report.results) {
    const cv::Size tile = result.configuration.tile;
    if (std::none_of(tiles.begin(), tiles.end(), [&](cv::Size known) { return same_tile(known, tile); })) {
      tiles.push_back(tile);
    }
  }
  const SweepConfiguration& chosen = report.chosen().configuration;
  Chart chart;
  chart.title = fmt::format("MP/s vs tile size: {}", report.pipeline);
  chart.x_label = "tile (WxH; 0 = the whole width or height)";
  chart.y_label = "megapixels per second (median)";
  for (const cv::Size tile : tiles) chart.x_categories.push_back(format_tile_size(tile));
  std::vector<std::string> names = parallel_series(report);
  names.push_back("serial");
  for (const std::string& name : names) {
    // The recommended worker count where this executor was measured with it, else its best.
    int workers = 1;
    if (name != "serial") {
      const SweepResult* best = nullptr;
      bool has_chosen = false;
      for (const auto& result : report.results) {
        if (result.configuration.series() != name) continue;
        has_chosen = has_chosen || result.configuration.workers == chosen.workers;
        if (!best || result.median_mps > best->median_mps) best = &result;
      }
      if (best == nullptr) continue;
      workers = chosen.executor != ExecutorKind::serial && has_chosen ? chosen.workers : best->configuration.workers;
    }
    ChartSeries series{name == "serial" ? name : fmt::format("{}, {} worker{}", name, workers, workers == 1 ? "" : "s"),
                       {}};
    for (std::size_t t = 0; t < tiles.size(); ++t) {
      for (const auto& result : report.results) {
        if (result.configuration.series() == name && result.configuration.workers == workers &&
            same_tile(result.configuration.tile, tiles[t])) {
          series.points.push_back({static_cast<double>(t), result.median_mps, result.min_mps, result.max_mps});
        }
      }
    }
    if (!series.points.empty()) chart.series.push_back(std::move(series));
  }
  chart.note = fmt::format("{} frame{}, {:.1f} MP per run, from memory; bars: slowest..fastest run",
                           report.frame_names.size(), report.frame_names.size() == 1 ? "" : "s", report.megapixels);
  return chart;
}

}  // namespace tilefork::bench
