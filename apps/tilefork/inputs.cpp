// Input expansion (files, folders, globs, stdin lists) and output naming for `tilefork run`.
#include "inputs.hpp"

#include "tilefork/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <glob.h>
#include <map>
#include <optional>
#include <regex>
#include <set>

namespace fs = std::filesystem;

namespace tilefork::app {
namespace {

const std::set<std::string, std::less<>> kImageExtensions = {
    ".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".tif", ".tiff", ".webp",
    ".pgm", ".ppm", ".pbm", ".pnm", ".pxm", ".sr", ".ras", ".exr", ".hdr", ".pic", ".jp2"};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Images, and videos (whose frames become items of the batch).
bool has_image_extension(const fs::path& path) {
  return kImageExtensions.contains(lower(path.extension().string())) || is_video_path(path.string());
}

bool is_pattern(const std::string& text) { return text.find_first_of("*?[") != std::string::npos; }

// A found input and the folder its output mirrors (empty: none).
struct Found {
  fs::path file;
  fs::path relative_folder;
};

void add_folder(const std::string& argument, bool recursive, std::vector<Found>& found) {
  std::vector<Found> files;
  std::error_code error;
  const fs::path root(argument);
  auto consider = [&](const fs::directory_entry& entry) {
    if (entry.is_regular_file() && has_image_extension(entry.path())) {
      files.push_back({entry.path(), entry.path().parent_path().lexically_relative(root)});
    }
  };
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      consider(*it);
    }
  } else {
    for (auto it = fs::directory_iterator(root, error); !error && it != fs::directory_iterator(); it.increment(error)) {
      consider(*it);
    }
  }
  if (error) throw UsageError(fmt::format("cannot read folder '{}': {}", argument, error.message()));
  if (files.empty()) {
    throw UsageError(fmt::format("folder '{}' has no image or video files{} (looked for .png .jpg .tif .bmp "
                                 ".webp .mp4 .mkv .avi ...)",
                                 argument, recursive ? "" : "; --recursive looks in its subfolders too"));
  }
  std::sort(files.begin(), files.end(), [](const Found& a, const Found& b) { return a.file < b.file; });
  for (auto& file : files) {
    if (file.relative_folder == ".") file.relative_folder.clear();
    found.push_back(std::move(file));
  }
}

void add_pattern(const std::string& argument, std::vector<Found>& found) {
  glob_t matches{};
  const int result = ::glob(argument.c_str(), GLOB_MARK, nullptr, &matches);
  std::vector<fs::path> files;
  for (std::size_t i = 0; result == 0 && i < matches.gl_pathc; ++i) {
    const fs::path path(matches.gl_pathv[i]);
    if (fs::is_regular_file(path) && has_image_extension(path)) files.push_back(path);
  }
  globfree(&matches);
  if (files.empty()) {
    throw UsageError(fmt::format("pattern '{}' matches no image files (quote it so that tilefork, not the shell, "
                                 "expands it)", argument));
  }
  std::sort(files.begin(), files.end());
  for (auto& file : files) found.push_back({std::move(file), {}});
}

// An image sequence named printf-style, "frame_%05d.png": the files of its folder whose names
// are the pattern with a number in place of %d (exactly N digits for %0Nd), in number order.
struct SequencePattern {
  std::string prefix;
  std::string suffix;
  std::size_t digits = 0;  // 0: any count
};

std::optional<SequencePattern> sequence_pattern(const std::string& name) {
  static const std::regex printf_number(R"(%(0[1-9][0-9]?)?d)");
  std::smatch match;
  if (!std::regex_search(name, match, printf_number)) return std::nullopt;
  SequencePattern pattern{match.prefix().str(), match.suffix().str(), 0};
  if (match[1].matched) pattern.digits = static_cast<std::size_t>(std::stoi(match[1].str().substr(1)));
  if (pattern.suffix.find('%') != std::string::npos || pattern.prefix.find('%') != std::string::npos) {
    throw UsageError(fmt::format("sequence '{}' has more than one %d: give one, e.g. frame_%05d.png", name));
  }
  return pattern;
}

