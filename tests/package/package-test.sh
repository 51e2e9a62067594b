#!/usr/bin/env bash
# tests/package/package-test.sh SOURCE_DIR SANDBOX_EXEC - the Debian package
# the way lab IT meets it, on this machine, as root:
#
#   1. build labagent_V.deb from a copy of the working tree (dpkg-buildpackage
#      -us -uc -b, nocheck), and labagent_V+pkgtest1.deb from a second copy
#      with a higher changelog version;
#   2. lintian: no error, no warning; every override has a written reason;
#   3. the unit: systemd-analyze verify passes, with and without the hot-folder
#      drop-in the generator writes; systemd-analyze security --offline=true
#      exposure <= 2.0;
#   4. dpkg -i, upgrade, -r, -P, asserting after each step the user, groups,
#      directories, owners, modes, conffile and the service actions the
#      maintainer scripts asked systemd for (dpkg runs in a mount namespace
#      where /run/systemd/system exists and systemctl/deb-systemd-invoke are
#      recording stubs, so the "systemd is running" branches run);
#   5. after install and after upgrade, the installed daemon, started as the
#      labagent user with the unit's ExecStart=, Environment=, UMask= and
#      WATCHDOG_USEC, under the unit's MemoryDenyWriteExecute= and
#      RestrictAddressFamilies= (SANDBOX_EXEC), reaches READY=1 and stops
#      cleanly on SIGTERM.
#
# Leaves the machine as found: the package purged, the test's TLS files gone,
# and the labagent user and groups deleted if this test created them. Skips
# (77) when not root or when labagent is already installed here. Every wait is
# bounded.
set -euo pipefail

SRC=$(cd "${1:?usage: package-test.sh SOURCE_DIR SANDBOX_EXEC}" && pwd)
SANDBOX=${2:?usage: package-test.sh SOURCE_DIR SANDBOX_EXEC}
HERE=$(cd "$(dirname "$0")" && pwd)
SKIP=77
T0=$(date +%s)

