// The fork executor: one shared segment, forked workers, and the coordinator's supervision loop.
#include "frame_steps.hpp"
#include "scheduler.hpp"
#include "tilefork/errors.hpp"
#include "tilefork/external_worker.hpp"
#include "tilefork/futex.hpp"
#include "tilefork/layout.hpp"
#include "tilefork/run_registry.hpp"
#include "tilefork/tile.hpp"
#include "tilefork/tile_runner.hpp"
#include "tilefork/trace.hpp"
#include "tilefork/worker_pool.hpp"

#include <fmt/format.h>

#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <opencv2/core.hpp>
#include <opencv2/core/ocl.hpp>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tilefork {
namespace {

using Clock = std::chrono::steady_clock;

// The trace's clock (steady_clock through the vDSO), for timeouts and busy time too.
std::uint64_t now_ns() { return trace_clock_ns(); }

// Signal handlers may only set flags; these are the flags (a handler cannot take parameters).
std::atomic<std::atomic<std::uint32_t>*> g_event_word{nullptr};
volatile std::sig_atomic_t g_interrupted = 0;

void on_child(int) {
  if (auto* word = g_event_word.load()) {
    word->fetch_add(1);
    futex_wake(*word, 1);
  }
}

void on_interrupt(int) {
  g_interrupted = 1;
  on_child(0);
}

// The signals that end a run early, cleanly: Ctrl-C, kill, a closed terminal, Ctrl-backslash.
// Each leaves the trace, the registry and the segment as an interrupt does (exit code 130).
constexpr int kEndingSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Installs the coordinator's handlers for the length of a run and restores the old ones.
class CoordinatorSignals {
 public:
  explicit CoordinatorSignals(std::atomic<std::uint32_t>& event_word) {
    g_interrupted = 0;
    g_event_word.store(&event_word);
    struct sigaction action{};
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_child;
    action.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &action, &old_child_);
    action.sa_handler = on_interrupt;
    action.sa_flags = SA_RESTART;
    for (std::size_t i = 0; i < std::size(kEndingSignals); ++i) sigaction(kEndingSignals[i], &action, &old_ending_[i]);
  }
  ~CoordinatorSignals() {
    sigaction(SIGCHLD, &old_child_, nullptr);
    for (std::size_t i = 0; i < std::size(kEndingSignals); ++i) sigaction(kEndingSignals[i], &old_ending_[i], nullptr);
    g_event_word.store(nullptr);
  }
  CoordinatorSignals(const CoordinatorSignals&) = delete;
  CoordinatorSignals& operator=(const CoordinatorSignals&) = delete;

 private:
  struct sigaction old_child_{};
  struct sigaction old_ending_[std::size(kEndingSignals)]{};
};

// Everything a worker needs. Built before the fork, so every worker (and every replacement)
// inherits it: paths and pipeline never cross a pipe.
struct ForkJob {
  const Pipeline& pipeline;
  std::span<const WorkItem> items;
  const SegmentLayout& layout;
  Segment& segment;
  cv::Size tile;
  const std::string& worker_exec;
};

// Puts a decoded frame into plane 0 of `slot` and records its type, size and tasks per stage in
// the slot's header. Throws ImageError when it is larger than the header of its file announced
// (the slots were sized from that).
void place_frame(const ForkJob& job, SlotHeader& header, std::uint32_t slot, const LoadedFrame& frame,
                 const WorkItem& item) {
  const cv::Mat& image = frame.image;
  if (frame.plan.max_plane_bytes() > job.layout.plane_capacity() ||
      frame.plan.planes > static_cast<int>(job.layout.plane_count())) {
    throw ImageError(fmt::format("decoded as {}x{} {}, more than its header announced ({}x{} {})", image.cols,
                                 image.rows, to_string(frame.plan.types[0]), item.info.size.width,
                                 item.info.size.height, to_string(item.info.type)));
  }
  header.rows = image.rows;
  header.cols = image.cols;
  header.depth = image.depth();
  header.channels = image.channels();
  for (std::uint32_t s = 0; s < job.pipeline.stages().size(); ++s) {
    header.stage_tasks[s] = frame.plan.task_count(job.pipeline, s, job.tile);
  }
  cv::Mat destination(frame.plan.sizes[0], frame.plan.types[0].cv_type(), job.layout.plane(job.segment.data(), slot, 0));
  if (image.data != destination.data) image.copyTo(destination);  // not decoded in place
}

// The worker side: claim tasks, run them where the pixels lie, report through the segment.
class Worker {
 public:
  Worker(const ForkJob& job, std::uint32_t index)
      : job_(job),
        index_(index),
        scheduler_(job.layout, job.segment.data(), static_cast<std::uint32_t>(job.pipeline.stages().size())),
        state_(job.layout.worker(job.segment.data(), index)),
        started_ns_(now_ns()),
        pid_(getpid()) {
    if (const char* stall = std::getenv("TILEFORK_STALL")) stall_us_ = std::atoi(stall);
    die_before_advance_marker_ = std::getenv("TILEFORK_TEST_DIE_BEFORE_ADVANCE");
    random_.seed(static_cast<unsigned>(pid_));
    if (job.layout.trace_ring_records() > 0) {
      trace_.emplace(job.layout.trace_ring(job.segment.data(), index), scheduler_.control().event_seq);
    }
  }

