// Profiling records: what each task took, written by each worker into its own ring in the
// segment and drained by the coordinator (DESIGN.md, "Profiling"); the run's collected trace.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <vector>

namespace tilefork {

// What a record stands for. The first three are a worker's tasks (the values of TaskKind).
enum class TraceKind : std::uint8_t {
  load = 1,    // decode a frame into its slot (an empty task for video frames: see decode)
  tile = 2,    // one tile of one stage
  store = 3,   // encode and write a result
  start = 4,   // a worker process from its fork to its first claim (mapping the segment)
  asleep = 5,  // a worker asleep on the work futex with nothing to claim
  decode = 6,  // coordinator: a video frame decoded into its slot (in order)
  encode = 7,  // coordinator: a video frame encoded (in order)
  wait = 8,    // coordinator: asleep waiting for an event
};
const char* to_string(TraceKind kind) noexcept;
inline bool is_task(TraceKind kind) noexcept { return kind == TraceKind::load || kind == TraceKind::tile || kind == TraceKind::store; }

inline constexpr std::uint8_t kTraceSkipped = 1;  // flags: the frame had failed already; nothing was done

// One span of time, fixed size so that a ring is an array. Times are steady_clock
// (CLOCK_MONOTONIC) nanoseconds, read through the vDSO: the same clock in every process.
struct TraceRecord {
  std::uint64_t begin_ns = 0;
  std::uint64_t end_ns = 0;
  std::uint32_t item = 0;  // batch item (frame); unused by start, asleep and wait
  std::uint32_t tile = 0;  // tile index within its stage
  // tile: the output rectangle; load: the decoded frame; store: the result frame.
  std::int32_t x = 0, y = 0, width = 0, height = 0;
  std::int32_t pid = 0;  // the process (fork, serial) or thread (threads) that ran it
  std::uint16_t stage = 0;
  TraceKind kind = TraceKind::tile;
  std::uint8_t flags = 0;
};
static_assert(sizeof(TraceRecord) == 48);
static_assert(std::is_trivially_copyable_v<TraceRecord>);

// steady_clock now, in nanoseconds. No system call (vDSO). Never throws.
std::uint64_t trace_clock_ns() noexcept;

// Room for the records the coordinator gathers, taken from a mapping of its own. A heap buffer
// would be shared copy-on-write with every worker forked after it was touched (a second run in
// one process reuses the first run's freed pages), and the coordinator would then pay a page
// copy and a TLB shootdown for each 85 records it drains (most of tracing's +17% on 32x32 invert
// tiles in bench_trace_overhead; +2% without).
// A mapping of its own is left out of forked children (MADV_DONTFORK) and populated in one
// system call (MADV_POPULATE_WRITE) instead of one fault per page. Small buffers (under 64 KiB)
// come from the heap as usual. So a process forked while a RunTrace holds records does not see
// them: read a trace in the process that ran it (tilefork's workers never touch it). Linux only,
// like the rest of the fork executor.
void* allocate_trace_buffer(std::size_t bytes);
void free_trace_buffer(void* buffer, std::size_t bytes) noexcept;

template <class T>
struct TraceBufferAllocator {
  using value_type = T;
  TraceBufferAllocator() noexcept = default;
  template <class U>
  TraceBufferAllocator(const TraceBufferAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(allocate_trace_buffer(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { free_trace_buffer(p, n * sizeof(T)); }
  friend bool operator==(const TraceBufferAllocator&, const TraceBufferAllocator&) noexcept { return true; }
};

using TraceRecords = std::vector<TraceRecord, TraceBufferAllocator<TraceRecord>>;

// The shared part of one worker's ring: the writer's head and the reader's tail on separate
// cache lines, so that publishing a record does not bounce the line the coordinator reads from.
struct alignas(64) TraceRingHeader {
  std::atomic<std::uint64_t> head;        // records published (release store by the worker)
  std::atomic<std::uint64_t> full_waits;  // times the worker found its ring full and waited
  alignas(64) std::atomic<std::uint64_t> tail;  // records drained (by the coordinator)
  std::atomic<std::uint32_t> drained;           // futex word: bumped by a drain while the writer waits
  std::atomic<std::uint32_t> writer_waiting;    // 1 while the writer waits for room
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

// One single-producer/single-consumer ring over the segment: `capacity` (a power of two)
// records after their header. The worker is the only writer, the coordinator the only reader.
// A view: copying it copies no record.
class TraceRing {
 public:
  TraceRing(TraceRingHeader& header, TraceRecord* records, std::uint32_t capacity) noexcept
      : header_(&header), records_(records), capacity_(capacity) {}

  // Reader: appends every published record to `out` and frees their room; wakes a writer that
  // waits for it. Returns how many were taken. Never throws except std::bad_alloc from `out`.
  std::size_t drain(TraceRecords& out);
  std::uint64_t full_waits() const noexcept { return header_->full_waits.load(std::memory_order_relaxed); }
  std::uint32_t capacity() const noexcept { return capacity_; }

 private:
  friend class TraceWriter;
  TraceRingHeader* header_;
  TraceRecord* records_;
  std::uint32_t capacity_;
};

// The writing end of a ring, owned by one worker process. push() costs a copy and a release
// store; it makes a system call only when the ring is half full (to wake the coordinator, once
// per quarter ring) or full, where it waits for room rather than drop a record.
class TraceWriter {
 public:
  // `coordinator_event` is the word the coordinator sleeps on (ControlBlock::event_seq). A new
  // writer continues where a dead predecessor on the same ring left off. Never throws.
  TraceWriter(TraceRing ring, std::atomic<std::uint32_t>& coordinator_event) noexcept;

  void push(const TraceRecord& record) noexcept {
    const std::uint64_t head = ring_.header_->head.load(std::memory_order_relaxed);
    if (head >= next_check_) [[unlikely]] check_room(head);
    ring_.records_[head & (ring_.capacity_ - 1)] = record;
    ring_.header_->head.store(head + 1, std::memory_order_release);
  }

 private:
  void check_room(std::uint64_t head) noexcept;
  void nudge_coordinator() noexcept;
  TraceRing ring_;
  std::atomic<std::uint32_t>* coordinator_event_;
  std::uint64_t next_check_ = 0;  // head at which to look at the tail again
};

// A worker process seen in a run: its trace track.
struct TraceProcess {
  std::int32_t pid = 0;      // process id (fork, serial) or thread id (threads)
  std::uint32_t worker = 0;  // worker index; a replaced worker's successor has the same index
};

// Everything a run recorded, gathered in the caller's process. The executor appends to it as it
// goes, so a run that throws or is interrupted leaves every record drained so far.
struct RunTrace {
  const char* executor = "";
  std::uint64_t origin_ns = 0;  // the run's start (trace time 0)
  std::uint64_t end_ns = 0;     // the run's end
  std::int32_t coordinator_pid = 0;
  std::vector<TraceProcess> processes;   // every worker process (or thread), in order of start
  TraceRecords records;                  // the workers' records (tasks, start, asleep)
  std::vector<TraceRecord> coordinator;  // the coordinator's own (decode, encode, wait)
  std::uint32_t ring_capacity = 0;       // records per worker ring (fork)
  std::uint64_t ring_full_waits = 0;     // times a worker waited for room in its ring
  std::uint64_t tasks() const noexcept;  // task records
};

}  // namespace tilefork
