// `tilefork bench --sweep`: finds and decodes the frames, runs the sweep, prints the table and the
// recommendation, writes the CSV, JSON and PNG plots.
#include "sweep_command.hpp"

#include "commands.hpp"
#include "plot.hpp"
#include "sweep.hpp"
#include "transport.hpp"  // Interrupted

#include "tilefork/errors.hpp"
#include "tilefork/frame_io.hpp"
#include "tilefork/pipeline.hpp"
#include "tilefork/tile.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sys/utsname.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tilefork::app {
namespace {

using bench::SweepReport;
using bench::SweepResult;

const cv::Size kSyntheticSize(1920, 1080);
constexpr int kSyntheticCount = 4;
constexpr std::string_view kSpeedupPlot = "sweep-speedup.png";
constexpr std::string_view kTilePlot = "sweep-tiles.png";

// Where the frames came from, for the reports.
struct Frames {
  std::vector<bench::SweepFrame> frames;
  std::string source;
};

// The image files of a folder, sorted; OpenCV decides what is an image, by its signature.
std::vector<fs::path> images_in(const fs::path& folder) {
  std::vector<fs::path> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    if (entry.is_regular_file(error) && cv::haveImageReader(entry.path().string())) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bench::SweepFrame decode(const fs::path& path) {
  try {
    return {path.string(), load_image(path.string())};
  } catch (const ImageError& error) {
    throw UsageError(fmt::format("--frames: {}", error.what()));
  }
}

// The bundled samples/frames: above the binary (a build folder inside the source tree), else
// where the source tree was when this binary was built.
std::optional<fs::path> sample_frames() {
  std::vector<fs::path> candidates;
  std::error_code error;
  const fs::path binary = fs::read_symlink("/proc/self/exe", error);
  if (!error) {
    fs::path folder = binary.parent_path();
    for (int up = 0; up < 6 && folder.has_relative_path(); ++up, folder = folder.parent_path()) {
      candidates.push_back(folder / "samples" / "frames");
    }
  }
  candidates.emplace_back(TILEFORK_SAMPLE_FRAMES);
  for (const auto& candidate : candidates) {
    if (fs::is_directory(candidate, error) && !images_in(candidate).empty()) return candidate;
  }
  return std::nullopt;
}

Frames gather_frames(const std::vector<std::string>& arguments) {
  Frames gathered;
  if (arguments.empty()) {
    if (const auto folder = sample_frames()) {
      for (const auto& path : images_in(*folder)) gathered.frames.push_back(decode(path));
      std::error_code error;
      const fs::path relative = fs::relative(*folder, error);
      gathered.source = error || relative.empty() || relative.string().starts_with("..") ? folder->string()
                                                                                        : relative.string();
      return gathered;
    }
    gathered.frames = bench::synthetic_frames(kSyntheticCount, kSyntheticSize);
    gathered.source = fmt::format(
        "{} synthetic photo-like frames of {}x{} (the bundled sample frames were not found next to this binary: "
        "give --frames for figures on real photographs)",
        kSyntheticCount, kSyntheticSize.width, kSyntheticSize.height);
    return gathered;
  }
  for (const auto& argument : arguments) {
    std::error_code error;
    if (fs::is_directory(argument, error)) {
      const auto files = images_in(argument);
      if (files.empty()) throw UsageError(fmt::format("--frames '{}': the folder holds no image OpenCV can read", argument));
      for (const auto& path : files) gathered.frames.push_back(decode(path));
    } else if (fs::exists(argument, error)) {
      gathered.frames.push_back(decode(argument));
    } else {
      throw UsageError(fmt::format("--frames '{}': no such file or folder", argument));
    }
  }
  gathered.source = fmt::format("{}", fmt::join(arguments, " "));
  return gathered;
}

std::vector<int> parse_workers(const std::vector<std::string>& texts) {
  std::vector<int> counts;
  for (const auto& text : texts) {
    int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value < 1 || value > 1024) {
      throw UsageError(fmt::format("--workers '{}' is not a worker count: give whole numbers from 1, e.g. 1,2,4", text));
    }
    if (std::find(counts.begin(), counts.end(), value) == counts.end()) counts.push_back(value);
  }
  std::sort(counts.begin(), counts.end());
  return counts;
}

// Refuses, before the minutes of measuring, an output whose folder is missing or read-only.
void check_writable(const std::string& path, std::string_view option) {
  const fs::path folder = fs::absolute(path).parent_path();
  if (access(folder.c_str(), W_OK) != 0) {
    throw UsageError(
        fmt::format("{} '{}': the folder '{}' does not exist or is not writable", option, path, folder.string()));
  }
}

void prepare_plot_dir(const std::string& path) {
  std::error_code error;
  fs::create_directories(path, error);
  if (error || access(path.c_str(), W_OK) != 0) {
    throw UsageError(fmt::format("--plot-dir '{}': could not create it or it is not writable{}", path,
                                 error ? ": " + error.message() : std::string()));
  }
}

std::string kernel_release() {
  utsname name{};
  return uname(&name) == 0 ? name.release : "unknown";
}

double load_average() {
  double loads[1] = {0};
  return getloadavg(loads, 1) == 1 ? loads[0] : -1;
}

std::string optional_number(const std::optional<double>& value, std::string_view format) {
  return value ? fmt::format(fmt::runtime(format), *value) : std::string("-");
}

std::string backend_of(const SweepResult& result) {
  return result.configuration.executor == ExecutorKind::fork ? std::string(to_string(result.configuration.backend))
                                                             : std::string();
}

constexpr std::string_view kRowFormat = "{:<8} {:<7} {:>7} {:>8} {:>7} {:>13} {:>5} {:>8} {:>10}\n";

void print_header(std::FILE* out, const Frames& frames, const SweepReport& plan, const bench::SweepOptions& options) {
  fmt::print(out,
             "tilefork bench --sweep: pipeline \"{}\" on {} frame{} ({:.1f} MP per run) from {}.\n"
             "The frames were decoded once and are held in memory, and no result is encoded: the runs measure the "
             "pipeline, not the disk or the codecs.\n"
             "Per row: 1 warm-up run, then the median of at least {} timed run{} and {:g} s; spread = slowest..fastest "
             "run; speed-up = serial time with the same tile / time; efficiency = speed-up / workers. A run is one "
             "run_batch() call: for fork it includes creating the segment and forking the workers.\n"
             "Machine: {} cores usable, Linux {}, load average {:.2f} at the start.\n\n",
             options.pipeline, frames.frames.size(), frames.frames.size() == 1 ? "" : "s", plan.megapixels,
             frames.source, options.repetitions, options.repetitions == 1 ? "" : "s", options.min_time.count(),
             resolve_workers({}), kernel_release(), load_average());
  fmt::print(out, fmt::runtime(kRowFormat), "executor", "backend", "workers", "tile", "MP/s", "spread (MP/s)", "runs",
             "speed-up", "efficiency");
}

void print_row(std::FILE* out, const SweepResult& result) {
  const auto& configuration = result.configuration;
  const std::string backend = backend_of(result);
  fmt::print(out, fmt::runtime(kRowFormat), to_string(configuration.executor), backend.empty() ? "-" : backend,
             configuration.executor == ExecutorKind::serial ? std::string("-") : std::to_string(configuration.workers),
             bench::format_tile_size(configuration.tile), fmt::format("{:.0f}", result.median_mps),
             fmt::format("{:.0f}..{:.0f}", result.min_mps, result.max_mps), result.seconds.size(),
             optional_number(result.speedup, "{:.2f}"),
             result.efficiency ? fmt::format("{:.0f}%", *result.efficiency * 100) : std::string("-"));
  std::fflush(out);
}

void print_recommendation(std::FILE* out, const SweepReport& report) {
  const auto& recommendation = report.recommendation;
  const SweepResult& fastest = report.results.at(recommendation.fastest);
  const SweepResult& chosen = report.chosen();
  fmt::print(out, "\nFastest: {}: {:.0f} MP/s (spread {:.0f}..{:.0f}).\n", fastest.configuration.describe(),
             fastest.median_mps, fastest.min_mps, fastest.max_mps);
  fmt::print(out, "Recommended: {}: {}.\n  {}\n", chosen.configuration.describe(), recommendation.why,
             recommendation.command);
  if (std::any_of(report.results.begin(), report.results.end(), [](const auto& r) { return r.reference_only; })) {
    fmt::print(out, "(serial was measured as the reference of the speed-ups only: it is never recommended when "
                    "--executors leaves it out.)\n");
  }
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json to_json(const SweepReport& report, const Frames& frames, const bench::SweepOptions& options,
                       const std::vector<std::string>& plots) {
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t i = 0; i < report.results.size(); ++i) {
    const SweepResult& result = report.results[i];
    const auto& configuration = result.configuration;
    const std::string backend = backend_of(result);
    rows.push_back({{"executor", to_string(configuration.executor)},
                    {"backend", backend.empty() ? nlohmann::json(nullptr) : nlohmann::json(backend)},
                    {"workers", configuration.workers},
                    {"tile", bench::format_tile_size(configuration.tile)},
                    {"tile_width", configuration.tile.width},
                    {"tile_height", configuration.tile.height},
                    {"runs", result.seconds.size()},
                    {"seconds", result.seconds},
                    {"median_seconds", result.median_seconds()},
                    {"megapixels", result.megapixels},
                    {"median_mps", result.median_mps},
                    {"min_mps", result.min_mps},
                    {"max_mps", result.max_mps},
                    {"speedup", optional_json(result.speedup)},
                    {"efficiency", optional_json(result.efficiency)},
                    {"reference_only", result.reference_only},
                    {"recommended", i == report.recommendation.chosen}});
  }
  nlohmann::json frame_list = nlohmann::json::array();
  for (const auto& frame : frames.frames) {
    frame_list.push_back({{"name", frame.name},
                          {"width", frame.image.cols},
                          {"height", frame.image.rows},
                          {"type", to_string(FrameType{frame.image.depth(), frame.image.channels()})}});
  }
  const auto& chosen = report.chosen().configuration;
  const std::string chosen_backend = backend_of(report.chosen());
  return {{"mode", "sweep"},
          {"pipeline", report.pipeline},
          {"frames", frame_list},
          {"frame_source", frames.source},
          {"frames_in_memory", true},
          {"megapixels_per_run", report.megapixels},
          {"warmup_runs", 1},
          {"repetitions", options.repetitions},
          {"min_seconds", options.min_time.count()},
          {"machine",
           {{"cores", sysconf(_SC_NPROCESSORS_ONLN)},
            {"usable_cores", resolve_workers({})},
            {"kernel", kernel_release()},
            {"load_average", load_average()}}},
          {"results", rows},
          {"recommendation",
           {{"index", report.recommendation.chosen},
            {"fastest_index", report.recommendation.fastest},
            {"executor", to_string(chosen.executor)},
            {"backend", chosen_backend.empty() ? nlohmann::json(nullptr) : nlohmann::json(chosen_backend)},
            {"workers", chosen.workers},
            {"tile", bench::format_tile_size(chosen.tile)},
            {"median_mps", report.chosen().median_mps},
            {"why", report.recommendation.why},
            {"command", report.recommendation.command}}},
          {"plots", plots}};
}

// Writes through a stream and reports a failure with errno, as a SystemError.
void write_text(const std::string& path, const std::string& text, std::string_view what) {
  std::ofstream file(path, std::ios::trunc);
  if (file) {
    file << text;
    file.close();
  }
  if (!file) {
    const int err = errno;
    throw_system_error(err, fmt::format("could not write the {} file '{}'", what, path), "std::ofstream",
                       "check that its folder exists and is writable");
  }
}

std::string to_csv(const SweepReport& report) {
  std::string text =
      "executor,backend,workers,tile,tile_width,tile_height,runs,megapixels,median_seconds,median_mps,min_mps,max_mps,"
      "speedup,efficiency,recommended\n";
  for (std::size_t i = 0; i < report.results.size(); ++i) {
    const SweepResult& result = report.results[i];
    const auto& configuration = result.configuration;
    text += fmt::format("{},{},{},{},{},{},{},{:.3f},{:.6f},{:.2f},{:.2f},{:.2f},{},{},{}\n",
                        to_string(configuration.executor), backend_of(result), configuration.workers,
                        bench::format_tile_size(configuration.tile), configuration.tile.width,
                        configuration.tile.height, result.seconds.size(), result.megapixels, result.median_seconds(),
                        result.median_mps, result.min_mps, result.max_mps,
                        result.speedup ? fmt::format("{:.4f}", *result.speedup) : std::string(),
                        result.efficiency ? fmt::format("{:.4f}", *result.efficiency) : std::string(),
                        i == report.recommendation.chosen ? 1 : 0);
  }
  return text;
}

void write_png(const std::string& path, const cv::Mat& image) {
  bool written = false;
  try {
    // Flat colours and thin lines: the strongest compression keeps a plot to a few tens of KB.
    written = cv::imwrite(path, image, {cv::IMWRITE_PNG_COMPRESSION, 9});
  } catch (const cv::Exception& error) {
    throw std::runtime_error(fmt::format("could not write the plot '{}': {}", path, error.what()));
  }
  if (!written) throw std::runtime_error(fmt::format("could not write the plot '{}'", path));
}

}  // namespace

