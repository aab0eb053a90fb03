// Forking workers that die with their coordinator, reaping them, and stopping them in order.
#include "tilefork/worker_pool.hpp"

#include "tilefork/errors.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tilefork {
namespace {

// Blocks the signals whose handlers must not run between fork() and the child's own setup.
class SignalBlock {
 public:
  SignalBlock() {
    sigset_t set;
    sigemptyset(&set);
    for (int signal : {SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&set, signal);
    sigprocmask(SIG_BLOCK, &set, &previous_);
  }
  ~SignalBlock() { sigprocmask(SIG_SETMASK, &previous_, nullptr); }
  SignalBlock(const SignalBlock&) = delete;
  SignalBlock& operator=(const SignalBlock&) = delete;

 private:
  sigset_t previous_;
};

[[noreturn]] void become_worker(std::uint32_t index, pid_t coordinator,
                                const std::function<void(std::uint32_t)>& body) {
  // The parent's handlers only make sense in the parent. What a terminal sends the whole
  // process group (Ctrl-C, Ctrl-backslash, hang-up) is the coordinator's to act on: it ends the
  // run and stops the workers itself.
  std::signal(SIGCHLD, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGHUP, SIG_IGN);
  std::signal(SIGQUIT, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Die with the coordinator, even by SIGKILL; if it is already gone, go now.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != coordinator) _exit(70);
  const std::string name = fmt::format("tilefork-w{}", index);
  prctl(PR_SET_NAME, name.c_str());
  int code = 0;
  try {
    body(index);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tilefork: worker %u: %s\n", index, error.what());
    code = 71;
  } catch (...) {
    code = 71;
  }
  std::fflush(stderr);
  _exit(code);
}

}  // namespace

WorkerPool::WorkerPool(std::uint32_t count, std::function<void(std::uint32_t)> body)
    : body_(std::move(body)), pids_(count, 0), coordinator_(getpid()) {
  try {
    for (std::uint32_t i = 0; i < count; ++i) pids_[i] = spawn(i);
  } catch (...) {
    kill_all();
    throw;
  }
}

WorkerPool::~WorkerPool() { kill_all(); }

pid_t WorkerPool::spawn(std::uint32_t index) {
  // Buffered output would otherwise be printed once by each process.
  std::fflush(nullptr);
  SignalBlock block;
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    throw_system_error(err, "could not start a worker process", fmt::format("fork() for worker {}", index),
                       "too many processes? check `ulimit -u` or use fewer --workers");
  }
  if (pid == 0) become_worker(index, coordinator_, body_);
  return pid;
}

std::vector<WorkerPool::Death> WorkerPool::reap() {
  std::vector<Death> deaths;
  for (std::uint32_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] <= 0) continue;
    int status = 0;
    const pid_t result = waitpid(pids_[i], &status, WNOHANG);
    if (result == pids_[i]) {
      deaths.push_back({i, pids_[i], status});
      pids_[i] = 0;
    }
  }
  return deaths;
}

void WorkerPool::respawn(std::uint32_t index) { pids_.at(index) = spawn(index); }

std::uint32_t WorkerPool::running() const {
  std::uint32_t count = 0;
  for (pid_t pid : pids_) count += pid > 0 ? 1 : 0;
  return count;
}

std::vector<WorkerPool::Death> WorkerPool::stop(std::chrono::milliseconds grace, const std::function<void()>& meanwhile) {
  std::vector<Death> unclean;
  const auto start = std::chrono::steady_clock::now();
  int signal_sent = 0;
  while (running() > 0) {
    for (const Death& death : reap()) {
      if (!WIFEXITED(death.status) || WEXITSTATUS(death.status) != 0) unclean.push_back(death);
    }
    if (running() == 0) break;
    const auto waited = std::chrono::steady_clock::now() - start;
    const int wanted = waited > 2 * grace ? SIGKILL : waited > grace ? SIGTERM : 0;
    if (wanted != 0 && wanted != signal_sent) {
      for (pid_t pid : pids_) {
        if (pid > 0) ::kill(pid, wanted);
      }
      signal_sent = wanted;
    }
    if (meanwhile) meanwhile();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return unclean;
}

void WorkerPool::kill_all() noexcept {
  for (pid_t& pid : pids_) {
    if (pid <= 0) continue;
    ::kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid = 0;
  }
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    const char* name = sigdescr_np(signal);
    return fmt::format("signal {} ({})", signal, name ? name : "unknown");
  }
  return fmt::format("wait status {:#x}", status);
}

int thread_count() {
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = readdir(tasks)) count += entry->d_name[0] != '.' ? 1 : 0;
  closedir(tasks);
  return count;
}

}  // namespace tilefork
