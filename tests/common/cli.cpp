// Running the tilefork command from tests.
#include "common/cli.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TILEFORK_BINARY
#define TILEFORK_BINARY "tilefork"
#endif

namespace tilefork::test {

std::string slurp(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::size_t count_lines_with(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) count += line.find(needle) != std::string::npos ? 1 : 0;
  return count;
}

namespace {

void apply(const std::vector<EnvChange>& env) {
  for (const auto& [name, value] : env) {
    if (value) {
      setenv(name.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name.c_str());
    }
  }
}

[[noreturn]] void exec_tilefork(const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>(TILEFORK_BINARY)};
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execv(TILEFORK_BINARY, argv.data());
  _exit(127);
}

}  // namespace

pid_t start_tilefork_group(const std::vector<std::string>& args, const std::vector<EnvChange>& env) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    apply(env);
    std::freopen("/dev/null", "w", stderr);
    exec_tilefork(args);
  }
  return pid;
}

int kill_group(pid_t group) {
  ::kill(-group, SIGKILL);
  int status = 0;
  waitpid(group, &status, 0);
  // The workers die of the same signal but are reaped by whoever adopts them: wait for that.
  for (int i = 0; i < 500 && ::kill(-group, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return status;
}

pid_t start_tilefork(const std::vector<std::string>& args, const TempDir& scratch, const std::string& input,
                     const std::vector<EnvChange>& env) {
  const std::string in = scratch / "stdin.txt";
  const std::string out = scratch / "stdout.txt";
  const std::string err = scratch / "stderr.txt";
  std::ofstream(in) << input;
  std::fflush(nullptr);  // or the child's exit would print the test's buffered output again
  const pid_t pid = fork();
  if (pid == 0) {
    apply(env);
    std::freopen(in.c_str(), "r", stdin);
    std::freopen(out.c_str(), "w", stdout);
    std::freopen(err.c_str(), "w", stderr);
    exec_tilefork(args);
  }
  return pid;
}

Outcome wait_tilefork(pid_t pid, const TempDir& scratch) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  Outcome outcome;
  outcome.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  outcome.out = slurp(scratch / "stdout.txt");
  outcome.err = slurp(scratch / "stderr.txt");
  // A sanitizer report from the command or its workers fails the test even when the run went on
  // (a worker that died of it was replaced): tests rarely print the stderr they captured.
  for (const char* report : {"AddressSanitizer", "LeakSanitizer", "runtime error:"}) {
    if (outcome.err.find(report) != std::string::npos) {
      ADD_FAILURE() << "the command's standard error holds a sanitizer report:\n" << outcome.err;
      break;
    }
  }
  return outcome;
}

Outcome run_tilefork(const std::vector<std::string>& args, const TempDir& scratch, const std::string& input,
                     const std::vector<EnvChange>& env) {
  return wait_tilefork(start_tilefork(args, scratch, input, env), scratch);
}

}  // namespace tilefork::test
