#!/bin/sh
# test-generator.sh LABAGENT SOURCE_DIR - `labagent --list-hotfolders` and
# packaging/labagent-generator, which turns its output into the
# ReadWritePaths= drop-in of labagent.service:
#   - every hotfolder printer (enabled or not), no ipp printer, one per line;
#   - quoting for the unit file: spaces kept, "%" doubled, "-" prefix;
#   - an invalid config: exit 1, nothing on stdout, and no drop-in (exit 0);
#   - no hotfolder printer: no drop-in;
#   - a folder with a control character: refused (exit 1), no drop-in.
set -eu
BIN=$1
SRC=$2
GEN=$SRC/packaging/labagent-generator
WORK=$(mktemp -d /tmp/labagent-generator.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

head='lab:
  id: test-lab
platform:
  url: https://localhost/
  ca_file: /etc/labagent/tls/ca.pem
  cert_file: /etc/labagent/tls/lab.crt
  key_file: /etc/labagent/tls/lab.key'

# gen CONFIG: run the generator on CONFIG into $WORK/out (emptied first).
gen() {
        rm -rf "$WORK/out"
        mkdir -p "$WORK/out"
        LABAGENT_GENERATOR_CONFIG=$1 LABAGENT_GENERATOR_DAEMON=$BIN sh "$GEN" "$WORK/out" \
                "$WORK/out" "$WORK/out" 2>"$WORK/gen.err" || fail "generator exited non-zero"
}

cat >"$WORK/two.yaml" <<YAML
$head
printers:
  - { name: qss, driver: hotfolder, folder: /srv/hotfolder/qss-3701, format: noritsu }
  - { name: ds620, driver: ipp, uri: "ipp://localhost:631/printers/ds620" }
  - { name: dnp, driver: hotfolder, folder: "/srv/hot folder/100%", format: dnp, enabled: false }
YAML
printf '/srv/hotfolder/qss-3701\n/srv/hot folder/100%%\n' >"$WORK/want"
"$BIN" --list-hotfolders "$WORK/two.yaml" >"$WORK/got" || fail "--list-hotfolders exit $?"
cmp -s "$WORK/want" "$WORK/got" || fail "--list-hotfolders printed: $(cat "$WORK/got")"
echo "ok: --list-hotfolders lists both hot folders, not the ipp printer"
gen "$WORK/two.yaml"
conf=$WORK/out/labagent.service.d/50-hotfolders.conf
[ -f "$conf" ] || fail "no drop-in"
grep -v '^#' "$conf" >"$WORK/got"
printf '[Service]\nReadWritePaths="-/srv/hotfolder/qss-3701"\nReadWritePaths="-/srv/hot folder/100%%%%"\n' >"$WORK/want"
cmp -s "$WORK/want" "$WORK/got" || fail "drop-in: $(cat "$conf")"
echo "ok: drop-in with quoted ReadWritePaths=, % doubled"

printf '%s\nprinters:\n  - { name: x, driver: hotfolder }\n' "$head" >"$WORK/bad.yaml"
rc=0
"$BIN" --list-hotfolders "$WORK/bad.yaml" >"$WORK/got" 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] && [ ! -s "$WORK/got" ] || fail "invalid config: exit $rc, stdout $(cat "$WORK/got")"
gen "$WORK/bad.yaml"
[ ! -e "$WORK/out/labagent.service.d" ] || fail "drop-in written for an invalid config"
grep -q "is not valid" "$WORK/gen.err" || fail "generator did not say the config is invalid"
echo "ok: invalid config: nothing listed, no drop-in"

printf '%s\n' "$head" >"$WORK/none.yaml"
"$BIN" --list-hotfolders "$WORK/none.yaml" >"$WORK/got" || fail "no printers: exit $?"
[ ! -s "$WORK/got" ] || fail "no printers: printed $(cat "$WORK/got")"
gen "$WORK/none.yaml"
[ ! -e "$WORK/out/labagent.service.d" ] || fail "drop-in written without hot folders"
echo "ok: no hot folder: no drop-in"

printf '%s\nprinters:\n  - { name: t, driver: hotfolder, folder: "/srv/a\\tb" }\n' "$head" >"$WORK/ctl.yaml"
if "$BIN" --check-config "$WORK/ctl.yaml" >/dev/null 2>&1; then
        rc=0
        "$BIN" --list-hotfolders "$WORK/ctl.yaml" >"$WORK/got" 2>"$WORK/err" || rc=$?
        [ "$rc" -eq 1 ] && [ ! -s "$WORK/got" ] || fail "control character: exit $rc"
        grep -q 'printers\[0\].folder: contains a control character' "$WORK/err" || fail "$(cat "$WORK/err")"
        gen "$WORK/ctl.yaml"
        [ ! -e "$WORK/out/labagent.service.d" ] || fail "drop-in written for a folder with a tab"
        echo "ok: a folder with a control character is refused"
else
        echo "ok: the loader itself refuses a folder with a control character"
fi
