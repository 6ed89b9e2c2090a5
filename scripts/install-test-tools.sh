#!/usr/bin/env bash
# Test tools that pip cannot install, from Debian's packages. Idempotent: installs only
# what is missing, so `make test` can call it on every run. Add a package with the command
# that shows it is installed, as "package:command".
#
#   prometheus:promtool   tests/deploy/test_deploy_kit.py (promtool check/test rules)
#   chromium:chromium     tests/e2e/test_e2e_console_browser.py (Playwright drives it)
set -euo pipefail

TOOLS=(
  "prometheus:promtool"
  "chromium:chromium"
)

missing=()
for tool in "${TOOLS[@]}"; do
  package=${tool%%:*}
  cmd=${tool##*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-tools: no apt-get here; install ${missing[*]} yourself" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-test-tools: need root (or sudo) to install ${missing[*]}" >&2
    exit 1
  fi
  sudo="sudo"
fi

echo "install-test-tools: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Debian's prometheus package enables a Prometheus server on :9090 where systemd runs;
# the tests need promtool only.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi

for tool in "${TOOLS[@]}"; do
  command -v "${tool##*:}" >/dev/null 2>&1 || {
    echo "install-test-tools: ${tool##*:} still missing after installing ${tool%%:*}" >&2
    exit 1
  }
done
