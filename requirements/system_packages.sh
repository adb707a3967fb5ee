#!/usr/bin/env bash
# Install the Debian packages listed in requirements/debian.list that are missing (root with apt-get), or stop
# at once naming the one command to run. `make test` and .ci/run call this; it does nothing when all are there.
set -euo pipefail
list="$(dirname "$0")/debian.list"
missing=()
while read -r pkg; do
  [ -z "$pkg" ] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list")
[ ${#missing[@]} -eq 0 ] && exit 0
command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages the tests need: ${missing[*]}"
  # One install at a time on this machine (apt's own lock fails at once instead of waiting).
  exec 9>/tmp/taskgate-apt.lock && flock 9
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "missing system packages for the tests: ${missing[*]}" >&2
echo "run as root: $command" >&2
exit 1