int run_sweep_bench(const SweepArguments& arguments, const std::function<bool()>& interrupted) {
  bench::SweepOptions options;
  options.pipeline = arguments.pipeline;
  options.workers = parse_workers(arguments.workers);
  if (!arguments.tiles.empty()) {
    options.tiles.clear();
    for (const auto& text : arguments.tiles) options.tiles.push_back(parse_tile_size(text, "tile"));
  }
  if (!arguments.backends.empty()) {
    options.backends.clear();
    for (const auto& text : arguments.backends) options.backends.push_back(parse_backend(text));
  }
  if (!arguments.executors.empty()) {
    options.executors.clear();
    for (const auto& text : arguments.executors) options.executors.push_back(parse_executor(text));
  }
  options.repetitions = arguments.repetitions;
  options.min_time = std::chrono::duration<double>(arguments.min_seconds);
  options.interrupted = interrupted;
  Pipeline::parse(options.pipeline);  // its errors before anything is printed
  if (!arguments.csv.empty()) check_writable(arguments.csv, "--csv");
  if (arguments.json && !arguments.json->empty()) check_writable(*arguments.json, "--json");
  if (!arguments.plot_dir.empty()) prepare_plot_dir(arguments.plot_dir);

  Frames frames = gather_frames(arguments.frames);
  options.frames = frames.frames;
  // The table goes where the JSON does not.
  std::FILE* table = arguments.json && arguments.json->empty() ? stderr : stdout;
  SweepReport plan;
  for (const auto& frame : frames.frames) plan.megapixels += static_cast<double>(frame.image.total()) / 1e6;
  print_header(table, frames, plan, options);

  SweepReport report;
  try {
    report = bench::run_sweep(options, [table](const SweepResult& result) { print_row(table, result); });
  } catch (const bench::Interrupted&) {
    fmt::print(stderr, "tilefork: interrupted: every worker was stopped, nothing is left behind; no file was written\n");
    return kExitInterrupted;
  }
  print_recommendation(table, report);

  std::vector<std::string> plots;
  if (!arguments.plot_dir.empty()) {
    const std::string speedup = (fs::path(arguments.plot_dir) / kSpeedupPlot).string();
    const std::string tiles = (fs::path(arguments.plot_dir) / kTilePlot).string();
    write_png(speedup, bench::draw_chart(bench::speedup_chart(report)));
    write_png(tiles, bench::draw_chart(bench::tile_chart(report)));
    plots = {speedup, tiles};
  }
  if (!arguments.csv.empty()) write_text(arguments.csv, to_csv(report), "CSV");
  if (arguments.json) {
    const std::string text = to_json(report, frames, options, plots).dump(2) + "\n";
    if (arguments.json->empty()) {
      fmt::print("{}", text);
    } else {
      write_text(*arguments.json, text, "JSON");
    }
  }
  for (const auto& path : plots) fmt::print(table, "Wrote {}\n", path);
  if (!arguments.csv.empty()) fmt::print(table, "Wrote {}\n", arguments.csv);
  if (arguments.json && !arguments.json->empty()) fmt::print(table, "Wrote {}\n", *arguments.json);
  return kExitOk;
}

}  // namespace tilefork::app
