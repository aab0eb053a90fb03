// The run's profile printed for people and as JSON; the figures come from tilefork/profile.hpp.
#include "profile_report.hpp"

#include <fmt/format.h>

#include <string>

namespace tilefork::app {
namespace {

std::string input_of(std::span<const WorkItem> items, std::uint32_t item) {
  return item < items.size() ? items[item].input : std::string();
}

std::string pids_text(const WorkerProfile& worker) {
  std::string text;
  for (const std::int32_t pid : worker.pids) text += fmt::format("{}{}", text.empty() ? "" : ", ", pid);
  return text;
}

double percent(double part, double total) { return total > 0 ? 100 * part / total : 0; }

}  // namespace

void print_profile(std::FILE* out, const Profile& profile, std::span<const WorkItem> items) {
  fmt::print(out, "tilefork: profile: {} executor, {} worker{}, {} tasks in {:.3f} s\n", profile.executor,
             profile.workers.size(), profile.workers.size() == 1 ? "" : "s", profile.tasks, profile.seconds);
  for (const StageProfile& stage : profile.stages) {
    fmt::print(out, "  stage {} {:<12} {:>6} tiles {:>9.3f} s {:>9.1f} MP/s per worker\n", stage.stage + 1,
               stage.kernel, stage.tasks, stage.seconds, stage.megapixels_per_second());
  }
  for (const WorkerProfile& worker : profile.workers) {
    fmt::print(out, "  worker {} (pid {}): {} tasks, busy {:.3f} s, idle {:.3f} s (asleep {:.3f} s)\n", worker.worker,
               pids_text(worker), worker.tasks, worker.busy, worker.idle(), worker.asleep);
  }
  const TimeSplit& split = profile.split;
  fmt::print(out, "  load imbalance (max/mean busy): {:.2f}\n", profile.imbalance);
  fmt::print(out,
             "  worker time {:.3f} s: load {:.1f}%, filter {:.1f}%, write {:.1f}%, waiting {:.1f}%, start {:.1f}%, "
             "dispatch {:.1f}%\n",
             split.total, percent(split.load, split.total), percent(split.filter, split.total),
             percent(split.write, split.total), percent(split.waiting, split.total), percent(split.start, split.total),
             percent(split.dispatch, split.total));
  fmt::print(out, "  dispatch overhead: {:.1f} us per task\n", profile.dispatch_us_per_task);
  if (profile.coordinator_decode + profile.coordinator_encode > 0) {
    fmt::print(out, "  coordinator: decode {:.3f} s, encode {:.3f} s\n", profile.coordinator_decode,
               profile.coordinator_encode);
  }
  if (!profile.slowest_tiles.empty()) fmt::print(out, "  slowest tiles:\n");
  for (const SlowTile& tile : profile.slowest_tiles) {
    const TraceRecord& r = tile.record;
    const std::string kernel = r.stage < profile.stages.size() ? profile.stages[r.stage].kernel : "?";
    fmt::print(out, "    {:8.3f} ms  frame {} ({}), stage {} ({}), tile {} at {},{} {}x{}, worker {}\n",
               tile.milliseconds(), r.item, input_of(items, r.item), r.stage + 1, kernel, r.tile, r.x, r.y, r.width,
               r.height, tile.worker);
  }
  if (profile.ring_full_waits > 0) {
    fmt::print(out, "  trace rings ran full {} time(s): workers waited for the coordinator to drain them\n",
               profile.ring_full_waits);
  }
  if (profile.serial_seconds > 0) {
    fmt::print(out, "  speed-up against serial: {:.2f}x (serial {:.3f} s, this run {:.3f} s)\n", profile.speedup(),
               profile.serial_seconds, profile.seconds);
  }
}

nlohmann::json profile_json(const Profile& profile, std::span<const WorkItem> items) {
  nlohmann::json stages = nlohmann::json::array();
  for (const StageProfile& stage : profile.stages) {
    stages.push_back({{"stage", stage.stage + 1},
                      {"kernel", stage.kernel},
                      {"tiles", stage.tasks},
                      {"seconds", stage.seconds},
                      {"megapixels", stage.megapixels},
                      {"megapixels_per_second", stage.megapixels_per_second()}});
  }
  nlohmann::json workers = nlohmann::json::array();
  for (const WorkerProfile& worker : profile.workers) {
    workers.push_back({{"worker", worker.worker},
                       {"pids", worker.pids},
                       {"tasks", worker.tasks},
                       {"wall", worker.wall},
                       {"busy", worker.busy},
                       {"idle", worker.idle()},
                       {"asleep", worker.asleep}});
  }
  nlohmann::json slowest = nlohmann::json::array();
  for (const SlowTile& tile : profile.slowest_tiles) {
    const TraceRecord& r = tile.record;
    slowest.push_back({{"frame", r.item},
                       {"input", input_of(items, r.item)},
                       {"stage", r.stage + 1},
                       {"kernel", r.stage < profile.stages.size() ? profile.stages[r.stage].kernel : "?"},
                       {"tile", r.tile},
                       {"x", r.x},
                       {"y", r.y},
                       {"w", r.width},
                       {"h", r.height},
                       {"worker", tile.worker},
                       {"pid", r.pid},
                       {"milliseconds", tile.milliseconds()}});
  }
  const TimeSplit& split = profile.split;
  nlohmann::json json = {
      {"executor", profile.executor},
      {"seconds", profile.seconds},
      {"tasks", profile.tasks},
      {"stages", stages},
      {"workers", workers},
      {"imbalance", profile.imbalance},
      {"time", {{"load", split.load}, {"filter", split.filter}, {"write", split.write}, {"waiting", split.waiting},
                {"start", split.start}, {"dispatch", split.dispatch}, {"total", split.total}}},
      {"dispatch_us_per_task", profile.dispatch_us_per_task},
      {"slowest_tiles", slowest},
      {"coordinator", {{"decode", profile.coordinator_decode}, {"encode", profile.coordinator_encode},
                       {"wait", profile.coordinator_wait}}},
      {"ring_full_waits", profile.ring_full_waits}};
  if (profile.serial_seconds > 0) {
    json["serial_seconds"] = profile.serial_seconds;
    json["speedup"] = profile.speedup();
  }
  return json;
}

}  // namespace tilefork::app
