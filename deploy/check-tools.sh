#!/usr/bin/env bash
# Make deploy/.venv hold the pinned manifest tools (checkov, kubernetes-validate, kubectl).
# Idempotent and quiet: a stamp keyed on requirements-tools.txt skips the install when nothing changed.
# Prints nothing on success; prints the venv's bin folder with --print-bin.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
req="$here/requirements-tools.txt"
python="${PYTHON:-python3}"
stamp="$venv/.tools-$(sha256sum "$req" | cut -c1-12)"

if [[ ! -f "$stamp" ]]; then
  lock="$here/.venv.lock"
  exec 9>"$lock"
  flock 9
  if [[ ! -f "$stamp" ]]; then
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
    if ! {
      { [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"; } &&
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
    } >"$log" 2>&1; then
      echo "deploy/check-tools.sh: installing the manifest tools failed:" >&2
      grep -v "is ignored: it is neither a file nor a directory" "$log" >&2 || true
      exit 1
    fi
    rm -f "$venv"/.tools-*
    touch "$stamp"
  fi
fi
if [[ "${1:-}" == "--print-bin" ]]; then
  echo "$venv/bin"
fi
