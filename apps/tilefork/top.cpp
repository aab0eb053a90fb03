// `tilefork top`: watch a running fork run from another process, through a read-only view of its segment.
#include "commands.hpp"
#include "progress.hpp"

#include "tilefork/errors.hpp"
#include "tilefork/layout.hpp"
#include "tilefork/run_registry.hpp"
#include "tilefork/segment.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace tilefork::app {
namespace {

struct TopArguments {
  int pid = 0;
  double interval = 1;
  bool once = false;
  bool json = false;
};

// No run to watch (none running, or it ended): exit code 1, as a failure of what was asked to
// exist rather than a mistake in the asking.
class NothingToWatch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::uint64_t steady_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string user_name(uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  char buffer[1024];
  if (getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr) {
    return fmt::format("{} (uid {})", found->pw_name, uid);
  }
  return fmt::format("uid {}", uid);
}

std::string bare_user_name(uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  char buffer[1024];
  if (getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr) return found->pw_name;
  return fmt::format("#{}", uid);
}

std::string process_name(pid_t pid) {
  std::ifstream comm(fmt::format("/proc/{}/comm", pid));
  std::string name;
  std::getline(comm, name);
  return name.empty() ? "?" : name;
}

std::optional<uid_t> process_owner(pid_t pid) {
  struct stat info {};
  if (::stat(fmt::format("/proc/{}", pid).c_str(), &info) != 0) return std::nullopt;
  return info.st_uid;
}

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto whole = static_cast<long long>(std::llround(seconds));
  if (whole >= 3600) return fmt::format("{}:{:02}:{:02}", whole / 3600, whole / 60 % 60, whole % 60);
  return fmt::format("{}:{:02}", whole / 60, whole % 60);
}

std::string time_of_day(double unix_seconds) {
  const auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, "%H:%M:%S", &local);
  return text;
}

// A System V segment as /proc/sysvipc/shm lists it: every user can read that list, so another
// user's run can be found (and refused by the kernel, with EACCES) without its registry entry.
struct ListedSegment {
  int shmid = -1;
  unsigned perms = 0;
  uid_t uid = 0;
};

std::vector<ListedSegment> sysv_segments_created_by(pid_t pid) {
  std::vector<ListedSegment> found;
  std::ifstream list("/proc/sysvipc/shm");
  std::string line;
  std::getline(list, line);  // the column titles
  while (std::getline(list, line)) {
    std::istringstream fields(line);
    long long key = 0;
    ListedSegment segment;
    std::uint64_t size = 0;
    long long cpid = 0;
    long long lpid = 0;
    unsigned long nattch = 0;
    if (fields >> key >> segment.shmid >> std::oct >> segment.perms >> std::dec >> size >> cpid >> lpid >> nattch >>
        segment.uid) {
      if (cpid == pid) found.push_back(segment);
    }
  }
  return found;
}

// Stage names from the pipeline text ("gaussian sigma=2 | sobel" -> gaussian, sobel).
std::vector<std::string> stage_names(const std::string& pipeline) {
  std::vector<std::string> names;
  std::istringstream stages(pipeline);
  for (std::string stage; std::getline(stages, stage, '|');) {
    std::istringstream words(stage);
    std::string name;
    words >> name;
    names.push_back(name);
  }
  return names;
}

std::string_view kind_name(TaskKind kind) {
  switch (kind) {
    case TaskKind::load: return "load";
    case TaskKind::tile: return "tile";
    case TaskKind::store: return "store";
    case TaskKind::none: break;
  }
  return "none";
}

std::string_view end_name(std::uint32_t ending) {
  switch (static_cast<RunEnding>(ending)) {
    case RunEnding::running: return "running";
    case RunEnding::completed: return "finished";
    case RunEnding::interrupted: return "interrupted";
    case RunEnding::failed: return "stopped by an error";
  }
  return "ended";
}

