// `tilefork run`: plan the batch, run it, print one line per failure and a summary (or JSON).
#include "commands.hpp"
#include "inputs.hpp"

#include "tilefork/errors.hpp"
#include "tilefork/executor.hpp"
#include "tilefork/external_worker.hpp"
#include "tilefork/frame_io.hpp"
#include "tilefork/pipeline.hpp"
#include "tilefork/tile.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <set>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tilefork::app {
namespace {

struct RunArguments {
  std::string pipeline;
  std::vector<std::string> inputs;
  std::string output_dir;
  OutputRules rules;
  bool recursive = false;
  bool overwrite = false;
  bool skip_existing = false;
  bool dry_run = false;
  bool json = false;
  int workers = 0;
  std::string tile = "0x64";
  std::string backend = "sysv";
  std::string executor = "fork";
  int slots = 0;
  double task_timeout = 300;
  std::string worker_exec;
  bool quiet = false;
};

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

// Outputs that exist already: refused unless --overwrite, skipped with --skip-existing when
// at least as new as their input (outputs are written whole or not at all, so one that exists
// is complete). Returns the indices of the items to skip.
std::set<std::size_t> existing_outputs(const std::vector<WorkItem>& items, const RunArguments& arguments) {
  std::set<std::size_t> skip;
  std::vector<std::string> clashes;
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::error_code error;
    const auto output_time = fs::last_write_time(items[i].output, error);
    if (error) continue;  // no such output
    if (arguments.skip_existing && output_time >= fs::last_write_time(items[i].input, error) && !error) {
      skip.insert(i);
    } else if (!arguments.overwrite && !arguments.skip_existing) {
      clashes.push_back(items[i].output);
    }
  }
  if (!clashes.empty()) {
    throw UsageError(fmt::format("{} output{} exist already ('{}'{}): add --overwrite to replace them or "
                                 "--skip-existing to keep them and do the rest",
                                 clashes.size(), clashes.size() == 1 ? "" : "s", clashes.front(),
                                 clashes.size() > 1 ? ", ..." : ""));
  }
  return skip;
}

void print_plan(const Pipeline& pipeline, std::vector<WorkItem>& items, const RunOptions& options,
                std::size_t skipped) {
  std::size_t unreadable = 0;
  for (const auto& item : items) unreadable += item.error.empty() ? 0 : 1;
  fmt::print("pipeline: {}\n", pipeline.describe());
  fmt::print("items: {} to do, {} skipped as done, {} unreadable\n", items.size() - unreadable, skipped, unreadable);
  fmt::print("executor: {}, {} worker(s), tiles {}x{} (0 = whole width or height)\n", to_string(options.executor),
             resolve_workers(options), options.tile.width, options.tile.height);
  if (options.executor == ExecutorKind::fork) {
    const SegmentShape shape = plan_segment(pipeline, items, options);
    fmt::print("segment: {} backend, {} slot(s) x {} plane(s) x {:.1f} MiB = {:.1f} MiB\n", to_string(options.backend),
               shape.slots, shape.planes, static_cast<double>(shape.plane_bytes) / (1 << 20),
               static_cast<double>(shape.segment_bytes) / (1 << 20));
  }
  for (const auto& item : items) {
    if (!item.error.empty()) {
      fmt::print("  {} -> {}: will fail: {}\n", item.input, item.output, item.error);
      continue;
    }
    std::string tiles;
    try {
      const FramePlan plan = pipeline.plan(item.info.type, item.info.size);
      for (std::uint32_t s = 0; s < pipeline.stages().size(); ++s) {
        tiles += fmt::format("{}{}", s == 0 ? "" : "+", plan.task_count(pipeline, s, options.tile));
      }
    } catch (const std::exception& error) {
      tiles = error.what();
    }
    fmt::print("  {} -> {} ({}x{} {}; tasks per stage {})\n", item.input, item.output, item.info.size.width,
               item.info.size.height, to_string(item.info.type), tiles);
  }
}

nlohmann::json summary_json(const Pipeline& pipeline, const std::vector<WorkItem>& items, const RunReport& report,
                            const std::set<std::size_t>& skipped, const std::vector<std::size_t>& ran) {
  nlohmann::json list = nlohmann::json::array();
  std::vector<const ItemResult*> result_of(items.size(), nullptr);
  for (std::size_t k = 0; k < ran.size(); ++k) result_of[ran[k]] = &report.items[k];
  std::size_t ok = 0;
  std::size_t failed = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    nlohmann::json entry = {{"input", items[i].input}, {"output", items[i].output}};
    if (skipped.contains(i)) {
      entry["status"] = "skipped";
    } else if (result_of[i] != nullptr && result_of[i]->ok) {
      entry["status"] = "ok";
      ++ok;
    } else {
      entry["status"] = "failed";
      entry["error"] = result_of[i] != nullptr ? result_of[i]->error : "not run";
      ++failed;
    }
    list.push_back(std::move(entry));
  }
  return {{"pipeline", pipeline.describe()},
          {"items", list},
          {"totals", {{"ok", ok}, {"failed", failed}, {"skipped", skipped.size()}}},
          {"seconds", report.seconds},
          {"megapixels", static_cast<double>(report.pixels) / 1e6},
          {"workers", report.workers},
          {"workers_replaced", report.workers_replaced},
          {"segment_bytes", report.segment_bytes},
          {"interrupted", report.interrupted}};
}

