// Wait and wake on 32-bit words in shared memory, across processes (non-private futexes).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tilefork {

static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

// Sleeps while *word == expected, at most `timeout` (negative: no limit). Returns on a wake, a
// change, a signal or the timeout; callers re-check their condition. Not FUTEX_PRIVATE_FLAG:
// libstdc++'s std::atomic::wait uses private futexes, which do not wake another process.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout = std::chrono::nanoseconds(-1)) noexcept;
// Wakes up to `count` processes sleeping on `word`. Async-signal-safe.
void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept;

}  // namespace tilefork