step() { printf '\n== [%3ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: the package test installs a .deb: run it as root" >&2
        exit $SKIP
fi
# One package test at a time on this machine (another clone may run one too):
# a lock on dpkg's database directory, which always exists and leaves nothing
# behind. dpkg itself locks other files, so dpkg is not blocked by it.
exec 9</var/lib/dpkg
flock -w 900 9 || { echo "FAIL: another package test held the lock for 15 minutes" >&2; exit 1; }
if dpkg-query -W -f='${Status}' labagent 2>/dev/null | grep -qv 'not-installed'; then
        echo "SKIP: labagent is installed on this machine; not touching it" >&2
        exit $SKIP
fi
for tool in dpkg-buildpackage dpkg-parsechangelog lintian systemd-analyze systemd-sysusers \
        systemd-tmpfiles deb-systemd-helper python3 openssl setpriv unshare man; do
        command -v "$tool" >/dev/null || fail "$tool missing (debian/control Build-Depends)"
done

# What exists before, so that cleanup removes only what the test created.
had_user=$(getent passwd labagent >/dev/null && echo yes || echo no)
had_groups=""
for g in labagent labagent-operators labagent-viewers; do
        getent group "$g" >/dev/null && had_groups="$had_groups $g"
done
had_etc=$([ -e /etc/labagent ] && echo yes || echo no)
[ "$had_etc" = no ] || fail "/etc/labagent exists but labagent is not installed; remove it first"
had_run_systemd=$([ -d /run/systemd ] && echo yes || echo no)
had_run_labagent=$([ -e /run/labagent ] && echo yes || echo no)
[ "$had_run_labagent" = no ] || fail "/run/labagent exists but labagent is not installed; remove it first"
# Technicians for the console checks: one viewer, one with no console group.
viewer=labtest-viewer-$$
outsider=labtest-outsider-$$

WORK=$(mktemp -d /tmp/labagent-pkgtest.XXXXXX)
chmod 0755 "$WORK" # lintian and the daemon run as other users
daemon_pid=""
listener_pid=""

cleanup() {
        local rc=$?
        set +e
        [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
        [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
        if dpkg-query -W -f='${Status}' labagent 2>/dev/null | grep -qv 'not-installed'; then
                echo "cleanup: purging labagent"
                dpkg -P labagent >/dev/null 2>&1
        fi
        rm -rf /etc/labagent/tls
        [ "$had_etc" = no ] && rm -rf /etc/labagent
        rm -rf /var/lib/labagent
        [ "$had_user" = no ] && getent passwd labagent >/dev/null && userdel labagent
        for g in labagent labagent-operators labagent-viewers; do
                case " $had_groups " in *" $g "*) continue ;; esac
                getent group "$g" >/dev/null && groupdel "$g"
        done
        [ "$had_run_systemd" = no ] && rm -rf /run/systemd
        rm -rf /run/labagent
        for u in "$viewer" "$outsider"; do
                getent passwd "$u" >/dev/null && userdel "$u"
        done
        rm -rf "$WORK"
        echo "package test: $(($(date +%s) - T0)) s"
        exit $rc
}
trap cleanup EXIT

# --- assertions ------------------------------------------------------------

# assert_stat PATH TYPE OWNER:GROUP MODE   (TYPE: f, d, s or l)
assert_stat() {
        local path=$1 type=$2 owner=$3 mode=$4 got
        case $type in
        f) [ -f "$path" ] && [ ! -L "$path" ] || fail "$path: not a regular file" ;;
        d) [ -d "$path" ] && [ ! -L "$path" ] || fail "$path: not a directory" ;;
        s) [ -S "$path" ] || fail "$path: not a socket" ;;
        esac
        got=$(stat -c '%U:%G %a' "$path")
        [ "$got" = "$owner $mode" ] || fail "$path: $got, expected $owner $mode"
        ok "$path $owner $mode"
}
assert_absent() {
        [ ! -e "$1" ] && [ ! -L "$1" ] || fail "$1 exists, expected it gone"
        ok "$1 absent"
}
assert_system_account() {
        local uid gid
        uid=$(getent passwd labagent | cut -d: -f3) || fail "user labagent missing"
        [ "$uid" -lt 1000 ] || fail "labagent uid $uid is not a system uid"
        [ "$(getent passwd labagent | cut -d: -f6,7)" = "/var/lib/labagent:/usr/sbin/nologin" ] ||
                fail "labagent home/shell: $(getent passwd labagent)"
        gid=$(getent passwd labagent | cut -d: -f4)
        [ "$(getent group "$gid" | cut -d: -f1)" = labagent ] || fail "labagent's group is not labagent"
        for g in labagent-operators labagent-viewers; do
                gid=$(getent group "$g" | cut -d: -f3) || fail "group $g missing"
                [ "$gid" -lt 1000 ] || fail "group $g gid $gid is not a system gid"
        done
        ok "user labagent (uid $uid), groups labagent, labagent-operators, labagent-viewers"
}
assert_status() {
        local got
        got=$(dpkg-query -W -f='${Status} ${Version}' labagent 2>/dev/null || true)
        [ "$got" = "$1" ] || fail "dpkg status '$got', expected '$1'"
        ok "dpkg: $1"
}
# The service actions the maintainer scripts asked for (stub log), one per line.
actions() { grep -E '^(deb-systemd-invoke|systemctl) ' "$WORK/stub.log" | grep -v -- '--root=' | sed 's/ >.*//' || true; }

# dpkg with /run/systemd/system present and recording systemctl stubs.
dpkg_systemd() {
        : >"$WORK/stub.log"
        [ -d /run/systemd ] || mkdir /run/systemd
        unshare --mount --propagation private sh -c '
                mount -t tmpfs -o mode=0755 labagent-pkgtest /run/systemd &&
                mkdir /run/systemd/system &&
                exec env PATH="$0/stubs:$PATH" LAB_STUB_LOG="$0/stub.log" dpkg "$@"' "$WORK" "$@"
}

# --- 1. build ----------------------------------------------------------------