  void run() {
    std::signal(SIGPIPE, SIG_IGN);  // a worker program that goes away is an error, not our death
    cv::setNumThreads(0);
    cv::ocl::setUseOpenCL(false);
    job_.segment.prefault();
    state_.pid.store(pid_);
    if (trace_) trace_->push({.begin_ns = started_ns_, .end_ns = now_ns(), .pid = pid_, .kind = TraceKind::start});
    ControlBlock& control = scheduler_.control();
    while (true) {
      const std::uint32_t seq = control.work_seq.load();
      if (control.stop.load() != 0) break;
      if (auto task = scheduler_.claim(index_)) {
        execute(*task);
        continue;
      }
      control.idle_workers.fetch_add(1);
      const std::uint64_t asleep = trace_ ? now_ns() : 0;  // the wait is a system call anyway
      futex_wait(control.work_seq, seq);
      control.idle_workers.fetch_sub(1);
      if (trace_) trace_->push({.begin_ns = asleep, .end_ns = now_ns(), .pid = pid_, .kind = TraceKind::asleep});
    }
    external_.reset();
    job_.segment.detach();
  }

 private:
  void execute(const Task& task) {
    const std::uint64_t begin = now_ns();
    state_.task_started_ns.store(begin, std::memory_order_relaxed);
    traced_rect_ = {};
    stall();
    const bool skipped = scheduler_.failed(task.slot);
    if (!skipped) {
      try {
        switch (task.kind) {
          case TaskKind::load: load(task); break;
          case TaskKind::tile: tile(task); break;
          case TaskKind::store: store(task); break;
          case TaskKind::none: break;
        }
      } catch (const std::exception& error) {
        scheduler_.fail(task.slot, error.what());
      }
    }
    stall();
    const std::uint64_t end = now_ns();
    state_.task_started_ns.store(0, std::memory_order_relaxed);
    state_.busy_ns.fetch_add(end - begin, std::memory_order_relaxed);
    state_.tasks_done.fetch_add(1, std::memory_order_relaxed);
    // Published before the task is finished: once the coordinator has seen a frame settled,
    // the records of all its tasks are in the rings.
    if (trace_) record(task, begin, end, skipped);
    // The claim is dropped before finishing, so a death handler never counts this task twice;
    // the slot is kept until after, so the stall check never takes a live worker's task for
    // lost (a worker that dies in between is caught by it, as it should be).
    state_.claimed.store(0);
    if (scheduler_.count_finished(task)) {
      die_before_advance_for_tests();
      scheduler_.advance(task.slot);
    }
    state_.slot.store(0);
  }

  // TILEFORK_TEST_DIE_BEFORE_ADVANCE=PATH: the first worker to finish a phase while PATH does
  // not exist creates it and kills itself before publishing the next phase, so that a test can
  // reach the instant check_stalls() covers (a SIGKILL from outside cannot aim that well).
  void die_before_advance_for_tests() {
    if (die_before_advance_marker_ == nullptr) return;
    const int fd = ::open(die_before_advance_marker_, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return;  // another worker has died there already
    ::close(fd);
    ::raise(SIGKILL);
  }

  void record(const Task& task, std::uint64_t begin, std::uint64_t end, bool skipped) {
    const SlotHeader& header = scheduler_.header(task.slot);
    trace_->push({.begin_ns = begin,
                  .end_ns = end,
                  .item = header.item.load(std::memory_order_relaxed),
                  .tile = task.index(),
                  .x = traced_rect_.x,
                  .y = traced_rect_.y,
                  .width = traced_rect_.width,
                  .height = traced_rect_.height,
                  .pid = pid_,
                  .stage = static_cast<std::uint16_t>(task.stage),
                  .kind = static_cast<TraceKind>(task.kind),
                  .flags = skipped ? kTraceSkipped : std::uint8_t{0}});
  }

  // Random pauses (TILEFORK_STALL=microseconds) to shake out races in tests.
  void stall() {
    if (stall_us_ > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(random_() % static_cast<unsigned>(stall_us_)));
    }
  }

