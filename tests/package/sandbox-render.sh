#!/bin/sh
# sandbox-render.sh SANDBOX_EXEC LABAGENT SOURCE_DIR - does labagent render
# under labagent.service's MemoryDenyWriteExecute=yes (systemd 252's seccomp
# rules, applied by sandbox-exec) with the unit's VIPS_NOVECTOR=1?
#
# 1. sandbox-exec --self-test: the filter really refuses W+X mappings,
#    mprotect(PROT_EXEC) and sockets of other families (else this test proves
#    nothing);
# 2. the same 4x6 render (resize, ICC transform, sharpening) outside and inside
#    the sandbox, both with VIPS_NOVECTOR=1: exit 0 and byte-identical output.
set -eu
SANDBOX=$1
BIN=$2
SRC=$3
WORK=$(mktemp -d /tmp/labagent-sandbox-render.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

"$SANDBOX" --self-test

. "$SRC/tests/common/render-fixture.sh"
render_fixture_config "$WORK/labagent.yaml" "$SRC" 0.8
vips gaussnoise "$WORK/n.v" 3000 2000 --mean 120 --sigma 40
vips bandjoin "$WORK/n.v $WORK/n.v $WORK/n.v" "$WORK/rgb.v"
vips cast "$WORK/rgb.v" "$WORK/in.jpg[Q=90]" uchar

render() { # render OUT [sandbox-exec --]
        out=$1
        shift
        VIPS_NOVECTOR=1 "$@" "$BIN" render --config "$WORK/labagent.yaml" --printer ds620 \
                --product print-4x6-glossy "$WORK/in.jpg" "$out" >"$out.json"
}
render "$WORK/plain.jpg" || { echo "FAIL: render outside the sandbox"; exit 1; }
render "$WORK/sandboxed.jpg" "$SANDBOX" -- || {
        echo "FAIL: labagent render under MemoryDenyWriteExecute= with VIPS_NOVECTOR=1"
        exit 1
}
cmp "$WORK/plain.jpg" "$WORK/sandboxed.jpg" || { echo "FAIL: sandboxed render differs"; exit 1; }
echo "ok: labagent render under MemoryDenyWriteExecute=yes with VIPS_NOVECTOR=1, same output"