# copy_tree DEST: the working tree as git would see it, uncommitted work
# included: without .git, build/ and whatever .gitignore ignores.
copy_tree() {
        mkdir -p "$1"
        tar -C "$SRC" --exclude-vcs --exclude-vcs-ignores --exclude=./build -cf - . | tar -C "$1" -xf -
}
# build DIR: dpkg-buildpackage in DIR/src; the .deb lands in DIR.
build() {
        local log="$1/build.log"
        if ! (cd "$1/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
                dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
                tail -40 "$log" >&2
                fail "dpkg-buildpackage in $1/src (log above)"
        fi
}

step "build the package from a copy of the working tree"
copy_tree "$WORK/v1/src"
V1=$(dpkg-parsechangelog -l "$WORK/v1/src/debian/changelog" -SVersion)
V2="$V1+pkgtest1"
build "$WORK/v1"
DEB1="$WORK/v1/labagent_${V1}_$(dpkg --print-architecture).deb"
[ -f "$DEB1" ] || fail "no $DEB1"
ok "built $(basename "$DEB1")"

step "build $V2 (a higher version) from a second copy"
copy_tree "$WORK/v2/src"
{
        printf 'labagent (%s) unstable; urgency=medium\n\n' "$V2"
        printf '  * Package test: an upgrade.\n\n'
        printf ' -- labagent developers <labagent@localhost>  %s\n\n' "$(date -R)"
        cat "$WORK/v2/src/debian/changelog"
} >"$WORK/changelog" && mv "$WORK/changelog" "$WORK/v2/src/debian/changelog"
build "$WORK/v2"
DEB2="$WORK/v2/labagent_${V2}_$(dpkg --print-architecture).deb"
[ -f "$DEB2" ] || fail "no $DEB2"
ok "built $(basename "$DEB2")"

# --- 2. lintian ------------------------------------------------------------------

step "lintian"
chmod -R a+rX "$WORK/v1"
# As an unprivileged user: lintian warns when it runs as root.
if ! setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$WORK" \
        lintian --fail-on error,warning "$DEB1" >"$WORK/lintian.out" 2>&1; then
        cat "$WORK/lintian.out" >&2
        fail "lintian reports errors or warnings"
fi
if grep -E '^[EW]: ' "$WORK/lintian.out"; then
        fail "lintian reports errors or warnings"
fi
ok "lintian: no error, no warning"
# Every override is preceded by a comment (its reason).
for f in "$SRC"/debian/*lintian-overrides; do
        [ -e "$f" ] || continue
        awk -v f="$f" '
                /^[[:space:]]*#/ { reason = 1; next }
                /^[[:space:]]*$/ { reason = 0; next }
                { if (!reason) { print f ": override without a reason: " $0; bad = 1 } }
                END { exit bad }' "$f" || fail "lintian override without a written reason"
done
ok "every lintian override carries a reason"

# --- 4a. install -------------------------------------------------------------------
# (the unit is verified once installed: verify wants ExecStart= and the man pages)

mkdir -p "$WORK/stubs"
ln -s "$HERE/systemctl-stub.sh" "$WORK/stubs/systemctl"
ln -s "$HERE/systemctl-stub.sh" "$WORK/stubs/deb-systemd-invoke"

step "dpkg -i $(basename "$DEB1") (fresh install, no credentials)"
dpkg_systemd -i "$DEB1" >"$WORK/install.out" 2>&1 || { cat "$WORK/install.out" >&2; fail "dpkg -i"; }
cat "$WORK/install.out"
assert_status "install ok installed $V1"
grep -q "NOT started" "$WORK/install.out" || fail "postinst did not say the service is not started"
grep -q "/etc/labagent/tls" "$WORK/install.out" || fail "postinst did not say where the TLS files go"
grep -q "labagent --check-config" "$WORK/install.out" || fail "postinst did not say how to check the config"
ok "postinst says what to configure"
actions | grep -E 'deb-systemd-invoke' && fail "fresh install asked systemd to start or restart the service"
ok "fresh install: service not started"
[ -L /etc/systemd/system/multi-user.target.wants/labagent.service ] ||
        fail "labagent.service is not enabled (no multi-user.target.wants link)"
ok "labagent.service enabled"

# check_installed_files: what every installed version must have.
check_installed_files() {
        assert_system_account
        assert_stat /usr/sbin/labagent f root:root 755
        assert_stat /usr/bin/labctl f root:root 755
        assert_stat /lib/systemd/system/labagent.service f root:root 644
        assert_stat /usr/lib/systemd/system-generators/labagent-generator f root:root 755
        assert_stat /usr/lib/sysusers.d/labagent.conf f root:root 644
        assert_stat /usr/lib/tmpfiles.d/labagent.conf f root:root 644
        assert_stat /usr/share/labagent/profiles/registry.yaml f root:root 644
        assert_stat /usr/share/doc/labagent/examples/labagent.yaml f root:root 644
        assert_stat /usr/share/doc/labagent/examples/metrics-textfile.conf f root:root 644
        assert_stat /etc/labagent d root:root 755
        assert_stat /etc/labagent/labagent.yaml f root:root 644
        assert_stat /etc/labagent/tls d root:labagent 750
        assert_stat /var/lib/labagent d labagent:labagent 750
        dpkg-query -W -f='${Conffiles}\n' labagent | grep -q '^ /etc/labagent/labagent.yaml ' ||
                fail "/etc/labagent/labagent.yaml is not a conffile"
        ok "/etc/labagent/labagent.yaml is a conffile"
        man -w 8 labagent >/dev/null && man -w 5 labagent.yaml >/dev/null &&
                man -w 1 labctl >/dev/null ||
                fail "man pages labagent(8), labagent.yaml(5), labctl(1) not found"
        ok "man pages labagent(8), labagent.yaml(5) and labctl(1)"
        /usr/sbin/labagent --check-config /usr/share/doc/labagent/examples/labagent.yaml >/dev/null ||
                fail "the installed example config does not pass --check-config"
        ok "the example config passes labagent --check-config"
}
check_installed_files
cmp -s /etc/labagent/labagent.yaml "$SRC/packaging/labagent.yaml" ||
        fail "/etc/labagent/labagent.yaml differs from packaging/labagent.yaml"
ok "conffile as shipped"

# --- 3. the unit -------------------------------------------------------------

step "systemd-analyze verify and security"
UNIT=/lib/systemd/system/labagent.service
if ! systemd-analyze verify "$UNIT" >"$WORK/verify.out" 2>&1 || [ -s "$WORK/verify.out" ]; then
        cat "$WORK/verify.out" >&2
        fail "systemd-analyze verify $UNIT"
fi
ok "systemd-analyze verify $UNIT"
# The generator, on the installed conffile (its example hot folder).
mkdir -p "$WORK/gen" "$WORK/units"
/usr/lib/systemd/system-generators/labagent-generator "$WORK/gen" "$WORK/gen" "$WORK/gen"
grep -qx 'ReadWritePaths="-/srv/hotfolder/qss-3701"' "$WORK/gen/labagent.service.d/50-hotfolders.conf" ||
        fail "generator drop-in: $(cat "$WORK/gen/labagent.service.d/50-hotfolders.conf" 2>&1)"
ok "generator: ReadWritePaths for the configured hot folder"
cp "$UNIT" "$WORK/units/"
cp -r "$WORK/gen/labagent.service.d" "$WORK/units/"
if ! systemd-analyze verify "$WORK/units/labagent.service" >"$WORK/verify.out" 2>&1 ||
        [ -s "$WORK/verify.out" ]; then
        cat "$WORK/verify.out" >&2
        fail "systemd-analyze verify with the generated drop-in"
fi
ok "systemd-analyze verify with the generated drop-in"
# The metrics drop-in as shipped (all comments) and as a person enables it.
DROPIN=/usr/share/doc/labagent/examples/metrics-textfile.conf
grep -v '^#' "$DROPIN" | grep -q . && fail "$DROPIN is not all commented out"
sed -e 's/^#\[Service\]$/[Service]/' -e 's/^#ReadWritePaths=/ReadWritePaths=/' "$DROPIN" \
        >"$WORK/units/labagent.service.d/metrics-textfile.conf"
grep -qx 'ReadWritePaths=-/var/lib/prometheus/node-exporter' \
        "$WORK/units/labagent.service.d/metrics-textfile.conf" ||
        fail "the metrics drop-in, uncommented, has no ReadWritePaths= line"
if ! systemd-analyze verify "$WORK/units/labagent.service" >"$WORK/verify.out" 2>&1 ||
        [ -s "$WORK/verify.out" ]; then
        cat "$WORK/verify.out" >&2
        fail "systemd-analyze verify with the metrics drop-in enabled"
fi
ok "metrics drop-in: shipped commented out; enabled, systemd-analyze verify passes"
systemd-analyze security --offline=true "$UNIT" >"$WORK/security.out" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for labagent.service: \([0-9.]*\).*/\1/p' "$WORK/security.out")
[ -n "$exposure" ] || { cat "$WORK/security.out" >&2; fail "no exposure figure"; }
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || {
        grep '✗' "$WORK/security.out" >&2
        fail "exposure $exposure > 2.0"
}
ok "systemd-analyze security: exposure $exposure (<= 2.0)"

# --- 5. the daemon as the labagent user ----------------------------------------

step "TLS material and a configuration for this lab"
bash "$SRC/tests/platform/make-certs.sh" "$WORK/certs" >/dev/null
install -m 0644 -o root -g root "$WORK/certs/ca.pem" /etc/labagent/tls/platform-ca.pem
install -m 0644 -o root -g root "$WORK/certs/client.pem" /etc/labagent/tls/test-lab.crt
install -m 0640 -o root -g labagent "$WORK/certs/client.key" /etc/labagent/tls/test-lab.key
sed -i -e 's|^  id: berlin-01$|  id: test-lab|' \
        -e 's|^  url: https://labs.example-photo.com/api$|  url: https://127.0.0.1:9/api|' \
        -e 's|/etc/labagent/tls/berlin-01.crt|/etc/labagent/tls/test-lab.crt|' \
        -e 's|/etc/labagent/tls/berlin-01.key|/etc/labagent/tls/test-lab.key|' \
        /etc/labagent/labagent.yaml
grep -q '^  id: test-lab$' /etc/labagent/labagent.yaml || fail "could not edit the conffile"
/usr/sbin/labagent --check-config /etc/labagent/labagent.yaml >/dev/null || fail "edited config invalid"
ok "credentials in /etc/labagent/tls (key root:labagent 0640), conffile edited"

# unit_value KEY: the value of KEY= in the installed unit (last one wins).
unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -1; }

