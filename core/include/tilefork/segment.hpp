// Segment: one shared-memory mapping behind three backends (sysv, posix, anon), move-only RAII.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tilefork {

enum class Backend { sysv, posix, anon };

std::string_view to_string(Backend backend) noexcept;
// Parses "sysv", "posix" or "anon"; throws UsageError naming the value otherwise.
Backend parse_backend(std::string_view text);

// A shared-memory segment mapped into this process. Children forked after create() inherit
// the mapping. The segment is marked for removal right after it is first mapped (IPC_RMID for
// sysv, shm_unlink for posix), so no way of ending the process leaves it behind: the kernel
// frees it when the last process unmaps it. The coordinator alone creates segments.
//
// Linux only: sysv relies on Linux letting a process shmat() a segment by id after IPC_RMID.
class Segment {
 public:
  struct Options {
    bool huge_pages = false;  // SHM_HUGETLB / MAP_HUGETLB, falling back to normal pages
  };

  // Creates, maps and marks for removal a zero-filled segment of at least `size` bytes
  // (rounded up to the page size). Throws SystemError naming the call, errno, the size and a
  // hint (kernel.shmmax / shmall, /dev/shm free space, --backend). Throws std::invalid_argument
  // for size 0.
  static Segment create(Backend backend, std::size_t size, Options options);
  static Segment create(Backend backend, std::size_t size) { return create(backend, size, {}); }

  Segment() noexcept = default;
  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();  // detach(); never throws

  // Unmaps this process's view (and closes the posix fd). Never throws; logs failures to stderr.
  void detach() noexcept;

  // Maps every page of this process's view now (MADV_POPULATE_WRITE), allocating the ones no
  // process has touched yet. Page tables are not inherited for shared mappings, so without it
  // every process takes one fault per page it touches; one call is far cheaper than those
  // faults, above all in a virtual machine. Returns false (and changes nothing) where the kernel
  // cannot (Linux before 5.14) or memory is short; the pages are then faulted in as touched.
  bool prefault() noexcept;

  bool attached() const noexcept { return data_ != nullptr; }
  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }  // the rounded size actually mapped
  Backend backend() const noexcept { return backend_; }
  bool huge_pages() const noexcept { return huge_pages_; }
  // The System V id (sysv only; -1 otherwise): another process may shmat() it until the last detach.
  int sysv_id() const noexcept { return sysv_id_; }
  // The open shm_open descriptor (posix only; -1 otherwise), inheritable by an exec'd worker.
  int posix_fd() const noexcept { return posix_fd_; }
  // A short human-readable name for messages: "sysv id 123", "posix /tilefork-…", "anon".
  std::string describe() const;

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  Backend backend_ = Backend::anon;
  bool huge_pages_ = false;
  int sysv_id_ = -1;
  int posix_fd_ = -1;
  std::string posix_name_;
};

}  // namespace tilefork
