#!/bin/sh
# systemctl-stub.sh - stands in for systemctl and deb-systemd-invoke while the
# package test runs dpkg in a mount namespace where /run/systemd/system
# exists, so the maintainer scripts take their "systemd is running" branch.
# Every call is appended to $LAB_STUB_LOG as "NAME ARGS". Offline systemctl
# calls (--root=..., e.g. "systemctl --root=/ preset" on a fresh install)
# run the real systemctl: they only touch files, as they would on a lab
# machine. Everything else (daemon-reload, start, try-restart, stop) is only
# recorded: there is no systemd to talk to.
name=$(basename "$0")
echo "$name $*" >>"${LAB_STUB_LOG:?}"
if [ "$name" = systemctl ]; then
        for arg in "$@"; do
                case $arg in
                --root=*) exec /usr/bin/systemctl "$@" ;;
                esac
        done
fi
exit 0
