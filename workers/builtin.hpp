// Declarations of the built-in kernels (one per file) and the input checks they share.
#pragma once

#include "tilefork/kernel.hpp"


namespace tilefork::builtin {

const KernelSpec& gaussian();
const KernelSpec& box();
const KernelSpec& median();
const KernelSpec& sobel();
const KernelSpec& threshold();
const KernelSpec& invert();
const KernelSpec& gray();

}  // namespace tilefork::builtin
