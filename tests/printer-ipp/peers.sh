#!/bin/sh
# peers.sh - start/stop the system D-Bus and avahi-daemon that ippeveprinter
# needs (it exits "Unable to initialize DNS-SD" without them).
#
# Why: CI is a fresh Debian 12 machine without systemd as PID 1, so nothing
# starts them. We start each one only if it is not already running, record
# the PIDs of what we started in STATEFILE, and on stop end only those.
#
# Usage: peers.sh start|stop STATEFILE
set -eu

cmd=${1:?usage: peers.sh start|stop STATEFILE}
state=${2:?usage: peers.sh start|stop STATEFILE}

dbus_running() {
        [ -S /run/dbus/system_bus_socket ] &&
                dbus-send --system --dest=org.freedesktop.DBus --print-reply \
                        /org/freedesktop/DBus org.freedesktop.DBus.GetId >/dev/null 2>&1
}

avahi_running() {
        avahi-daemon -c >/dev/null 2>&1
}

# Wait up to about 5 s for check $1 to succeed.
wait_for() {
        i=0
        while [ $i -lt 50 ]; do
                if "$1"; then
                        return 0
                fi
                sleep 0.1
                i=$((i + 1))
        done
        return 1
}

case "$cmd" in
start)
        : >"$state"
        if ! dbus_running; then
                if [ "$(id -u)" != 0 ]; then
                        echo "peers.sh: the system D-Bus is not running and only root can start it;" \
                                "start dbus-daemon --system (and avahi-daemon) or run the tests as root" >&2
                        exit 1
                fi
                mkdir -p /run/dbus
                rm -f /run/dbus/pid /run/dbus/system_bus_socket
                dbus-daemon --system --fork --print-pid=3 3>"$state.dbus" >/dev/null
                wait_for dbus_running || { echo "peers.sh: dbus-daemon did not come up" >&2; exit 1; }
                echo "dbus $(cat "$state.dbus")" >>"$state"
                rm -f "$state.dbus"
        fi
        if ! avahi_running; then
                if [ "$(id -u)" != 0 ]; then
                        echo "peers.sh: avahi-daemon is not running and only root can start it;" \
                                "start avahi-daemon or run the tests as root" >&2
                        exit 1
                fi
                avahi-daemon --no-drop-root --no-rlimits -D
                wait_for avahi_running || { echo "peers.sh: avahi-daemon did not come up" >&2; exit 1; }
                pid=$(cat /run/avahi-daemon/pid 2>/dev/null || true)
                echo "avahi ${pid:-?}" >>"$state"
        fi
        echo "peers.sh: ready (started: $(tr '\n' ' ' <"$state"))"
        ;;
stop)
        [ -f "$state" ] || exit 0
        # Stop in reverse order: avahi first, it is a D-Bus client.
        if grep -q '^avahi ' "$state"; then
                avahi-daemon -k >/dev/null 2>&1 || true
        fi
        pid=$(sed -n 's/^dbus //p' "$state")
        if [ -n "$pid" ] && [ "$pid" -gt 1 ] 2>/dev/null; then
                kill "$pid" 2>/dev/null || true
                rm -f /run/dbus/pid
        fi
        rm -f "$state"
        echo "peers.sh: stopped what it started"
        ;;
*)
        echo "usage: peers.sh start|stop STATEFILE" >&2
        exit 2
        ;;
esac
