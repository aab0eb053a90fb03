// Private interface between Segment and its backends (segment_sysv/posix/anon.cpp).
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace tilefork::detail {

// What a backend hands to Segment::create: a mapped, zero-filled segment that is already
// marked for removal. Segment takes ownership; the backend keeps nothing.
struct Mapping {
  std::byte* data = nullptr;
  std::size_t size = 0;  // rounded up to the (huge) page size
  bool huge_pages = false;
  int sysv_id = -1;
  int posix_fd = -1;
  std::string posix_name;
  bool read_only = false;
};

// Each create_* rounds `size` up, creates, maps and marks for removal; on failure it rolls back
// what it did and throws SystemError (errno, the call, the size, a hint). `size` is never 0.
Mapping create_sysv(std::size_t size, bool huge_pages);
Mapping create_posix(std::size_t size);  // MAP_HUGETLB does not apply to shm_open files
Mapping create_anon(std::size_t size, bool huge_pages);

// Each attach_*_read_only maps an existing segment read-only (PROT_READ) and marks nothing;
// throws SystemError. For posix, posix_name is `path` (for messages) and posix_fd its descriptor.
Mapping attach_sysv_read_only(int id);
Mapping attach_posix_read_only(const std::string& path);

// Each detach_* undoes one process's view of a Mapping. Never throw; failures are logged.
void detach_sysv(std::byte* data, int sysv_id) noexcept;
void detach_posix(std::byte* data, std::size_t size, int fd, const std::string& name) noexcept;
void detach_anon(std::byte* data, std::size_t size) noexcept;

// Shared by the backends; defined in segment.cpp.

inline constexpr std::string_view kCreateFailed = "could not create shared memory segment";
inline constexpr std::string_view kMapFailed = "could not map shared memory segment";
inline constexpr std::string_view kRemovalFailed =
    "could not mark shared memory segment for removal";
inline constexpr std::string_view kAttachFailed = "could not attach shared memory segment read-only";

std::size_t page_size() noexcept;
// From /proc/meminfo's Hugepagesize; 0 when unknown (then huge pages are not tried).
std::size_t huge_page_size() noexcept;
// `asked` rounded up to a multiple of `granule`; throws SystemError(EOVERFLOW) if it does not fit.
std::size_t round_up_to(std::size_t asked, std::size_t granule);
// "8.0 MiB", "512 bytes".
std::string human_size(std::uint64_t bytes);
// The detail of a failed request: the call with its arguments and the size the caller asked for.
std::string failed_request(std::string_view call, std::size_t asked);
// The hint for ENOMEM: how much memory there is and what to ask for instead.
std::string memory_hint(std::size_t rounded);

// Logs "tilefork: <call> failed: <strerror>" to stderr. For cleanup paths, which must not throw,
// so even formatting the call happens inside the guard.
template <typename... Args>
void log_failed_call(int err, fmt::format_string<Args...> call, Args&&... args) noexcept {
  try {
    fmt::print(stderr, "tilefork: {} failed: {}\n", fmt::format(call, std::forward<Args>(args)...),
               std::generic_category().message(err));
  } catch (...) {
    std::fputs("tilefork: cleaning up a shared memory segment failed\n", stderr);
  }
}

}  // namespace tilefork::detail
