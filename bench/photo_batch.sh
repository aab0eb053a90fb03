#!/usr/bin/env bash
# Throughput and whole-process-tree peak memory of `tilefork run` on 40 real photographs and on a
# 400-image batch made of them (issue 4), printed as a Markdown report.
#
#   bench/photo_batch.sh [--tilefork PATH] [--reps N] [--scratch DIR] [--keep] [REPORT.md]
#
# What it does, in 3 to 4 minutes on the project's 2-core VM (with other builds running beside it):
#   1. Installs the Debian wallpaper packages that ship the photographs when they are missing
#      (apt-get, as root or through sudo), and copies 40 distinct photographs (2.5 to 20 MP, listed
#      in PHOTOS below, chosen by eye: photographs, not drawings or renders) into DIR/photos40.
#      The PNG ones are turned into JPEG by tilefork itself with an identity pipeline. The 400-image
#      batch, DIR/photos400, is those 40 hard-linked 10 times under distinct names.
#   2. Times `tilefork run -p "gaussian sigma=2" --format jpg` over the 40 with --executor serial
#      (the reference), fork with 1 worker and fork with 2 workers: one warm-up run, then N rounds
#      (default 3) of the three, interleaved so that load from elsewhere spreads over all of them;
#      medians of the seconds tilefork reports in --json. Outputs are deleted before every run.
#   3. Runs the 40 and the 400 once more with 2 workers under bench/tree_memory.py, which follows
#      the coordinator and all its workers (RSS every 20 ms, PSS as often as a fifth of a core allows)
#      and keeps the largest sums. PSS counts the shared frame segment once, RSS once per process
#      that touched it. The 400-image throughput is that monitored run's (the monitor costs a little
#      CPU; the 40-image monitored run beside the unmonitored ones shows how much).
#   4. Prints the report (command, date, machine, load, photos and their packages, the tables) and
#      writes it to REPORT.md when given.
# The photographs and outputs live in DIR (default ${TMPDIR:-/tmp}/tilefork-photobench), deleted at
# the end unless --keep; never commit them. Exits 1 when a run fails or writes fewer outputs than
# inputs (the table says which).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
pipeline="gaussian sigma=2"
reps=3
scratch="${TMPDIR:-/tmp}/tilefork-photobench"
keep=0
tilefork="${TILEFORK:-}"
report_file=""
invocation="bench/photo_batch.sh${*:+ $*}"

usage() { sed -n '5p' "${BASH_SOURCE[0]}" | sed 's/^#  *//'; }
while (($#)); do
  case "$1" in
    --tilefork) tilefork=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --scratch) scratch=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "photo_batch.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) report_file=$1; shift ;;
  esac
done
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || { echo "photo_batch.sh: --reps wants a whole number above 0" >&2; exit 2; }