int run(const RunArguments& arguments) {
  if (!arguments.worker_exec.empty()) {
    for (const KernelSpec& spec : describe_external_worker(arguments.worker_exec)) {
      try {
        KernelRegistry::instance().add(spec);
      } catch (const UsageError& error) {
        throw UsageError(fmt::format("--worker-exec '{}': {}", arguments.worker_exec, error.what()));
      }
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

  OutputRules rules = arguments.rules;
  rules.folder = arguments.output_dir;
  rules.pipeline = pipeline.describe();
  std::vector<WorkItem> items = gather_items(arguments.inputs, arguments.recursive, rules, std::cin);
  const std::set<std::size_t> skipped = existing_outputs(items, arguments);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (skipped.contains(i)) continue;
    try {
      items[i].info = probe_image(items[i].input);
    } catch (const ImageError& error) {
      items[i].error = error.what();
    }
  }
  if (arguments.dry_run) {
    std::vector<WorkItem> todo;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!skipped.contains(i)) todo.push_back(items[i]);
    }
    print_plan(pipeline, todo, options, skipped.size());
    return kExitOk;
  }

  // Folders of the outputs (mirrored subfolders included) exist before any worker writes.
  prepare_output_dir(arguments.output_dir);
  std::vector<WorkItem> todo;
  std::vector<std::size_t> ran;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (skipped.contains(i)) continue;
    std::error_code error;
    fs::create_directories(fs::path(items[i].output).parent_path(), error);
    todo.push_back(items[i]);
    ran.push_back(i);
  }
  const RunReport report = run_batch(pipeline, todo, options);

  std::size_t failed = 0;
  for (std::size_t k = 0; k < todo.size(); ++k) {
    if (report.items[k].ok) continue;
    ++failed;
    fmt::print(stderr, "tilefork: error: {}: {}\n", todo[k].input, report.items[k].error);
  }
  if (arguments.json) {
    fmt::print("{}\n", summary_json(pipeline, items, report, skipped, ran).dump(2));
  }
  if (!arguments.quiet) {
    const double megapixels = static_cast<double>(report.pixels) / 1e6;
    fmt::print(stderr,
               "tilefork: {} of {} frames written to {}{} ({:.1f} MP) in {:.2f} s: {:.1f} MP/s; "
               "pipeline \"{}\"; executor {}, {} worker{}, tiles {}{}\n",
               todo.size() - failed, todo.size(), arguments.output_dir,
               skipped.empty() ? "" : fmt::format(", {} skipped as done", skipped.size()), megapixels,
               report.seconds, report.seconds > 0 ? megapixels / report.seconds : 0.0, pipeline.describe(),
               to_string(options.executor), report.workers, report.workers == 1 ? "" : "s", arguments.tile,
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
  auto* command = app.add_subcommand("run", "filter image files, folders or patterns through a pipeline");
  command->add_option("--pipeline,-p", arguments->pipeline,
                      "stages separated by |, e.g. \"gaussian sigma=2 | sobel\"")->required();
  command->add_option("-o,--output", arguments->output_dir, "output folder (created if missing)")->required();
  command->add_option("inputs", arguments->inputs,
                      "image files, folders, quoted patterns (\"shots/*.jpg\"), or - for paths on standard input")
      ->required();
  command->add_flag("--recursive,-r", arguments->recursive, "take folders' subfolders too, mirrored in the output");
  command->add_option("--name", arguments->rules.name,
                      "output file name: {stem} {ext} {index} {pipeline}")->capture_default_str();
  command->add_option("--format", arguments->rules.format, "output format: same, png, jpg, tif or webp")
      ->capture_default_str();
  command->add_option("--quality", arguments->rules.quality, "JPEG/WebP quality 1..100 (default: JPEG 95, WebP lossless)")
      ->check(CLI::Range(1, 100));
  command->add_flag("--overwrite", arguments->overwrite, "replace outputs that exist");
  command->add_flag("--skip-existing", arguments->skip_existing,
                    "resume: keep outputs that exist and are newer than their input, do the rest");
  command->add_flag("--dry-run", arguments->dry_run, "print the plan (items, slots, segment, tasks) and stop");
  command->add_flag("--json", arguments->json, "print a JSON summary (per item status, totals, timings) on stdout");
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
  command->callback([&action, arguments] {
    if (arguments->overwrite && arguments->skip_existing) {
      throw CLI::ValidationError("--overwrite and --skip-existing", "choose one of them");
    }
    action = [arguments] { return run(*arguments); };
  });
}

}  // namespace tilefork::app
