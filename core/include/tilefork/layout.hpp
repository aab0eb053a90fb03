// SegmentLayout: what lives where in the shared segment (control block, worker state, trace
// rings, frame slots and their planes), by offsets only, so any process may map it anywhere.
#pragma once

#include "tilefork/trace.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tilefork {

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

inline constexpr std::uint32_t kLayoutMagic = 0x544c4631;  // "TLF1"
inline constexpr int kMaxPlanes = 3;
inline constexpr std::size_t kErrorTextSize = 480;
inline constexpr std::size_t kMaxStageTasks = 32;  // = kMaxStages of pipeline.hpp

enum class TaskKind : std::uint32_t { none = 0, load = 1, tile = 2, store = 3 };
// Who owns a slot: the coordinator (free, done, failed) or the workers (busy).
enum class SlotState : std::uint32_t { free = 0, busy = 1, done = 2, failed = 3 };

// A claim word packs a phase's epoch (high 32 bits) with the next task index to hand out (low
// 32 bits). Workers claim with compare-exchange, so a claim can never land in a later phase.
constexpr std::uint64_t claim_word(std::uint32_t epoch, std::uint32_t index) {
  return (std::uint64_t{epoch} << 32) | index;
}
constexpr std::uint32_t claim_epoch(std::uint64_t word) { return static_cast<std::uint32_t>(word >> 32); }
constexpr std::uint32_t claim_index(std::uint64_t word) { return static_cast<std::uint32_t>(word); }
// The index of a claim word while its phase's kind, stage and total are being written: past
// every total, so nothing can be claimed (SlotScheduler::publish).
inline constexpr std::uint32_t kClaimSealed = 0xffffffffu;

// How a run ended, for watchers (RunStatus::ending).
enum class RunEnding : std::uint32_t { running = 0, completed = 1, interrupted = 2, failed = 3 };

// Where the run stands, for processes that watch it through a read-only view (`tilefork top`).
// The coordinator alone writes it, one relaxed store per value (`ending` last, with release);
// a watcher needs no consistency between the counters, so nothing is locked.
struct RunStatus {
  std::uint64_t layout_bytes;  // SegmentLayout::size(): a watcher built with another layout sees it differ
  std::atomic<std::int32_t> coordinator_pid;
  std::atomic<std::uint32_t> ending;      // RunEnding
  std::atomic<std::uint64_t> started_ns;  // steady clock (CLOCK_MONOTONIC: the same in every process)
  std::atomic<std::uint64_t> ended_ns;
  std::atomic<std::uint64_t> items_total;
  std::atomic<std::uint64_t> items_finished;  // done or failed
  std::atomic<std::uint64_t> items_failed;
  std::atomic<std::uint64_t> pixels_done;     // input pixels of the items done
};

struct alignas(64) ControlBlock {
  std::uint32_t magic;
  std::uint32_t slot_count;
  std::uint32_t worker_count;
  std::uint32_t plane_count;
  std::uint64_t plane_capacity;       // bytes of each plane
  std::atomic<std::uint32_t> stop;    // 1: workers finish their task and exit
  std::atomic<std::uint32_t> work_seq;   // futex word: bumped whenever claimable work appears
  std::atomic<std::uint32_t> idle_workers;  // workers sleeping on work_seq (no wake when 0)
  std::atomic<std::uint32_t> event_seq;  // futex word: bumped when the coordinator should look
  std::uint32_t trace_ring_records;      // records per worker trace ring; 0: tracing is off
  RunStatus run;
};

// One frame in flight. Its phases (load, stage 0 tiles, ..., store) follow one another; the
// worker that finishes a phase's last task publishes the next one.
struct alignas(64) SlotHeader {
  std::atomic<std::uint64_t> claim;   // claim_word(epoch, next index)
  std::atomic<std::uint32_t> kind;    // TaskKind of the current phase
  std::atomic<std::uint32_t> stage;   // pipeline stage of a tile phase
  std::atomic<std::uint32_t> total;   // tasks in the current phase
  std::atomic<std::uint32_t> done;    // tasks of the current phase finished (or given up)
  std::atomic<std::uint32_t> state;   // SlotState
  std::atomic<std::uint32_t> item;    // index of the batch item in this slot
  std::atomic<std::uint32_t> failed;  // first failure sets 1 and writes error_text
  std::atomic<std::uint32_t> retried; // a task of this frame has been retried once already
  std::atomic<std::uint64_t> retry;   // claim_word(epoch, index + 1) of a task to redo; 0: none
  std::atomic<std::uint64_t> frame_seq;  // order in which frames entered: oldest served first
  // Written by the loading worker before it publishes the first tile phase.
  std::int32_t rows;
  std::int32_t cols;
  std::int32_t depth;
  std::int32_t channels;
  std::uint32_t stage_tasks[kMaxStageTasks];  // tasks of each stage, from the frame's plan
  char error_text[kErrorTextSize];
};

// What each worker is doing, so the coordinator knows what a dead worker was on.
struct alignas(64) WorkerState {
  std::atomic<std::int32_t> pid;
  std::atomic<std::uint32_t> slot;    // slot index + 1 while on a task (set before claiming)
  std::atomic<std::uint64_t> task;    // the claim word it is taking / took
  std::atomic<std::uint32_t> claimed; // 1 once the claim succeeded
  std::atomic<std::uint32_t> kind;    // TaskKind of the task
  std::atomic<std::uint32_t> stage;
  std::atomic<std::uint64_t> tasks_done;
  std::atomic<std::uint64_t> busy_ns;
  std::atomic<std::uint64_t> task_started_ns;  // steady clock; 0 between tasks (timeouts)
};

class SegmentLayout {
 public:
  // `trace_ring_records` (0, or a power of two >= 2) gives each worker a trace ring of that
  // many records; 0 takes no byte. Throws std::invalid_argument for impossible counts, and for
  // sizes whose sum would not fit in a size_t (a wrapped sum would make too small a segment).
  SegmentLayout(std::uint32_t slots, std::uint32_t workers, std::uint32_t planes,
                std::size_t plane_capacity, std::uint32_t trace_ring_records = 0);

  std::size_t size() const noexcept { return size_; }
  // Writes the control block and zeroes the headers. The segment must be at least size() bytes.
  void initialise(std::byte* base) const;

  static ControlBlock& control(std::byte* base) noexcept;
  WorkerState& worker(std::byte* base, std::uint32_t index) const noexcept;
  SlotHeader& slot(std::byte* base, std::uint32_t index) const noexcept;
  std::byte* plane(std::byte* base, std::uint32_t slot, std::uint32_t plane) const noexcept;
  // Worker `index`'s trace ring; only when trace_ring_records() > 0.
  TraceRing trace_ring(std::byte* base, std::uint32_t index) const noexcept;

  std::uint32_t slot_count() const noexcept { return slots_; }
  std::uint32_t worker_count() const noexcept { return workers_; }
  std::uint32_t plane_count() const noexcept { return planes_; }
  std::size_t plane_capacity() const noexcept { return plane_capacity_; }
  std::uint32_t trace_ring_records() const noexcept { return trace_records_; }

 private:
  std::uint32_t slots_;
  std::uint32_t workers_;
  std::uint32_t planes_;
  std::size_t plane_capacity_;
  std::uint32_t trace_records_ = 0;
  std::size_t trace_offset_ = 0;
  std::size_t trace_stride_ = 0;
  std::size_t workers_offset_;
  std::size_t slots_offset_;
  std::size_t planes_offset_;
  std::size_t plane_stride_;
  std::size_t size_;
};

}  // namespace tilefork