[[noreturn]] void refuse_other_user(pid_t pid, uid_t owner, const std::string& what, int err,
                                    const std::string& call) {
  throw UsageError(fmt::format(
      "cannot watch run {}: it belongs to user {}, and {}{}\n  {}\n  hint: watch it as that user: sudo -u {} tilefork "
      "top {}",
      pid, user_name(owner), what, err != 0 ? fmt::format(": {}", std::generic_category().message(err)) : "",
      call, bare_user_name(owner), pid));
}

// One run, attached read-only, and what is needed to read it.
struct Watched {
  pid_t pid = 0;
  std::optional<RunEntry> entry;  // nullopt: found through /proc/sysvipc/shm (another user's run, as root)
  Segment segment;
  std::optional<SegmentLayout> layout;
  std::vector<std::string> stages;
  double started_unix = 0;

  ControlBlock& control() const { return SegmentLayout::control(segment.data()); }
};

// Checks that the segment holds the layout this build reads: the same magic, the same sizes
// (a build with another layout computes other offsets), the same coordinator.
void check_layout(Watched& watched) {
  if (watched.segment.size() < sizeof(ControlBlock)) {
    throw NothingToWatch(fmt::format("the segment of run {} is too small to be a tilefork segment", watched.pid));
  }
  const ControlBlock& control = watched.control();
  const std::string other_version = fmt::format(
      "the segment of run {} ({}) does not hold the layout this tilefork reads: it was started by another version; "
      "watch it with that version's tilefork top",
      watched.pid, watched.segment.describe());
  if (control.magic != kLayoutMagic || control.slot_count == 0 || control.worker_count == 0 ||
      control.plane_count == 0 || control.plane_count > kMaxPlanes) {
    throw UsageError(other_version);
  }
  SegmentLayout layout(control.slot_count, control.worker_count, control.plane_count, control.plane_capacity);
  if (layout.size() != control.run.layout_bytes || layout.size() > watched.segment.size()) {
    throw UsageError(other_version);
  }
  if (watched.entry && (watched.entry->slots != control.slot_count || watched.entry->workers != control.worker_count ||
                        watched.entry->planes != control.plane_count ||
                        watched.entry->plane_bytes != control.plane_capacity)) {
    throw UsageError(other_version);
  }
  if (control.run.coordinator_pid.load(std::memory_order_relaxed) != watched.pid) {
    throw NothingToWatch(fmt::format("the segment found for pid {} belongs to another run", watched.pid));
  }
  watched.layout.emplace(layout);
}

Watched attach_listed(const RunEntry& entry) {
  Watched watched;
  watched.pid = entry.pid;
  watched.entry = entry;
  watched.stages = stage_names(entry.pipeline);
  watched.started_unix = entry.started_unix;
  const auto gone = [&] { return NothingToWatch(fmt::format("run {} has just ended", entry.pid)); };
  try {
    switch (entry.backend) {
      case Backend::anon:
        throw UsageError(fmt::format(
            "cannot watch run {}: it uses --backend anon, an anonymous mapping that no other process can attach\n"
            "  hint: start the run with --backend sysv (the default) or --backend posix to watch it with tilefork top",
            entry.pid));
      case Backend::sysv:
        watched.segment = Segment::attach_read_only_sysv(entry.sysv_id);
        break;
      case Backend::posix: {
        // The name was unlinked right after mapping; the coordinator keeps its descriptor open
        // for the whole run, and /proc lets the same user open the file behind it.
        const std::string path = fmt::format("/proc/{}/fd/{}", entry.pid, entry.posix_fd);
        std::error_code error;
        const std::string target = std::filesystem::read_symlink(path, error).string();
        if (error || target.find("/tilefork-") == std::string::npos) throw gone();
        watched.segment = Segment::attach_read_only_posix(path);
        break;
      }
    }
  } catch (const SystemError& error) {
    const int err = error.code().value();
    if (err == EINVAL || err == EIDRM || err == ENOENT) throw gone();
    if (err == EACCES || err == EPERM) {
      refuse_other_user(entry.pid, process_owner(entry.pid).value_or(entry.uid),
                        fmt::format("its segment ({}) is readable by that user only", to_string(entry.backend)), err,
                        error.detail());
    }
    throw;
  }
  if (!entry_alive(entry)) throw gone();
  check_layout(watched);
  return watched;
}

