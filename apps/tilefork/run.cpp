// `tilefork run`: plan the batch, run it, print one line per failure and a summary (or JSON).
#include "commands.hpp"
#include "inputs.hpp"
#include "profile_report.hpp"
#include "progress.hpp"

#include "tilefork/errors.hpp"
#include "tilefork/executor.hpp"
#include "tilefork/external_worker.hpp"
#include "tilefork/frame_io.hpp"
#include "tilefork/pipeline.hpp"
#include "tilefork/profile.hpp"
#include "tilefork/tile.hpp"
#include "tilefork/video.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <optional>
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
  std::string shard;
  int shards = 0;
  std::string codec;
  double fps = 0;
  double progress_interval = 10;
  std::string trace_path;
  bool summary = false;
  bool compare_serial = false;
};

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

// One input of the run (an image file or a video) and what became of it.
struct Input {
  WorkItem item;                    // input, output, header (images) or the reason it cannot run
  std::optional<VideoInfo> video;   // a video's stream properties
  bool skipped = false;             // --skip-existing found its output done
  std::size_t frames = 1;           // frames it stands for in the run (a video: as its header announces)
  std::size_t frames_absent = 0;    // video frames announced and not in the stream
  std::size_t frames_extra = 0;     // video frames in the stream past the announced ones (run too)
  // The frames a video's stream held, when it was read to its end.
  std::size_t frames_held() const { return frames - frames_absent + frames_extra; }
  bool ok = false;
  std::string error;
};

// Reads each input's header (image) or stream properties (video); a failure is kept as the
// input's error and reported with the results.
void probe_inputs(std::vector<Input>& inputs) {
  for (Input& input : inputs) {
    if (input.skipped) continue;
    try {
      if (is_video_path(input.item.input)) {
        input.video = probe_video(input.item.input);
        input.item.info = {input.video->size, input.video->type};
        input.frames = input.video->frames;
      } else {
        input.item.info = probe_image(input.item.input);
      }
    } catch (const ImageError& error) {
      input.item.error = error.what();
    }
  }
}

// The frames of a run: an image file is one, a video one per frame its header announces, all
// sharing its stream (the item of the last also runs any frames the stream holds past it).
// `owner` maps each frame back to its input.
struct Frames {
  std::vector<WorkItem> items;
  std::vector<std::size_t> owner;
};

Frames expand(const std::vector<Input>& inputs, const VideoEncoding& encoding) {
  Frames frames;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Input& input = inputs[i];
    if (input.skipped) continue;
    if (!input.video || !input.item.error.empty()) {
      frames.items.push_back(input.item);
      frames.owner.push_back(i);
      continue;
    }
    auto stream = std::make_shared<VideoStream>(input.item.input, input.item.output, *input.video, encoding);
    for (std::uint32_t f = 0; f < input.video->frames; ++f) {
      WorkItem frame = input.item;
      frame.video = stream;
      frame.video_frame = f;
      frames.items.push_back(std::move(frame));
      frames.owner.push_back(i);
    }
  }
  return frames;
}

// An input is done when all its frames are; its error is its first frame's.
void settle_inputs(std::vector<Input>& inputs, const Frames& frames, const RunReport& report) {
  for (Input& input : inputs) input.ok = !input.skipped;
  for (std::size_t k = 0; k < frames.items.size(); ++k) {
    Input& input = inputs[frames.owner[k]];
    const ItemResult& result = report.items[k];
    input.frames_absent += result.absent ? 1 : 0;
    input.frames_extra += result.extra_frames;
    if (result.ok || !input.ok) continue;
    input.ok = false;
    input.error = input.video && !result.error.empty() && result.error.find(input.item.input) == std::string::npos
                      ? fmt::format("frame {}: {}", frames.items[k].video_frame, result.error)
                      : result.error;
  }
  // A video that failed reports its first failure, not a frame that failed because of it.
  for (std::size_t k = 0; k < frames.items.size(); ++k) {
    const WorkItem& frame = frames.items[k];
    if (frame.video && frame.video->failed() && !frame.video->failure().empty()) {
      Input& input = inputs[frames.owner[k]];
      input.ok = false;
      input.error = frame.video->failure();
    }
  }
  for (Input& input : inputs) {
    if (input.ok && input.video && input.frames_held() == 0) {
      input.ok = false;
      input.error = "the video holds no frame";
    }
  }
}