# run_daemon LABEL: start the installed daemon as systemd would, wait for
# READY=1, check it, stop it with SIGTERM, wait for a clean exit.
run_daemon() {
        local label=$1 exec_start umask wd_usec i notify="$WORK/notify-$1" rc
        local -a env_args=()
        exec_start=$(unit_value ExecStart)
        umask=$(unit_value UMask)
        wd_usec=$(($(unit_value WatchdogSec | tr -d s) * 1000000))
        while IFS= read -r line; do
                env_args+=("$line")
        done < <(sed -n 's/^Environment=//p' "$UNIT" | tr ' ' '\n')
        [ -n "$exec_start" ] && [ -n "$umask" ] || fail "unit without ExecStart= or UMask="

        # RuntimeDirectory=, as systemd makes it before ExecStart=.
        install -d -m "$(unit_value RuntimeDirectoryMode)" -o labagent -g labagent \
                "/run/$(unit_value RuntimeDirectory)"

        python3 "$HERE/notify-listen.py" "$WORK/notify.sock" 120 >"$notify" &
        listener_pid=$!
        for ((i = 0; i < 50; i++)); do
                grep -q LISTENING "$notify" 2>/dev/null && break
                sleep 0.1
        done
        grep -q LISTENING "$notify" || fail "notify listener did not start"

        # As systemd would: User=/Group= with the user's groups, no capabilities,
        # no new privileges, UMask=, Environment=, NOTIFY_SOCKET and
        # WATCHDOG_USEC; MemoryDenyWriteExecute= and RestrictAddressFamilies=
        # through sandbox-exec; stdout/stderr to a file.
        # shellcheck disable=SC2086 # ExecStart= is a command line
        setpriv --reuid=labagent --regid=labagent --init-groups --inh-caps=-all \
                --bounding-set=-all --no-new-privs -- \
                env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/var/lib/labagent \
                USER=labagent LOGNAME=labagent NOTIFY_SOCKET="$WORK/notify.sock" \
                WATCHDOG_USEC="$wd_usec" "${env_args[@]}" \
                sh -c 'umask "$0"; exec "$@"' "$umask" "$WORK/sandbox-exec" -- $exec_start \
                >"$WORK/daemon-$label.log" 2>&1 9<&- &
        daemon_pid=$!
        for ((i = 0; i < 300; i++)); do
                grep -qx READY=1 "$notify" && break
                kill -0 "$daemon_pid" 2>/dev/null || break
                sleep 0.1
        done
        if ! grep -qx READY=1 "$notify"; then
                cat "$WORK/daemon-$label.log" >&2
                fail "$label: the daemon did not reach READY=1 within 30 s"
        fi
        ok "$label: READY=1 ($(grep -m1 '^STATUS=' "$notify" || echo 'no STATUS'))"
        [ "$(stat -c %U "/proc/$daemon_pid")" = labagent ] || fail "$label: daemon not running as labagent"
        ok "$label: runs as labagent"
        assert_stat /var/lib/labagent/labagent.db f labagent:labagent 640
        check_console "$label"

        kill -TERM "$daemon_pid"
        for ((i = 0; i < 150; i++)); do
                kill -0 "$daemon_pid" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$daemon_pid" 2>/dev/null; then
                cat "$WORK/daemon-$label.log" >&2
                fail "$label: the daemon did not stop within 15 s of SIGTERM"
        fi
        rc=0
        wait "$daemon_pid" || rc=$?
        daemon_pid=""
        [ "$rc" -eq 0 ] || { cat "$WORK/daemon-$label.log" >&2; fail "$label: exit status $rc after SIGTERM"; }
        grep -qx STOPPING=1 "$notify" || fail "$label: no STOPPING=1"
        ok "$label: STOPPING=1, exit status 0"
        assert_absent /run/labagent/control.sock
        rm -rf /run/labagent # RuntimeDirectory= goes with the service
        kill "$listener_pid" 2>/dev/null || true
        wait "$listener_pid" 2>/dev/null || true
        listener_pid=""
}

