// Anonymous backend: one MAP_SHARED|MAP_ANONYMOUS mapping, shared with forked children only.
#include <sys/mman.h>

#include <cerrno>
#include <string>

#include "segment_backends.hpp"
#include "tilefork/errors.hpp"

namespace tilefork::detail {
namespace {

// Nothing to mark for removal: the mapping has no name, and the kernel frees it at the last munmap.
std::byte* map(std::size_t size, bool huge_pages) {
  void* address = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS | (huge_pages ? MAP_HUGETLB : 0), -1, 0);
  return address == MAP_FAILED ? nullptr : static_cast<std::byte*>(address);
}

std::string hint_for(int err, std::size_t size) {
  if (err == ENOMEM) return memory_hint(size);
  return {};
}

}  // namespace

Mapping create_anon(std::size_t size, bool huge_pages) {
  Mapping mapping;
  if (huge_pages && huge_page_size() != 0) {
    // A failure (no huge pages reserved, the usual case) falls back silently to normal pages.
    const std::size_t rounded = round_up_to(size, huge_page_size());
    if (std::byte* data = map(rounded, true); data != nullptr) {
      mapping.data = data;
      mapping.size = rounded;
      mapping.huge_pages = true;
      return mapping;
    }
  }
  const std::size_t rounded = round_up_to(size, page_size());
  std::byte* data = map(rounded, false);
  if (data == nullptr) {
    const int err = errno;
    throw_system_error(
        err, std::string(kCreateFailed),
        failed_request(fmt::format("mmap(nullptr, {}, PROT_READ|PROT_WRITE, "
                                   "MAP_SHARED|MAP_ANONYMOUS, -1, 0)",
                                   rounded),
                       size),
        hint_for(err, rounded));
  }
  mapping.data = data;
  mapping.size = rounded;
  return mapping;
}

void detach_anon(std::byte* data, std::size_t size) noexcept {
  if (munmap(data, size) != 0) {
    log_failed_call(errno, "munmap({}, {}) of anon segment", static_cast<void*>(data), size);
  }
}

}  // namespace tilefork::detail