  // The plan of the frame in a slot, from its decoded type and size (kept: batches repeat them).
  const FramePlan& plan_of(const Task& task) {
    const SlotHeader& header = scheduler_.header(task.slot);
    const auto key = std::make_tuple(header.depth, header.channels, header.rows, header.cols);
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      if (plans_.size() > 64) plans_.clear();
      it = plans_.emplace(key, job_.pipeline.plan({header.depth, header.channels}, {header.cols, header.rows})).first;
    }
    return it->second;
  }

  // Plane `index` of the slot holding the frame as it is after `step` stages.
  cv::Mat plane(const Task& task, const FramePlan& plan, int index, std::size_t step) {
    return cv::Mat(plan.sizes[step], plan.types[step].cv_type(),
                   job_.layout.plane(job_.segment.data(), task.slot, static_cast<std::uint32_t>(index)));
  }

  void load(const Task& task) {
    SlotHeader& header = scheduler_.header(task.slot);
    const WorkItem& item = job_.items[header.item.load(std::memory_order_relaxed)];
    if (!item.video) {
      // Decoded straight into the slot when the file holds what its header announced (it nearly
      // always does), which saves a copy of every frame.
      cv::Mat in_place;
      if (item.info.max_bytes() <= job_.layout.plane_capacity()) {
        in_place = cv::Mat(item.info.size, item.info.type.cv_type(), job_.layout.plane(job_.segment.data(), task.slot, 0));
      }
      place_frame(job_, header, task.slot, load_frame(job_.pipeline, item, in_place), item);
    }
    // (a video frame was decoded into the slot by the coordinator: see start_video_frame)
    traced_rect_ = {0, 0, header.cols, header.rows};
  }

  void tile(const Task& task) {
    const FramePlan& plan = plan_of(task);
    const Stage& stage = job_.pipeline.stages()[task.stage];
    const cv::Mat input = plane(task, plan, plan.in_plane[task.stage], task.stage);
    cv::Mat output = plane(task, plan, plan.out_plane[task.stage], task.stage + 1);
    const cv::Rect rect = stage.kernel->whole_frame ? cv::Rect({0, 0}, output.size())
                                                    : TileGrid(output.size(), job_.tile).rect(task.index());
    traced_rect_ = rect;
    try {
      if (stage.kernel->external) {
        if (!external_) external_.emplace(job_.worker_exec, job_.segment);
        const cv::Rect read = cv::Rect(rect.x - stage.halo, rect.y - stage.halo, rect.width + 2 * stage.halo,
                                       rect.height + 2 * stage.halo) & cv::Rect({0, 0}, input.size());
        external_->run_tile(stage, input, output, read, rect, scheduler_.header(task.slot).item.load(),
                            task.stage, task.index());
      } else {
        runner_.run(stage, input, output, rect);
      }
    } catch (const std::exception& error) {
      throw std::runtime_error(describe_tile_failure(job_.pipeline, task.stage, task.index(), rect, error.what()));
    }
  }

  void store(const Task& task) {
    const SlotHeader& header = scheduler_.header(task.slot);
    const WorkItem& item = job_.items[header.item.load(std::memory_order_relaxed)];
    const FramePlan& plan = plan_of(task);
    traced_rect_ = cv::Rect({0, 0}, plan.sizes.back());
    if (item.output.empty() || item.video) return;  // the coordinator encodes video frames in order
    store_image(plane(task, plan, plan.result_plane(), plan.types.size() - 1), item.output, item.quality);
  }

  const ForkJob& job_;
  std::uint32_t index_;
  SlotScheduler scheduler_;
  WorkerState& state_;
  TileRunner runner_;
  std::optional<ExternalWorker> external_;  // started at the first external tile
  std::map<std::tuple<int, int, int, int>, FramePlan> plans_;
  std::uint64_t started_ns_;  // when this process began, for its start record
  std::int32_t pid_;
  std::optional<TraceWriter> trace_;  // empty when tracing is off: one predictable branch
  cv::Rect traced_rect_;  // what the task just run covered, for its record
  int stall_us_ = 0;
  const char* die_before_advance_marker_ = nullptr;  // TILEFORK_TEST_DIE_BEFORE_ADVANCE
  std::minstd_rand random_;
};

// The coordinator side: hands items to free slots, collects results, replaces dead workers.
class Coordinator {
 public:
  // What a step did to a slot's item: nothing yet (no), freed the slot with frames of the item
  // still to come (slot), or settled the item (item).
  enum class Settled { no, slot, item };

  Coordinator(const ForkJob& job, const RunOptions& options, RunReport& report)
      : job_(job),
        options_(options),
        report_(report),
        scheduler_(job.layout, job.segment.data(), static_cast<std::uint32_t>(job.pipeline.stages().size())),
        stall_seen_(job.layout.slot_count(), ~std::uint64_t{0}),
        trace_(job.layout.trace_ring_records() > 0 ? options.trace : nullptr),
        pid_(static_cast<std::int32_t>(getpid())),
        slot_frame_(job.layout.slot_count(), 0) {}

  // Runs the batch. Whatever happens (an exception, an interrupt), the records the workers
  // published are drained into the trace before this returns or throws.
  void run() {
    ControlBlock& control = scheduler_.control();
    CoordinatorSignals signals(control.event_seq);
    WorkerPool pool(job_.layout.worker_count(), [this](std::uint32_t index) { Worker(job_, index).run(); });
    for (std::uint32_t i = 0; i < pool.size(); ++i) note_process(i, pool.pid(i));
    try {
      supervise(pool);
    } catch (...) {
      control.stop.store(1);
      scheduler_.wake_workers();
      pool.kill_all();
      drain_traces();
      throw;
    }
  }