void add_sequence(const std::string& argument, const SequencePattern& pattern, std::vector<Found>& found) {
  const fs::path path(argument);
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::vector<std::pair<unsigned long long, fs::path>> files;
  std::error_code error;
  for (auto it = fs::directory_iterator(folder, error); !error && it != fs::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= pattern.prefix.size() + pattern.suffix.size() || !name.starts_with(pattern.prefix) ||
        !name.ends_with(pattern.suffix)) {
      continue;
    }
    const std::string number = name.substr(pattern.prefix.size(), name.size() - pattern.prefix.size() - pattern.suffix.size());
    const bool digits_only = std::all_of(number.begin(), number.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!digits_only || number.size() > 18 || (pattern.digits != 0 && number.size() != pattern.digits)) continue;
    if (it->is_regular_file()) files.emplace_back(std::stoull(number), it->path());
  }
  if (error) throw UsageError(fmt::format("cannot read the folder of sequence '{}': {}", argument, error.message()));
  if (files.empty()) {
    throw UsageError(fmt::format("sequence '{}' matches no files in '{}' (%05d stands for exactly 5 digits, %d for "
                                 "any number of them)",
                                 argument, folder.string()));
  }
  std::sort(files.begin(), files.end());
  for (auto& [number, file] : files) found.push_back({std::move(file), {}});
}

void add_argument(const std::string& argument, bool recursive, std::vector<Found>& found) {
  std::error_code error;
  const auto status = fs::status(argument, error);
  if (fs::is_directory(status)) return add_folder(argument, recursive, found);
  if (fs::exists(status)) return found.push_back({argument, {}});
  if (const auto sequence = sequence_pattern(fs::path(argument).filename().string())) {
    return add_sequence(argument, *sequence, found);
  }
  if (is_pattern(argument)) return add_pattern(argument, found);
  throw UsageError(fmt::format("input '{}' does not exist", argument));
}

std::string output_extension(const fs::path& input, const std::string& format) {
  if (format == "same") {
    const std::string extension = input.extension().string();
    return extension.empty() ? "png" : extension.substr(1);
  }
  static const std::map<std::string, std::string, std::less<>> kFormats = {
      {"png", "png"}, {"jpg", "jpg"}, {"jpeg", "jpg"}, {"tif", "tif"}, {"tiff", "tif"}, {"webp", "webp"}};
  const auto it = kFormats.find(lower(format));
  if (it == kFormats.end()) {
    throw UsageError(fmt::format("--format '{}' is not one of: same, png, jpg, tif, webp", format));
  }
  return it->second;
}

// Characters that may not stand in a file name become '_'; runs of them collapse.
std::string file_name_safe(const std::string& text) {
  std::string safe;
  for (char c : text) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '=';
    if (keep) {
      safe += c;
    } else if (safe.empty() || safe.back() != '_') {
      safe += '_';
    }
  }
  return safe;
}

std::string expand_name(const OutputRules& rules, const fs::path& input, std::size_t index) {
  // A video is written as a video of its own container; --format is for images.
  const std::string extension = output_extension(input, is_video_path(input.string()) ? "same" : rules.format);
  std::string name;
  const std::string& pattern = rules.name;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      name += pattern[i];
      continue;
    }
    const auto close = pattern.find('}', i);
    if (close == std::string::npos) throw UsageError(fmt::format("--name '{}' has a '{{' without '}}'", pattern));
    const std::string field = pattern.substr(i + 1, close - i - 1);
    if (field == "stem") {
      name += input.stem().string();
    } else if (field == "ext") {
      name += extension;
    } else if (field == "index") {
      name += fmt::format("{:05}", index);
    } else if (field == "pipeline") {
      name += file_name_safe(rules.pipeline);
    } else {
      throw UsageError(fmt::format("--name '{}': unknown field {{{}}} (use {{stem}}, {{ext}}, {{index}}, {{pipeline}})",
                                   pattern, field));
    }
    i = close;
  }
  if (name.empty() || name.find('/') != std::string::npos) {
    throw UsageError(fmt::format("--name '{}' gives '{}', which is not a file name", pattern, name));
  }
  return name;
}

}  // namespace

std::vector<WorkItem> gather_items(const std::vector<std::string>& inputs, bool recursive, const OutputRules& rules,
                                   std::istream& standard_input) {
  std::vector<Found> found;
  for (const auto& argument : inputs) {
    if (argument != "-") {
      add_argument(argument, recursive, found);
      continue;
    }
    for (std::string line; std::getline(standard_input, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) add_argument(line, recursive, found);
    }
  }
  std::vector<WorkItem> items;
  std::map<fs::path, std::string> outputs;  // output -> input, to refuse collisions
  for (std::size_t index = 0; index < found.size(); ++index) {
    const Found& input = found[index];
    WorkItem item;
    item.input = input.file.string();
    item.output = (rules.folder / input.relative_folder / expand_name(rules, input.file, index)).string();
    item.quality = rules.quality;
    const fs::path canonical_output = fs::weakly_canonical(item.output);
    if (canonical_output == fs::weakly_canonical(input.file)) {
      throw UsageError(fmt::format("output '{}' would overwrite its input: choose another -o folder or --name",
                                   item.output));
    }
    if (const auto [it, inserted] = outputs.emplace(canonical_output, item.input); !inserted) {
      throw UsageError(fmt::format("inputs '{}' and '{}' would both be written to '{}': use --name \"{{stem}}-{{index}}.{{ext}}\" "
                                   "or run them separately", it->second, item.input, item.output));
    }
    items.push_back(std::move(item));
  }
  return items;
}

