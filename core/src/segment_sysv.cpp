// System V backend: shmget, shmat, then IPC_RMID at once; the kernel frees it at the last detach.
#include <sys/ipc.h>
#include <sys/shm.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "segment_backends.hpp"
#include "tilefork/errors.hpp"

namespace tilefork::detail {
namespace {

// The four steps return the raw result and leave errno set, so that the caller can choose
// between a fallback (huge pages) and an error, and save errno before rolling back.

int create(std::size_t size, bool huge_pages) {
  return shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | 0600 | (huge_pages ? SHM_HUGETLB : 0));
}

std::byte* attach(int id) {
  void* address = shmat(id, nullptr, 0);
  return address == reinterpret_cast<void*>(-1) ? nullptr : static_cast<std::byte*>(address);
}

// Linux keeps a removed segment until its last detach and still lets a process shmat() it by
// id, so marking it now costs nothing and means no crash can leave it behind.
bool mark_for_removal(int id) { return shmctl(id, IPC_RMID, nullptr) == 0; }

bool detach(const std::byte* data) { return shmdt(data) == 0; }

std::string create_call(std::size_t size, bool huge_pages) {
  return fmt::format("shmget(IPC_PRIVATE, {}, IPC_CREAT|IPC_EXCL|0600{})", size,
                     huge_pages ? "|SHM_HUGETLB" : "");
}

// The outcome of one try with one page kind. On failure everything was already rolled back.
struct Attempt {
  Mapping mapping;
  int err = 0;
  std::string_view primary;
  std::string call;
};

Attempt attempt(std::size_t size, bool huge_pages) {
  Attempt result;
  const int id = create(size, huge_pages);
  if (id < 0) {
    result.err = errno;
    result.primary = kCreateFailed;
    result.call = create_call(size, huge_pages);
    return result;
  }
  std::byte* data = attach(id);
  if (data == nullptr) {
    result.err = errno;  // saved before the rollback can overwrite it
    if (!mark_for_removal(id)) {
      log_failed_call(errno, "shmctl({}, IPC_RMID) after a failed shmat (remove it: ipcrm -m {})",
                      id, id);
    }
    result.primary = kMapFailed;
    result.call = fmt::format("shmat({}, nullptr, 0)", id);
    return result;
  }
  if (!mark_for_removal(id)) {
    result.err = errno;
    if (!detach(data)) log_failed_call(errno, "shmdt({}) of segment {}", static_cast<void*>(data), id);
    log_failed_call(result.err, "shmctl({}, IPC_RMID): segment {} is left behind (remove it: ipcrm -m {})",
                    id, id, id);
    result.primary = kRemovalFailed;
    result.call = fmt::format("shmctl({}, IPC_RMID, nullptr)", id);
    return result;
  }
  result.mapping.data = data;
  result.mapping.size = size;
  result.mapping.huge_pages = huge_pages;
  result.mapping.sysv_id = id;
  return result;
}

std::string read_limit(const char* path) {
  std::ifstream file(path);
  std::string value;
  if (!(file >> value)) return "unknown";
  return value;
}

std::string limits_hint(std::size_t size) {
  return fmt::format(
      "System V limits: kernel.shmmax = {} bytes per segment (this one needs {}), kernel.shmall = "
      "{} pages in all, kernel.shmmni = {} segments; raise them (e.g. sysctl -w kernel.shmmax={}) "
      "or use --backend posix or --backend anon",
      read_limit("/proc/sys/kernel/shmmax"), size, read_limit("/proc/sys/kernel/shmall"),
      read_limit("/proc/sys/kernel/shmmni"), size);
}

std::string hint_for(int err, std::size_t size) {
  switch (err) {
    case EINVAL:  // above kernel.shmmax
    case ENOSPC:  // kernel.shmall or kernel.shmmni exhausted
      return limits_hint(size);
    case ENOMEM:
      return memory_hint(size);
    case EPERM:
    case EACCES:
      return "the kernel refused the segment (a security module, or for huge pages a missing "
             "CAP_IPC_LOCK or vm.hugetlb_shm_group membership): run without huge pages or use "
             "--backend posix or --backend anon";
    default:
      return {};
  }
}

}  // namespace

Mapping create_sysv(std::size_t size, bool huge_pages) {
  if (huge_pages && huge_page_size() != 0) {
    Attempt huge = attempt(round_up_to(size, huge_page_size()), true);
    if (huge.err == 0) return std::move(huge.mapping);
    // Falling back silently is the point of the option: huge pages are an optimisation, and
    // having none reserved (vm.nr_hugepages = 0) or no CAP_IPC_LOCK is the usual case.
  }
  const std::size_t rounded = round_up_to(size, page_size());
  Attempt normal = attempt(rounded, false);
  if (normal.err == 0) return std::move(normal.mapping);
  throw_system_error(normal.err, std::string(normal.primary), failed_request(normal.call, size),
                     hint_for(normal.err, rounded));
}

Mapping attach_sysv_read_only(int id) {
  const auto hint = [](int err) -> std::string {
    switch (err) {
      case EACCES:
      case EPERM:
        return "the segment belongs to another user and only they may read it (tilefork creates segments with "
               "mode 0600): watch it as that user";
      case EINVAL:
      case EIDRM:
        return "no segment has this id any more: the run that made it has ended";
      default:
        return {};
    }
  };
  // shmat first, so that a refusal comes from the attach itself; then IPC_STAT for the size.
  void* address = shmat(id, nullptr, SHM_RDONLY);
  if (address == reinterpret_cast<void*>(-1)) {
    const int err = errno;
    throw_system_error(err, std::string(kAttachFailed), fmt::format("shmat({}, nullptr, SHM_RDONLY)", id), hint(err));
  }
  auto* data = static_cast<std::byte*>(address);
  shmid_ds info{};
  if (shmctl(id, IPC_STAT, &info) != 0) {
    const int err = errno;
    if (!detach(data)) log_failed_call(errno, "shmdt({}) of sysv segment {}", address, id);
    throw_system_error(err, std::string(kAttachFailed), fmt::format("shmctl({}, IPC_STAT, ...)", id), hint(err));
  }
  Mapping mapping;
  mapping.data = data;
  mapping.size = info.shm_segsz;
  mapping.sysv_id = id;
  mapping.read_only = true;
  return mapping;
}

void detach_sysv(std::byte* data, int sysv_id) noexcept {
  if (!detach(data)) log_failed_call(errno, "shmdt({}) of sysv segment {}", static_cast<void*>(data), sysv_id);
}

}  // namespace tilefork::detail