 private:
  void supervise(WorkerPool& pool) {
    ControlBlock& control = scheduler_.control();
    std::size_t next = 0;
    std::size_t finished = 0;
    auto last_stall_check = Clock::now();
    while (finished < job_.items.size()) {
      const std::uint32_t seen = control.event_seq.load();
      if (g_interrupted != 0) {
        report_.interrupted = true;
        break;
      }
      for (const auto& death : pool.reap()) {
        if (!handle_death(death) && ++deaths_between_tasks_ > 3 * job_.layout.worker_count() + 3) {
          throw SystemError(ECHILD, "workers keep dying outside any task",
                            fmt::format("worker {} (pid {}) ended with {}", death.index, death.pid,
                                        describe_wait_status(death.status)),
                            "is something killing tilefork processes (an OOM killer, a ulimit)? see the log above");
        }
        pool.respawn(death.index);
        note_process(death.index, pool.pid(death.index));
        ++report_.workers_replaced;
      }
      drain_traces();
      // A video frame collected may let a later one, waiting in a slot already passed, go too:
      // look again at once rather than at the next event.
      bool look_again = false;
      for (std::uint32_t slot = 0; slot < job_.layout.slot_count(); ++slot) {
        SlotHeader& header = scheduler_.header(slot);
        const auto state = static_cast<SlotState>(header.state.load(std::memory_order_acquire));
        if (state == SlotState::done || state == SlotState::failed) {
          const std::uint32_t item = header.item.load();
          const Settled collected = collect(slot, state);
          look_again = look_again || (collected != Settled::no && job_.items[item].video != nullptr);
          if (collected == Settled::item) report_progress(++finished, item);
        }
        if (static_cast<SlotState>(header.state.load(std::memory_order_relaxed)) != SlotState::free) continue;
        if (reading_tail_) {
          const std::size_t item = *reading_tail_;
          const Settled read = continue_tail(slot);
          if (read == Settled::no) continue;  // the slot holds the stream's next frame
          if (read == Settled::item) report_progress(++finished, item);
        }
        while (next < job_.items.size()) {
          const std::size_t item = next++;
          if (start(slot, item)) break;
          ++finished;  // settled without a slot
          report_progress(finished, item);
        }
      }
      kick_idle_workers();
      if (Clock::now() - last_stall_check > std::chrono::milliseconds(200)) {
        check_stalls();
        check_timeouts(pool);
        last_stall_check = Clock::now();
      }
      if (finished < job_.items.size() && !look_again) {
        const std::uint64_t asleep = trace_ ? now_ns() : 0;
        futex_wait(control.event_seq, seen, std::chrono::milliseconds(50));
        coordinator_record(TraceKind::wait, asleep);
      }
    }
    control.stop.store(1);
    scheduler_.wake_workers();
    if (report_.interrupted) {
      drain_traces();  // what finished before the interrupt; then workers die mid-task
      pool.kill_all();
    } else {
      // Drained while they stop: a worker whose ring is full waits for room to record its last
      // sleep, and would otherwise wait until the grace ran out and it was killed.
      for (const auto& death : pool.stop(std::chrono::seconds(5), [this] { drain_traces(); })) {
        log(fmt::format("worker {} (pid {}) ended with {}", death.index, death.pid,
                        describe_wait_status(death.status)));
      }
    }
    drain_traces();
    for (std::uint32_t i = 0; i < job_.layout.worker_count(); ++i) {
      const WorkerState& state = job_.layout.worker(job_.segment.data(), i);
      report_.tasks += state.tasks_done.load();
      report_.worker_busy_seconds.push_back(static_cast<double>(state.busy_ns.load()) / 1e9);
    }
    if (report_.interrupted) {
      for (auto& result : report_.items) {
        if (!result.ok && result.error.empty()) result.error = "not processed: the run was interrupted";
      }
    }
  }

  void note_process(std::uint32_t index, pid_t pid) {
    if (trace_) trace_->processes.push_back({.pid = pid, .worker = index});
  }

  // Takes every record published so far from every ring (cheap when there are none: one load).
  void drain_traces() {
    if (!trace_) return;
    std::uint64_t full_waits = 0;
    for (std::uint32_t w = 0; w < job_.layout.worker_count(); ++w) {
      TraceRing ring = job_.layout.trace_ring(job_.segment.data(), w);
      ring.drain(trace_->records);
      full_waits += ring.full_waits();
    }
    trace_->ring_full_waits = full_waits;
  }

  // One of the coordinator's own spans, from `begin` to now; nothing when tracing is off.
  void coordinator_record(TraceKind kind, std::uint64_t begin, std::uint32_t item = 0, cv::Size size = {}) {
    if (!trace_) return;
    trace_->coordinator.push_back({.begin_ns = begin,
                                   .end_ns = now_ns(),
                                   .item = item,
                                   .width = size.width,
                                   .height = size.height,
                                   .pid = pid_,
                                   .kind = kind});
  }

  // Hands item `index` to the free `slot`. Returns false when the item was settled without a
  // slot: its header could not be read, or it is a video frame that need not or cannot run.
  bool start(std::uint32_t slot, std::size_t index) {
    const WorkItem& item = job_.items[index];
    ItemResult& result = report_.items[index];
    if (!item.error.empty()) {
      result.error = item.error;
      return false;
    }
    if (item.video && !start_video_frame(slot, index, result)) return false;
    scheduler_.start_frame(slot, static_cast<std::uint32_t>(index), frame_seq_++);
    if (item.video) {
      slot_frame_[slot] = item.video_frame;
      if (item.video->last_announced(item.video_frame)) {
        tails_[index].in_slots = 1;
        reading_tail_ = index;
      }
    }
    return true;
  }

  // The frames a video's stream holds past its announced count are read, one per free slot,
  // after its last announced frame and before anything else starts, until the stream ends: the
  // header's count plans the batch, it does not cut the video short. Returns Settled::no when
  // `slot` now holds the next frame; otherwise the stream has ended (or failed), and
  // Settled::item when that settles the tail's item.
  Settled continue_tail(std::uint32_t slot) {
    const std::size_t index = *reading_tail_;
    const WorkItem& item = job_.items[index];
    VideoStream& video = *item.video;
    Tail& tail = tails_.at(index);
    const std::uint32_t frame = video.next_to_read();
    std::string error;
    const std::uint64_t begin = trace_ ? now_ns() : 0;
    const LoadedFrame loaded = read_video_frame(job_.pipeline, video, frame, error, slot_plane(slot, item));
    coordinator_record(TraceKind::decode, begin, static_cast<std::uint32_t>(index), loaded.image.size());
    if (!loaded.image.empty()) {
      try {
        place_frame(job_, scheduler_.header(slot), slot, loaded, item);
        scheduler_.start_frame(slot, static_cast<std::uint32_t>(index), frame_seq_++);
        slot_frame_[slot] = frame;
        ++tail.in_slots;
        ++tail.extra;
        return Settled::no;
      } catch (const std::exception& failure) {
        error = failure.what();
        video.fail(frame, error);
      }
    }
    reading_tail_.reset();
    tail.reading = false;
    if (!error.empty()) tail.fail(fmt::format("frame {}: {}", frame, error));
    return settle_tail(index) ? Settled::item : Settled::slot;
  }

