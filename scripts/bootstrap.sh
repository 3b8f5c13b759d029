# Sourced by scripts/test and scripts/serve: installs what the project needs
# on a fresh machine, and nothing twice.
# shellcheck shell=bash

PYTHON=${PYTHON:-python3}
PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ensure_venv DIR FILE...: a virtual environment with exactly these pins; files
# named constraints* constrain (-c), the others are requirements (-r).
ensure_venv() {
    local dir=$1; shift
    # One installer at a time: concurrent runs would build the same venv twice.
    exec {lock}>"$dir.lock"
    flock "$lock"
    local stamp="$dir/.requirements.sha256"
    local want
    want=$(cat "$@" | sha256sum | cut -d' ' -f1)
    if [ ! -x "$dir/bin/python" ]; then
        echo "== creating $dir"
        # Debian's own Python has venv (and its pip) in a separate package.
        "$PYTHON" -c "import ensurepip, venv" 2>/dev/null || install_debian_packages python3-venv
        "$PYTHON" -m venv "$dir"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "== installing $* into $dir"
        local args=()
        for file in "$@"; do
            case $file in
                constraints*) args+=(-c "$file") ;;
                *) args+=(-r "$file") ;;
            esac
        done
        # This machine's pip configuration names local folders that may not
        # exist; its warnings about them are noise.
        "$dir/bin/pip" install --quiet --disable-pip-version-check "${args[@]}" 2>&1 \
            | { grep -v "is ignored: it is neither a file nor a directory" || true; }
        [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
        echo "$want" > "$stamp"
    fi
    # The project itself, editable, for its `pushstack` command: into the venv of
    # its requirements, which pin the build backend (setuptools), so nothing is
    # downloaded for the build.
    if [[ " $* " == *" requirements.txt "* ]] && [ ! -x "$dir/bin/pushstack" ]; then
        echo "== installing pushstack (editable) into $dir"
        "$dir/bin/pip" install --quiet --disable-pip-version-check --no-deps \
            --no-build-isolation -e "$PROJECT_ROOT" 2>&1 \
            | { grep -v "is ignored: it is neither a file nor a directory" || true; }
        [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
    fi
    flock -u "$lock"
    exec {lock}>&-
}

# ensure_debian_packages COMMAND PACKAGE...: install the packages unless COMMAND exists.
ensure_debian_packages() {
    local command=$1; shift
    command -v "$command" >/dev/null 2>&1 || install_debian_packages "$@"
}

install_debian_packages() {
    echo "== installing Debian packages: $*"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
