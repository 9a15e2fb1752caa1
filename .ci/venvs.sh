#!/usr/bin/env bash
# The Python virtualenvs the tests and benchmarks use, made once per machine and reused while their
# requirements are unchanged: each venv has a stamp file holding the exact requirement line it was made from.
#
#   bash .ci/venvs.sh            make (or reuse) every venv, print where they are
#   EFFECT_SESSIONS_VENVS=DIR    where they live (default ~/.cache/effect-sessions/venvs)
#
# Tests find them through test/support/Venvs.ts (same names, same directory).
set -euo pipefail
root="${EFFECT_SESSIONS_VENVS:-$HOME/.cache/effect-sessions/venvs}"
mkdir -p "$root"
python="${PYTHON:-python3}"

# name|pip requirements
specs=(
  "jupyter2|jupyter-server>=2.17,<3 ipykernel"
  "looker|looker-sdk"
  "whylabs|whylabs-client"
  "deepset|deepset-cloud-sdk"
)

for spec in "${specs[@]}"; do
  name="${spec%%|*}"
  reqs="${spec#*|}"
  dir="$root/$name"
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$reqs" ] && [ -x "$dir/bin/python" ]; then
    echo "::: venv $name: reused ($dir)"
    continue
  fi
  echo "::: venv $name: installing $reqs"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  # shellcheck disable=SC2086
  "$dir/bin/pip" install --quiet --disable-pip-version-check $reqs 2>&1 | { grep -v "is ignored: it is neither" || true; }
  echo "$reqs" > "$dir/.stamp"
done
