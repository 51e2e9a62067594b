#!/usr/bin/env bash
# tests/bench/render-bench.sh - what one render costs: the agent against the
# reference tools doing the same work on the same machine, in one run.
#
# Work: 24-megapixel JPEGs (6000x4000) to a 4x6 print at 300 dpi
# (1200x1800, fill), converted into ghostscript's CMYK LUT printer profile
# (default_cmyk.icc, perceptual), 8-bit TIFF out. Three tools:
#   agent   labagent render (the daemon's pipeline)
#   vips    vips thumbnail ... --export-profile ... --intent perceptual
#   magick  convert -resize ...^ -extent ... -profile sRGB -profile CMYK
# Each tool renders each image RUNS times; the figures are medians of the
# CPU seconds (user + sys) and peak RSS that GNU time reports per process.
# This machine is noisy: compare ratios in one run, not absolute times.
#
#   tests/bench/render-bench.sh [RUNS] [IMAGES]     (defaults 5 and 3)
#
# Needs the release build and the bench packages, declared in
# debian/control under the build profile pkg.labagent.bench:
#   apt-get build-dep -P pkg.labagent.bench ./
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-5}
IMAGES=${2:-3}
BIN="$ROOT/build/release/agent/labagent"
CMYK=/usr/share/color/icc/ghostscript/default_cmyk.icc
SRGB=/usr/share/color/icc/colord/sRGB.icc
for tool in "$BIN" vips /usr/bin/convert /usr/bin/time bc; do
        command -v "$tool" >/dev/null || { echo "render-bench: $tool missing (see the header)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/labagent-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Inputs: noise over gradients, saved as camera-like JPEGs (quality 92).
for ((i = 0; i < IMAGES; i++)); do
        vips gaussnoise "$WORK/n$i.v" 6000 4000 --mean $((100 + i * 10)) --sigma 45
        vips bandjoin "$WORK/n$i.v $WORK/n$i.v $WORK/n$i.v" "$WORK/rgb$i.v"
        vips cast "$WORK/rgb$i.v" "$WORK/in$i.jpg[Q=92]" uchar
        rm -f "$WORK"/*.v
done

# The agent's config and registry for this work.
mkdir -p "$WORK/profiles"
cat >"$WORK/profiles/registry.yaml" <<YAML
models:
  - name: bench-cmyk
    encoding: tiff
    media:
      - { name: na_index-4x6_4x6in, width: 1200, height: 1800, dpi: 300 }
    papers:
      - { media_type: photographic-glossy, icc: $CMYK, intent: perceptual, bpc: false, depth: 8 }
YAML
cat >"$WORK/labagent.yaml" <<YAML
lab:
  id: bench
platform:
  url: https://localhost/
  ca_file: /nonexistent/ca.pem
  cert_file: /nonexistent/client.pem
  key_file: /nonexistent/client.key
printers:
  - { name: proofer, driver: hotfolder, folder: /nonexistent, model: bench-cmyk }
products:
  - { sku: print-4x6, media: na_index-4x6_4x6in, media_type: photographic-glossy, fit: fill }
profiles:
  directory: $WORK/profiles
render:
  threads: 1
YAML

# run TOOL IMAGE: one render; appends "cpu_seconds max_rss_kib" to $WORK/TOOL.times
run() {
        local tool=$1 in=$2 out="$WORK/out-$1.tif"
        local cmd
        case $tool in
        agent) cmd=("$BIN" render --config "$WORK/labagent.yaml" --printer proofer --product print-4x6 "$in" "$out") ;;
        vips) cmd=(vips thumbnail "$in" "$out" 1200 --height 1800 --crop centre --export-profile "$CMYK" --intent perceptual) ;;
        magick) cmd=(/usr/bin/convert "$in" -resize 1200x1800^ -gravity center -extent 1200x1800 -profile "$SRGB" -intent perceptual -profile "$CMYK" "$out") ;;
        esac
        VIPS_CONCURRENCY=1 OMP_THREAD_LIMIT=1 MAGICK_THREAD_LIMIT=1 \
                /usr/bin/time -f "%U %S %M" -o "$WORK/t" "${cmd[@]}" >/dev/null
        awk '{ printf "%.3f %d\n", $1 + $2, $3 }' "$WORK/t" >>"$WORK/$tool.times"
}

for ((r = 0; r < RUNS; r++)); do
        for ((i = 0; i < IMAGES; i++)); do
                for tool in agent vips magick; do
                        run "$tool" "$WORK/in$i.jpg"
                done
        done
done

# median FILE COLUMN
median() { sort -n -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "renders per tool: $((RUNS * IMAGES)) ($IMAGES images x $RUNS runs), one thread each"
printf '| tool | CPU s per image (median) | peak RSS MiB (median) |\n|---|---|---|\n'
for tool in agent vips magick; do
        cpu=$(median "$WORK/$tool.times" 1)
        rss=$(median "$WORK/$tool.times" 2)
        printf '| %s | %.3f | %.1f |\n' "$tool" "$cpu" "$(echo "$rss / 1024" | bc -l)"
done
a=$(median "$WORK/agent.times" 1)
printf 'ratios: agent/vips CPU %.2f, agent/magick CPU %.2f\n' \
        "$(echo "$a / $(median "$WORK/vips.times" 1)" | bc -l)" \
        "$(echo "$a / $(median "$WORK/magick.times" 1)" | bc -l)"
