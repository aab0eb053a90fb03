// A shared library that is not a tilefork plugin: it exports a function, but not the entry point.
#include "tilefork/plugin.h"

extern "C" TILEFORK_EXPORT int not_a_tilefork_plugin() { return 42; }
