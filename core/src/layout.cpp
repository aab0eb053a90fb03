// Offsets of the control block, worker states, slot headers, trace rings and planes in the segment.
#include "tilefork/layout.hpp"

#include <cstring>
#include <new>
#include <stdexcept>

namespace tilefork {
namespace {

constexpr std::size_t kPlaneAlign = 4096;  // planes start on pages: row copies stay aligned

// Sizes are checked as they are summed: a sum that wrapped would make a small segment that the
// offsets computed from the same numbers run past.
std::size_t checked_add(std::size_t a, std::size_t b) {
  std::size_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) throw std::invalid_argument("the segment layout is larger than memory can address");
  return sum;
}

std::size_t checked_mul(std::size_t a, std::size_t b) {
  std::size_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) {
    throw std::invalid_argument("the segment layout is larger than memory can address");
  }
  return product;
}

std::size_t round_up(std::size_t value, std::size_t align) {
  return checked_add(value, align - 1) / align * align;
}

}  // namespace

SegmentLayout::SegmentLayout(std::uint32_t slots, std::uint32_t workers, std::uint32_t planes,
                             std::size_t plane_capacity, std::uint32_t trace_ring_records)
    : slots_(slots), workers_(workers), planes_(planes), plane_capacity_(plane_capacity),
      trace_records_(trace_ring_records) {
  if (slots == 0 || workers == 0 || planes == 0 || planes > kMaxPlanes) {
    throw std::invalid_argument("SegmentLayout needs at least one slot, worker and plane");
  }
  if (trace_ring_records == 1 || (trace_ring_records & (trace_ring_records - 1)) != 0) {
    throw std::invalid_argument("a trace ring holds a power of two (at least 2) of records");
  }
  workers_offset_ = round_up(sizeof(ControlBlock), 64);
  slots_offset_ = round_up(workers_offset_ + sizeof(WorkerState) * workers, 64);
  // The rings sit between the slot headers and the planes; with tracing off they take no byte.
  trace_offset_ = round_up(slots_offset_ + sizeof(SlotHeader) * slots, 64);
  trace_stride_ = trace_ring_records == 0
                      ? 0
                      : round_up(sizeof(TraceRingHeader) + sizeof(TraceRecord) * trace_ring_records, 64);
  planes_offset_ = round_up(checked_add(trace_offset_, checked_mul(trace_stride_, workers)), kPlaneAlign);
  plane_stride_ = round_up(plane_capacity, kPlaneAlign);
  size_ = checked_add(planes_offset_, checked_mul(checked_mul(plane_stride_, planes), slots));
}

void SegmentLayout::initialise(std::byte* base) const {
  // Placement-new gives the atomics their lifetime; the segment is already zero-filled.
  auto* control_block = new (base) ControlBlock{};
  control_block->magic = kLayoutMagic;
  control_block->slot_count = slots_;
  control_block->worker_count = workers_;
  control_block->plane_count = planes_;
  control_block->plane_capacity = plane_capacity_;
  control_block->trace_ring_records = trace_records_;
  control_block->run.layout_bytes = size_;
  for (std::uint32_t i = 0; i < workers_; ++i) new (&worker(base, i)) WorkerState{};
  for (std::uint32_t i = 0; i < workers_ && trace_records_ > 0; ++i) {
    new (base + trace_offset_ + trace_stride_ * i) TraceRingHeader{};
  }
  for (std::uint32_t i = 0; i < slots_; ++i) new (&slot(base, i)) SlotHeader{};
}

ControlBlock& SegmentLayout::control(std::byte* base) noexcept {
  return *std::launder(reinterpret_cast<ControlBlock*>(base));
}

WorkerState& SegmentLayout::worker(std::byte* base, std::uint32_t index) const noexcept {
  return *std::launder(reinterpret_cast<WorkerState*>(base + workers_offset_) + index);
}

SlotHeader& SegmentLayout::slot(std::byte* base, std::uint32_t index) const noexcept {
  return *std::launder(reinterpret_cast<SlotHeader*>(base + slots_offset_) + index);
}

TraceRing SegmentLayout::trace_ring(std::byte* base, std::uint32_t index) const noexcept {
  std::byte* ring = base + trace_offset_ + trace_stride_ * index;
  auto* header = std::launder(reinterpret_cast<TraceRingHeader*>(ring));
  auto* records = reinterpret_cast<TraceRecord*>(ring + sizeof(TraceRingHeader));
  return TraceRing(*header, records, trace_records_);
}

std::byte* SegmentLayout::plane(std::byte* base, std::uint32_t slot_index,
                                std::uint32_t plane_index) const noexcept {
  return base + planes_offset_ + plane_stride_ * (static_cast<std::size_t>(slot_index) * planes_ + plane_index);
}

}  // namespace tilefork
