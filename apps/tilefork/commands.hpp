// The subcommands of the `tilefork` command, each set up on the CLI11 app in its own file.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace tilefork::app {

// Exit codes, documented in the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;     // the machinery failed (segment, fork)
inline constexpr int kExitUsage = 2;       // the user asked for something wrong
inline constexpr int kExitPartial = 3;     // some items failed, the others were written
inline constexpr int kExitInterrupted = 130;

// Each adds its subcommand to `app` and sets `action` to the code to run when it is chosen.
void add_run_command(CLI::App& app, std::function<int()>& action);
void add_kernels_command(CLI::App& app, std::function<int()>& action);
void add_timeline_command(CLI::App& app, std::function<int()>& action);
void add_bench_command(CLI::App& app, std::function<int()>& action);
void add_top_command(CLI::App& app, std::function<int()>& action);

}  // namespace tilefork::app
