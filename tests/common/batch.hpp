// Helpers for tests that run whole batches: a temporary folder, frames written as PNG, results read back.
#pragma once

#include "tilefork/executor.hpp"

#include <opencv2/core/mat.hpp>

#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace tilefork::test {

// A fresh folder under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Writes each frame losslessly as <dir>/<name>.png and makes the work items for them, with
// outputs in <dir>/<out_subdir>/<name>.png (the folder is created).
std::vector<WorkItem> write_batch(const TempDir& dir, const std::vector<std::pair<std::string, cv::Mat>>& frames,
                                  const std::string& out_subdir);

// Process ids whose parent is `parent` (from /proc).
std::vector<pid_t> children_of(pid_t parent);

}  // namespace tilefork::test