  // Writes the result of a tail's item once its stream has ended and none of its frames is left
  // in a slot. Returns false while that is not so.
  bool settle_tail(std::size_t index) {
    const auto found = tails_.find(index);
    const Tail& tail = found->second;
    if (tail.reading || tail.in_slots > 0) return false;
    ItemResult& result = report_.items[index];
    result.ok = tail.ok;
    result.error = tail.error;
    result.extra_frames = tail.extra;
    tails_.erase(found);
    return true;
  }

  // Video frames are decoded here, in order (a codec is sequential), straight into the slot
  // (one copy fewer per frame than decoding into a Mat of their own); their load task is then
  // empty. Returns false when the frame is settled without running.
  bool start_video_frame(std::uint32_t slot, std::size_t index, ItemResult& result) {
    const WorkItem& item = job_.items[index];
    const std::uint64_t begin = trace_ ? now_ns() : 0;
    const LoadedFrame frame = read_video_item(job_.pipeline, item, result, slot_plane(slot, item));
    coordinator_record(TraceKind::decode, begin, static_cast<std::uint32_t>(index), frame.image.size());
    if (frame.image.empty()) return false;
    try {
      place_frame(job_, scheduler_.header(slot), slot, frame, item);
      return true;
    } catch (const std::exception& error) {
      result.error = error.what();
      item.video->fail(item.video_frame, result.error);
      return false;
    }
  }

  // Plane 0 of `slot` as a frame of the type and size the item's header announces, for a video
  // frame to be decoded straight into it (as a worker loads an image file: Worker::load); empty
  // when that would not fit. The decoder writes elsewhere when the frame differs (place_frame
  // then copies it, or refuses it).
  cv::Mat slot_plane(std::uint32_t slot, const WorkItem& item) const {
    if (item.info.max_bytes() > job_.layout.plane_capacity()) return {};
    return cv::Mat(item.info.size, item.info.type.cv_type(), job_.layout.plane(job_.segment.data(), slot, 0));
  }

  // Takes the result of a finished slot. A video frame waits in its slot until the frames before
  // it are encoded: returns Settled::no, and the slot stays, while it waits. Settled::slot: the
  // slot is free, and its item still has frames to come (a tail); Settled::item: the item is done.
  Settled collect(std::uint32_t slot, SlotState state) {
    SlotHeader& header = scheduler_.header(slot);
    const std::uint32_t item = header.item.load(std::memory_order_relaxed);
    const WorkItem& work = job_.items[item];
    const std::uint32_t frame = slot_frame_[slot];
    if (work.video && state == SlotState::done && !work.video->failed() && !work.video->expects(frame)) {
      return Settled::no;
    }
    bool ok = state == SlotState::done;
    std::string error;
    if (!ok) {
      error = header.error_text;
      if (work.video) work.video->fail(frame, error);
    } else if (work.video) {
      ok = encode_video_frame(slot, header, *work.video, frame, error);
    }
    if (ok) report_.pixels += static_cast<std::uint64_t>(header.rows) * static_cast<std::uint64_t>(header.cols);
    stall_seen_[slot] = ~std::uint64_t{0};
    header.frame_seq.store(~std::uint64_t{0}, std::memory_order_relaxed);
    header.state.store(static_cast<std::uint32_t>(SlotState::free), std::memory_order_release);
    const auto tail = tails_.find(item);
    if (tail == tails_.end()) {
      ItemResult& result = report_.items[item];
      result.ok = ok;
      if (!ok) result.error = std::move(error);
      return Settled::item;
    }
    --tail->second.in_slots;
    if (!ok) tail->second.fail(frame == work.video_frame ? error : fmt::format("frame {}: {}", frame, error));
    return settle_tail(item) ? Settled::item : Settled::slot;
  }

  bool encode_video_frame(std::uint32_t slot, const SlotHeader& header, VideoStream& video, std::uint32_t frame,
                          std::string& error) {
    const FramePlan plan = job_.pipeline.plan({header.depth, header.channels}, {header.cols, header.rows});
    const cv::Mat image(plan.sizes.back(), plan.types.back().cv_type(),
                        job_.layout.plane(job_.segment.data(), slot, static_cast<std::uint32_t>(plan.result_plane())));
    const std::uint64_t begin = trace_ ? now_ns() : 0;
    const bool written = write_video_frame(video, frame, image, error);
    coordinator_record(TraceKind::encode, begin, header.item.load(std::memory_order_relaxed), image.size());
    return written;
  }

  void report_progress(std::size_t finished, std::size_t item) {
    if (!report_.items[item].ok) ++failures_;
    publish_status(finished);
    if (!options_.progress) return;
    options_.progress(Progress{item, finished, job_.items.size(), failures_, report_.pixels});
  }

  // For watchers (`tilefork top`): the coordinator is the segment's only writer of these.
  void publish_status(std::size_t finished) {
    RunStatus& run = scheduler_.control().run;
    run.items_finished.store(finished, std::memory_order_relaxed);
    run.items_failed.store(failures_, std::memory_order_relaxed);
    run.pixels_done.store(report_.pixels, std::memory_order_relaxed);
  }

