// The profile of a run for people (--summary, on standard error) and for programs (--json).
#pragma once

#include "tilefork/profile.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <span>

namespace tilefork::app {

// A compact block: per stage, per worker, imbalance, where the time went, dispatch overhead,
// the slowest tiles and the speed-up against serial when it was measured.
void print_profile(std::FILE* out, const Profile& profile, std::span<const WorkItem> items);

// The same figures as JSON ("profile" in `tilefork run --json`); times in seconds.
nlohmann::json profile_json(const Profile& profile, std::span<const WorkItem> items);

}  // namespace tilefork::app