// A run that is not in this user's registry: another user's (refused, unless the kernel lets
// us read its segment, as it lets root), or no run at all.
Watched attach_unlisted(pid_t pid, const RunRegistry& registry) {
  const auto owner = process_owner(pid);
  if (!owner || !process_start_ticks(pid)) {
    throw NothingToWatch(fmt::format("no tilefork run with pid {} is running (the run registry {} does not list it, "
                                     "and no process {} exists)",
                                     pid, registry.folder().string(), pid));
  }
  for (const ListedSegment& listed : sysv_segments_created_by(pid)) {
    Watched watched;
    watched.pid = pid;
    try {
      watched.segment = Segment::attach_read_only_sysv(listed.shmid);
    } catch (const SystemError& error) {
      const int err = error.code().value();
      if (err == EACCES || err == EPERM) {
        refuse_other_user(pid, listed.uid,
                          fmt::format("its shared memory segment (sysv id {}, mode {:04o}) is readable by that user only",
                                      listed.shmid, listed.perms & 0777),
                          err, error.detail());
      }
      continue;  // removed in the meantime
    }
    try {
      check_layout(watched);
    } catch (const std::exception&) {
      continue;  // some other segment of that process
    }
    const ControlBlock& control = watched.control();
    const double elapsed = static_cast<double>(steady_ns() - control.run.started_ns.load(std::memory_order_relaxed)) / 1e9;
    watched.started_unix = unix_now() - elapsed;
    return watched;
  }
  if (*owner != geteuid()) {
    refuse_other_user(pid, *owner,
                      "its run registry entry and any posix segment it has are private to that user (an anon run "
                      "cannot be watched at all)",
                      0, fmt::format("process {} ({}) is not in your run registry {}", pid, process_name(pid),
                                     registry.folder().string()));
  }
  throw NothingToWatch(fmt::format(
      "process {} ({}) is not a running tilefork fork run: the run registry {} does not list it (runs with --executor "
      "threads or serial have no segment to watch)",
      pid, process_name(pid), registry.folder().string()));
}

Watched choose_run(const TopArguments& arguments) {
  const RunRegistry registry = RunRegistry::open(RunRegistry::default_folder(), false);
  const std::vector<RunEntry> runs = registry.running();
  if (arguments.pid > 0) {
    for (const RunEntry& entry : runs) {
      if (entry.pid == arguments.pid) return attach_listed(entry);
    }
    return attach_unlisted(arguments.pid, registry);
  }
  if (runs.empty()) {
    throw NothingToWatch(fmt::format(
        "no tilefork run of yours is running (the run registry {} lists none); give a PID to watch another user's run "
        "as root",
        registry.folder().string()));
  }
  if (runs.size() > 1) {
    std::string list;
    for (const RunEntry& entry : runs) {
      list += fmt::format("\n  {:>7}  started {}  {:<5}  {} frames  {}", entry.pid, time_of_day(entry.started_unix),
                          to_string(entry.backend), entry.items, entry.pipeline);
    }
    throw UsageError(fmt::format("{} tilefork runs are running; give the PID of one (tilefork top PID):{}", runs.size(), list));
  }
  return attach_listed(runs.front());
}

struct WorkerView {
  std::uint32_t index = 0;
  pid_t pid = 0;
  std::uint64_t tasks_done = 0;
  std::uint64_t busy_ns = 0;  // including the task in progress
  double busy_percent = 0;
  bool on_task = false;
  TaskKind kind = TaskKind::none;
  std::uint32_t slot = 0;
  std::uint32_t frame = 0;
  std::uint32_t stage = 0;
  std::uint32_t tile = 0;
  double task_seconds = 0;
};

struct Snapshot {
  std::uint64_t taken_ns = 0;
  std::uint32_t ending = 0;  // RunEnding
  bool coordinator_gone = false;
  double elapsed = 0;
  std::uint64_t total = 0;
  std::uint64_t finished = 0;
  std::uint64_t failed = 0;
  std::uint64_t pixels = 0;
  std::vector<WorkerView> workers;