  // A worker died: what it was doing is in its state slot. Retry that task once, then fail the
  // frame with everything we know, and count the task as finished so the frame moves on.
  // Returns false when it died between tasks.
  bool handle_death(const WorkerPool::Death& death) {
    WorkerState& state = job_.layout.worker(job_.segment.data(), death.index);
    const std::uint32_t slot_plus_one = state.slot.load();
    std::string how = describe_wait_status(death.status);
    if (timed_out_.erase(death.pid) != 0) {
      how = fmt::format("the task timeout ({} s)",
                        std::chrono::duration<double>(options_.task_timeout).count());
    }
    if (slot_plus_one == 0 || state.claimed.load() == 0) {
      log(fmt::format("worker {} (pid {}) ended with {} between tasks; starting another", death.index,
                      death.pid, how));
      reset_worker_state(state);
      return false;
    }
    Task task{slot_plus_one - 1, state.task.load(), static_cast<TaskKind>(state.kind.load()), state.stage.load()};
    SlotHeader& header = scheduler_.header(task.slot);
    const std::uint32_t item = header.item.load(std::memory_order_relaxed);
    const std::string where = describe_task(task);
    reset_worker_state(state);
    if (claim_epoch(header.claim.load()) != claim_epoch(task.claim)) return true;  // phase already over
    const std::string message = fmt::format("worker {} (pid {}) killed by {} on frame {} ({}), {}",
                                            death.index, death.pid, how, item, job_.items[item].input, where);
    if (scheduler_.retry(task)) {
      log(message + "; retrying it once");
      return true;
    }
    log(message + "; giving up on the frame");
    scheduler_.fail(task.slot, message);
    scheduler_.finish(task);
    return true;
  }

  // A task running past the timeout is taken to hang: kill its worker; the death is then handled
  // like any other (retry once, then fail the frame), with the timeout named as the cause.
  void check_timeouts(WorkerPool& pool) {
    if (options_.task_timeout.count() <= 0) return;
    const auto limit = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.task_timeout).count());
    const std::uint64_t now = now_ns();
    for (std::uint32_t w = 0; w < job_.layout.worker_count(); ++w) {
      const WorkerState& state = job_.layout.worker(job_.segment.data(), w);
      const std::uint64_t started = state.task_started_ns.load(std::memory_order_relaxed);
      const pid_t pid = pool.pid(w);
      if (started == 0 || now < started || now - started < limit || pid <= 0 || timed_out_.contains(pid)) continue;
      timed_out_.insert(pid);
      ::kill(pid, SIGKILL);
    }
  }

  std::string describe_task(const Task& task) const {
    switch (task.kind) {
      case TaskKind::load: return "while loading it";
      case TaskKind::store: return "while writing it";
      case TaskKind::tile:
        return fmt::format("stage {} ({}), tile {}", task.stage + 1,
                           job_.pipeline.stages().at(task.stage).kernel->name, task.index());
      case TaskKind::none: break;
    }
    return "between tasks";
  }

  // The replacement starts from a clean slot: no task, no start time (or it would time out).
  static void reset_worker_state(WorkerState& state) {
    state.claimed.store(0);
    state.slot.store(0);
    state.task_started_ns.store(0);
  }

  // Every worker asleep while a slot has work to claim should not happen; if it does (a wake-up
  // lost somewhere), wake them rather than wait forever, and count it so a test can see it.
  void kick_idle_workers() {
    ControlBlock& control = scheduler_.control();
    if (control.idle_workers.load() < job_.layout.worker_count()) return;
    for (std::uint32_t slot = 0; slot < job_.layout.slot_count(); ++slot) {
      SlotHeader& header = scheduler_.header(slot);
      if (static_cast<SlotState>(header.state.load()) != SlotState::busy) continue;
      const bool claimable = header.kind.load() != static_cast<std::uint32_t>(TaskKind::none) &&
                             claim_index(header.claim.load()) < header.total.load();
      if (claimable || header.retry.load() != 0) {
        ++report_.idle_kicks;
        control.work_seq.fetch_add(1);
        futex_wake(control.work_seq, INT_MAX);
        return;
      }
    }
  }

  // A worker killed at the wrong instant can leave a slot that no one will move on, with no
  // worker on it and nothing to claim:
  // - between claiming a task and recording the claim: every task of the phase is claimed and
  //   fewer are done. The frame fails and the lost tasks are counted, so the slot comes back.
  // - after counting its phase's last task and before the next phase is published (or the
  //   frame ended): every task is done. The coordinator publishes it as the worker would have,
  //   so the frame goes on exactly; a worker that died half way through publishing fails it.
  // Acted on only when seen so twice 200 ms apart: a live worker keeps `slot` set until it
  // has published, so only a dead one's slot looks like this for long.
  void check_stalls() {
    for (std::uint32_t slot = 0; slot < job_.layout.slot_count(); ++slot) {
      SlotHeader& header = scheduler_.header(slot);
      if (static_cast<SlotState>(header.state.load()) != SlotState::busy) continue;
      const std::uint64_t claim = header.claim.load();
      const std::uint32_t total = header.total.load();
      const std::uint32_t done = header.done.load();
      const bool ended = header.kind.load() == static_cast<std::uint32_t>(TaskKind::none);
      bool stuck = (ended || claim_index(claim) >= total) && header.retry.load() == 0;
      for (std::uint32_t w = 0; stuck && w < job_.layout.worker_count(); ++w) {
        stuck = job_.layout.worker(job_.segment.data(), w).slot.load() != slot + 1;
      }
      // The same phase (epoch) with the same count, seen stuck twice 200 ms apart: a phase
      // that moved on in between must not be mistaken for it.
      const std::uint64_t seen = (std::uint64_t{claim_epoch(claim)} << 32) | done;
      if (!stuck) {
        stall_seen_[slot] = ~std::uint64_t{0};
        continue;
      }
      if (stall_seen_[slot] != seen) {
        stall_seen_[slot] = seen;  // look again next time before acting
        continue;
      }
      stall_seen_[slot] = ~std::uint64_t{0};
      if (ended || done >= total || claim_index(claim) == kClaimSealed) {
        log(fmt::format("frame {}: a worker died between finishing a stage and starting the next; the "
                        "coordinator takes over",
                        header.item.load()));
        scheduler_.take_over_phase_end(slot);
        continue;
      }
      scheduler_.fail(slot, "a worker died while taking a task of this frame");
      const Task lost{slot, claim, static_cast<TaskKind>(header.kind.load()), header.stage.load()};
      for (std::uint32_t i = done; i < total; ++i) scheduler_.finish(lost);
    }
  }

  void log(const std::string& line) const {
    std::fprintf(stderr, "tilefork: %s\n", line.c_str());
  }

  // The item of a video's last announced frame, from its start until its stream has ended and
  // every frame read past it is written (or the video failed).
  struct Tail {
    std::uint32_t in_slots = 0;  // its frames in slots
    bool reading = true;         // the end of the stream not reached yet
    bool ok = true;
    std::string error;           // the first failure
    std::uint32_t extra = 0;     // frames read past the announced count
    void fail(std::string reason) {
      if (ok) error = std::move(reason);
      ok = false;
    }
  };

  const ForkJob& job_;
  const RunOptions& options_;
  RunReport& report_;
  SlotScheduler scheduler_;
  std::vector<std::uint64_t> stall_seen_;  // (epoch, done) seen stuck at the last check
  std::set<pid_t> timed_out_;  // workers killed for the timeout, not yet reaped
  std::uint32_t deaths_between_tasks_ = 0;
  std::size_t failures_ = 0;
  RunTrace* trace_;  // null when tracing is off
  std::int32_t pid_;  // asked once for every trace record: forked workers never return into this object
  std::uint64_t frame_seq_ = 0;  // frames started so far: the order in which workers serve them
  std::vector<std::uint32_t> slot_frame_;  // the video frame each slot holds (the tail's go past its item's)
  std::map<std::size_t, Tail> tails_;  // the items of last announced frames, until settled
  std::optional<std::size_t> reading_tail_;  // the tail whose stream is being read on, if any
};

