// The run registry: a private folder of small JSON files, one per running fork run.
#include "tilefork/run_registry.hpp"

#include "tilefork/errors.hpp"
#include "tilefork/frame_io.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace tilefork {
namespace {

constexpr int kEntryFormat = 1;

[[noreturn]] void refuse_folder(int err, const fs::path& folder, const std::string& what, const std::string& hint) {
  throw_system_error(err, fmt::format("the run registry {} cannot be used", folder.string()), what, hint);
}

// The folder must be a real folder (not a link someone planted), ours, and closed to others.
void check_folder(const fs::path& folder, const struct stat& info) {
  const std::string fix = fmt::format(
      "remove it if you do not know it (rm -r {}), or set XDG_RUNTIME_DIR to a private folder of yours", folder.string());
  if (!S_ISDIR(info.st_mode)) refuse_folder(ENOTDIR, folder, "it is not a folder (lstat)", fix);
  if (info.st_uid != geteuid()) {
    refuse_folder(EPERM, folder, fmt::format("it belongs to uid {}, not to this user (uid {})", info.st_uid, geteuid()),
                  fix);
  }
  if ((info.st_mode & 07777) != 0700) {
    refuse_folder(EPERM, folder, fmt::format("its mode is {:04o}; it must be 0700", info.st_mode & 07777),
                  fmt::format("chmod 700 {} if it is yours", folder.string()));
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// "4711.json" -> 4711; 0 for any other name.
pid_t pid_of_file_name(const std::string& name) {
  if (!name.ends_with(".json")) return 0;
  const std::string_view digits(name.data(), name.size() - 5);
  int pid = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (ec != std::errc{} || end != digits.data() + digits.size() || pid <= 0) return 0;
  return pid;
}

}  // namespace

std::optional<std::uint64_t> process_start_ticks(pid_t pid) noexcept {
  if (pid <= 0) return std::nullopt;
  try {
    std::ifstream stat(fmt::format("/proc/{}/stat", pid));
    std::string line;
    if (!std::getline(stat, line)) return std::nullopt;
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(line.substr(close + 1));
    std::string field;
    std::uint64_t ticks = 0;
    for (int number = 3; fields >> field; ++number) {
      if (number == 3 && (field == "Z" || field == "X")) return std::nullopt;  // dead, not yet reaped
      if (number == 22) {
        const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), ticks);
        if (ec != std::errc{}) return std::nullopt;
        return ticks;
      }
    }
  } catch (...) {
  }
  return std::nullopt;
}

bool entry_alive(const RunEntry& entry) noexcept {
  const auto ticks = process_start_ticks(entry.pid);
  return ticks && *ticks == entry.start_ticks;
}

fs::path RunRegistry::default_folder() {
  // Only a runtime folder of this user's: `sudo` may pass on another user's XDG_RUNTIME_DIR,
  // and a folder of root's made there would then stand in that user's way.
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && runtime[0] == '/') {
    struct stat info {};
    if (::stat(runtime, &info) == 0 && S_ISDIR(info.st_mode) && info.st_uid == geteuid()) {
      return fs::path(runtime) / "tilefork";
    }
  }
  return fs::path(fmt::format("/tmp/tilefork-{}", geteuid()));
}

RunRegistry RunRegistry::open(const fs::path& folder, bool create) {
  struct stat info {};
  if (::lstat(folder.c_str(), &info) != 0) {
    const int err = errno;
    if (err != ENOENT) {
      refuse_folder(err, folder, fmt::format("lstat(\"{}\")", folder.string()), "check the folder's permissions");
    }
    if (!create) return RunRegistry(folder);
    if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
      refuse_folder(errno, folder, fmt::format("mkdir(\"{}\", 0700)", folder.string()),
                    "set XDG_RUNTIME_DIR to a folder of yours where tilefork may create it");
    }
    if (::lstat(folder.c_str(), &info) != 0) {
      refuse_folder(errno, folder, fmt::format("lstat(\"{}\") after mkdir", folder.string()), {});
    }
  }
  check_folder(folder, info);
  return RunRegistry(folder);
}