# as_user USER CMD...: run CMD as USER with USER's groups, as a login would.
as_user() {
        local u=$1
        shift
        setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"
}

# check_console LABEL: labctl against the running daemon, as root, as a member of
# labagent-viewers and as a user in no console group.
check_console() {
        local label=$1 rc out
        assert_stat /run/labagent/control.sock s labagent:labagent 666
        out=$(labctl status 2>&1) || fail "$label: labctl status as root: $out"
        grep -q "test-lab" <<<"$out" || fail "$label: labctl status does not name the lab: $out"
        ok "$label: labctl status as root"
        getent passwd "$viewer" >/dev/null ||
                useradd --system --no-create-home --groups labagent-viewers "$viewer"
        getent passwd "$outsider" >/dev/null || useradd --system --no-create-home "$outsider"
        out=$(as_user "$viewer" labctl status 2>&1) || fail "$label: labctl status as a viewer: $out"
        rc=0
        out=$(as_user "$viewer" labctl pause no-such-printer 2>&1) || rc=$?
        [ "$rc" -eq 77 ] && grep -q not_authorized <<<"$out" ||
                fail "$label: a viewer's pause: exit $rc: $out (expected 77, not_authorized)"
        rc=0
        out=$(as_user "$outsider" labctl status 2>&1) || rc=$?
        [ "$rc" -eq 77 ] || fail "$label: labctl status by a user in no console group: exit $rc: $out"
        ok "$label: a labagent-viewers member looks but may not act; others are refused (77)"
}