void print_plan(const Pipeline& pipeline, const std::vector<Input>& inputs, Frames& frames,
                const RunOptions& options, const std::optional<Shard>& shard) {
  std::size_t skipped = 0;
  std::size_t unreadable = 0;
  for (const Input& input : inputs) {
    skipped += input.skipped ? 1 : 0;
    unreadable += !input.skipped && !input.item.error.empty() ? 1 : 0;
  }
  fmt::print("pipeline: {}\n", pipeline.describe());
  if (shard) fmt::print("shard: {} of {} (from {})\n", shard->index, shard->count, shard->source);
  fmt::print("inputs: {} to do ({} frames), {} skipped as done, {} unreadable\n", inputs.size() - skipped - unreadable,
             frames.items.size(), skipped, unreadable);
  fmt::print("executor: {}, {} worker(s), tiles {}x{} (0 = whole width or height)\n", to_string(options.executor),
             resolve_workers(options), options.tile.width, options.tile.height);
  if (options.executor == ExecutorKind::fork) {
    const SegmentShape shape = plan_segment(pipeline, frames.items, options);
    fmt::print("segment: {} backend, {} slot(s) x {} plane(s) x {:.1f} MiB = {:.1f} MiB\n", to_string(options.backend),
               shape.slots, shape.planes, static_cast<double>(shape.plane_bytes) / (1 << 20),
               static_cast<double>(shape.segment_bytes) / (1 << 20));
  }
  for (const Input& input : inputs) {
    const WorkItem& item = input.item;
    if (input.skipped) continue;
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
    const std::string video =
        input.video ? fmt::format("video, {} frames announced, {:.3g} fps, codec {}; ", input.video->frames,
                                  input.video->fps, fourcc_text(input.video->fourcc))
                    : std::string();
    fmt::print("  {} -> {} ({}{}x{} {}; tasks per stage {})\n", item.input, item.output, video,
               item.info.size.width, item.info.size.height, to_string(item.info.type), tiles);
  }
}

// The frames of a run as the streams held them: announced video frames that were absent do not
// count, frames past the announced ones do.
std::size_t frames_run(const RunReport& report) {
  std::size_t frames = 0;
  for (const ItemResult& result : report.items) frames += (result.absent ? 0 : 1) + result.extra_frames;
  return frames;
}

nlohmann::json summary_json(const Pipeline& pipeline, const std::vector<Input>& inputs, const RunReport& report,
                            const std::optional<Shard>& shard, const nlohmann::json& profile) {
  nlohmann::json list = nlohmann::json::array();
  std::size_t ok = 0;
  std::size_t failed = 0;
  std::size_t skipped = 0;
  for (const Input& input : inputs) {
    nlohmann::json entry = {{"input", input.item.input}, {"output", input.item.output}};
    if (input.skipped) {
      entry["status"] = "skipped";
      ++skipped;
    } else if (input.ok) {
      entry["status"] = "ok";
      ++ok;
    } else {
      entry["status"] = "failed";
      entry["error"] = input.error.empty() ? "not run" : input.error;
      ++failed;
    }
    if (input.video) {
      entry["frames"] = input.frames_held();
      entry["fps"] = input.video->fps;
      entry["codec"] = fourcc_text(input.video->fourcc);
    }
    list.push_back(std::move(entry));
  }
  nlohmann::json summary = {{"pipeline", pipeline.describe()},
                            {"items", list},
                            {"totals", {{"ok", ok}, {"failed", failed}, {"skipped", skipped}}},
                            {"frames", frames_run(report)},
                            {"seconds", report.seconds},
                            {"megapixels", static_cast<double>(report.pixels) / 1e6},
                            {"workers", report.workers},
                            {"workers_replaced", report.workers_replaced},
                            {"idle_kicks", report.idle_kicks},
                            {"segment_bytes", report.segment_bytes},
                            {"interrupted", report.interrupted}};
  if (shard) summary["shard"] = {{"index", shard->index}, {"count", shard->count}, {"source", shard->source}};
  summary["profile"] = profile;
  return summary;
}

