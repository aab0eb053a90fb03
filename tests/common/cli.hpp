// Running the tilefork command from tests: exit code, stdout and stderr.
#pragma once

#include "common/batch.hpp"

#include <optional>
#include <sys/types.h>
#include <string>
#include <utility>
#include <vector>

namespace tilefork::test {

struct Outcome {
  int code = -1;  // exit code, or 128 + signal
  std::string out;
  std::string err;
};

// An environment variable for the child: set to a value, or unset (nullopt).
using EnvChange = std::pair<std::string, std::optional<std::string>>;

// Runs the tilefork binary (TILEFORK_BINARY) with `args`; `input` is its standard input and
// `env` changes its environment. Captures go through files in `scratch`.
Outcome run_tilefork(const std::vector<std::string>& args, const TempDir& scratch, const std::string& input = {},
                     const std::vector<EnvChange>& env = {});

// Starts the tilefork binary with `args` in a process group of its own (its workers join it),
// stderr to /dev/null and `env` applied, without waiting. Returns its pid, the group's id.
pid_t start_tilefork_group(const std::vector<std::string>& args, const std::vector<EnvChange>& env = {});
// SIGKILLs the group, reaps its leader and waits (up to 5 s) until no process of it is left.
// Returns the leader's wait status.
int kill_group(pid_t group);

// run_tilefork in two halves, for a command that runs while the test does something else:
// start_tilefork returns the child's pid at once; wait_tilefork waits for it and reads what it
// printed. One command at a time per `scratch`.
pid_t start_tilefork(const std::vector<std::string>& args, const TempDir& scratch, const std::string& input = {},
                     const std::vector<EnvChange>& env = {});
Outcome wait_tilefork(pid_t pid, const TempDir& scratch);

std::string slurp(const std::string& path);
std::size_t count_lines_with(const std::string& text, const std::string& needle);

}  // namespace tilefork::test
