# shellcheck shell=bash
# Chromium for the web UI's browser tests: source this file, then call chromium_install.
#
#   . .ci/chromium.sh
#   chromium_install    # installs Debian's chromium package when /usr/bin/chromium is missing
#
# The browser tests (internal/webui/browser_test.go) start /usr/bin/chromium headless with
# --no-sandbox and no background networking; they skip locally and fail under CI=true when it
# is missing. chromium_install is idempotent and runs apt-get update at most once per shell.

_HOOKD_APT_UPDATED="${_HOOKD_APT_UPDATED:-}"

_chromium_say() { echo "chromium.sh: $*" >&2; }

chromium_install() {
	if [ -x /usr/bin/chromium ]; then
		return 0
	fi
	_chromium_say "no /usr/bin/chromium, installing the chromium package"
	if [ -z "$_HOOKD_APT_UPDATED" ]; then
		if ! apt-get update -qq; then
			_chromium_say "FAILED: apt-get update"
			return 1
		fi
		_HOOKD_APT_UPDATED=1
	fi
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
		_chromium_say "FAILED: apt-get install chromium"
		return 1
	fi
	if [ ! -x /usr/bin/chromium ]; then
		_chromium_say "FAILED: chromium installed but /usr/bin/chromium is missing"
		return 1
	fi
	_chromium_say "installed: $(/usr/bin/chromium --version 2>/dev/null)"
}
