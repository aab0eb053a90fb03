// `tilefork bench --sweep`: what the command reads (frames, lists) and writes (table, CSV, JSON, plots).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tilefork::app {

struct SweepArguments {
  std::string pipeline = "gaussian sigma=2";
  std::vector<std::string> frames;  // files and folders; empty: the bundled sample frames
  std::vector<std::string> workers;
  std::vector<std::string> tiles;
  std::vector<std::string> backends;
  std::vector<std::string> executors;
  int repetitions = 3;
  double min_seconds = 0.5;
  std::string csv;
  std::optional<std::string> json;  // "": on standard output, instead of the table
  std::string plot_dir;
};

// Runs the sweep and writes its outputs; returns the exit code. Throws UsageError before any
// measurement for a wrong list, frame, pipeline or output path; the errors of run_sweep().
int run_sweep_bench(const SweepArguments& arguments, const std::function<bool()>& interrupted);

}  // namespace tilefork::app
