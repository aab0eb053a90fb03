#!/usr/bin/env bash
# The installed SDK works out of tree: cmake --install into a temporary prefix, configure and build
# the sample plugin against it with find_package(tilefork), and run the installed tilefork with it.
# usage: install_test.sh CMAKE GENERATOR CXX_COMPILER BUILD_DIR SAMPLE_DIR FRAME
set -euo pipefail
cmake=$1 generator=$2 cxx=$3 build=$4 sample=$5 frame=$6

scratch=$(mktemp -d "${TMPDIR:-/tmp}/tilefork-install-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix

step() { echo "install_test: $*" >&2; }

step "installing $build into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$scratch/install.log" || { cat "$scratch/install.log"; exit 1; }
for file in bin/tilefork include/tilefork/kernel.hpp include/tilefork/plugin.h include/tilefork/plugin.hpp; do
  [[ -e $prefix/$file ]] || { step "missing from the install: $file"; exit 1; }
done
for name in libtilefork_kernel.a tileforkConfig.cmake tileforkConfigVersion.cmake tileforkTargets.cmake; do
  [[ -n $(find "$prefix" -name "$name") ]] || { step "missing from the install: $name"; exit 1; }
done

step "building $sample against it"
"$cmake" -S "$sample" -B "$scratch/build" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >"$scratch/configure.log" \
  || { cat "$scratch/configure.log"; exit 1; }
"$cmake" --build "$scratch/build" >"$scratch/build.log" || { cat "$scratch/build.log"; exit 1; }
plugin=$(find "$scratch/build" -maxdepth 1 -name '*.so' | head -n 1)
[[ -n $plugin ]] || { step "the build made no .so"; exit 1; }

step "running $prefix/bin/tilefork with $plugin"
"$prefix/bin/tilefork" kernels --plugin "$plugin" | grep -q '^emboss ' || { step "tilefork kernels does not list emboss"; exit 1; }
"$prefix/bin/tilefork" run --plugin "$plugin" -p "emboss strength=2 light=ne" --workers 2 -o "$scratch/out" "$frame"
output=$scratch/out/$(basename "$frame")
[[ -s $output ]] || { step "no output written at $output"; exit 1; }
step "ok: $output"