std::size_t available_memory() {
  FILE* meminfo = std::fopen("/proc/meminfo", "r");
  if (meminfo == nullptr) return 0;
  char line[256];
  std::size_t kib = 0;
  while (std::fgets(line, sizeof line, meminfo) != nullptr) {
    if (std::sscanf(line, "MemAvailable: %zu kB", &kib) == 1) break;
  }
  std::fclose(meminfo);
  return kib * 1024;
}

// Tells watchers how the run ended, however the coordinator leaves (an exception included).
class RunEndingMark {
 public:
  explicit RunEndingMark(RunStatus& status) : status_(status) {}
  ~RunEndingMark() {
    status_.ended_ns.store(now_ns(), std::memory_order_relaxed);
    status_.ending.store(static_cast<std::uint32_t>(ending_), std::memory_order_release);
  }
  RunEndingMark(const RunEndingMark&) = delete;
  RunEndingMark& operator=(const RunEndingMark&) = delete;
  void set(RunEnding ending) { ending_ = ending; }

 private:
  RunStatus& status_;
  RunEnding ending_ = RunEnding::failed;
};

// Lists the run in the per-user registry for `tilefork top`. A registry that cannot be used (a
// folder of another user's in /tmp, a full disk) costs a warning: watching is not the run's purpose.
void announce_run(std::optional<RunAnnouncement>& announcement, const Pipeline& pipeline, std::size_t items,
                  const Segment& segment, const SegmentLayout& layout, Clock::time_point start) {
  try {
    RunEntry entry;
    entry.pid = getpid();
    entry.start_ticks = process_start_ticks(entry.pid).value_or(0);
    entry.started_unix = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
                         std::chrono::duration<double>(Clock::now() - start).count();
    entry.uid = geteuid();
    entry.backend = segment.backend();
    entry.sysv_id = segment.sysv_id();
    entry.posix_fd = segment.posix_fd();
    entry.segment_bytes = segment.size();
    entry.slots = layout.slot_count();
    entry.workers = layout.worker_count();
    entry.planes = layout.plane_count();
    entry.plane_bytes = layout.plane_capacity();
    entry.pipeline = pipeline.describe();
    entry.items = items;
    announcement.emplace(RunRegistry::open(RunRegistry::default_folder(), true), entry);
  } catch (const SystemError& error) {
    std::fprintf(stderr, "tilefork: warning: the run is not listed for tilefork top: %s\n", error.describe().c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tilefork: warning: the run is not listed for tilefork top: %s\n", error.what());
  }
}

}  // namespace

// The tasks the batch will run when nothing fails: the coordinator reserves room for their
// records once, instead of growing the vector (each growth touches fresh pages, and a page fault
// costs microseconds on virtual machines).
static std::size_t expected_tasks(const Pipeline& pipeline, std::span<const WorkItem> items, cv::Size tile) {
  std::map<std::tuple<int, int, int, int>, std::size_t> per_shape;
  std::size_t total = 0;
  for (const WorkItem& item : items) {
    if (!item.error.empty()) continue;
    const auto key = std::make_tuple(item.info.size.width, item.info.size.height, item.info.type.depth,
                                     item.info.type.channels);
    auto found = per_shape.find(key);
    if (found == per_shape.end()) {
      std::size_t tasks = 2;
      try {
        const FramePlan plan = pipeline.plan(item.info.type, item.info.size);
        for (std::uint32_t s = 0; s < pipeline.stages().size(); ++s) tasks += plan.task_count(pipeline, s, tile);
      } catch (const std::exception&) {
      }
      found = per_shape.emplace(key, tasks).first;
    }
    total += found->second;
  }
  return total;
}