fs::path RunRegistry::path_of(pid_t pid) const { return folder_ / fmt::format("{}.json", pid); }

std::vector<RunEntry> RunRegistry::running() const {
  std::vector<RunEntry> entries;
  std::error_code error;
  for (fs::directory_iterator it(folder_, error), end; !error && it != end; it.increment(error)) {
    const pid_t pid = pid_of_file_name(it->path().filename().string());
    if (pid == 0) continue;  // an AtomicFile's temporary, or something that is not ours to judge
    try {
      RunEntry entry = parse_run_entry(read_file(it->path()));
      if (entry.pid != pid) continue;
      if (entry_alive(entry)) {
        entries.push_back(std::move(entry));
        continue;
      }
    } catch (const std::exception&) {
      // A file that does not parse was not written by a run (runs write atomically): leave it.
      continue;
    }
    std::error_code ignored;
    fs::remove(it->path(), ignored);  // the run was killed before it could remove its entry
  }
  std::sort(entries.begin(), entries.end(), [](const RunEntry& a, const RunEntry& b) { return a.pid < b.pid; });
  return entries;
}

std::optional<RunEntry> RunRegistry::find(pid_t pid) const {
  for (RunEntry& entry : running()) {
    if (entry.pid == pid) return std::move(entry);
  }
  return std::nullopt;
}

bool RunRegistry::listed(pid_t pid) const noexcept {
  std::error_code error;
  return fs::exists(path_of(pid), error);
}

RunAnnouncement::RunAnnouncement(const RunRegistry& registry, const RunEntry& entry) : path_(registry.path_of(entry.pid)) {
  const std::string text = to_json(entry);
  AtomicFile file(path_.string());
  file.write({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  file.commit();
  (void)registry.running();  // sweeps the entries of runs that were killed
}

RunAnnouncement::~RunAnnouncement() {
  std::error_code error;
  fs::remove(path_, error);
  if (error) {
    std::fprintf(stderr, "tilefork: could not remove the run registry entry %s: %s\n", path_.c_str(),
                 error.message().c_str());
  }
}

std::string to_json(const RunEntry& entry) {
  const nlohmann::json json = {
      {"format", kEntryFormat},
      {"pid", entry.pid},
      {"start_ticks", entry.start_ticks},
      {"started_unix", entry.started_unix},
      {"uid", entry.uid},
      {"backend", std::string(to_string(entry.backend))},
      {"sysv_id", entry.sysv_id},
      {"posix_fd", entry.posix_fd},
      {"segment_bytes", entry.segment_bytes},
      {"slots", entry.slots},
      {"workers", entry.workers},
      {"planes", entry.planes},
      {"plane_bytes", entry.plane_bytes},
      {"pipeline", entry.pipeline},
      {"items", entry.items},
  };
  return json.dump(2) + "\n";
}

RunEntry parse_run_entry(const std::string& text) {
  const nlohmann::json json = nlohmann::json::parse(text);
  if (json.at("format").get<int>() != kEntryFormat) {
    throw std::runtime_error(fmt::format("run registry entry format {} is not {}", json.at("format").get<int>(),
                                         kEntryFormat));
  }
  RunEntry entry;
  entry.pid = json.at("pid").get<pid_t>();
  entry.start_ticks = json.at("start_ticks").get<std::uint64_t>();
  entry.started_unix = json.at("started_unix").get<double>();
  entry.uid = json.at("uid").get<uid_t>();
  entry.backend = parse_backend(json.at("backend").get<std::string>());
  entry.sysv_id = json.at("sysv_id").get<int>();
  entry.posix_fd = json.at("posix_fd").get<int>();
  entry.segment_bytes = json.at("segment_bytes").get<std::uint64_t>();
  entry.slots = json.at("slots").get<std::uint32_t>();
  entry.workers = json.at("workers").get<std::uint32_t>();
  entry.planes = json.at("planes").get<std::uint32_t>();
  entry.plane_bytes = json.at("plane_bytes").get<std::uint64_t>();
  entry.pipeline = json.at("pipeline").get<std::string>();
  entry.items = json.at("items").get<std::uint64_t>();
  return entry;
}

}  // namespace tilefork