// The serial executor over the same frames, nothing written: the reference for --compare-serial.
double time_serial(const Pipeline& pipeline, const Frames& frames, const RunOptions& options) {
  std::vector<WorkItem> items = frames.items;
  for (WorkItem& item : items) {
    if (item.video) throw UsageError("--compare-serial takes image inputs only: a video cannot be read twice");
    item.output.clear();
  }
  RunOptions serial = options;
  serial.executor = ExecutorKind::serial;
  serial.progress = nullptr;
  serial.trace = nullptr;
  return run_serial(pipeline, items, serial).seconds;
}

// A trace file's folder must exist before the run, not be found missing after it.
void check_trace_path(const std::string& path) {
  const fs::path folder = fs::absolute(path).parent_path();
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    throw UsageError(fmt::format("--trace '{}': folder '{}' does not exist", path, folder.string()));
  }
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
  options.tile = parse_tile_size(arguments.tile, "--tile");
  options.workers = arguments.workers;
  options.slots = arguments.slots;
  options.worker_exec = arguments.worker_exec;
  options.task_timeout = std::chrono::milliseconds(static_cast<long long>(arguments.task_timeout * 1000));
  options.announce = true;  // `tilefork top` finds the run through the registry
  VideoEncoding encoding;
  if (!arguments.codec.empty()) encoding.fourcc = parse_fourcc(arguments.codec);
  encoding.fps = arguments.fps;

  OutputRules rules = arguments.rules;
  rules.folder = arguments.output_dir;
  rules.pipeline = pipeline.describe();
  std::vector<WorkItem> gathered = gather_items(arguments.inputs, arguments.recursive, rules, std::cin);
  const std::optional<Shard> shard =
      resolve_shard(arguments.shard, arguments.shards, [](const char* name) { return std::getenv(name); });
  if (shard) {
    gathered = take_shard(std::move(gathered), *shard);
    if (!arguments.quiet && !arguments.dry_run) {
      fmt::print(stderr, "tilefork: shard {} of {} (from {}): {} input(s)\n", shard->index, shard->count,
                 shard->source, gathered.size());
    }
  }
  const std::set<std::size_t> skip = existing_outputs(gathered, arguments);
  std::vector<Input> inputs(gathered.size());
  for (std::size_t i = 0; i < gathered.size(); ++i) {
    inputs[i].item = std::move(gathered[i]);
    inputs[i].skipped = skip.contains(i);
  }
  probe_inputs(inputs);
  Frames frames = expand(inputs, encoding);
  if (arguments.dry_run) {
    print_plan(pipeline, inputs, frames, options, shard);
    return kExitOk;
  }

  // Folders of the outputs (mirrored subfolders included) exist before any worker writes.
  prepare_output_dir(arguments.output_dir);
  for (const WorkItem& item : frames.items) {
    std::error_code error;
    fs::create_directories(fs::path(item.output).parent_path(), error);
  }
  if (!arguments.trace_path.empty()) check_trace_path(arguments.trace_path);
  RunTrace trace;
  if (!arguments.trace_path.empty() || arguments.summary || arguments.json) options.trace = &trace;
  const double serial_seconds = arguments.compare_serial ? time_serial(pipeline, frames, options) : 0;
  std::optional<ProgressDisplay> display;
  if (!arguments.quiet) {
    display.emplace(stderr, is_terminal(stderr), std::chrono::duration<double>(arguments.progress_interval),
                    frames.owner, inputs.size());
    options.progress = [&display](const Progress& progress) { display->update(progress); };
  }
  RunReport report;
  try {
    report = run_batch(pipeline, frames.items, options);
  } catch (...) {
    // The trace of a run that failed is the one most wanted: write what was recorded.
    if (!arguments.trace_path.empty()) {
      try {
        write_chrome_trace(trace, pipeline, frames.items, arguments.trace_path);
      } catch (const std::exception& error) {
        fmt::print(stderr, "tilefork: error: could not write the trace: {}\n", error.what());
      }
    }
    throw;
  }
  if (display) display->finish();
  if (!arguments.trace_path.empty()) write_chrome_trace(trace, pipeline, frames.items, arguments.trace_path);
  Profile profile;
  if (options.trace != nullptr) {
    profile = summarize(trace, pipeline);
    profile.serial_seconds = serial_seconds;
  }
  settle_inputs(inputs, frames, report);

  std::size_t failed = 0;
  std::size_t done = 0;
  std::size_t skipped = 0;
  for (const Input& input : inputs) {
    skipped += input.skipped ? 1 : 0;
    done += input.ok ? 1 : 0;
    if (input.ok || input.skipped) continue;
    ++failed;
    fmt::print(stderr, "tilefork: error: {}: {}\n", input.item.input, input.error);
  }
  if (arguments.json) {
    fmt::print("{}\n", summary_json(pipeline, inputs, report, shard, profile_json(profile, frames.items)).dump(2));
  }
  if (!arguments.quiet) {
    const double megapixels = static_cast<double>(report.pixels) / 1e6;
    const std::size_t todo = inputs.size() - skipped;
    fmt::print(stderr,
               "tilefork: {} of {} input{} written to {}{}{}{} ({:.1f} MP) in {:.2f} s: {:.1f} MP/s; "
               "pipeline \"{}\"; executor {}, {} worker{}, tiles {}{}\n",
               done, todo, todo == 1 ? "" : "s", arguments.output_dir,
               failed == 0 ? std::string() : fmt::format(", {} failed (listed above)", failed),
               frames_run(report) != todo ? fmt::format(" ({} frames)", frames_run(report)) : std::string(),
               skipped == 0 ? "" : fmt::format(", {} skipped as done", skipped), megapixels, report.seconds,
               report.seconds > 0 ? megapixels / report.seconds : 0.0, pipeline.describe(),
               to_string(options.executor), report.workers, report.workers == 1 ? "" : "s", arguments.tile,
               options.executor == ExecutorKind::fork
                   ? fmt::format(", {} segment of {:.1f} MiB", to_string(options.backend),
                                 static_cast<double>(report.segment_bytes) / (1 << 20))
                   : std::string());
    for (const Input& input : inputs) {
      if (input.ok && input.frames_held() != input.frames) {
        fmt::print(stderr, "tilefork: note: {}: its header announced {} frames, its stream held {} (all written)\n",
                   input.item.input, input.frames, input.frames_held());
      }
    }
    if (report.workers_replaced > 0) {
      fmt::print(stderr, "tilefork: {} worker(s) died and were replaced\n", report.workers_replaced);
    }
  }
  if (arguments.summary) print_profile(stderr, profile, frames.items);
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
  command->add_flag("--quiet,-q", arguments->quiet, "print only errors (no progress, no summary)");
  command->add_option("--progress-interval", arguments->progress_interval,
                      "seconds between progress lines when standard error is not a terminal (0: a line per "
                      "frame); a terminal shows a bar instead")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  command->add_option("--shard", arguments->shard,
                      "run share K of N (K from 1) of the inputs sorted by path, for splitting a batch over "
                      "machines; default: from SLURM_ARRAY_TASK_ID/COUNT in a Slurm job array");
  command->add_option("--shards", arguments->shards,
                      "split into N shards and take this run's from JOB_COMPLETION_INDEX (a Kubernetes "
                      "Indexed Job with completions N) or SLURM_ARRAY_TASK_ID")
      ->check(CLI::Range(1, 1'000'000));
  command->add_option("--codec", arguments->codec,
                      "video outputs: codec as a FOURCC (avc1, mp4v, MJPG, FFV1 lossless); default: the input's");
  command->add_option("--fps", arguments->fps, "video outputs: frame rate; default: the input's")
      ->check(CLI::Range(0.001, 1e6));
  command->add_option("--trace", arguments->trace_path,
                      "write a timeline of every task (Chrome trace event JSON: open it in ui.perfetto.dev or "
                      "chrome://tracing), also when the run fails or is interrupted");
  command->add_flag("--summary", arguments->summary,
                    "print a profile after the run: per stage and worker, where the time went, the slowest tiles");
  command->add_flag("--compare-serial", arguments->compare_serial,
                    "run the serial executor over the same inputs first (writing nothing) and report the speed-up");
  command->callback([&action, arguments] {
    if (!arguments->shard.empty() && arguments->shards > 0) {
      throw CLI::ValidationError("--shard and --shards", "give one of them: --shard K/N, or --shards N with the "
                                 "index from the environment");
    }
    if (arguments->overwrite && arguments->skip_existing) {
      throw CLI::ValidationError("--overwrite and --skip-existing", "choose one of them");
    }
    action = [arguments] { return run(*arguments); };
  });
}

}  // namespace tilefork::app
