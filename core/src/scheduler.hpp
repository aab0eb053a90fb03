// SlotScheduler: the lock-free state machine of frame slots, shared by workers and coordinator.
#pragma once

#include "tilefork/layout.hpp"

#include <optional>
#include <string_view>

namespace tilefork {

struct Task {
  std::uint32_t slot = 0;
  std::uint64_t claim = 0;  // the claim word taken: epoch and index
  TaskKind kind = TaskKind::none;
  std::uint32_t stage = 0;
  std::uint32_t index() const { return claim_index(claim); }
};

// Every process holds its own SlotScheduler over the same segment. A phase's tasks are claimed
// with compare-exchange on the slot's claim word; the process that finishes a phase's last task
// publishes the next phase (load -> tiles of each stage -> store -> done). Nothing blocks, so a
// process that dies at any instruction wedges no other.
class SlotScheduler {
 public:
  SlotScheduler(const SegmentLayout& layout, std::byte* base, std::uint32_t stage_count);

  // Publishes a phase of `total` tasks in `slot` (total 0 finishes it at once) and wakes workers.
  void publish(std::uint32_t slot, TaskKind kind, std::uint32_t stage, std::uint32_t total);
  // Starts a frame: the coordinator hands `item` to a free slot as a load phase.
  void start_frame(std::uint32_t slot, std::uint32_t item, std::uint64_t frame_seq);
  // Claims one task for worker `worker`, recording it in the worker's state first so that the
  // coordinator can tell what a dead worker was doing. Oldest frames first; retries first.
  std::optional<Task> claim(std::uint32_t worker);
  // Counts a task as finished (done or given up); the last one of a phase publishes the next.
  void finish(const Task& task) {
    if (count_finished(task)) advance(task.slot);
  }
  // finish() in two steps: counts the task and says whether it was its phase's last, in which
  // case the caller must advance() the slot.
  bool count_finished(const Task& task);
  // Publishes the phase after the one just finished in `slot`, or ends the frame.
  void advance(std::uint32_t slot);
  // Ends the phase in `slot` for a worker that died after its last task was counted and before
  // the next phase was published (no worker is on the slot and nothing can be claimed; the
  // coordinator has seen it so twice). Publishes the next phase as that worker would have, or
  // fails the frame when the worker died half way through publishing it.
  void take_over_phase_end(std::uint32_t slot);
  // Marks the frame in `slot` failed; the first message is kept. The phase still runs out.
  void fail(std::uint32_t slot, std::string_view message);
  bool failed(std::uint32_t slot) const;
  // Puts a claimed task back to be claimed once more; false if this frame had its retry.
  bool retry(const Task& task);

  void wake_workers();
  void notify_coordinator();

  const SegmentLayout& layout() const { return layout_; }
  std::byte* base() const { return base_; }
  ControlBlock& control() const { return SegmentLayout::control(base_); }
  SlotHeader& header(std::uint32_t slot) const { return layout_.slot(base_, slot); }

 private:
  std::optional<Task> claim_in(std::uint32_t slot, WorkerState& state);

  const SegmentLayout& layout_;
  std::byte* base_;
  std::uint32_t stage_count_;
};

}  // namespace tilefork
