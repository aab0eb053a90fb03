// POSIX backend: shm_open a unique name, reserve its pages, mmap, shm_unlink at once; keep the fd.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <random>
#include <string>

#include "segment_backends.hpp"
#include "tilefork/errors.hpp"

namespace tilefork::detail {
namespace {

// shm_open names live in this tmpfs (glibc); its size, not RAM, bounds the backend.
constexpr const char* kShmDirectory = "/dev/shm";

std::string unique_name() {
  std::random_device entropy;
  const std::uint64_t bits = (std::uint64_t{entropy()} << 32) | entropy();
  return fmt::format("/tilefork-{}-{:016x}", getpid(), bits);
}

// The steps return the raw result (-1 / nullptr with errno set, or an error number), so that
// the caller saves the error before rolling back.

// Close-on-exec, because only a worker that the pool chooses to exec should get the fd.
int create(const std::string& name) {
  return shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
}

int resize(int fd, std::size_t size) {
  return ftruncate(fd, static_cast<off_t>(size)) == 0 ? 0 : errno;
}

// Without the reservation a full /dev/shm still lets ftruncate and mmap succeed, and the
// first touch of a missing page kills the process with SIGBUS instead of giving an error.
int reserve(int fd, std::size_t size) {
  int err = 0;
  do {
    err = posix_fallocate(fd, 0, static_cast<off_t>(size));  // returns the error, errno untouched
  } while (err == EINTR);
  return err;
}

std::byte* map(int fd, std::size_t size) {
  void* address = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return address == MAP_FAILED ? nullptr : static_cast<std::byte*>(address);
}

bool mark_for_removal(const std::string& name) { return shm_unlink(name.c_str()) == 0; }

void unmap(std::byte* data, std::size_t size, const std::string& name) noexcept {
  if (munmap(data, size) != 0) {
    log_failed_call(errno, "munmap({}, {}) of posix segment {}", static_cast<void*>(data), size, name);
  }
}

void close_fd(int fd, const std::string& name) noexcept {
  if (close(fd) != 0) log_failed_call(errno, "close({}) of posix segment {}", fd, name);
}

// Undoes a partly created segment. Every step is attempted and logged; none throws.
void roll_back(const std::string& name, int fd, bool unlinked) noexcept {
  if (!unlinked && !mark_for_removal(name)) log_failed_call(errno, "shm_unlink(\"{}\")", name);
  close_fd(fd, name);
}

std::string free_space_hint(std::size_t size) {
  struct statvfs stats {};
  if (statvfs(kShmDirectory, &stats) != 0) {
    return fmt::format(
        "{} (a tmpfs) is full: enlarge it (mount -o remount,size=... {}, or docker run "
        "--shm-size=...) or use --backend sysv or --backend anon",
        kShmDirectory, kShmDirectory);
  }
  const std::uint64_t total = std::uint64_t{stats.f_blocks} * stats.f_frsize;
  const std::uint64_t free = std::uint64_t{stats.f_bavail} * stats.f_frsize;
  // What the tmpfs would need to hold what it holds now plus this segment, in mount's units.
  const std::uint64_t wanted = total - free + size;
  constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
  constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
  const std::string wanted_size = wanted >= kGiB ? fmt::format("{}G", (wanted + kGiB - 1) / kGiB)
                                                 : fmt::format("{}M", (wanted + kMiB - 1) / kMiB);
  return fmt::format(
      "{} is a tmpfs with {} free of {} and this segment needs {}: enlarge it (mount -o "
      "remount,size={} {}, or docker run --shm-size=...) or use --backend sysv or --backend anon",
      kShmDirectory, human_size(free), human_size(total), human_size(size), wanted_size,
      kShmDirectory);
}

std::string hint_for(int err, std::size_t size) {
  switch (err) {
    case ENOSPC:
      return free_space_hint(size);
    case ENOMEM:
      return memory_hint(size);
    case EFBIG:
    case EINVAL:
      return fmt::format("{} does not take a file of {}: use --backend sysv or --backend anon",
                         kShmDirectory, human_size(size));
    case EMFILE:
    case ENFILE:
      return "too many open files: raise the limit (ulimit -n)";
    case EACCES:
      return fmt::format(
          "{} is not writable (it is normally a tmpfs with mode 1777): fix it or use --backend "
          "sysv or --backend anon",
          kShmDirectory);
    case ENOENT:
    case ENOSYS:
      return fmt::format(
          "{} is missing: mount a tmpfs there (mount -t tmpfs tmpfs {}) or use --backend sysv "
          "or --backend anon",
          kShmDirectory, kShmDirectory);
    default:
      return {};
  }
}

}  // namespace

Mapping create_posix(std::size_t size) {
  const std::size_t rounded = round_up_to(size, page_size());
  const std::string name = unique_name();
  const auto fail = [&](int err, std::string_view primary, const std::string& call) {
    throw_system_error(err, std::string(primary), failed_request(call, size), hint_for(err, rounded));
  };

  if (rounded > static_cast<std::size_t>(std::numeric_limits<off_t>::max())) {
    fail(EFBIG, kCreateFailed, fmt::format("ftruncate of \"{}\" to {} bytes", name, rounded));
  }
  const int fd = create(name);
  if (fd < 0) {
    fail(errno, kCreateFailed,
         fmt::format("shm_open(\"{}\", O_CREAT|O_EXCL|O_RDWR|O_CLOEXEC, 0600)", name));
  }
  if (const int err = resize(fd, rounded); err != 0) {
    roll_back(name, fd, false);
    fail(err, kCreateFailed, fmt::format("ftruncate({}, {}) on \"{}\"", fd, rounded, name));
  }
  if (const int err = reserve(fd, rounded); err != 0) {
    roll_back(name, fd, false);
    fail(err, kCreateFailed, fmt::format("posix_fallocate({}, 0, {}) on \"{}\"", fd, rounded, name));
  }
  std::byte* data = map(fd, rounded);
  if (data == nullptr) {
    const int err = errno;
    roll_back(name, fd, false);
    fail(err, kMapFailed,
         fmt::format("mmap(nullptr, {}, PROT_READ|PROT_WRITE, MAP_SHARED, {}, 0) on \"{}\"", rounded,
                     fd, name));
  }
  if (!mark_for_removal(name)) {
    const int err = errno;
    unmap(data, rounded, name);
    roll_back(name, fd, false);  // one more try, so that a name left behind is at least logged
    fail(err, kRemovalFailed, fmt::format("shm_unlink(\"{}\")", name));
  }

  Mapping mapping;
  mapping.data = data;
  mapping.size = rounded;
  mapping.posix_fd = fd;
  mapping.posix_name = name;
  return mapping;
}

Mapping attach_posix_read_only(const std::string& path) {
  const auto fail = [&](int err, const std::string& call) {
    std::string hint;
    if (err == EACCES || err == EPERM) {
      hint = "the segment belongs to another user's process, whose descriptors only that user may open: watch it "
             "as that user";
    } else if (err == ENOENT) {
      hint = "the descriptor is closed: the run that made the segment has ended";
    }
    throw_system_error(err, std::string(kAttachFailed), call, hint);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(errno, fmt::format("open(\"{}\", O_RDONLY|O_CLOEXEC)", path));
  struct stat info {};
  if (fstat(fd, &info) != 0 || info.st_size <= 0) {
    const int err = info.st_size <= 0 ? EINVAL : errno;
    close_fd(fd, path);
    fail(err, fmt::format("fstat({}) of \"{}\" (size {})", fd, path, info.st_size));
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  void* address = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) {
    const int err = errno;
    close_fd(fd, path);
    fail(err, fmt::format("mmap(nullptr, {}, PROT_READ, MAP_SHARED, {}, 0) of \"{}\"", size, fd, path));
  }
  Mapping mapping;
  mapping.data = static_cast<std::byte*>(address);
  mapping.size = size;
  mapping.posix_fd = fd;
  mapping.posix_name = path;
  mapping.read_only = true;
  return mapping;
}

void detach_posix(std::byte* data, std::size_t size, int fd, const std::string& name) noexcept {
  unmap(data, size, name);
  if (fd >= 0) close_fd(fd, name);
}

}  // namespace tilefork::detail