  std::string state() const {
    if (ending != 0) return std::string(end_name(ending));
    return coordinator_gone ? "ended without finishing (the coordinator was killed)" : "running";
  }
  double rate() const { return elapsed > 0 ? static_cast<double>(pixels) / 1e6 / elapsed : 0; }
  double eta() const {
    return finished == 0 || total < finished ? NAN
                                             : elapsed / static_cast<double>(finished) * static_cast<double>(total - finished);
  }
};

// Reads the live counters. Nothing is locked: each value is one relaxed load, so a worker's line
// may mix two moments a few microseconds apart, which a display can afford.
Snapshot take_snapshot(const Watched& watched, const Snapshot* previous) {
  Snapshot snapshot;
  const ControlBlock& control = watched.control();
  const RunStatus& run = control.run;
  snapshot.taken_ns = steady_ns();
  snapshot.ending = run.ending.load(std::memory_order_acquire);
  snapshot.total = run.items_total.load(std::memory_order_relaxed);
  snapshot.finished = run.items_finished.load(std::memory_order_relaxed);
  snapshot.failed = run.items_failed.load(std::memory_order_relaxed);
  snapshot.pixels = run.pixels_done.load(std::memory_order_relaxed);
  const std::uint64_t started = run.started_ns.load(std::memory_order_relaxed);
  const std::uint64_t end = snapshot.ending != 0 ? run.ended_ns.load(std::memory_order_relaxed) : snapshot.taken_ns;
  snapshot.elapsed = end > started ? static_cast<double>(end - started) / 1e9 : 0;
  std::byte* base = watched.segment.data();
  for (std::uint32_t i = 0; i < watched.layout->worker_count(); ++i) {
    const WorkerState& state = watched.layout->worker(base, i);
    WorkerView view;
    view.index = i;
    view.pid = state.pid.load(std::memory_order_relaxed);
    view.tasks_done = state.tasks_done.load(std::memory_order_relaxed);
    const std::uint64_t task_started = state.task_started_ns.load(std::memory_order_relaxed);
    // busy_ns grows only when a task ends; counting the running task's time so far keeps the
    // busy figure smooth when tasks are longer than the refresh interval.
    view.busy_ns = state.busy_ns.load(std::memory_order_relaxed);
    if (task_started != 0 && snapshot.taken_ns > task_started) {
      view.task_seconds = static_cast<double>(snapshot.taken_ns - task_started) / 1e9;
      view.busy_ns += snapshot.taken_ns - task_started;
    }
    const std::uint32_t slot_plus_one = state.slot.load(std::memory_order_relaxed);
    view.on_task = task_started != 0 && slot_plus_one != 0 && slot_plus_one <= watched.layout->slot_count() &&
                   state.claimed.load(std::memory_order_relaxed) != 0;
    if (view.on_task) {
      view.slot = slot_plus_one - 1;
      view.kind = static_cast<TaskKind>(state.kind.load(std::memory_order_relaxed));
      view.stage = state.stage.load(std::memory_order_relaxed);
      view.tile = claim_index(state.task.load(std::memory_order_relaxed));
      view.frame = watched.layout->slot(base, view.slot).item.load(std::memory_order_relaxed);
    }
    // Busy share since the previous look; over the whole run for the first look and once the
    // run is over (the last block then sums the run up).
    const WorkerView* before = previous != nullptr && i < previous->workers.size() && snapshot.ending == 0
                                   ? &previous->workers[i]
                                   : nullptr;
    const bool same_worker = before != nullptr && before->pid == view.pid && before->busy_ns <= view.busy_ns;
    const std::uint64_t busy = same_worker ? view.busy_ns - before->busy_ns : view.busy_ns;
    const std::uint64_t wall = same_worker ? snapshot.taken_ns - previous->taken_ns : (end > started ? end - started : 0);
    view.busy_percent = wall == 0 ? 0 : std::clamp(100.0 * static_cast<double>(busy) / static_cast<double>(wall), 0.0, 100.0);
    snapshot.workers.push_back(view);
  }
  return snapshot;
}