# The photographs: package, file it ships, name in the scratch folder. All are camera photographs.
PHOTOS=(
  "mate-backgrounds|/usr/share/backgrounds/mate/nature/Aqua.jpg|mate-Aqua.jpg"
  "mate-backgrounds|/usr/share/backgrounds/mate/nature/Garden.jpg|mate-Garden.jpg"
  "mate-backgrounds|/usr/share/backgrounds/mate/nature/LadyBird.jpg|mate-LadyBird.jpg"
  "mate-backgrounds|/usr/share/backgrounds/mate/nature/Storm.jpg|mate-Storm.jpg"
  "mate-backgrounds|/usr/share/backgrounds/mate/nature/TwoWings.jpg|mate-TwoWings.jpg"
  "mate-backgrounds|/usr/share/backgrounds/mate/nature/Wood.jpg|mate-Wood.jpg"
  "mate-backgrounds|/usr/share/backgrounds/mate/nature/YellowFlower.jpg|mate-YellowFlower.jpg"
  "plasma-workspace-wallpapers|/usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg|plasma-BytheWater.jpg"
  "plasma-workspace-wallpapers|/usr/share/wallpapers/ColdRipple/contents/images/2560x1600.jpg|plasma-ColdRipple.jpg"
  "plasma-workspace-wallpapers|/usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg|plasma-ColorfulCups.jpg"
  "plasma-workspace-wallpapers|/usr/share/wallpapers/DarkestHour/contents/images/2560x1600.jpg|plasma-DarkestHour.jpg"
  "plasma-workspace-wallpapers|/usr/share/wallpapers/EveningGlow/contents/images/2560x1600.jpg|plasma-EveningGlow.jpg"
  "plasma-workspace-wallpapers|/usr/share/wallpapers/FallenLeaf/contents/images/2560x1600.jpg|plasma-FallenLeaf.jpg"
  "plasma-workspace-wallpapers|/usr/share/wallpapers/Grey/contents/images/2560x1600.jpg|plasma-Grey.jpg"
  "plasma-workspace-wallpapers|/usr/share/wallpapers/Kite/contents/images/2560x1600.jpg|plasma-Kite.jpg"
  "plasma-workspace-wallpapers|/usr/share/wallpapers/OneStandsOut/contents/images/2560x1600.jpg|plasma-OneStandsOut.jpg"
  "plasma-workspace-wallpapers|/usr/share/wallpapers/Path/contents/images/2560x1600.jpg|plasma-Path.jpg"
  "plasma-workspace-wallpapers|/usr/share/wallpapers/summer_1am/contents/images/2560x1600.jpg|plasma-summer_1am.jpg"
  "lomiri-wallpapers-16.04|/usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg|lomiri-Bridge.jpg"
  "lomiri-wallpapers-16.04|/usr/share/backgrounds/Dragonfly_by_Bolly.jpg|lomiri-Dragonfly.jpg"
  "lomiri-wallpapers-16.04|/usr/share/backgrounds/Picture_0B_by_freespace.jpg|lomiri-Picture_0B.jpg"
  "lomiri-wallpapers-16.04|/usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg|lomiri-Wine.jpg"
  "lomiri-wallpapers-16.04|/usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg|lomiri-aitzgorri.jpg"
  "lomiri-wallpapers-16.04|/usr/share/backgrounds/free_by_Peter_Nerlich.jpg|lomiri-free.jpg"
  "lomiri-wallpapers-16.04|/usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg|lomiri-friends.jpg"
  "lomiri-wallpapers-16.04|/usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg|lomiri-life.jpg"
  "lomiri-wallpapers-16.04|/usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg|lomiri-picosdeeuropa.jpg"
  "lomiri-wallpapers-16.04|/usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg|lomiri-seeding.jpg"
  "lomiri-wallpapers-16.04|/usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg|lomiri-sunset.jpg"
  "lomiri-wallpapers-20.04|/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg|lomiri-Kleiber.jpg"
  "lxqt-themes|/usr/share/lxqt/wallpapers/Butterfly-Kenneth-Wimer.jpg|lxqt-Butterfly-Kenneth-Wimer.jpg"
  "lxqt-themes|/usr/share/lxqt/wallpapers/after-the-rain.jpg|lxqt-after-the-rain.jpg"
  "lxqt-themes|/usr/share/lxqt/wallpapers/fog.jpg|lxqt-fog.jpg"
  "lxqt-themes|/usr/share/lxqt/wallpapers/this-is-not-windows.jpg|lxqt-this-is-not-windows.jpg"
  "lxqt-themes|/usr/share/lxqt/wallpapers/appleflower.png|lxqt-appleflower.jpg"
  "lxqt-themes|/usr/share/lxqt/wallpapers/beam.png|lxqt-beam.jpg"
  "lxqt-themes|/usr/share/lxqt/wallpapers/butterfly.png|lxqt-butterfly.jpg"
  "lxqt-themes|/usr/share/lxqt/wallpapers/cloud.png|lxqt-cloud.jpg"
  "lxqt-themes|/usr/share/lxqt/wallpapers/drop.png|lxqt-drop.jpg"
  "lxqt-themes|/usr/share/lxqt/wallpapers/flowers.png|lxqt-flowers.jpg"
)
copies=10  # photos400 = the 40, this many times each