namespace {

// A whole number from `text`, or nullopt.
std::optional<long long> whole_number(std::string_view text) {
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

long long environment_number(const std::function<const char*(const char*)>& getenv, const char* name,
                             std::optional<long long> fallback = std::nullopt) {
  const char* text = getenv(name);
  if (text == nullptr || *text == '\0') {
    if (fallback) return *fallback;
    throw UsageError(fmt::format("{} is not set, and the shard cannot be told without it", name));
  }
  const auto value = whole_number(text);
  if (!value) throw UsageError(fmt::format("{}='{}' is not a whole number", name, text));
  return *value;
}

Shard checked(long long index, long long count, std::string source) {
  if (count < 1 || count > 1'000'000 || index < 1 || index > count) {
    throw UsageError(fmt::format("{} gives shard {} of {}: a shard is K/N with 1 <= K <= N", source, index, count));
  }
  return {static_cast<int>(index), static_cast<int>(count), std::move(source)};
}

}  // namespace

std::optional<Shard> resolve_shard(const std::string& flag, int shards,
                                   const std::function<const char*(const char*)>& getenv) {
  if (!flag.empty()) {
    const auto slash = flag.find('/');
    const auto index = whole_number(std::string_view(flag).substr(0, slash));
    const auto count = slash == std::string::npos ? std::nullopt : whole_number(std::string_view(flag).substr(slash + 1));
    if (!index || !count) {
      throw UsageError(fmt::format("--shard '{}' is not K/N: give this run's share as e.g. --shard 2/8 (K counts "
                                   "from 1)",
                                   flag));
    }
    return checked(*index, *count, fmt::format("--shard {}", flag));
  }
  const char* slurm_task = getenv("SLURM_ARRAY_TASK_ID");
  const char* kubernetes_index = getenv("JOB_COMPLETION_INDEX");
  if (shards > 0) {
    // Kubernetes gives only the index; its count is the Job's `completions`, passed as --shards.
    if (kubernetes_index != nullptr) {
      const long long index = environment_number(getenv, "JOB_COMPLETION_INDEX");
      return checked(index + 1, shards, fmt::format("JOB_COMPLETION_INDEX={} with --shards {}", index, shards));
    }
    if (slurm_task == nullptr) {
      throw UsageError(fmt::format("--shards {} needs this run's index: JOB_COMPLETION_INDEX (a Kubernetes Indexed "
                                   "Job) or SLURM_ARRAY_TASK_ID is not set; give --shard K/{} instead",
                                   shards, shards));
    }
  }
  if (slurm_task == nullptr) return std::nullopt;
  // --array=0-15:4 runs tasks 0, 4, 8, 12: the index is counted in steps from the first task.
  const long long task = environment_number(getenv, "SLURM_ARRAY_TASK_ID");
  const long long first = environment_number(getenv, "SLURM_ARRAY_TASK_MIN", 0);
  const long long step = std::max(1LL, environment_number(getenv, "SLURM_ARRAY_TASK_STEP", 1));
  const long long count = shards > 0 ? shards : environment_number(getenv, "SLURM_ARRAY_TASK_COUNT");
  if ((task - first) % step != 0) {
    throw UsageError(fmt::format("SLURM_ARRAY_TASK_ID={} is not a step of {} from SLURM_ARRAY_TASK_MIN={}", task,
                                 step, first));
  }
  return checked((task - first) / step + 1, count,
                 fmt::format("SLURM_ARRAY_TASK_ID={} of SLURM_ARRAY_TASK_COUNT={}", task, count));
}

std::vector<WorkItem> take_shard(std::vector<WorkItem> items, const Shard& shard) {
  std::stable_sort(items.begin(), items.end(), [](const WorkItem& a, const WorkItem& b) { return a.input < b.input; });
  std::vector<WorkItem> share;
  for (std::size_t i = static_cast<std::size_t>(shard.index - 1); i < items.size(); i += static_cast<std::size_t>(shard.count)) {
    share.push_back(std::move(items[i]));
  }
  return share;
}

}  // namespace tilefork::app
