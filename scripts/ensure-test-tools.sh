#!/usr/bin/env bash
# Makes sure the OpenSSH binaries the integration tests drive are installed:
# sshd is the reference SFTP peer, ssh-keygen makes its keys, and sftp is the
# real-world client we point at the embedded server. Idempotent: it does nothing
# when they are present.
set -euo pipefail

missing=()
[ -x /usr/sbin/sshd ] || missing+=(sshd)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(ssh-keygen)
command -v sftp >/dev/null 2>&1 || missing+=(sftp)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$EUID" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-tools: missing ${missing[*]}." >&2
  echo "Install the Debian/Ubuntu packages openssh-server and openssh-client, e.g.:" >&2
  echo "  sudo apt-get install -y openssh-server openssh-client" >&2
  exit 1
fi

echo "ensure-test-tools: installing openssh-server openssh-client (missing ${missing[*]})" >&2
# The package's postinst would start the system sshd on port 22; the tests run
# their own private sshd, so deny service starts for the duration of the
# install with the standard Debian policy-rc.d hook (unless one already exists).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null