std::string stage_label(const Watched& watched, std::uint32_t stage) {
  if (stage < watched.stages.size()) return fmt::format("stage {} {}", stage + 1, watched.stages[stage]);
  return fmt::format("stage {}", stage + 1);
}

std::string task_text(const Watched& watched, const WorkerView& worker) {
  if (!worker.on_task) return "idle";
  switch (worker.kind) {
    case TaskKind::load: return fmt::format("load frame {}, {:.2f} s", worker.frame, worker.task_seconds);
    case TaskKind::store: return fmt::format("store frame {}, {:.2f} s", worker.frame, worker.task_seconds);
    case TaskKind::tile:
      return fmt::format("tile {} of frame {}, {}, {:.2f} s", worker.tile, worker.frame,
                         stage_label(watched, worker.stage), worker.task_seconds);
    case TaskKind::none: break;
  }
  return "idle";
}

std::vector<std::string> text_lines(const Watched& watched, const Snapshot& snapshot) {
  std::vector<std::string> lines;
  lines.push_back(fmt::format("tilefork run {}: {}, {} elapsed (started {})", watched.pid, snapshot.state(),
                              clock_text(snapshot.elapsed), time_of_day(watched.started_unix)));
  lines.push_back(fmt::format("segment   {}, {:.1f} MiB, {} slots", watched.segment.describe(),
                              static_cast<double>(watched.segment.size()) / (1 << 20), watched.layout->slot_count()));
  if (watched.entry) lines.push_back(fmt::format("pipeline  {}", watched.entry->pipeline));
  const double percent = snapshot.total == 0 ? 100 : 100.0 * static_cast<double>(snapshot.finished) /
                                                         static_cast<double>(snapshot.total);
  std::string progress = fmt::format("progress  {}/{} frames ({:.1f}%)", snapshot.finished, snapshot.total, percent);
  if (snapshot.failed > 0) progress += fmt::format(", {} failed", snapshot.failed);
  progress += fmt::format(", {:.1f} MP/s", snapshot.rate());
  if (snapshot.ending == 0) progress += fmt::format(", ETA {}", clock_text(snapshot.eta()));
  lines.push_back(progress);
  lines.push_back(fmt::format("{:>6} {:>8} {:>5} {:>7}  {}", "worker", "pid", "busy", "tasks", "doing"));
  for (const WorkerView& worker : snapshot.workers) {
    lines.push_back(fmt::format("{:>6} {:>8} {:>4.0f}% {:>7}  {}", worker.index, worker.pid, worker.busy_percent,
                                worker.tasks_done, task_text(watched, worker)));
  }
  return lines;
}

nlohmann::json json_of(const Watched& watched, const Snapshot& snapshot) {
  nlohmann::json workers = nlohmann::json::array();
  for (const WorkerView& worker : snapshot.workers) {
    nlohmann::json task = nullptr;
    if (worker.on_task) {
      task = {{"kind", kind_name(worker.kind)}, {"slot", worker.slot}, {"frame", worker.frame},
              {"seconds", worker.task_seconds}};
      if (worker.kind == TaskKind::tile) {
        task["stage"] = worker.stage;
        task["stage_name"] = worker.stage < watched.stages.size() ? watched.stages[worker.stage] : "";
        task["tile"] = worker.tile;
      }
    }
    workers.push_back({{"index", worker.index},
                       {"pid", worker.pid},
                       {"tasks_done", worker.tasks_done},
                       {"busy_seconds", static_cast<double>(worker.busy_ns) / 1e9},
                       {"busy_percent", worker.busy_percent},
                       {"task", task}});
  }
  const double eta = snapshot.eta();
  return {{"pid", watched.pid},
          {"state", snapshot.ending == 0 && !snapshot.coordinator_gone ? "running"
                    : snapshot.ending == 0                             ? "killed"
                                                                       : std::string(end_name(snapshot.ending))},
          {"backend", to_string(watched.segment.backend())},
          {"segment", watched.segment.describe()},
          {"segment_bytes", watched.segment.size()},
          {"pipeline", watched.entry ? watched.entry->pipeline : std::string()},
          {"started_unix", watched.started_unix},
          {"elapsed_seconds", snapshot.elapsed},
          {"items_total", snapshot.total},
          {"items_finished", snapshot.finished},
          {"items_failed", snapshot.failed},
          {"megapixels", static_cast<double>(snapshot.pixels) / 1e6},
          {"mp_per_second", snapshot.rate()},
          {"eta_seconds", std::isfinite(eta) && snapshot.ending == 0 ? nlohmann::json(eta) : nlohmann::json(nullptr)},
          {"workers", workers}};
}

