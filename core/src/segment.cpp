// Segment's backend-independent half: names, ownership, and dispatch to the backends.
#include "tilefork/segment.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <utility>

#include "segment_backends.hpp"
#include "tilefork/errors.hpp"

namespace tilefork {

std::string_view to_string(Backend backend) noexcept {
  switch (backend) {
    case Backend::sysv: return "sysv";
    case Backend::posix: return "posix";
    case Backend::anon: return "anon";
  }
  return "unknown";  // only reachable through a cast of an out-of-range value
}

Backend parse_backend(std::string_view text) {
  for (const Backend backend : {Backend::sysv, Backend::posix, Backend::anon}) {
    if (text == to_string(backend)) return backend;
  }
  throw UsageError(fmt::format("unknown --backend '{}': expected sysv, posix or anon", text));
}

Segment Segment::create(Backend backend, std::size_t size, Options options) {
  if (size == 0) throw std::invalid_argument("a shared memory segment needs a size of at least 1 byte");
  detail::Mapping mapping;
  switch (backend) {
    case Backend::sysv: mapping = detail::create_sysv(size, options.huge_pages); break;
    case Backend::posix: mapping = detail::create_posix(size); break;
    case Backend::anon: mapping = detail::create_anon(size, options.huge_pages); break;
    default: throw std::invalid_argument("unknown segment backend");
  }
  return adopt(std::move(mapping), backend);
}

// Nothing here throws, so the mapping cannot be lost between the backend and its owner.
Segment Segment::adopt(detail::Mapping&& mapping, Backend backend) noexcept {
  Segment segment;
  segment.data_ = mapping.data;
  segment.size_ = mapping.size;
  segment.backend_ = backend;
  segment.huge_pages_ = mapping.huge_pages;
  segment.sysv_id_ = mapping.sysv_id;
  segment.posix_fd_ = mapping.posix_fd;
  segment.posix_name_ = std::move(mapping.posix_name);
  segment.read_only_ = mapping.read_only;
  return segment;
}

Segment Segment::attach_read_only_sysv(int id) {
  return adopt(detail::attach_sysv_read_only(id), Backend::sysv);
}

Segment Segment::attach_read_only_posix(const std::string& path) {
  return adopt(detail::attach_posix_read_only(path), Backend::posix);
}

Segment::Segment(Segment&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      backend_(other.backend_),
      huge_pages_(std::exchange(other.huge_pages_, false)),
      sysv_id_(std::exchange(other.sysv_id_, -1)),
      posix_fd_(std::exchange(other.posix_fd_, -1)),
      posix_name_(std::move(other.posix_name_)),
      read_only_(std::exchange(other.read_only_, false)) {
  other.posix_name_.clear();
}

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    detach();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    backend_ = other.backend_;
    huge_pages_ = std::exchange(other.huge_pages_, false);
    sysv_id_ = std::exchange(other.sysv_id_, -1);
    posix_fd_ = std::exchange(other.posix_fd_, -1);
    posix_name_ = std::move(other.posix_name_);
    read_only_ = std::exchange(other.read_only_, false);
    other.posix_name_.clear();
  }
  return *this;
}

Segment::~Segment() { detach(); }

bool Segment::prefault() noexcept {
  if (data_ == nullptr || read_only_) return false;
  return madvise(data_, size_, MADV_POPULATE_WRITE) == 0;
}

void Segment::detach() noexcept {
  if (data_ == nullptr) return;
  switch (backend_) {
    case Backend::sysv: detail::detach_sysv(data_, sysv_id_); break;
    case Backend::posix: detail::detach_posix(data_, size_, posix_fd_, posix_name_); break;
    case Backend::anon: detail::detach_anon(data_, size_); break;
  }
  data_ = nullptr;
  size_ = 0;
  huge_pages_ = false;
  sysv_id_ = -1;
  posix_fd_ = -1;
  posix_name_.clear();
  read_only_ = false;
}

std::string Segment::describe() const {
  if (!attached()) return "detached segment";
  switch (backend_) {
    case Backend::sysv: return fmt::format("sysv id {}", sysv_id_);
    case Backend::posix: return fmt::format("posix {}", posix_name_);
    case Backend::anon: return "anon";
  }
  return "unknown segment";
}

namespace detail {

std::size_t page_size() noexcept {
  static const std::size_t size = [] {
    const long value = sysconf(_SC_PAGESIZE);
    return value > 0 ? static_cast<std::size_t>(value) : std::size_t{4096};
  }();
  return size;
}

std::size_t huge_page_size() noexcept {
  // The default huge page size has no sysconf name; /proc/meminfo is where the kernel states it.
  static const std::size_t size = []() noexcept -> std::size_t {
    try {
      std::ifstream meminfo("/proc/meminfo");
      std::string key;
      std::size_t value = 0;
      std::string unit;
      while (meminfo >> key >> value) {
        std::getline(meminfo, unit);
        if (key == "Hugepagesize:") return value * 1024;  // the kernel prints it in kB
      }
    } catch (...) {
    }
    return 0;
  }();
  return size;
}

std::size_t round_up_to(std::size_t asked, std::size_t granule) {
  if (asked > std::numeric_limits<std::size_t>::max() - (granule - 1)) {
    throw_system_error(EOVERFLOW, std::string(kCreateFailed),
                       fmt::format("{} bytes asked cannot be rounded up to a multiple of {}", asked,
                                   granule),
                       "ask for a smaller segment");
  }
  return (asked + granule - 1) / granule * granule;
}

std::string human_size(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} bytes", bytes);
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string failed_request(std::string_view call, std::size_t asked) {
  return fmt::format("{} for a segment of {} ({} bytes asked)", call, human_size(asked), asked);
}

std::string memory_hint(std::size_t rounded) {
  std::string available = "unknown";
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::uint64_t value = 0;
  std::string unit;
  while (meminfo >> key >> value) {
    std::getline(meminfo, unit);
    if (key == "MemAvailable:") {
      available = human_size(value * 1024);
      break;
    }
  }
  return fmt::format(
      "the kernel could not provide {} of shared memory (MemAvailable: {}; the address space "
      "limit, ulimit -v, counts too): use fewer frame slots or smaller frames",
      human_size(rounded), available);
}

}  // namespace detail
}  // namespace tilefork
