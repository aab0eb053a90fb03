// Offsets of the control block, worker states, slot headers and planes in the segment.
#include "tilefork/layout.hpp"

#include <cstring>
#include <new>
#include <stdexcept>

namespace tilefork {
namespace {

constexpr std::size_t kPlaneAlign = 4096;  // planes start on pages: row copies stay aligned

constexpr std::size_t round_up(std::size_t value, std::size_t align) {
  return (value + align - 1) / align * align;
}

}  // namespace

SegmentLayout::SegmentLayout(std::uint32_t slots, std::uint32_t workers, std::uint32_t planes,
                             std::size_t plane_capacity)
    : slots_(slots), workers_(workers), planes_(planes), plane_capacity_(plane_capacity) {
  if (slots == 0 || workers == 0 || planes == 0 || planes > kMaxPlanes) {
    throw std::invalid_argument("SegmentLayout needs at least one slot, worker and plane");
  }
  workers_offset_ = round_up(sizeof(ControlBlock), 64);
  slots_offset_ = round_up(workers_offset_ + sizeof(WorkerState) * workers, 64);
  planes_offset_ = round_up(slots_offset_ + sizeof(SlotHeader) * slots, kPlaneAlign);
  plane_stride_ = round_up(plane_capacity, kPlaneAlign);
  size_ = planes_offset_ + plane_stride_ * planes * slots;
}

void SegmentLayout::initialise(std::byte* base) const {
  // Placement-new gives the atomics their lifetime; the segment is already zero-filled.
  auto* control_block = new (base) ControlBlock{};
  control_block->magic = kLayoutMagic;
  control_block->slot_count = slots_;
  control_block->worker_count = workers_;
  control_block->plane_count = planes_;
  control_block->plane_capacity = plane_capacity_;
  control_block->run.layout_bytes = size_;
  for (std::uint32_t i = 0; i < workers_; ++i) new (&worker(base, i)) WorkerState{};
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

std::byte* SegmentLayout::plane(std::byte* base, std::uint32_t slot_index,
                                std::uint32_t plane_index) const noexcept {
  return base + planes_offset_ + plane_stride_ * (static_cast<std::size_t>(slot_index) * planes_ + plane_index);
}

}  // namespace tilefork