say() { echo "photo_batch.sh: $*" >&2; }
die() { say "$*"; exit 1; }

find_tilefork() {
  if [[ -z "$tilefork" ]]; then
    # The most recently built binary under build/ (build/release is what the README builds).
    tilefork=$(find "$root"/build -path '*/apps/tilefork' -type f -printf '%T@ %p\n' 2>/dev/null |
               sort -rn | head -n 1 | cut -d' ' -f2-)
  fi
  [[ -n "$tilefork" && -x "$tilefork" ]] ||
    die "no tilefork binary: build one (cmake --preset release && cmake --build --preset release) or pass" \
        "--tilefork PATH"
  tilefork=$(readlink -f "$tilefork")
  local cache
  cache="$(dirname "$(dirname "$tilefork")")/CMakeCache.txt"
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$cache" 2>/dev/null || true)
  [[ "$build_type" == Release ]] || say "warning: $tilefork is a '${build_type:-unknown}' build, not Release"
}

install_packages() {
  local wanted=() missing=() entry package
  for entry in "${PHOTOS[@]}"; do wanted+=("${entry%%|*}"); done
  for package in $(printf '%s\n' "${wanted[@]}" | sort -u); do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  say "installing ${missing[*]}"
  local apt=(apt-get)
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "packages ${missing[*]} are missing and this is not root: install them first"
    apt=(sudo apt-get)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2 ||
    { "${apt[@]}" update >&2 && "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2; } ||
    die "could not install ${missing[*]}"
}

gather_photos() {
  local entry package source name
  rm -rf "$scratch/photos40" "$scratch/photos400" "$scratch/png"
  mkdir -p "$scratch/photos40" "$scratch/photos400" "$scratch/png"
  : >"$scratch/photos.tsv"
  for entry in "${PHOTOS[@]}"; do
    IFS='|' read -r package source name <<<"$entry"
    [[ -f "$source" ]] || die "$package does not ship $source (another version?): update PHOTOS in $0"
    case "$source" in
      *.png) ln -s "$source" "$scratch/png/${name%.jpg}.png" ;;
      *) cp "$source" "$scratch/photos40/$name" ;;
    esac
    printf '%s\t%s\t%s\t%s\n' "$name" "$package" "$(dpkg-query -W -f='${Version}' "$package")" "$source" \
      >>"$scratch/photos.tsv"
  done
  # PNG photographs become JPEG through tilefork itself: an identity stage, quality 95.
  if compgen -G "$scratch/png/*.png" >/dev/null; then
    "$tilefork" run -q -p "brightness_contrast alpha=1 beta=0" --format jpg --quality 95 --workers 2 \
      -o "$scratch/photos40" "$scratch/png" || die "could not convert the PNG photographs to JPEG"
  fi
  local count
  count=$(find "$scratch/photos40" -name '*.jpg' | wc -l)
  ((count == ${#PHOTOS[@]})) || die "expected ${#PHOTOS[@]} photographs in $scratch/photos40, found $count"
  [[ -z "$(sha256sum "$scratch"/photos40/*.jpg | awk '{print $1}' | sort | uniq -d)" ]] ||
    die "two of the photographs are the same file"
  local copy
  for ((copy = 1; copy <= copies; ++copy)); do
    for source in "$scratch"/photos40/*.jpg; do
      ln "$source" "$scratch/photos400/$(printf 'copy%02d' "$copy")-$(basename "$source")"
    done
  done
  # Sizes, as tilefork reads them, for the megapixel range.
  "$tilefork" run --dry-run -p "$pipeline" --workers 2 -o "$scratch/out" "$scratch/photos40" >"$scratch/plan40.txt"
}

# Seconds of CPU (user + system) that the children this shell waited for used between two
# outputs of `times` (tilefork's workers are included: tilefork waits for them). `times` itself
# must run in this shell, not in $(...), whose subshell has waited for nobody.
cpu_between() {
  awk 'FNR == 2 { t = 0; for (i = 1; i <= 2; ++i) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
                  if (FILENAME == ARGV[1]) before = t; else after = t }
       END { printf "%.3f", after - before }' "$1" "$2"
}

# One timed run: label, images, executor, workers, input folder, [monitor report]. Appends a line to
# runs.tsv: label, executor, workers, images, exit code, wall s, CPU s, tilefork --json (one line).
run_case() {
  local label=$1 images=$2 executor=$3 workers=$4 input=$5 monitor=${6:-}
  local out="$scratch/out" json="$scratch/last.json" code=0 start end
  rm -rf "$out"
  local command=("$tilefork" run -q --json -p "$pipeline" --format jpg --executor "$executor" --workers "$workers"
                 -o "$out" "$input")
  [[ -z "$monitor" ]] || command=(python3 "$here/tree_memory.py" --interval 0.02 --report "$monitor" -- "${command[@]}")
  times >"$scratch/times.before"
  start=$(date +%s.%N)
  "${command[@]}" >"$json" 2>>"$scratch/stderr.txt" || code=$?
  end=$(date +%s.%N)
  times >"$scratch/times.after"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$executor" "$workers" "$images" "$code" \
    "$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.3f", b-a}')" \
    "$(cpu_between "$scratch/times.before" "$scratch/times.after")" \
    "$(tr -d '\n' <"$json")" >>"$scratch/runs.tsv"
  say "$label: exit $code, $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s wall"
  rm -rf "$out"
}

# The Markdown report from runs.tsv, the memory reports, photos.tsv and plan40.txt.
write_report() {
  python3 - "$scratch" "$invocation" "$pipeline" "$tilefork" "${build_type:-unknown}" "$copies" \
    "$load_before" "$load_after" "$started_at" "$finished_in" <<'PY'
import json, os, platform, re, statistics, subprocess, sys

scratch, invocation, pipeline, tilefork, build_type, copies, load_before, load_after, started_at, took = sys.argv[1:]
MiB = 1 << 20

runs = []
with open(os.path.join(scratch, "runs.tsv")) as lines:
    for line in lines:
        label, executor, workers, images, code, wall, cpu, text = line.rstrip("\n").split("\t", 7)
        try:
            summary = json.loads(text)
        except ValueError:
            summary = {}
        monitor = os.path.join(scratch, f"{label}.json")
        if os.path.exists(monitor):  # the shell's count would include the monitor's own CPU
            cpu = json.load(open(monitor)).get("cpu_seconds", cpu)
        runs.append(dict(label=label, executor=executor, workers=int(workers), images=int(images), code=int(code),
                         wall=float(wall), cpu=float(cpu), summary=summary))

def ok(run):
    totals = run["summary"].get("totals", {})
    return run["code"] == 0 and totals.get("ok") == run["images"] and totals.get("failed") == 0

failures = [run for run in runs if not ok(run)]

sizes = [(int(w), int(h)) for w, h in re.findall(r"\((\d+)x(\d+) ", open(os.path.join(scratch, "plan40.txt")).read())]
mps = sorted(w * h / 1e6 for w, h in sizes)
photos = [line.rstrip("\n").split("\t") for line in open(os.path.join(scratch, "photos.tsv"))]
packages = {}
for name, package, version, source in photos:
    packages.setdefault((package, version), []).append(name)

cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
memory = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0) / (1 << 20)
try:
    version = subprocess.run([tilefork, "--version"], capture_output=True, text=True).stdout.strip()
except OSError:
    version = "?"
try:
    commit = subprocess.run(["git", "-C", os.path.dirname(tilefork), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
except OSError:
    commit = ""

out = []
out.append("## tilefork on real photographs: throughput and memory\n")
out.append(f"- command: `{invocation}`, {started_at}, {took} s in all")
out.append(f"- machine: 2-core VM, {os.cpu_count()} CPUs ({cpu}), {memory:.0f} GiB, {platform.system()} "
           f"{platform.release()}")
out.append(f"- load average before: {load_before}; after: {load_after} (other jobs on the machine make the "
           "figures noisy when these are above 0)")
out.append(f"- tilefork: `{tilefork}` ({version}, {build_type}{', commit ' + commit if commit else ''})")
out.append(f"- pipeline: `{pipeline}`, outputs `--format jpg` (default quality), output folder emptied before "
           "each run")
if mps:
    out.append(f"- photographs: {len(mps)} distinct JPEGs, {mps[0]:.1f} to {mps[-1]:.1f} MP "
               f"(median {statistics.median(mps):.1f}, {sum(mps):.0f} MP in all), from "
               + ", ".join(f"`{p}` {v} ({len(n)})" for (p, v), n in sorted(packages.items())))
out.append(f"- the 400-image batch is the same 40 files, {copies} hard links each under distinct names "
           "(the same pixels 10 times, not 400 different photographs)")
out.append("")

# Throughput: medians over the repetitions, against the serial executor's median.
def median_of(label):
    chosen = [run for run in runs if run["label"] == label and ok(run)]
    if not chosen:
        return None
    seconds = [run["summary"]["seconds"] for run in chosen]
    return dict(run=chosen[0], seconds=statistics.median(seconds), all=seconds,
                wall=statistics.median(run["wall"] for run in chosen),
                cpu=statistics.median(run["cpu"] for run in chosen),
                megapixels=chosen[0]["summary"]["megapixels"])

rows = [("40 photos", "serial40"), ("40 photos", "fork1x40"), ("40 photos", "fork2x40"),
        ("40 photos, monitored", "mem40"), ("400 images, monitored", "mem400")]
reference = median_of("serial40")
out.append("| batch | executor | workers | runs | median s | wall s | CPU s | images/s | MP/s | vs serial | "
           "every run (s) |")
out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for batch, label in rows:
    result = median_of(label)
    if result is None:
        out.append(f"| {batch} | {label} | | 0 | failed | | | | | | |")
        continue
    run = result["run"]
    rate = result["megapixels"] / result["seconds"]
    ratio = f"{rate / (reference['megapixels'] / reference['seconds']):.2f}x" if reference else ""
    out.append(f"| {batch} | {run['executor']} | {run['workers']} | {len(result['all'])} | {result['seconds']:.2f} | "
               f"{result['wall']:.2f} | {result['cpu']:.2f} | {run['images'] / result['seconds']:.2f} | {rate:.1f} | "
               f"{ratio} | "
               + ", ".join(f"{s:.2f}" for s in result["all"]) + " |")
out.append("")
out.append("median s: the batch time tilefork reports in `--json` (reading, filtering, encoding, writing); wall s: "
           "the whole command, start-up and probing of the inputs included; CPU s: user + system time of the "
           "coordinator and all its workers (the work done, whatever else runs on the machine). \"monitored\" "
           "runs are under `bench/tree_memory.py`, whose own CPU time is in the memory table.")
out.append("")

# Memory of the whole process tree.
out.append("| batch | workers | segment (MiB) | peak private PSS (MiB) | private + segment (MiB) | "
           "peak PSS sum (MiB) | peak RSS sum (MiB) | processes | samples: RSS, PSS (left out) | monitor CPU s |")
out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
bounds = {}
for batch, label in (("40 photos", "mem40"), ("400 images", "mem400")):
    path = os.path.join(scratch, f"{label}.json")
    run = next((run for run in runs if run["label"] == label), None)
    if not os.path.exists(path) or run is None:
        out.append(f"| {batch} | | failed | | | | | | | |")
        continue
    peak = json.load(open(path))
    segment = run["summary"].get("segment_bytes", 0) / MiB
    private = peak["pss_private_kib"] / 1024
    bounds[label] = (private + segment, peak["pss_kib"] / 1024)
    out.append(f"| {batch} | {run['workers']} | {segment:.0f} | {private:.0f} | {private + segment:.0f} | "
               f"{peak['pss_kib'] / 1024:.0f} | {peak['rss_kib'] / 1024:.0f} | {peak['processes']} | "
               f"{peak['samples']}, {peak['pss_samples']} ({peak['unsteady_samples']}) | "
               f"{peak['monitor_cpu_seconds']:.2f} |")
out.append("")
if len(bounds) == 2:
    out.append(f"400 images needed {bounds['mem400'][0] / bounds['mem40'][0]:.2f}x the memory of 40 (private + "
               f"segment; {bounds['mem400'][1] / bounds['mem40'][1]:.2f}x by peak PSS sum): memory follows the frame "
               "slots in the segment (workers + 1 frames of the largest photograph), not the length of the batch.")
out.append("Whole tree = the coordinator and its workers, followed by `bench/tree_memory.py`: RSS from "
           "/proc/PID/status every 20 ms, PSS from /proc/PID/smaps_rollup as often as a fifth of one core allows "
           "(the kernel visits every resident page to compute it, ~10 ms per process here). PSS divides each "
           "shared page among the processes that map it, so the segment "
           "counts once in the PSS sum, whereas the RSS sum counts it once per process. Private PSS is PSS less "
           "shared memory; the segment is resident whole from the start (prefaulted), so private + segment bounds "
           "the tree. The PSS sum can overshoot it a little: the reads of one sample are not atomic, and while a "
           "worker first touches segment pages their shares change between two reads. Samples during which a "
           "process started or ended are left out.")
out.append("")
if failures:
    out.append("**Failed runs:** " + "; ".join(f"{run['label']} (exit {run['code']}, "
                                               f"{run['summary'].get('totals', 'no summary')})" for run in failures))
    out.append("")
out.append("<details><summary>the 40 photographs</summary>\n")
out.append("| name | package | file | size |")
out.append("|---|---|---|---|")
by_name = {}
for line in open(os.path.join(scratch, "plan40.txt")):
    match = re.search(r"/([^/ ]+\.jpg) -> .*\((\d+)x(\d+) ", line)
    if match:
        by_name[match.group(1)] = f"{match.group(2)}x{match.group(3)}"
for name, package, version, source in photos:
    out.append(f"| {name} | {package} | `{source}` | {by_name.get(name, '?')} |")
out.append("\n</details>")
print("\n".join(out))
sys.exit(1 if failures else 0)
PY
}

find_tilefork
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started_at=$(date -u '+%Y-%m-%d %H:%M UTC')
began=$SECONDS
install_packages
mkdir -p "$scratch"
: >"$scratch/runs.tsv"
: >"$scratch/stderr.txt"
say "gathering ${#PHOTOS[@]} photographs into $scratch"
gather_photos

run_case warmup 40 fork 2 "$scratch/photos40"
for ((rep = 1; rep <= reps; ++rep)); do
  run_case serial40 40 serial 1 "$scratch/photos40"
  run_case fork1x40 40 fork 1 "$scratch/photos40"
  run_case fork2x40 40 fork 2 "$scratch/photos40"
done
run_case mem40 40 fork 2 "$scratch/photos40" "$scratch/mem40.json"
run_case mem400 400 fork 2 "$scratch/photos400" "$scratch/mem400.json"

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
finished_in=$((SECONDS - began))
status=0
report=$(write_report) || status=$?
echo "$report"
[[ -z "$report_file" ]] || printf '%s\n' "$report" >"$report_file"
[[ ! -s "$scratch/stderr.txt" ]] || { say "tilefork printed on standard error:"; head -n 20 "$scratch/stderr.txt" >&2; }
if ((!keep)); then
  # Only what this script made: DIR may be a folder the user had before.
  rm -rf "${scratch:?}"/{photos40,photos400,png,out} "$scratch"/{photos.tsv,plan40.txt,runs.tsv,stderr.txt}
  rm -f "$scratch"/{last,mem40,mem400}.json "$scratch"/times.{before,after}
  rmdir "$scratch" 2>/dev/null || true
fi
exit "$status"
