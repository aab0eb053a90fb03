// Segment: one shared-memory mapping behind three backends (sysv, posix, anon), move-only RAII.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tilefork {

enum class Backend { sysv, posix, anon };

namespace detail {
struct Mapping;  // what a backend maps (segment_backends.hpp)
}

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

  // Maps another process's segment read-only, to watch it (`tilefork top`): never creates it,
  // never marks it for removal (its creator did), and a write through the view faults. Throw
  // SystemError naming the call, errno and a hint: EACCES when it belongs to another user,
  // EINVAL / EIDRM (sysv) or ENOENT (posix) when it is gone.
  // sysv: IPC_STAT for its size, then shmat(id, SHM_RDONLY); Linux allows it after IPC_RMID.
  static Segment attach_read_only_sysv(int id);
  // posix: open(path, O_RDONLY) and mmap(PROT_READ, MAP_SHARED) of its whole size. After
  // shm_unlink the name is gone, so `path` is the creator's descriptor, /proc/<pid>/fd/<n>.
  static Segment attach_read_only_posix(const std::string& path);

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
  bool read_only() const noexcept { return read_only_; }  // an attach_read_only_* view
  // The System V id (sysv only; -1 otherwise): another process may shmat() it until the last detach.
  int sysv_id() const noexcept { return sysv_id_; }
  // The open shm_open descriptor (posix only; -1 otherwise), inheritable by an exec'd worker.
  int posix_fd() const noexcept { return posix_fd_; }
  // A short human-readable name for messages: "sysv id 123", "posix /tilefork-…", "anon".
  std::string describe() const;

 private:
  static Segment adopt(detail::Mapping&& mapping, Backend backend) noexcept;

  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  Backend backend_ = Backend::anon;
  bool huge_pages_ = false;
  int sysv_id_ = -1;
  int posix_fd_ = -1;
  std::string posix_name_;
  bool read_only_ = false;
};

}  // namespace tilefork
