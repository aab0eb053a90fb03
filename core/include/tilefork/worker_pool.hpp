// WorkerPool: forks, reaps, replaces and stops the worker processes of one run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tilefork {

// Owns the table of worker processes (no globals). Each worker runs `body(index)` in a forked
// child that asks to be killed when the coordinator dies, names itself "tilefork-w<index>",
// ignores SIGINT, SIGQUIT and SIGHUP (the coordinator decides how a run ends) and leaves with
// _exit(). Signals are blocked around fork() so no handler of the coordinator runs in a
// half-made child.
class WorkerPool {
 public:
  struct Death {
    std::uint32_t index;
    pid_t pid;
    int status;  // as from waitpid
  };

  // Forks `count` workers. Throws SystemError if fork() fails (workers already forked are killed).
  WorkerPool(std::uint32_t count, std::function<void(std::uint32_t)> body);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool();  // kills and reaps any worker still running; never throws

  // Collects the workers that have exited, without blocking.
  std::vector<Death> reap();
  // Forks a new worker in the place of a dead one. Throws SystemError if fork() fails.
  void respawn(std::uint32_t index);
  // Waits until every worker has exited; after `grace`, sends SIGTERM, and after as long again,
  // SIGKILL. Calls `meanwhile` (if any) between looks, every few milliseconds: a worker may need
  // the coordinator to do something before it can exit (drain its full trace ring). Throws only
  // what `meanwhile` throws. Returns the deaths that were not clean exits.
  std::vector<Death> stop(std::chrono::milliseconds grace, const std::function<void()>& meanwhile = {});
  // SIGKILLs every worker and reaps them. Never throws.
  void kill_all() noexcept;

  pid_t pid(std::uint32_t index) const { return pids_.at(index); }
  std::uint32_t size() const { return static_cast<std::uint32_t>(pids_.size()); }
  std::uint32_t running() const;

 private:
  pid_t spawn(std::uint32_t index);
  std::function<void(std::uint32_t)> body_;
  std::vector<pid_t> pids_;  // 0 once reaped
  pid_t coordinator_;
};

// "exit code 3", "signal 11 (Segmentation fault)": a waitpid status for people.
std::string describe_wait_status(int status);

// Number of threads of this process (from /proc/self/task): the coordinator must have one when
// it forks (DESIGN.md: fork first, no TBB or OpenCV threads before or between forks).
int thread_count();

}  // namespace tilefork
