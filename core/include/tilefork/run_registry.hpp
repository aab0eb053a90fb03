// RunRegistry: the per-user folder where fork runs announce their segment, so `tilefork top` can find them.
#pragma once

#include "tilefork/segment.hpp"

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tilefork {

// What a watcher needs to find, attach and read one running fork run. One JSON file per run,
// named <pid>.json, in the registry folder.
struct RunEntry {
  pid_t pid = 0;
  // The coordinator's start time in clock ticks since boot (/proc/<pid>/stat, field 22): a pid
  // that is alive but started at another time is a reused pid, and the entry is stale.
  std::uint64_t start_ticks = 0;
  double started_unix = 0;  // wall-clock start, seconds since the epoch, for display
  uid_t uid = 0;
  Backend backend = Backend::sysv;
  int sysv_id = -1;   // sysv: shmat() it by id (Linux allows it after IPC_RMID until the last detach)
  int posix_fd = -1;  // posix: the name is unlinked; the coordinator's descriptor is /proc/<pid>/fd/<n>
  std::uint64_t segment_bytes = 0;
  // The layout, as SegmentLayout's constructor takes it; the segment's control block repeats it,
  // and a watcher checks that the two agree before it trusts any offset.
  std::uint32_t slots = 0;
  std::uint32_t workers = 0;
  std::uint32_t planes = 0;
  std::uint64_t plane_bytes = 0;
  std::string pipeline;  // Pipeline::describe()
  std::uint64_t items = 0;
};

// A running process's start time in clock ticks since boot, or nullopt when `pid` does not exist
// or is a zombie. Never throws.
std::optional<std::uint64_t> process_start_ticks(pid_t pid) noexcept;

// True if the process that wrote `entry` is still running (same pid, same start time).
bool entry_alive(const RunEntry& entry) noexcept;

class RunRegistry {
 public:
  // $XDG_RUNTIME_DIR/tilefork when XDG_RUNTIME_DIR names an existing folder of this user's (it
  // is private to the user by specification), else /tmp/tilefork-<uid>. Creates nothing.
  static std::filesystem::path default_folder();

  // The registry in `folder`. With `create`, makes the folder (mode 0700) if it is missing. Throws
  // SystemError when the folder is not a folder, not owned by this user, or open to others
  // (anything but mode 0700): /tmp is shared, and another user's folder there could show or hide
  // runs. Without `create`, a missing folder is an empty registry.
  static RunRegistry open(const std::filesystem::path& folder, bool create);

  const std::filesystem::path& folder() const noexcept { return folder_; }
  std::filesystem::path path_of(pid_t pid) const;

  // The entries of running runs, by pid. Entries whose process is gone (a run killed with
  // SIGKILL cannot remove its own) are deleted on the way; unreadable files are skipped. Never throws.
  std::vector<RunEntry> running() const;
  // The running entry of `pid`, if there is one. Never throws.
  std::optional<RunEntry> find(pid_t pid) const;
  // True while the file of `pid` exists (a run removes it when it ends). Never throws.
  bool listed(pid_t pid) const noexcept;

 private:
  explicit RunRegistry(std::filesystem::path folder) : folder_(std::move(folder)) {}
  std::filesystem::path folder_;
};

// A run's entry in the registry, written atomically on construction and removed on destruction,
// so it exists exactly while the run does (a SIGKILL leaves it, and the next reader removes it).
class RunAnnouncement {
 public:
  // Writes `entry` as <pid>.json in `registry`, and removes stale entries there. Throws
  // SystemError or ImageError (from AtomicFile) when it cannot.
  RunAnnouncement(const RunRegistry& registry, const RunEntry& entry);
  ~RunAnnouncement();  // removes the file; logs a failure, never throws
  RunAnnouncement(const RunAnnouncement&) = delete;
  RunAnnouncement& operator=(const RunAnnouncement&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

// Parses and prints the JSON of one entry. parse throws std::runtime_error naming the field.
std::string to_json(const RunEntry& entry);
RunEntry parse_run_entry(const std::string& json);

}  // namespace tilefork