install -m 0755 "$SANDBOX" "$WORK/sandbox-exec"
"$WORK/sandbox-exec" --self-test >/dev/null || fail "sandbox-exec --self-test"

step "start $V1 as the labagent user"
run_daemon v1

# --- 4b. upgrade -------------------------------------------------------------

step "upgrade to $V2"
sha_conf=$(sha256sum </etc/labagent/labagent.yaml)
sha_db=$(sha256sum </var/lib/labagent/labagent.db)
uid=$(id -u labagent)
dpkg_systemd -i "$DEB2" >"$WORK/upgrade.out" 2>&1 || { cat "$WORK/upgrade.out" >&2; fail "upgrade"; }
assert_status "install ok installed $V2"
check_installed_files
[ "$(sha256sum </etc/labagent/labagent.yaml)" = "$sha_conf" ] || fail "the edited conffile changed on upgrade"
ls /etc/labagent/labagent.yaml.dpkg-* 2>/dev/null && fail "dpkg left a conffile copy on upgrade"
ok "edited conffile kept as it was"
[ "$(sha256sum </var/lib/labagent/labagent.db)" = "$sha_db" ] || fail "the store changed on upgrade"
ok "store kept"
[ "$(id -u labagent)" = "$uid" ] || fail "labagent's uid changed on upgrade"
assert_stat /etc/labagent/tls/test-lab.key f root:labagent 640
grep -q "NOT started" "$WORK/upgrade.out" && fail "upgrade printed the fresh-install message"
[ "$(actions | grep deb-systemd-invoke)" = "deb-systemd-invoke try-restart labagent.service" ] ||
        fail "upgrade service actions: $(actions | tr '\n' ';'), expected only try-restart"
