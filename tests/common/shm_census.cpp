// ShmCensus: reads /proc/sysvipc/shm and /dev/shm, and tells which new entries are leaks.
#include "common/shm_census.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace tilefork::test {
namespace {

constexpr std::string_view kPosixPrefix = "tilefork";
constexpr unsigned kShmDestBit = 01000;  // SHM_DEST in the perms column

// The state letter and parent pid of a process from /proc/<pid>/stat, whose second field (the
// command name, in parentheses) may itself hold spaces and parentheses.
struct ProcessStat {
  char state = '?';
  pid_t ppid = 0;
};

bool read_stat(pid_t pid, ProcessStat& stat) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return false;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 1));
  return static_cast<bool>(rest >> stat.state >> stat.ppid);
}

bool is_self_or_descendant(pid_t pid) {
  const pid_t self = getpid();
  // The depth bound only guards against a /proc that changes under us into a cycle.
  for (int depth = 0; depth < 64 && pid > 1; ++depth) {
    if (pid == self) return true;
    ProcessStat stat;
    if (!read_stat(pid, stat)) return false;
    pid = stat.ppid;
  }
  return false;
}

// Ours unless a live process outside our tree created it (see leaked_since).
bool attributable_to_us(pid_t creator) {
  return creator <= 0 || !pid_alive(creator) || is_self_or_descendant(creator);
}

// The pid in "tilefork-<pid>-<random>", or 0 when the name has another shape.
pid_t pid_in_posix_name(const std::string& name) {
  const auto dash = name.find('-');
  if (dash == std::string::npos) return 0;
  try {
    std::size_t used = 0;
    const long pid = std::stol(name.substr(dash + 1), &used);
    return name.size() > dash + 1 + used && name[dash + 1 + used] == '-' ? static_cast<pid_t>(pid) : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

ShmCensus ShmCensus::take() {
  ShmCensus census;
  std::ifstream table("/proc/sysvipc/shm");
  if (!table) throw std::runtime_error("cannot read /proc/sysvipc/shm");
  std::string line;
  std::getline(table, line);  // column titles
  while (std::getline(table, line)) {
    // key shmid perms size cpid lpid nattch uid gid ...
    std::istringstream fields(line);
    long long key = 0;
    unsigned perms = 0;
    SysvSegment segment;
    if (fields >> key >> segment.shmid >> std::oct >> perms >> std::dec >> segment.size >>
        segment.cpid) {
      pid_t lpid = 0;
      fields >> lpid >> segment.nattch;
      segment.marked_for_removal = (perms & kShmDestBit) != 0;
      census.sysv.push_back(segment);
    }
  }

  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", error)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(kPosixPrefix)) census.posix.push_back(std::move(name));
  }
  return census;
}

namespace {

// The leaks of `now` against `before`; `settling` is set when one of them is a segment marked
// for removal whose creator is gone but which a process still maps: the worker of a killed run,
// ours or a parallel test's, that its parent-death signal is about to take with it.
std::vector<std::string> leaks_between(const ShmCensus& now, const ShmCensus& before, bool& settling) {
  std::vector<std::string> leaks;
  settling = false;
  for (const ShmCensus::SysvSegment& segment : now.sysv) {
    // An id with another creator is a new segment that happens to reuse the number.
    const bool existed = std::any_of(before.sysv.begin(), before.sysv.end(), [&](const ShmCensus::SysvSegment& old) {
      return old.shmid == segment.shmid && old.cpid == segment.cpid;
    });
    if (existed || !attributable_to_us(segment.cpid)) continue;
    std::string text = "sysv shmid " + std::to_string(segment.shmid) + " size " +
                       std::to_string(segment.size) + " nattch " + std::to_string(segment.nattch) +
                       " cpid " + std::to_string(segment.cpid);
    if (segment.marked_for_removal) text += " (marked for removal, still attached)";
    settling = settling || (segment.marked_for_removal && segment.nattch > 0 && !pid_alive(segment.cpid));
    leaks.push_back(std::move(text));
  }
  for (const std::string& name : now.posix) {
    const bool existed = std::find(before.posix.begin(), before.posix.end(), name) != before.posix.end();
    if (existed || !attributable_to_us(pid_in_posix_name(name))) continue;
    leaks.push_back("posix /dev/shm/" + name);
  }
  return leaks;
}

}  // namespace

std::vector<std::string> ShmCensus::leaked_since(const ShmCensus& before) const {
  bool settling = false;
  std::vector<std::string> leaks = leaks_between(*this, before, settling);
  // A segment still detaching is looked at again for up to 3 s: gone, it was no leak; still
  // there, its last process outlived its run, and that is reported.
  for (int look = 0; settling && look < 30; ++look) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    leaks = leaks_between(take(), before, settling);
  }
  return leaks;
}

bool ShmCensus::contains_sysv(int shmid) const {
  return std::any_of(sysv.begin(), sysv.end(),
                     [&](const SysvSegment& segment) { return segment.shmid == shmid; });
}

bool pid_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno != EPERM) return false;  // EPERM: exists, owned by someone else
  ProcessStat stat;
  if (!read_stat(pid, stat)) return false;  // gone between the two checks
  return stat.state != 'Z' && stat.state != 'X';
}

}  // namespace tilefork::test
