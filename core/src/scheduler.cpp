// The slot state machine: claiming tasks, finishing phases, failures and retries.
#include "scheduler.hpp"

#include "tilefork/futex.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

namespace tilefork {

SlotScheduler::SlotScheduler(const SegmentLayout& layout, std::byte* base, std::uint32_t stage_count)
    : layout_(layout), base_(base), stage_count_(stage_count) {}

void SlotScheduler::wake_workers() {
  auto& control_block = control();
  control_block.work_seq.fetch_add(1);
  if (control_block.idle_workers.load() > 0) futex_wake(control_block.work_seq, INT_MAX);
}

void SlotScheduler::notify_coordinator() {
  auto& control_block = control();
  control_block.event_seq.fetch_add(1);
  futex_wake(control_block.event_seq, 1);
}

void SlotScheduler::publish(std::uint32_t slot, TaskKind kind, std::uint32_t stage,
                            std::uint32_t total) {
  SlotHeader& header = this->header(slot);
  const std::uint32_t epoch = claim_epoch(header.claim.load(std::memory_order_relaxed)) + 1;
  // Sealed before the fields change: a worker in claim_in() that still holds the old claim word
  // and reads any of the new fields then fails its compare-exchange, instead of taking task
  // `total_old` under the new total (the old word is otherwise still in place until the store
  // at the end, and that task would be run twice and counted twice).
  header.claim.store(claim_word(epoch, kClaimSealed), std::memory_order_relaxed);
  header.done.store(0, std::memory_order_release);
  header.kind.store(static_cast<std::uint32_t>(kind), std::memory_order_release);
  header.stage.store(stage, std::memory_order_release);
  header.total.store(total, std::memory_order_release);
  header.claim.store(claim_word(epoch, 0), std::memory_order_release);
  if (total == 0) {
    advance(slot);
    return;
  }
  wake_workers();
}

void SlotScheduler::start_frame(std::uint32_t slot, std::uint32_t item, std::uint64_t frame_seq) {
  SlotHeader& header = this->header(slot);
  header.item.store(item, std::memory_order_relaxed);
  header.failed.store(0, std::memory_order_relaxed);
  header.retried.store(0, std::memory_order_relaxed);
  header.retry.store(0, std::memory_order_relaxed);
  header.error_text[0] = '\0';
  header.frame_seq.store(frame_seq, std::memory_order_relaxed);
  header.state.store(static_cast<std::uint32_t>(SlotState::busy), std::memory_order_relaxed);
  publish(slot, TaskKind::load, 0, 1);
}

// What a worker is about to take, in its state: the coordinator reads it if the worker dies
// once `claimed` is set (and ignores it while it is not).
static void record_attempt(WorkerState& state, std::uint32_t slot, std::uint64_t word, TaskKind kind,
                           std::uint32_t stage) {
  state.task.store(word);
  state.kind.store(static_cast<std::uint32_t>(kind), std::memory_order_relaxed);
  state.stage.store(stage, std::memory_order_relaxed);
  state.slot.store(slot + 1);
}

std::optional<Task> SlotScheduler::claim_in(std::uint32_t slot, WorkerState& state) {
  SlotHeader& header = this->header(slot);
  // A task given back by the coordinator after its worker died comes first.
  std::uint64_t retry_word = header.retry.load(std::memory_order_acquire);
  while (retry_word != 0) {
    const std::uint64_t current = header.claim.load(std::memory_order_acquire);
    if (claim_epoch(retry_word) != claim_epoch(current)) break;
    const std::uint64_t task_word = retry_word - 1;  // index + 1 was stored
    const auto kind = static_cast<TaskKind>(header.kind.load(std::memory_order_acquire));
    const std::uint32_t stage = header.stage.load(std::memory_order_acquire);
    // The whole task is recorded before it is taken, so that a death right after the take is
    // described as this task, not the one before.
    record_attempt(state, slot, task_word, kind, stage);
    if (header.retry.compare_exchange_strong(retry_word, 0, std::memory_order_acq_rel)) {
      state.claimed.store(1);
      return Task{slot, task_word, kind, stage};
    }
    state.slot.store(0);
  }
  std::uint64_t word = header.claim.load(std::memory_order_acquire);
  while (true) {
    // Read after the acquire of `word`: they belong to its epoch or a later one. A value of a
    // later epoch was stored (release) after publish() sealed the claim word, so the
    // compare-exchange below then sees the seal and fails: a task is taken only with the
    // fields of its own epoch.
    const auto kind = static_cast<TaskKind>(header.kind.load(std::memory_order_acquire));
    const std::uint32_t stage = header.stage.load(std::memory_order_acquire);
    const std::uint32_t total = header.total.load(std::memory_order_acquire);
    if (kind == TaskKind::none || claim_index(word) >= total) return std::nullopt;
    record_attempt(state, slot, word, kind, stage);
    if (header.claim.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
      state.claimed.store(1);
      return Task{slot, word, kind, stage};
    }
    state.slot.store(0);
  }
}

std::optional<Task> SlotScheduler::claim(std::uint32_t worker) {
  WorkerState& state = layout_.worker(base_, worker);
  state.claimed.store(0);
  // Oldest frame first, so frames finish (and free their slots) in the order they came.
  const std::uint32_t slots = layout_.slot_count();
  // Sorted on a snapshot of the sequence numbers: the coordinator changes them while we sort,
  // and std::sort given a comparison that changes its mind may run past the end of the array
  // (it did: workers died of SIGSEGV "between tasks" in batches of small frames).
  std::pair<std::uint64_t, std::uint32_t> order[64];
  const std::uint32_t count = std::min<std::uint32_t>(slots, 64);
  for (std::uint32_t i = 0; i < count; ++i) order[i] = {header(i).frame_seq.load(std::memory_order_relaxed), i};
  std::sort(order, order + count);
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint32_t slot = order[i].second;
    if (header(slot).state.load(std::memory_order_acquire) != static_cast<std::uint32_t>(SlotState::busy)) continue;
    if (auto task = claim_in(slot, state)) return task;
  }
  return std::nullopt;
}