ok "upgrade: try-restart (restarted only if it was running), never stopped or started"

step "start $V2 as the labagent user"
run_daemon v2

# --- 4c. remove, purge ---------------------------------------------------------

step "dpkg -r"
dpkg_systemd -r labagent >"$WORK/remove.out" 2>&1 || { cat "$WORK/remove.out" >&2; fail "dpkg -r"; }
assert_status "deinstall ok config-files $V2"
[ "$(actions | grep deb-systemd-invoke)" = "deb-systemd-invoke stop labagent.service" ] ||
        fail "remove service actions: $(actions | tr '\n' ';'), expected stop"
ok "remove: service stopped"
assert_absent /usr/sbin/labagent
assert_absent /lib/systemd/system/labagent.service
assert_stat /etc/labagent/labagent.yaml f root:root 644
assert_stat /var/lib/labagent d labagent:labagent 750
assert_stat /var/lib/labagent/labagent.db f labagent:labagent 640
assert_stat /etc/labagent/tls/test-lab.key f root:labagent 640
assert_system_account

step "dpkg -P"
dpkg_systemd -P labagent >"$WORK/purge.out" 2>&1 || { cat "$WORK/purge.out" >&2; fail "dpkg -P"; }
cat "$WORK/purge.out"
dpkg-query -W -f='${Status}' labagent 2>/dev/null | grep -qv 'not-installed' &&
        fail "labagent still known to dpkg after purge"
ok "dpkg: purged"
assert_absent /var/lib/labagent
assert_absent /etc/labagent/labagent.yaml
assert_absent /etc/systemd/system/multi-user.target.wants/labagent.service
# Lab IT's own files stay, and purge says so.
assert_stat /etc/labagent/tls/test-lab.key f root:labagent 640
grep -q "kept /etc/labagent/tls" "$WORK/purge.out" || fail "purge did not say it kept /etc/labagent/tls"
ok "purge kept lab IT's TLS files and said so"
assert_system_account # kept on purge, like every Debian system user

step "done"
