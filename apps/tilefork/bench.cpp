// `tilefork bench --transport|--sweep [...]`: measurements of what the design costs, one mode per question.
#include "commands.hpp"
#include "sweep_command.hpp"
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
    "place), pipe, socketpair, message queue\n"
    "  --sweep      one pipeline over workers x tile sizes x backends x executors on frames in memory: table, CSV, "
    "JSON, PNG plots, and the configuration to use";

struct BenchArguments {
  bool transport = false;
  bool sweep = false;
  std::vector<std::string> sizes;
  std::vector<std::string> transports;
  int min_repetitions = 5;
  std::optional<double> min_seconds;  // each mode has its own default
  std::optional<std::string> json;    // "": on standard output, instead of the table
  std::string csv;
  SweepArguments sweep_arguments;
};

constexpr double kTransportMinSeconds = 0.2;
constexpr double kSweepMinSeconds = 0.5;

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
  if (arguments.json && !arguments.json->empty()) {
    const std::filesystem::path folder = std::filesystem::absolute(*arguments.json).parent_path();
    if (access(folder.c_str(), W_OK) != 0) {
      throw UsageError(fmt::format("--json '{}': the folder '{}' does not exist or is not writable", *arguments.json,
                                   folder.string()));
    }
  }
  // JSON on standard output replaces the table; JSON into a file comes with it.
  const bool table = !arguments.json || !arguments.json->empty();
  options.min_repetitions = arguments.min_repetitions;
  options.min_time = std::chrono::duration<double>(arguments.min_seconds.value_or(kTransportMinSeconds));

  const InterruptFlag interrupt;
  options.interrupted = [&interrupt] { return interrupt.raised(); };
  InPlaceReference reference;
  if (table) print_header(options);
  std::vector<bench::TransferResult> results;
  std::size_t last_size = 0;
  try {
    results = bench::measure_transports(options, [&](const bench::TransferResult& result) {
      reference.note(result);
      if (!table) return;
      if (last_size != 0 && result.frame_bytes != last_size) fmt::print("\n");
      last_size = result.frame_bytes;
      print_row(result, reference.ratio(result));
    });
  } catch (const bench::Interrupted&) {
    fmt::print(stderr, "tilefork: interrupted: the worker was stopped, nothing is left behind{}\n",
               arguments.csv.empty() && !arguments.json ? "" : "; no file was written");
    return kExitInterrupted;
  }
  if (table) print_setups(results);
  if (arguments.json && arguments.json->empty()) fmt::print("{}\n", to_json(options, results).dump(2));
  if (arguments.json && !arguments.json->empty()) {
    std::ofstream file(*arguments.json, std::ios::trunc);
    if (file) {
      file << to_json(options, results).dump(2) << "\n";
      file.close();
    }
    if (!file) {
      const int err = errno;
      throw_system_error(err, fmt::format("could not write the JSON file '{}'", *arguments.json), "std::ofstream",
                         "check that its folder exists and is writable");
    }
  }
  if (!arguments.csv.empty()) write_csv(arguments.csv, results);
  return kExitOk;
}

// Options that belong to one mode only: given with the other, they would be ignored silently.
void refuse_foreign_options(const CLI::App& command, const std::vector<std::string>& names, std::string_view mode) {
  for (const auto& name : names) {
    if (command.get_option(name)->count() > 0) {
      throw UsageError(fmt::format("{} is not an option of `tilefork bench {}`", name, mode));
    }
  }
}

}  // namespace

void add_bench_command(CLI::App& app, std::function<int()>& action) {
  auto* command = app.add_subcommand(
      "bench", fmt::format("measure what tilefork's design costs; choose one mode:\n{}", kModes));
  auto arguments = std::make_shared<BenchArguments>();
  SweepArguments& sweep = arguments->sweep_arguments;
  command->add_flag("--transport", arguments->transport,
                    "mode: move frames between this process and one worker through each transport, and time it");
  command->add_flag("--sweep", arguments->sweep,
                    "mode: run one pipeline over workers x tiles x backends x executors, and recommend a configuration");
  // --transport
  command->add_option("--sizes", arguments->sizes,
                      "--transport: frame sizes, e.g. 64K,1M,16MiB (default 64K,256K,1M,4M,16M,64M)")
      ->delimiter(',');
  command
      ->add_option("--transports", arguments->transports,
                   "--transport: which transports (default all): in-place, sysv, posix, pipe, socketpair, mqueue")
      ->delimiter(',');
  command->add_option("--min-repeat", arguments->min_repetitions, "--transport: at least this many timed transfers per row")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  // --sweep
  command->add_option("-p,--pipeline", sweep.pipeline, "--sweep: the pipeline to measure")->capture_default_str();
  command->add_option("--frames", sweep.frames,
                      "--sweep: image files and folders, decoded once and held in memory (default: the bundled "
                      "samples/frames, or synthetic frames when they are not found)");
  command->add_option("--workers", sweep.workers,
                      "--sweep: worker counts, e.g. 1,2,4 (default 1, the powers of two below the cores, the cores)")
      ->delimiter(',');
  command->add_option("--tiles", sweep.tiles, "--sweep: tile sizes (default 0x64,0x128,256x256,whole)")
      ->delimiter(',');
  command->add_option("--backends", sweep.backends, "--sweep: the fork executor's backends (default sysv): sysv, posix, anon")
      ->delimiter(',');
  command
      ->add_option("--executors", sweep.executors,
                   "--sweep: executors (default fork,threads,serial); serial is always measured, as the reference")
      ->delimiter(',');
  command->add_option("--repeat", sweep.repetitions, "--sweep: at least this many timed runs per configuration")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  command->add_option("--plot-dir", sweep.plot_dir,
                      "--sweep: write the plots here (created if missing): sweep-speedup.png, sweep-tiles.png");
  // Both modes
  command->add_option("--min-time", arguments->min_seconds,
                      fmt::format("and at least this many seconds of them per row (default {:g} for --transport, "
                                  "{:g} for --sweep)",
                                  kTransportMinSeconds, kSweepMinSeconds))
      ->check(CLI::Range(0.0, 3600.0));
  command->add_option("--json", arguments->json,
                      "print the results as JSON instead of the table; --json FILE writes them to FILE as well as the "
                      "table")
      ->expected(0, 1);
  command->add_option("--csv", arguments->csv, "also write the results to this CSV file");
  command->callback([&action, arguments, command] {
    action = [arguments, command] {
      if (arguments->transport == arguments->sweep) {
        throw UsageError(fmt::format("`tilefork bench` needs {} mode:\n{}\n`tilefork bench --help` shows the options",
                                     arguments->transport ? "one" : "a", kModes));
      }
      if (arguments->sweep) {
        refuse_foreign_options(*command, {"--sizes", "--transports", "--min-repeat"}, "--sweep");
        SweepArguments asked = arguments->sweep_arguments;
        asked.min_seconds = arguments->min_seconds.value_or(kSweepMinSeconds);
        asked.json = arguments->json;
        asked.csv = arguments->csv;
        const InterruptFlag interrupt;
        return run_sweep_bench(asked, [&interrupt] { return interrupt.raised(); });
      }
      refuse_foreign_options(*command,
                             {"--pipeline", "--frames", "--workers", "--tiles", "--backends", "--executors", "--repeat",
                              "--plot-dir"},
                             "--transport");
      return run_transport_bench(*arguments);
    };
  });
}

}  // namespace tilefork::app
