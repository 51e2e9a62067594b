#!/bin/sh
# render-cli.sh LABAGENT SOURCE_DIR - `labagent render` as lab IT runs it: the
# sample registry (profiles/registry.yaml), a DS620 printer and a 4x6 product
# from a config, a landscape photo in; a 1240x1844 JPEG (the DS620 queue's
# imageable area) and the audit record (JSON) out. Then the refusals: an
# unknown product and a non-image, each exit 1 with its keyword.
set -eu
BIN=$1
SRC=$2
WORK=$(mktemp -d /tmp/labagent-render-cli.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

. "$SRC/tests/common/render-fixture.sh"
render_fixture_config "$WORK/labagent.yaml" "$SRC" 0.5

vips black "$WORK/black.v" 3000 2000 --bands 3
vips linear "$WORK/black.v" "$WORK/in.jpg[Q=90]" 1 120 --uchar

"$BIN" render --config "$WORK/labagent.yaml" --printer ds620 --product print-4x6-glossy \
        "$WORK/in.jpg" "$WORK/out.jpg" >"$WORK/audit.json"
size=$(vipsheader -f width "$WORK/out.jpg")x$(vipsheader -f height "$WORK/out.jpg")
[ "$size" = 1240x1844 ] || { echo "FAIL: output is $size, not 1240x1844"; exit 1; }
for field in '"output_sha256"' '"output_profile_id"' '"intent": *"perceptual"' '"rotated": *true' \
        '"sharpen_sigma": *0.5' '"gamut_share": *0'; do
        grep -q "$field" "$WORK/audit.json" || { echo "FAIL: audit lacks $field:"; cat "$WORK/audit.json"; exit 1; }
done
want=$(sha256sum "$WORK/out.jpg" | cut -d' ' -f1)
grep -q "\"output_sha256\": *\"$want\"" "$WORK/audit.json" || { echo "FAIL: audit sha256 is not the file's"; exit 1; }

# refusals: exit 1 and the keyword on stderr
set +e
"$BIN" render --config "$WORK/labagent.yaml" --printer ds620 --product nope \
        "$WORK/in.jpg" "$WORK/x.jpg" 2>"$WORK/err1"
rc1=$?
echo "not an image" >"$WORK/text.jpg"
"$BIN" render --config "$WORK/labagent.yaml" --printer ds620 --product print-4x6-glossy \
        "$WORK/text.jpg" "$WORK/y.jpg" 2>"$WORK/err2"
rc2=$?
set -e
[ $rc1 = 1 ] && grep -q '^unknown_sku: no product nope' "$WORK/err1" || { echo "FAIL: unknown product: rc $rc1"; cat "$WORK/err1"; exit 1; }
[ $rc2 = 1 ] && grep -q '^unsupported_image: ' "$WORK/err2" || { echo "FAIL: non-image: rc $rc2"; cat "$WORK/err2"; exit 1; }
[ ! -e "$WORK/y.jpg" ] || { echo "FAIL: an output was written for a refused input"; exit 1; }
echo "1 passed, 0 failed"