bool SlotScheduler::count_finished(const Task& task) {
  SlotHeader& header = this->header(task.slot);
  const std::uint32_t total = header.total.load(std::memory_order_relaxed);
  return header.done.fetch_add(1, std::memory_order_acq_rel) + 1 == total;
}

void SlotScheduler::take_over_phase_end(std::uint32_t slot) {
  SlotHeader& header = this->header(slot);
  const auto kind = static_cast<TaskKind>(header.kind.load(std::memory_order_acquire));
  if (kind == TaskKind::none) {
    // Died in advance()'s end of the frame, between its two stores: it was ending the frame
    // failed, or done (only a store phase ends otherwise).
    header.state.store(static_cast<std::uint32_t>(failed(slot) ? SlotState::failed : SlotState::done),
                       std::memory_order_release);
    notify_coordinator();
    return;
  }
  if (claim_index(header.claim.load(std::memory_order_acquire)) == kClaimSealed) {
    // Died inside publish(): the new phase's fields are half written. advance() of a failed
    // frame only ends it.
    fail(slot, "a worker died while starting the next stage of this frame");
  }
  advance(slot);
}

void SlotScheduler::advance(std::uint32_t slot) {
  SlotHeader& header = this->header(slot);
  const auto kind = static_cast<TaskKind>(header.kind.load(std::memory_order_relaxed));
  const std::uint32_t stage = header.stage.load(std::memory_order_relaxed);
  auto finish_frame = [&](SlotState state) {
    header.kind.store(static_cast<std::uint32_t>(TaskKind::none), std::memory_order_relaxed);
    header.state.store(static_cast<std::uint32_t>(state), std::memory_order_release);
    notify_coordinator();
  };
  if (failed(slot)) return finish_frame(SlotState::failed);
  if (kind == TaskKind::store) return finish_frame(SlotState::done);
  const std::uint32_t next_stage = kind == TaskKind::load ? 0 : stage + 1;
  if (next_stage < stage_count_) {
    publish(slot, TaskKind::tile, next_stage, header.stage_tasks[next_stage]);
  } else {
    publish(slot, TaskKind::store, 0, 1);
  }
}

void SlotScheduler::fail(std::uint32_t slot, std::string_view message) {
  SlotHeader& header = this->header(slot);
  std::uint32_t expected = 0;
  if (!header.failed.compare_exchange_strong(expected, 2, std::memory_order_acq_rel)) return;
  const std::size_t length = std::min(message.size(), kErrorTextSize - 1);
  std::memcpy(header.error_text, message.data(), length);
  header.error_text[length] = '\0';
  header.failed.store(1, std::memory_order_release);
}

bool SlotScheduler::failed(std::uint32_t slot) const {
  return header(slot).failed.load(std::memory_order_acquire) != 0;
}

bool SlotScheduler::retry(const Task& task) {
  SlotHeader& header = this->header(task.slot);
  std::uint32_t expected = 0;
  if (!header.retried.compare_exchange_strong(expected, 1)) return false;
  header.retry.store(task.claim + 1, std::memory_order_release);
  wake_workers();
  return true;
}


}  // namespace tilefork
