/* A plugin from another ABI version, in C (so plugin.h is checked as C). Everything but the
 * version is a bogus pointer or count: tilefork must refuse it before reading any of them. */
#include "tilefork/plugin.h"

#include <stdint.h>

const tf_plugin* tilefork_plugin(void) {
  static tf_plugin table;
  table.abi_version = TILEFORK_PLUGIN_ABI_VERSION + 41;
  table.name = (const char*)(uintptr_t)1;
  table.kernel_count = 1000;
  table.kernels = (const tf_kernel*)(uintptr_t)1;
  return &table;
}
