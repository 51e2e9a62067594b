#!/usr/bin/env bash
# tests/bench/render16-bench.sh - what keeping 16 bits through the colour
# transform costs (issue 14): a 16-bit master to a 16-bit print file against
# the 8-bit master to an 8-bit print file, and against the vips CLI and
# tificc doing the 16-bit work, in one run on the same machine.
#
# Work: 24-megapixel (4000x6000) ProPhoto RGB TIFF masters, generated here
# (noise over a mid grey; the 16-bit one is never a multiple of 257, the
# 8-bit one is the same picture cast to 8 bits), to a 8x12 print at 300 dpi
# (2400x3600, fill: a plain 0.6 resize), converted into the paper's profile
# (default: ghostscript's CMYK LUT default_cmyk.icc; OUT_ICC=... for another),
# perceptual, uncompressed TIFF out. Tools, each per master:
#   agent16   labagent render, paper depth 16, 16-bit master
#   agent8    labagent render, paper depth 8, 8-bit master
#   vips16    vips resize + vips icc_transform --depth 16 (two processes, summed)
#   vips8     the same on the 8-bit master, --depth 8
#   tificc16  vips resize + tificc -w16 (two processes, summed)
# Each tool renders each master RUNS times; the figures are medians of the
# CPU seconds (user + sys) and peak RSS (the larger of the two processes)
# that GNU time reports. This machine is noisy: compare ratios in one run.
#
#   tests/bench/render16-bench.sh [RUNS] [IMAGES]     (defaults 5 and 2)
#   LABAGENT=path/to/labagent (default build/release/agent/labagent)
#
# Needs the release build and the bench packages, declared in
# debian/control under the build profile pkg.labagent.bench, plus tificc
# (liblcms2-utils) and the vips CLI (libvips-tools), both test dependencies:
#   apt-get build-dep -P pkg.labagent.bench ./
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-5}
IMAGES=${2:-2}
BIN=${LABAGENT:-"$ROOT/build/release/agent/labagent"}
OUT_ICC=${OUT_ICC:-/usr/share/color/icc/ghostscript/default_cmyk.icc}
PROPHOTO=/usr/share/color/icc/colord/ProPhotoRGB.icc
TOOLS=(agent16 agent8 vips16 vips8 tificc16)
for tool in "$BIN" vips tificc /usr/bin/time bc; do
        command -v "$tool" >/dev/null || { echo "render16-bench: $tool missing (see the header)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/labagent-bench16.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# Masters: noise over a mid grey, per channel, portrait 4000x6000. The 16-bit
# one is the noise scaled by 257 plus 13 (never a multiple of 257, fractions
# rounded by the cast); the 8-bit one is the same noise cast to 8 bits.
for ((i = 0; i < IMAGES; i++)); do
        for c in r g b; do
                vips gaussnoise "$WORK/$c.v" 4000 6000 --mean $((100 + i * 20)) --sigma 45
        done
        vips bandjoin "$WORK/r.v $WORK/g.v $WORK/b.v" "$WORK/n.v"
        vips linear "$WORK/n.v" "$WORK/n16.v" 257 13
        vips cast "$WORK/n16.v" "$WORK/c16.v" ushort
        vips copy "$WORK/c16.v" "$WORK/in16-$i.tif[profile=$PROPHOTO]" --interpretation rgb16
        vips cast "$WORK/n.v" "$WORK/c8.v" uchar
        vips copy "$WORK/c8.v" "$WORK/in8-$i.tif[profile=$PROPHOTO]" --interpretation srgb
        rm -f "$WORK"/*.v
done

# The agent's config and registry: the same paper at depth 16 and at depth 8.
mkdir -p "$WORK/profiles"
cat >"$WORK/profiles/registry.yaml" <<YAML
models:
  - name: bench-16
    encoding: tiff
    media:
      - { name: custom_8x12_8x12in, width: 2400, height: 3600, dpi: 300 }
    papers:
      - { media_type: photographic-glossy, icc: $OUT_ICC, intent: perceptual, bpc: false, depth: 16 }
  - name: bench-8
    encoding: tiff
    media:
      - { name: custom_8x12_8x12in, width: 2400, height: 3600, dpi: 300 }
    papers:
      - { media_type: photographic-glossy, icc: $OUT_ICC, intent: perceptual, bpc: false, depth: 8 }
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
  - { name: p16, driver: hotfolder, folder: /nonexistent, model: bench-16 }
  - { name: p8, driver: hotfolder, folder: /nonexistent, model: bench-8 }
products:
  - { sku: print-8x12, media: custom_8x12_8x12in, media_type: photographic-glossy, fit: fill }
profiles:
  directory: $WORK/profiles
render:
  threads: 1
YAML

# timed CMD...: appends "cpu_seconds max_rss_kib" of one process to $WORK/t.all
timed() {
        VIPS_CONCURRENCY=1 /usr/bin/time -f "%U %S %M" -o "$WORK/t" "$@" >/dev/null
        awk '{ printf "%.3f %d\n", $1 + $2, $3 }' "$WORK/t" >>"$WORK/t.all"
}

# run TOOL I: one render of master I; appends "cpu_seconds max_rss_kib" to $WORK/TOOL.times
run() {
        local tool=$1 i=$2 out="$WORK/out-$1.tif"
        : >"$WORK/t.all"
        case $tool in
        agent16) timed "$BIN" render --config "$WORK/labagent.yaml" --printer p16 --product print-8x12 "$WORK/in16-$i.tif" "$out" ;;
        agent8) timed "$BIN" render --config "$WORK/labagent.yaml" --printer p8 --product print-8x12 "$WORK/in8-$i.tif" "$out" ;;
        vips16 | vips8)
                local d=${tool#vips}
                timed vips resize "$WORK/in$d-$i.tif" "$WORK/r.v" 0.6
                timed vips icc_transform "$WORK/r.v" "$out" "$OUT_ICC" --embedded --intent perceptual --depth "$d"
                ;;
        tificc16)
                timed vips resize "$WORK/in16-$i.tif" "$WORK/r.tif" 0.6
                timed tificc -t0 -w16 -o"$OUT_ICC" "$WORK/r.tif" "$out"
                ;;
        esac
        # Every tool must have written the print file, at the depth asked for.
        local want=ushort
        [[ $tool == *8 ]] && want=uchar
        vipsheader "$out" | grep -q " $want, " || { echo "render16-bench: $tool wrote no $want $out" >&2; exit 1; }
        awk '{ cpu += $1; if ($2 > rss) rss = $2 } END { printf "%.3f %d\n", cpu, rss }' "$WORK/t.all" >>"$WORK/$tool.times"
        rm -f "$WORK/r.v" "$WORK/r.tif" "$out"
}

for ((r = 0; r < RUNS; r++)); do
        for ((i = 0; i < IMAGES; i++)); do
                for tool in "${TOOLS[@]}"; do
                        run "$tool" "$i"
                done
        done
done

# median FILE COLUMN
median() { sort -n -k"$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "renders per tool: $((RUNS * IMAGES)) ($IMAGES masters x $RUNS runs), one thread each, into $OUT_ICC"
printf '| tool | CPU s per master (median) | peak RSS MiB (median) |\n|---|---|---|\n'
for tool in "${TOOLS[@]}"; do
        printf '| %s | %.3f | %.1f |\n' "$tool" "$(median "$WORK/$tool.times" 1)" \
                "$(echo "$(median "$WORK/$tool.times" 2) / 1024" | bc -l)"
done
a16=$(median "$WORK/agent16.times" 1)
printf 'ratios (CPU): agent16/agent8 %.2f, agent16/vips16 %.2f, agent16/tificc16 %.2f, vips16/vips8 %.2f\n' \
        "$(echo "$a16 / $(median "$WORK/agent8.times" 1)" | bc -l)" \
        "$(echo "$a16 / $(median "$WORK/vips16.times" 1)" | bc -l)" \
        "$(echo "$a16 / $(median "$WORK/tificc16.times" 1)" | bc -l)" \
        "$(echo "$(median "$WORK/vips16.times" 1) / $(median "$WORK/vips8.times" 1)" | bc -l)"
