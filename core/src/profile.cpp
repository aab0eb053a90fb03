// The run summary and the Chrome trace event file, both computed from the trace records alone.
#include "tilefork/profile.hpp"

#include "tilefork/frame_io.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

namespace tilefork {
namespace {

double seconds_of(const TraceRecord& record) { return static_cast<double>(record.end_ns - record.begin_ns) / 1e9; }

std::map<std::int32_t, std::uint32_t> worker_of_pid(const RunTrace& trace) {
  std::map<std::int32_t, std::uint32_t> workers;
  for (const TraceProcess& process : trace.processes) workers[process.pid] = process.worker;
  return workers;
}

}  // namespace

Profile summarize(const RunTrace& trace, const Pipeline& pipeline, std::size_t slowest_tiles) {
  Profile profile;
  profile.executor = trace.executor;
  profile.seconds = trace.end_ns > trace.origin_ns ? static_cast<double>(trace.end_ns - trace.origin_ns) / 1e9 : 0;
  profile.ring_full_waits = trace.ring_full_waits;
  for (std::uint32_t s = 0; s < pipeline.stages().size(); ++s) {
    profile.stages.push_back({.stage = s, .kernel = pipeline.stages()[s].kernel->name});
  }
  const auto workers = worker_of_pid(trace);
  std::map<std::uint32_t, WorkerProfile> by_worker;
  for (const TraceProcess& process : trace.processes) {
    WorkerProfile& worker = by_worker[process.worker];
    worker.worker = process.worker;
    worker.pids.push_back(process.pid);
  }
  struct Span {
    std::uint64_t first = ~std::uint64_t{0};
    std::uint64_t last = 0;
  };
  std::map<std::int32_t, Span> spans;  // per process
  std::vector<SlowTile> tiles;
  for (const TraceRecord& record : trace.records) {
    const auto found = workers.find(record.pid);
    const std::uint32_t index = found == workers.end() ? 0 : found->second;
    WorkerProfile& worker = by_worker[index];
    worker.worker = index;
    Span& span = spans[record.pid];
    span.first = std::min(span.first, record.begin_ns);
    span.last = std::max(span.last, record.end_ns);
    const double seconds = seconds_of(record);
    switch (record.kind) {
      case TraceKind::load: profile.split.load += seconds; break;
      case TraceKind::tile:
        profile.split.filter += seconds;
        if (record.stage < profile.stages.size()) {
          StageProfile& stage = profile.stages[record.stage];
          ++stage.tasks;
          stage.seconds += seconds;
          stage.megapixels += static_cast<double>(record.width) * static_cast<double>(record.height) / 1e6;
        }
        tiles.push_back({record, index});
        break;
      case TraceKind::store: profile.split.write += seconds; break;
      case TraceKind::asleep:
        profile.split.waiting += seconds;
        worker.asleep += seconds;
        break;
      case TraceKind::start: profile.split.start += seconds; break;
      case TraceKind::decode:
      case TraceKind::encode:
      case TraceKind::wait: break;
    }
    if (is_task(record.kind)) {
      ++worker.tasks;
      ++profile.tasks;
      worker.busy += seconds;
    }
  }
  for (const auto& [pid, span] : spans) {
    if (span.last < span.first) continue;
    const auto found = workers.find(pid);
    by_worker[found == workers.end() ? 0 : found->second].wall += static_cast<double>(span.last - span.first) / 1e9;
  }
  double max_busy = 0;
  double sum_busy = 0;
  for (auto& [index, worker] : by_worker) {
    profile.split.total += worker.wall;
    max_busy = std::max(max_busy, worker.busy);
    sum_busy += worker.busy;
    profile.workers.push_back(std::move(worker));
  }
  const double mean_busy = profile.workers.empty() ? 0 : sum_busy / static_cast<double>(profile.workers.size());
  profile.imbalance = mean_busy > 0 ? max_busy / mean_busy : 0;
  const TimeSplit& split = profile.split;
  profile.split.dispatch =
      std::max(0.0, split.total - split.load - split.filter - split.write - split.waiting - split.start);
  profile.dispatch_us_per_task =
      profile.tasks > 0 ? profile.split.dispatch / static_cast<double>(profile.tasks) * 1e6 : 0;
  for (const TraceRecord& record : trace.coordinator) {
    const double seconds = seconds_of(record);
    if (record.kind == TraceKind::decode) profile.coordinator_decode += seconds;
    if (record.kind == TraceKind::encode) profile.coordinator_encode += seconds;
    if (record.kind == TraceKind::wait) profile.coordinator_wait += seconds;
  }
  const std::size_t keep = std::min(slowest_tiles, tiles.size());
  std::partial_sort(tiles.begin(), tiles.begin() + static_cast<std::ptrdiff_t>(keep), tiles.end(),
                    [](const SlowTile& a, const SlowTile& b) {
                      return a.record.end_ns - a.record.begin_ns > b.record.end_ns - b.record.begin_ns;
                    });
  tiles.resize(keep);
  profile.slowest_tiles = std::move(tiles);
  return profile;
}

namespace {

std::string json_string(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Microseconds since the run's start, to the nanosecond.
std::string micros(std::int64_t nanoseconds) {
  return fmt::format("{}{}.{:03}", nanoseconds < 0 ? "-" : "", std::abs(nanoseconds) / 1000, std::abs(nanoseconds) % 1000);
}

class TraceFileWriter {
 public:
  explicit TraceFileWriter(const std::string& path) : file_(path) {}
  void event(const std::string& json) {
    buffer_ += first_ ? "\n" : ",\n";
    buffer_ += json;
    first_ = false;
    if (buffer_.size() > (1u << 20)) flush();
  }
  void raw(std::string_view text) { buffer_ += text; }
  void flush() {
    file_.write({reinterpret_cast<const std::uint8_t*>(buffer_.data()), buffer_.size()});
    buffer_.clear();
  }
  void commit() {
    flush();
    file_.commit();
  }

 private:
  AtomicFile file_;
  std::string buffer_;
  bool first_ = true;
};

std::string metadata(const char* what, std::int32_t pid, std::int32_t tid, const std::string& args) {
  return fmt::format(R"j({{"name":"{}","ph":"M","pid":{},"tid":{},"args":{{{}}}}})j", what, pid, tid, args);
}

}  // namespace

void write_chrome_trace(const RunTrace& trace, const Pipeline& pipeline, std::span<const WorkItem> items,
                        const std::string& path) {
  TraceFileWriter out(path);
  out.raw(R"j({"displayTimeUnit":"ms","otherData":)j");
  out.raw(nlohmann::json{{"executor", trace.executor},
                         {"pipeline", pipeline.describe()},
                         {"ring_capacity", trace.ring_capacity},
                         {"ring_full_waits", trace.ring_full_waits},
                         {"tasks", trace.tasks()}}
              .dump());
  out.raw(R"j(,"traceEvents":[)j");
  // A threads run is one process with a track per thread; fork and serial have a process each.
  const bool threads = std::string_view(trace.executor) == "threads";
  const std::int32_t own = trace.coordinator_pid;
  auto process_of = [&](std::int32_t id) { return threads ? own : id; };
  if (std::string_view(trace.executor) == "fork") {
    out.event(metadata("process_name", own, own, fmt::format(R"j("name":"coordinator (pid {})")j", own)));
    out.event(metadata("process_sort_index", own, own, R"j("sort_index":-1)j"));
    out.event(metadata("thread_name", own, own, R"j("name":"coordinator")j"));
  } else if (threads) {
    out.event(metadata("process_name", own, own, fmt::format(R"j("name":"threads executor (pid {})")j", own)));
  }
  for (const TraceProcess& process : trace.processes) {
    const std::int32_t pid = process_of(process.pid);
    if (threads) {
      out.event(metadata("thread_name", pid, process.pid,
                         fmt::format(R"j("name":"thread {} (tid {})")j", process.worker, process.pid)));
      continue;
    }
    const std::string name = std::string_view(trace.executor) == "serial"
                                 ? fmt::format("serial (pid {})", process.pid)
                                 : fmt::format("worker {} (pid {})", process.worker, process.pid);
    out.event(metadata("process_name", pid, pid, fmt::format(R"j("name":{})j", json_string(name))));
    out.event(metadata("process_sort_index", pid, pid, fmt::format(R"j("sort_index":{})j", process.worker)));
    out.event(metadata("thread_name", pid, pid, fmt::format(R"j("name":"worker {}")j", process.worker)));
  }
  std::vector<std::string> inputs(items.size());
  auto input_of = [&](std::uint32_t item) -> const std::string& {
    static const std::string none = "\"\"";
    if (item >= items.size()) return none;
    if (inputs[item].empty()) inputs[item] = json_string(items[item].input);
    return inputs[item];
  };
  auto emit = [&](const TraceRecord& record, std::int32_t pid, std::int32_t tid) {
    const auto ts = static_cast<std::int64_t>(record.begin_ns - trace.origin_ns);
    const auto dur = static_cast<std::int64_t>(record.end_ns - record.begin_ns);
    std::string name = to_string(record.kind);
    std::string args;
    switch (record.kind) {
      case TraceKind::tile: {
        const std::string kernel =
            record.stage < pipeline.stages().size() ? pipeline.stages()[record.stage].kernel->name : "?";
        name = kernel;
        args = fmt::format(R"j("frame":{},"input":{},"stage":{},"kernel":{},"tile":{},"x":{},"y":{},"w":{},"h":{})j",
                           record.item, input_of(record.item), record.stage + 1, json_string(kernel), record.tile,
                           record.x, record.y, record.width, record.height);
        break;
      }
      case TraceKind::load:
      case TraceKind::store:
      case TraceKind::decode:
      case TraceKind::encode:
        args = fmt::format(R"j("frame":{},"input":{},"w":{},"h":{})j", record.item, input_of(record.item),
                           record.width, record.height);
        break;
      case TraceKind::start:
      case TraceKind::asleep:
      case TraceKind::wait: break;
    }
    if ((record.flags & kTraceSkipped) != 0) args += R"j(,"skipped":"the frame had failed already")j";
    if (!args.empty() && args.front() == ',') args.erase(0, 1);
    out.event(fmt::format(R"j({{"name":{},"cat":"{}","ph":"X","ts":{},"dur":{},"pid":{},"tid":{},"args":{{{}}}}})j",
                          json_string(name), to_string(record.kind), micros(ts), micros(dur), pid, tid, args));
  };
  for (const TraceRecord& record : trace.records) emit(record, process_of(record.pid), record.pid);
  for (const TraceRecord& record : trace.coordinator) emit(record, own, own);
  out.raw("\n]}\n");
  out.commit();
}

}  // namespace tilefork
