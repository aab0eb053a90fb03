// `tilefork run`: gather inputs, plan outputs, run the batch, print one line per failure and a summary.
#include "commands.hpp"

#include "tilefork/errors.hpp"
#include "tilefork/executor.hpp"
#include "tilefork/external_worker.hpp"
#include "tilefork/frame_io.hpp"
#include "tilefork/pipeline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <set>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tilefork::app {
namespace {

struct RunArguments {
  std::string pipeline;
  std::vector<std::string> inputs;
  std::string output_dir;
  int workers = 0;
  std::string tile = "0x64";
  std::string backend = "sysv";
  std::string executor = "fork";
  int slots = 0;
  double task_timeout = 300;
  std::string worker_exec;
  bool quiet = false;
};

const std::set<std::string, std::less<>> kImageExtensions = {
    ".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".tif", ".tiff", ".webp",
    ".pgm", ".ppm", ".pbm", ".pnm", ".pxm", ".sr", ".ras", ".exr", ".hdr", ".pic", ".jp2"};

bool has_image_extension(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return kImageExtensions.contains(extension);
}

cv::Size parse_tile(std::string_view text) {
  if (text == "whole") return {0, 0};
  auto number = [&](std::string_view part) {
    int value = 0;
    const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (ec != std::errc{} || ptr != part.data() + part.size() || value < 0) {
      throw UsageError(fmt::format("--tile '{}' is not a tile size: give WxH (e.g. 256x256, or 0x64 for "
                                   "stripes of 64 rows: 0 is the whole width or height), N for NxN, or 'whole'",
                                   text));
    }
    return value;
  };
  const auto x = text.find('x');
  if (x == std::string_view::npos) {
    const int side = number(text);
    return {side, side};
  }
  return {number(text.substr(0, x)), number(text.substr(x + 1))};
}

// A file stands for itself; a folder for the image files directly in it (sorted, by extension).
// The output keeps the input's name, relative to the folder it was found in.
std::vector<WorkItem> gather_items(const RunArguments& arguments, const fs::path& output_dir) {
  std::vector<WorkItem> items;
  std::map<fs::path, std::string> outputs;  // output -> input, to refuse collisions
  auto add = [&](const fs::path& input, const fs::path& relative) {
    WorkItem item;
    item.input = input.string();
    item.output = (output_dir / relative).string();
    const fs::path canonical_output = fs::weakly_canonical(item.output);
    if (canonical_output == fs::weakly_canonical(input)) {
      throw UsageError(fmt::format("output '{}' would overwrite its input: choose another -o folder",
                                   item.output));
    }
    if (const auto [it, inserted] = outputs.emplace(canonical_output, item.input); !inserted) {
      throw UsageError(fmt::format("inputs '{}' and '{}' would both be written to '{}': rename one or run "
                                   "them separately", it->second, item.input, item.output));
    }
    items.push_back(std::move(item));
  };
  for (const auto& text : arguments.inputs) {
    const fs::path path(text);
    std::error_code error;
    const auto status = fs::status(path, error);
    if (!fs::exists(status)) {
      throw UsageError(fmt::format("input '{}' does not exist", text));
    }
    if (fs::is_directory(status)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(path, error)) {
        if (entry.is_regular_file() && has_image_extension(entry.path())) files.push_back(entry.path());
      }
      if (error) throw UsageError(fmt::format("cannot read folder '{}': {}", text, error.message()));
      std::sort(files.begin(), files.end());
      if (files.empty()) {
        throw UsageError(fmt::format("folder '{}' has no image files (looked for {} ...)", text,
                                     ".png .jpg .tif .bmp .webp"));
      }
      for (const auto& file : files) add(file, file.filename());
    } else {
      add(path, path.filename());
    }
  }
  return items;
}

void prepare_output_dir(const fs::path& dir) {
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_directory(dir, error)) {
    throw UsageError(fmt::format("output '{}' exists and is not a folder: give -o a folder", dir.string()));
  }
  fs::create_directories(dir, error);
  if (error) {
    throw UsageError(fmt::format("cannot create output folder '{}': {}; give -o a folder you can write",
                                 dir.string(), error.message()));
  }
  // Permission bits say little to root; try to make an (unnamed) file there instead.
  const int probe = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  const int err = errno;
  if (probe >= 0) {
    ::close(probe);
  } else if (err != EOPNOTSUPP && err != EISDIR) {
    throw UsageError(fmt::format("cannot write to output folder '{}': {}; give -o a folder you can write",
                                 dir.string(), std::strerror(err)));
  }
}

