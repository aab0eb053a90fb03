// `tilefork bench --transport [...]`: measurements of what the design costs, one mode per question.
#include "commands.hpp"
#include "transport.hpp"

#include "tilefork/errors.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sys/utsname.h>
#include <unistd.h>

namespace tilefork::app {
namespace {

// The modes of `tilefork bench`, for the usage error and the help text.
constexpr std::string_view kModes =
    "  --transport  the cost of moving one frame to a worker process: shared segment (copied in, or in "
    "place), pipe, socketpair, message queue";

struct BenchArguments {
  bool transport = false;
  std::vector<std::string> sizes;
  std::vector<std::string> transports;
  int min_repetitions = 5;
  double min_seconds = 0.2;
  bool json = false;
  std::string csv;
};

// Signal handlers may only set a flag, and a handler cannot take parameters: hence a global.
volatile std::sig_atomic_t g_interrupted = 0;

void on_interrupt(int) { g_interrupted = 1; }

// SIGINT and SIGTERM set the flag for as long as the bench runs. No SA_RESTART: a blocking
// write() or read() returns EINTR, so the bench notices at once.
class InterruptFlag {
 public:
  InterruptFlag() {
    g_interrupted = 0;
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptFlag() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptFlag(const InterruptFlag&) = delete;
  InterruptFlag& operator=(const InterruptFlag&) = delete;

  bool raised() const noexcept { return g_interrupted != 0; }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

std::string kernel_release() {
  utsname name{};
  return uname(&name) == 0 ? name.release : "unknown";
}

// Time per frame relative to the in-place transfer of the same size, when that was measured.
class InPlaceReference {
 public:
  void note(const bench::TransferResult& result) {
    if (result.transport == bench::Transport::in_place) median_us_[result.frame_bytes] = result.median_us;
  }
  std::optional<double> ratio(const bench::TransferResult& result) const {
    const auto found = median_us_.find(result.frame_bytes);
    if (found == median_us_.end() || found->second <= 0) return std::nullopt;
    return result.median_us / found->second;
  }

 private:
  std::map<std::size_t, double> median_us_;
};

constexpr std::string_view kRowFormat = "{:<23} {:>8} {:>8} {:>10} {:>21} {:>7} {:>10}\n";

void print_header(const bench::TransportBenchOptions& options) {
  fmt::print(
      "tilefork bench --transport: each frame goes from this process to 1 forked worker, which checksums every "
      "byte it received and sends the checksum back; every transfer is verified.\n"
      "Per row: median of at least {} transfers and {:g} s (after 2 warm-ups); spread = first..third quartile; "
      "MB = 10^6 bytes; 'x in place' = time per frame / that of 'segment sysv, in place'.\n"
      "Segment handshake: {}.\n\n",
      options.min_repetitions, options.min_time.count(), bench::kSegmentHandshake);
  fmt::print(fmt::runtime(kRowFormat), "transport", "frame", "MB/s", "us/frame", "spread (us)", "reps", "x in place");
}

void print_row(const bench::TransferResult& result, std::optional<double> ratio) {
  fmt::print(fmt::runtime(kRowFormat), bench::display_name(result.transport), bench::format_size(result.frame_bytes),
             fmt::format("{:.0f}", result.mb_per_s()), fmt::format("{:.1f}", result.median_us),
             fmt::format("{:.1f}..{:.1f}", result.q1_us, result.q3_us), result.repetitions,
             ratio ? fmt::format("{:.2f}", *ratio) : std::string("-"));
  std::fflush(stdout);
}

void print_setups(const std::vector<bench::TransferResult>& results) {
  fmt::print("\nHow each transport was set up:\n");
  std::vector<bench::Transport> shown;
  for (const auto& result : results) {
    if (std::find(shown.begin(), shown.end(), result.transport) != shown.end()) continue;
    shown.push_back(result.transport);
    fmt::print("  {:<23} {}\n", bench::display_name(result.transport), result.setup);
  }
}

nlohmann::json to_json(const bench::TransportBenchOptions& options, const std::vector<bench::TransferResult>& results) {
  InPlaceReference reference;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& result : results) {
    reference.note(result);
    const auto ratio = reference.ratio(result);
    rows.push_back({{"transport", bench::to_string(result.transport)},
                    {"name", bench::display_name(result.transport)},
                    {"frame_bytes", result.frame_bytes},
                    {"repetitions", result.repetitions},
                    {"median_us", result.median_us},
                    {"q1_us", result.q1_us},
                    {"q3_us", result.q3_us},
                    {"min_us", result.min_us},
                    {"max_us", result.max_us},
                    {"mb_per_s", result.mb_per_s()},
                    {"x_in_place", ratio ? nlohmann::json(*ratio) : nlohmann::json(nullptr)},
                    {"setup", result.setup}});
  }
  return {{"mode", "transport"},
          {"machine", {{"cores", sysconf(_SC_NPROCESSORS_ONLN)}, {"kernel", kernel_release()}}},
          {"segment_handshake", bench::kSegmentHandshake},
          {"min_repetitions", options.min_repetitions},
          {"min_seconds", options.min_time.count()},
          {"results", rows}};
}

void write_csv(const std::string& path, const std::vector<bench::TransferResult>& results) {
  std::ofstream file(path, std::ios::trunc);
  if (file) {
    file << "transport,frame_bytes,repetitions,median_us,q1_us,q3_us,min_us,max_us,mb_per_s\n";
    for (const auto& result : results) {
      file << fmt::format("{},{},{},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{:.1f}\n", bench::to_string(result.transport),
                          result.frame_bytes, result.repetitions, result.median_us, result.q1_us, result.q3_us,
                          result.min_us, result.max_us, result.mb_per_s());
    }
    file.close();
  }
  if (!file) {
    const int err = errno;
    throw_system_error(err, fmt::format("could not write the CSV file '{}'", path), "std::ofstream",
                       "check that its folder exists and is writable");
  }
}

int run_transport_bench(const BenchArguments& arguments) {
  bench::TransportBenchOptions options;
  if (!arguments.sizes.empty()) {
    options.sizes.clear();
    for (const auto& text : arguments.sizes) options.sizes.push_back(bench::parse_size(text));
  }
  if (!arguments.transports.empty()) {
    // In the canonical order, in-place first: every other row of a size has its reference then.
    std::vector<bench::Transport> chosen;
    for (const auto& text : arguments.transports) chosen.push_back(bench::parse_transport(text));
    options.transports.clear();
    for (const bench::Transport transport : bench::all_transports()) {
      if (std::find(chosen.begin(), chosen.end(), transport) != chosen.end()) options.transports.push_back(transport);
    }
  }
  if (!arguments.csv.empty()) {
    // Before the minutes of measuring, not after.
    const std::filesystem::path folder = std::filesystem::absolute(arguments.csv).parent_path();
    if (access(folder.c_str(), W_OK) != 0) {
      throw UsageError(fmt::format("--csv '{}': the folder '{}' does not exist or is not writable", arguments.csv,
                                   folder.string()));
    }
  }
  options.min_repetitions = arguments.min_repetitions;
  options.min_time = std::chrono::duration<double>(arguments.min_seconds);

  const InterruptFlag interrupt;
  options.interrupted = [&interrupt] { return interrupt.raised(); };
  InPlaceReference reference;
  if (!arguments.json) print_header(options);
  std::vector<bench::TransferResult> results;
  std::size_t last_size = 0;
  try {
    results = bench::measure_transports(options, [&](const bench::TransferResult& result) {
      reference.note(result);
      if (arguments.json) return;
      if (last_size != 0 && result.frame_bytes != last_size) fmt::print("\n");
      last_size = result.frame_bytes;
      print_row(result, reference.ratio(result));
    });
  } catch (const bench::Interrupted&) {
    fmt::print(stderr, "tilefork: interrupted: the worker was stopped, nothing is left behind{}\n",
               arguments.csv.empty() ? "" : "; no CSV file was written");
    return kExitInterrupted;
  }
  if (arguments.json) {
    fmt::print("{}\n", to_json(options, results).dump(2));
  } else {
    print_setups(results);
  }
  if (!arguments.csv.empty()) write_csv(arguments.csv, results);
  return kExitOk;
}

}  // namespace

void add_bench_command(CLI::App& app, std::function<int()>& action) {
  auto* command = app.add_subcommand(
      "bench", fmt::format("measure what tilefork's design costs; choose one mode:\n{}", kModes));
  auto arguments = std::make_shared<BenchArguments>();
  command->add_flag("--transport", arguments->transport,
                    "mode: move frames between this process and one worker through each transport, and time it");
  command->add_option("--sizes", arguments->sizes, "frame sizes, e.g. 64K,1M,16MiB (default 64K,256K,1M,4M,16M,64M)")
      ->delimiter(',');
  command
      ->add_option("--transports", arguments->transports,
                   "which transports (default all): in-place, sysv, posix, pipe, socketpair, mqueue")
      ->delimiter(',');
  command->add_option("--min-repeat", arguments->min_repetitions, "at least this many timed transfers per row")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  command->add_option("--min-time", arguments->min_seconds, "and at least this many seconds of them per row")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  command->add_flag("--json", arguments->json, "print the results as JSON instead of a table");
  command->add_option("--csv", arguments->csv, "also write the results to this CSV file");
  command->callback([&action, arguments] {
    action = [arguments] {
      if (!arguments->transport) {
        throw UsageError(fmt::format("`tilefork bench` needs a mode:\n{}\n`tilefork bench --help` shows the options",
                                     kModes));
      }
      return run_transport_bench(*arguments);
    };
  });
}

}  // namespace tilefork::app
