// Trace rings: a worker's lock-free writer, the coordinator's drain, the one clock.
#include "tilefork/trace.hpp"

#include "tilefork/futex.hpp"

#include <algorithm>
#include <chrono>
#include <sys/mman.h>

namespace tilefork {

const char* to_string(TraceKind kind) noexcept {
  switch (kind) {
    case TraceKind::load: return "load";
    case TraceKind::tile: return "tile";
    case TraceKind::store: return "store";
    case TraceKind::start: return "start";
    case TraceKind::asleep: return "asleep";
    case TraceKind::decode: return "decode";
    case TraceKind::encode: return "encode";
    case TraceKind::wait: return "wait";
  }
  return "unknown";
}

std::uint64_t trace_clock_ns() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

namespace {
constexpr std::size_t kMappedTraceBuffer = 64 * 1024;  // smaller buffers come from the heap
}

void* allocate_trace_buffer(std::size_t bytes) {
  if (bytes < kMappedTraceBuffer) return ::operator new(bytes);
  void* buffer = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buffer == MAP_FAILED) throw std::bad_alloc();
  // Both are optimisations: a kernel without them (MADV_POPULATE_WRITE is Linux 5.14) still works.
  madvise(buffer, bytes, MADV_DONTFORK);
  madvise(buffer, bytes, MADV_POPULATE_WRITE);
  return buffer;
}

void free_trace_buffer(void* buffer, std::size_t bytes) noexcept {
  if (bytes < kMappedTraceBuffer) {
    ::operator delete(buffer);
  } else {
    munmap(buffer, bytes);
  }
}

std::uint64_t RunTrace::tasks() const noexcept {
  return static_cast<std::uint64_t>(
      std::count_if(records.begin(), records.end(), [](const TraceRecord& r) { return is_task(r.kind); }));
}

std::size_t TraceRing::drain(TraceRecords& out) {
  const std::uint64_t tail = header_->tail.load(std::memory_order_relaxed);
  const std::uint64_t head = header_->head.load(std::memory_order_acquire);
  if (head == tail) return 0;
  // Copied before the tail moves: the writer cannot reuse a record until then. Two block copies
  // (before and after the wrap), not one push_back per record: the drain is the coordinator's
  // share of tracing, and it runs on a core the workers want.
  const std::uint64_t count = head - tail;
  const std::size_t first = static_cast<std::size_t>(tail & (capacity_ - 1));
  const std::size_t before_wrap = static_cast<std::size_t>(std::min<std::uint64_t>(count, capacity_ - first));
  out.insert(out.end(), records_ + first, records_ + first + before_wrap);
  out.insert(out.end(), records_, records_ + (count - before_wrap));
  // Sequentially consistent with the writer's "waiting" flag: either it sees this tail, or this
  // drain sees it waiting and wakes it.
  header_->tail.store(head, std::memory_order_seq_cst);
  if (header_->writer_waiting.load(std::memory_order_seq_cst) != 0) {
    header_->drained.fetch_add(1);
    futex_wake(header_->drained, 1);
  }
  return static_cast<std::size_t>(head - tail);
}

TraceWriter::TraceWriter(TraceRing ring, std::atomic<std::uint32_t>& coordinator_event) noexcept
    : ring_(ring), coordinator_event_(&coordinator_event) {}

void TraceWriter::nudge_coordinator() noexcept {
  coordinator_event_->fetch_add(1);
  futex_wake(*coordinator_event_, 1);
}

void TraceWriter::check_room(std::uint64_t head) noexcept {
  TraceRingHeader& header = *ring_.header_;
  const std::uint64_t capacity = ring_.capacity_;
  std::uint64_t tail = header.tail.load(std::memory_order_acquire);
  // Half full: ask the coordinator to drain now rather than at its next look (<= 50 ms).
  if (head - tail >= capacity / 2) nudge_coordinator();
  if (head - tail >= capacity) {
    // Full: wait for room. Dropping a record would make the trace lie.
    header.full_waits.fetch_add(1, std::memory_order_relaxed);
    while (true) {
      const std::uint32_t seen = header.drained.load(std::memory_order_acquire);
      header.writer_waiting.store(1, std::memory_order_seq_cst);
      tail = header.tail.load(std::memory_order_seq_cst);
      if (head - tail < capacity) break;
      nudge_coordinator();
      futex_wait(header.drained, seen, std::chrono::milliseconds(10));
    }
    header.writer_waiting.store(0, std::memory_order_relaxed);
  }
  // Until the next check the ring cannot fill (the tail only grows): look again where it could
  // reach half, or a quarter ring later once past half.
  const std::uint64_t used = head - tail;
  const std::uint64_t ahead = used < capacity / 2 ? capacity / 2 - used : std::min(capacity / 4, capacity - used);
  next_check_ = head + std::max<std::uint64_t>(1, ahead);
}

}  // namespace tilefork