int run(const RunArguments& arguments) {
  if (!arguments.worker_exec.empty()) {
    for (const KernelSpec& spec : describe_external_worker(arguments.worker_exec)) {
      KernelRegistry::instance().add(spec);
    }
  }
  const Pipeline pipeline = Pipeline::parse(arguments.pipeline);
  RunOptions options;
  options.executor = parse_executor(arguments.executor);
  options.backend = parse_backend(arguments.backend);
  options.tile = parse_tile(arguments.tile);
  options.workers = arguments.workers;
  options.slots = arguments.slots;
  options.worker_exec = arguments.worker_exec;
  options.task_timeout = std::chrono::milliseconds(static_cast<long long>(arguments.task_timeout * 1000));

  const fs::path output_dir(arguments.output_dir);
  std::vector<WorkItem> items = gather_items(arguments, output_dir);
  prepare_output_dir(output_dir);
  for (WorkItem& item : items) {
    try {
      item.info = probe_image(item.input);
    } catch (const ImageError& error) {
      item.error = error.what();
    }
  }

  const RunReport report = run_batch(pipeline, items, options);

  std::size_t failed = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (report.items[i].ok) continue;
    ++failed;
    fmt::print(stderr, "tilefork: error: {}: {}\n", items[i].input, report.items[i].error);
  }
  if (!arguments.quiet) {
    const double megapixels = static_cast<double>(report.pixels) / 1e6;
    fmt::print(stderr,
               "tilefork: {} of {} frames written to {} ({:.1f} MP) in {:.2f} s: {:.1f} MP/s; "
               "pipeline \"{}\"; executor {}, {} worker{}, tiles {}{}\n",
               items.size() - failed, items.size(), output_dir.string(), megapixels, report.seconds,
               report.seconds > 0 ? megapixels / report.seconds : 0.0, pipeline.describe(),
               to_string(options.executor), report.workers, report.workers == 1 ? "" : "s",
               arguments.tile,
               options.executor == ExecutorKind::fork
                   ? fmt::format(", {} segment of {:.1f} MiB", to_string(options.backend),
                                 static_cast<double>(report.segment_bytes) / (1 << 20))
                   : std::string());
    if (report.workers_replaced > 0) {
      fmt::print(stderr, "tilefork: {} worker(s) died and were replaced\n", report.workers_replaced);
    }
  }
  if (report.interrupted) return kExitInterrupted;
  return failed == 0 ? kExitOk : kExitPartial;
}

}  // namespace

void add_run_command(CLI::App& app, std::function<int()>& action) {
  auto arguments = std::make_shared<RunArguments>();
  auto* command = app.add_subcommand("run", "filter image files or folders through a pipeline");
  command->add_option("--pipeline,-p", arguments->pipeline,
                      "stages separated by |, e.g. \"gaussian sigma=2 | sobel\"")->required();
  command->add_option("-o,--output", arguments->output_dir, "output folder (created if missing)")->required();
  command->add_option("inputs", arguments->inputs, "image files or folders")->required();
  command->add_option("--workers,-j", arguments->workers, "worker processes (default: one per core)")
      ->check(CLI::Range(1, 1024));
  command->add_option("--tile", arguments->tile,
                      "tile size WxH (0 = whole width or height; the default is stripes of 64 rows), N, or 'whole'")
      ->capture_default_str();
  command->add_option("--backend", arguments->backend, "shared memory: sysv, posix or anon")->capture_default_str();
  command->add_option("--executor", arguments->executor, "fork, threads or serial")->capture_default_str();
  command->add_option("--slots", arguments->slots, "frames in flight (default: workers + 1)")
      ->check(CLI::Range(1, 64));
  command->add_option("--task-timeout", arguments->task_timeout,
                      "seconds a load, tile or write may take before its worker is taken to hang, killed "
                      "and replaced (the task is retried once); 0: no limit")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();
  command->add_option("--worker-exec", arguments->worker_exec,
                      "a program offering more kernels, run beside each worker and working on the shared "
                      "segment in place (docs/worker-protocol.md)");
  command->add_flag("--quiet,-q", arguments->quiet, "print only errors");
  command->callback([&action, arguments] { action = [arguments] { return run(*arguments); }; });
}

}  // namespace tilefork::app
