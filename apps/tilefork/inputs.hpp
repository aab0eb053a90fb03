// What a batch reads and writes: inputs from files, folders, globs and standard input, and the
// output path of each, from a name template.
#pragma once

#include "tilefork/executor.hpp"

#include <filesystem>
#include <istream>
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

}  // namespace tilefork::app