int terminal_width() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col >= 20) return size.ws_col;
  return 80;
}

// Prints snapshots: redrawn in place on a terminal (the last one stays on screen, like `watch`
// without clearing the scrollback), one block after another otherwise, or one JSON object per line.
class TopDisplay {
 public:
  TopDisplay(bool json, bool terminal) : json_(json), terminal_(terminal) {}

  void show(const Watched& watched, const Snapshot& snapshot) {
    if (json_) {
      fmt::print("{}\n", json_of(watched, snapshot).dump());
    } else if (!terminal_) {
      if (shown_ > 0) fmt::print("\n");
      for (const std::string& line : text_lines(watched, snapshot)) fmt::print("{}\n", line);
    } else {
      // Back to the first line of the previous block, rewrite each line and erase what is left.
      if (drawn_lines_ > 0) fmt::print("\033[{}F", drawn_lines_);
      const auto width = static_cast<std::size_t>(terminal_width() - 1);
      const std::vector<std::string> lines = text_lines(watched, snapshot);
      for (std::string line : lines) {
        if (line.size() > width) line.resize(width);
        fmt::print("{}\033[K\n", line);
      }
      fmt::print("\033[J");
      drawn_lines_ = lines.size();
    }
    ++shown_;
    std::fflush(stdout);
  }

 private:
  bool json_;
  bool terminal_;
  std::size_t drawn_lines_ = 0;
  std::size_t shown_ = 0;
};

int top(const TopArguments& arguments) {
  const Watched watched = choose_run(arguments);
  TopDisplay display(arguments.json, is_terminal(stdout));
  Snapshot snapshot = take_snapshot(watched, nullptr);
  const auto interval = std::chrono::duration<double>(arguments.interval);
  while (true) {
    // The run is over when the coordinator says so, when it is gone (killed), or when its entry
    // is removed (a library caller that carries on after the run).
    if (snapshot.ending == 0) {
      const bool alive = watched.entry ? entry_alive(*watched.entry) : process_start_ticks(watched.pid).has_value();
      snapshot.coordinator_gone = !alive;
    }
    display.show(watched, snapshot);
    if (arguments.once) return kExitOk;
    if (snapshot.ending != 0) return kExitOk;
    if (snapshot.coordinator_gone) return kExitFailure;
    std::this_thread::sleep_for(interval);
    Snapshot next = take_snapshot(watched, &snapshot);
    snapshot = std::move(next);
  }
}

}  // namespace

void add_top_command(CLI::App& app, std::function<int()>& action) {
  auto arguments = std::make_shared<TopArguments>();
  CLI::App* command = app.add_subcommand(
      "top",
      "watch a running fork run: per-worker state, progress and MP/s, read from its shared segment (read-only) "
      "until it ends. Exit codes: 0 the run finished (or --once printed it), 1 no such run is running or it was "
      "killed, 2 it cannot be watched (another user's run, --backend anon, several runs and no PID)");
  command->add_option("pid", arguments->pid, "the run's process id (default: your only running run)")
      ->check(CLI::PositiveNumber);
  command->add_option("--interval", arguments->interval, "seconds between refreshes (default 1)")
      ->check(CLI::Range(0.05, 3600.0));
  command->add_flag("--once", arguments->once, "print one snapshot and exit");
  command->add_flag("--json", arguments->json,
                    "print snapshots as JSON, one object per line (with --once: one object)");
  command->callback([arguments, &action] { action = [arguments] { return top(*arguments); }; });
}

}  // namespace tilefork::app
