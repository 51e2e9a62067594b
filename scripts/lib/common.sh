# scripts/lib/common.sh - shared by scripts/check and scripts/demo.
#
# Why: both README commands must work on a fresh Debian 12 machine as root,
# so both install what is missing in the same way: from the Build-Depends in
# debian/control (the one list of dependencies), through apt-get build-dep.

LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Print a step heading.
lab_step() { printf '\n==> %s\n' "$*"; }

# Run a command as root (directly, or through sudo when available).
lab_as_root() {
        if [ "$(id -u)" -eq 0 ]; then
                "$@"
        elif command -v sudo >/dev/null 2>&1; then
                sudo "$@"
        else
                echo "error: need root to run: $*" >&2
                echo "       run this script as root, or install sudo" >&2
                return 1
        fi
}

# Install every Build-Depends of debian/control (with test peers) that is missing.
lab_install_deps() {
        if command -v dpkg-checkbuilddeps >/dev/null 2>&1 &&
                (cd "$LAB_ROOT" && dpkg-checkbuilddeps >/dev/null 2>&1); then
                return 0
        fi
        lab_step "Installing build dependencies from debian/control"
        export DEBIAN_FRONTEND=noninteractive
        lab_as_root apt-get update -qq
        lab_as_root apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
        (cd "$LAB_ROOT" && lab_as_root apt-get build-dep -y -qq ./ >/dev/null)
        (cd "$LAB_ROOT" && dpkg-checkbuilddeps)
}

# Configure and build one CMake preset.
lab_build() {
        local preset=$1
        lab_step "Building ($preset)"
        (cd "$LAB_ROOT" && cmake --preset "$preset" >/dev/null &&
                cmake --build --preset "$preset" --parallel "$(nproc)")
}
