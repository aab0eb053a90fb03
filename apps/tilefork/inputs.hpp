// What a batch reads and writes: inputs from files, folders, globs and standard input, and the
// output path of each, from a name template.
#pragma once

#include "tilefork/executor.hpp"

#include <filesystem>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <vector>

namespace tilefork::app {

struct OutputRules {
  std::filesystem::path folder;
  std::string name = "{stem}.{ext}";  // {stem} {ext} {index} {pipeline}
  std::string format = "same";        // same, png, jpg, tif, webp
  int quality = -1;
  std::string pipeline;  // normalised text, for {pipeline}
};

// Expands INPUT arguments in order: a file stands for itself; a folder for the image files in it
// (with `recursive`, in its subfolders too, whose relative paths the outputs mirror); a pattern
// with * ? or [ for the files it matches; "-" for the paths read from `standard_input`, one a
// line. Each item's output follows `rules`. Throws UsageError naming the argument for a path that
// does not exist, a folder or pattern with no images, two inputs with one output, or an output
// that is its own input.
std::vector<WorkItem> gather_items(const std::vector<std::string>& inputs, bool recursive, const OutputRules& rules,
                                   std::istream& standard_input);

// One share of a batch split over `count` runs (machines, array tasks); `index` is 1-based.
struct Shard {
  int index = 1;
  int count = 1;
  std::string source;  // where it came from, for messages: "--shard", "SLURM_ARRAY_TASK_ID=3", ...
};

// The share this run takes: from --shard "K/N" (`flag`) when given; else from a Slurm job array
// (SLURM_ARRAY_TASK_ID, _MIN, _STEP and _COUNT); else, with --shards N (`shards` > 0), from a
// Kubernetes Indexed Job's JOB_COMPLETION_INDEX. nullopt: the whole batch. `getenv` reads the
// environment. Throws UsageError naming the value that is wrong.
std::optional<Shard> resolve_shard(const std::string& flag, int shards,
                                   const std::function<const char*(const char*)>& getenv);

// The items of `shard`: sorted by input path, item i (0-based) goes to shard i % count + 1, so
// that every input falls in exactly one shard and shards get equal counts (within one).
std::vector<WorkItem> take_shard(std::vector<WorkItem> items, const Shard& shard);

}  // namespace tilefork::app