static std::uint32_t trace_ring_records(const RunOptions& options) {
  if (options.trace == nullptr) return 0;
  return options.trace_ring_records > 0 ? options.trace_ring_records : kTraceRingRecords;
}

SegmentShape plan_segment(const Pipeline& pipeline, std::span<WorkItem> items, const RunOptions& options) {
  SegmentShape shape;
  // Size the planes from the headers: every item's every stage must fit.
  for (WorkItem& item : items) {
    if (!item.error.empty()) continue;
    try {
      int item_planes = 1;
      shape.plane_bytes = std::max(shape.plane_bytes, plane_bytes(pipeline, item.info, &item_planes));
      shape.planes = std::max(shape.planes, static_cast<std::uint32_t>(item_planes));
      ++shape.runnable;
    } catch (const std::exception& error) {
      item.error = error.what();
    }
  }
  const auto workers = static_cast<std::uint32_t>(resolve_workers(options));
  shape.slots = options.slots > 0 ? static_cast<std::uint32_t>(options.slots) : std::max<std::uint32_t>(2, workers + 1);
  shape.slots = static_cast<std::uint32_t>(std::clamp<std::size_t>(shape.runnable, 1, shape.slots));
  shape.slots = std::min<std::uint32_t>(shape.slots, 64);
  shape.segment_bytes = SegmentLayout(shape.slots, workers, shape.planes, shape.plane_bytes, trace_ring_records(options)).size();
  return shape;
}

RunReport run_forked(const Pipeline& pipeline, std::span<const WorkItem> items,
                     const RunOptions& options) {
  const auto start = Clock::now();
  if (options.trace != nullptr) {
    options.trace->executor = "fork";
    options.trace->origin_ns = now_ns();
    options.trace->coordinator_pid = static_cast<std::int32_t>(getpid());
    options.trace->ring_capacity = trace_ring_records(options);
  }
  // Before any OpenCV call that could start threads: fork first (DESIGN.md).
  cv::setNumThreads(0);
  RunReport report;
  report.items.resize(items.size());
  const auto workers = static_cast<std::uint32_t>(resolve_workers(options));
  if (!options.worker_exec.empty() && options.backend == Backend::anon) {
    throw UsageError("--worker-exec needs --backend sysv or --backend posix: another program cannot attach "
                     "an anonymous mapping");
  }
  report.workers = static_cast<int>(workers);

  std::vector<WorkItem> checked(items.begin(), items.end());
  const SegmentShape shape = plan_segment(pipeline, checked, options);
  if (shape.runnable == 0) {
    for (std::size_t i = 0; i < checked.size(); ++i) report.items[i].error = checked[i].error;
    if (options.trace != nullptr) options.trace->end_ns = now_ns();
    return report;
  }
  const SegmentLayout layout(shape.slots, workers, shape.planes, shape.plane_bytes, trace_ring_records(options));
  const std::size_t memory = available_memory();
  if (memory != 0 && layout.size() > memory) {
    throw SystemError(ENOMEM, "the shared segment would not fit in memory",
                      fmt::format("{} slots x {} planes x {:.1f} MiB = {:.1f} MiB, {:.1f} MiB available",
                                  shape.slots, shape.planes, static_cast<double>(shape.plane_bytes) / (1 << 20),
                                  static_cast<double>(layout.size()) / (1 << 20),
                                  static_cast<double>(memory) / (1 << 20)),
                      "use fewer --slots (at least 1), fewer --workers, or smaller frames");
  }
  Segment segment = Segment::create(options.backend, layout.size(), {.huge_pages = options.huge_pages});
  report.segment_bytes = segment.size();
  layout.initialise(segment.data());
  segment.prefault();  // pages are allocated and zeroed once, here, not in the middle of the work
  if (const int threads = thread_count(); threads > 1) {
    std::fprintf(stderr, "tilefork: warning: the coordinator has %d threads before forking workers\n", threads);
  }
  if (options.trace != nullptr) {
    const std::size_t tasks = expected_tasks(pipeline, checked, options.tile);
    options.trace->records.reserve(options.trace->records.size() + tasks + tasks / 8 + 64 * workers);
  }
  RunStatus& status = SegmentLayout::control(segment.data()).run;
  status.coordinator_pid.store(getpid(), std::memory_order_relaxed);
  status.items_total.store(items.size(), std::memory_order_relaxed);
  status.started_ns.store(static_cast<std::uint64_t>(
                              std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count()),
                          std::memory_order_relaxed);
  // Listed once the segment is ready, removed before it is detached (a SIGKILL leaves the entry,
  // which the next reader of the registry removes: its pid is gone).
  std::optional<RunAnnouncement> announcement;
  if (options.announce) announce_run(announcement, pipeline, items.size(), segment, layout, start);
  const ForkJob job{pipeline, checked, layout, segment, options.tile, options.worker_exec};
  try {
    RunEndingMark ending(status);
    Coordinator(job, options, report).run();
    ending.set(report.interrupted ? RunEnding::interrupted : RunEnding::completed);
  } catch (...) {
    if (options.trace != nullptr) options.trace->end_ns = now_ns();
    throw;
  }
  announcement.reset();
  segment.detach();
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (options.trace != nullptr) options.trace->end_ns = now_ns();
  return report;
}

}  // namespace tilefork
