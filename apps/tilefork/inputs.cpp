// Input expansion (files, folders, globs, stdin lists) and output naming for `tilefork run`.
#include "inputs.hpp"

#include "tilefork/errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <glob.h>
#include <map>
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

bool has_image_extension(const fs::path& path) { return kImageExtensions.contains(lower(path.extension().string())); }

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
    throw UsageError(fmt::format("folder '{}' has no image files{} (looked for .png .jpg .tif .bmp .webp ...)",
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

void add_argument(const std::string& argument, bool recursive, std::vector<Found>& found) {
  std::error_code error;
  const auto status = fs::status(argument, error);
  if (fs::is_directory(status)) return add_folder(argument, recursive, found);
  if (fs::exists(status)) return found.push_back({argument, {}});
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
  const std::string extension = output_extension(input, rules.format);
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

}  // namespace tilefork::app
