// Declarations of the built-in kernels (one per file) and the input checks they share.
#pragma once

#include "tilefork/kernel.hpp"

#include <initializer_list>

namespace tilefork::builtin {

const KernelSpec& gaussian();
const KernelSpec& box();
const KernelSpec& median();
const KernelSpec& sobel();
const KernelSpec& threshold();
const KernelSpec& invert();
const KernelSpec& gray();

// Throws UsageError ("takes ... frames") unless `input` has one of `depths` and 1..4 channels.
void require_depth(FrameType input, std::initializer_list<int> depths);

}  // namespace tilefork::builtin
