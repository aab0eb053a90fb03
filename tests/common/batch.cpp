// Test batch helpers: temporary folders, PNG frames on disk, child-process discovery.
#include "common/batch.hpp"

#include <fmt/format.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <stdexcept>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tilefork::test {

TempDir::TempDir() {
  std::random_device random;
  path_ = fs::temp_directory_path() / fmt::format("tilefork-test-{}-{:x}", getpid(), random());
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::vector<WorkItem> write_batch(const TempDir& dir, const std::vector<std::pair<std::string, cv::Mat>>& frames,
                                  const std::string& out_subdir) {
  fs::create_directories(dir.path() / out_subdir);
  std::vector<WorkItem> items;
  for (const auto& [name, frame] : frames) {
    WorkItem item;
    item.input = dir / (name + ".png");
    if (!fs::exists(item.input) && !cv::imwrite(item.input, frame)) {
      throw std::runtime_error("cannot write test frame " + item.input);
    }
    item.output = (dir.path() / out_subdir / (name + ".png")).string();
    item.info = probe_image(item.input);
    items.push_back(std::move(item));
  }
  return items;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == parent && state != 'Z') {
      children.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  return children;
}

}  // namespace tilefork::test
