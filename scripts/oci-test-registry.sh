#!/bin/sh
# Real OCI registries for the tests: Debian's docker-registry (the CNCF
# distribution server), three of them on free ports, their storage under a fresh
# temporary directory: one anonymous, one that takes basic authentication
# (htpasswd) as user wasync, password wasync-secret, and one that takes bearer
# tokens (docker's token authentication, as Docker Hub and GHCR do) from the
# realm WASYNC_TEST_OCI_TOKEN_REALM.  Nothing listens there: the test that uses
# it serves the realm itself, signing tokens with $WASYNC_TEST_OCI_DIR/token.key,
# whose certificate the registry trusts (issuer wasync-test-issuer, service
# wasync-test).
#
#   eval "$(scripts/oci-test-registry.sh start)"   # sets WASYNC_TEST_OCI, WASYNC_TEST_OCI_BASIC, WASYNC_TEST_OCI_TOKEN, WASYNC_TEST_OCI_TOKEN_REALM, WASYNC_TEST_OCI_DIR
#   scripts/oci-test-registry.sh stop "$WASYNC_TEST_OCI_DIR"
#
# start prints the variables once both registries answer /v2/; stop ends them
# by their process ids and removes the directory.
set -eu

# bcrypt of "wasync-secret" (the distribution server takes only bcrypt), made once with python3-bcrypt.
HTPASSWD='wasync:$2b$05$Xt5Pez4QcNDBwvcg3kuwCuCjOmzI37TAO2gbthBLdMd3mf.jdS/iS'

. "$(dirname "$0")/test-server-lib.sh"

# config NAME PORT [AUTH]: a registry's configuration, deletion enabled (gc removes manifests).
config() {
  cat >"$dir/$1.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/$1
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$2
$3
CONF
}

answers() {
  python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f'http://127.0.0.1:{sys.argv[1]}/v2/', timeout=2)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 401 else 1)
PY
}

start() {
  command -v docker-registry >/dev/null || { echo "oci-test-registry: docker-registry not found (apt-get install docker-registry)" >&2; exit 1; }
  dir=$(mktemp -d /tmp/wasync-oci.XXXXXX)
  anon=$(free_port); basic=$(free_port); token=$(free_port); realm=$(free_port)
  printf '%s\n' "$HTPASSWD" >"$dir/htpasswd"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=wasync-test-token \
    -keyout "$dir/token.key" -out "$dir/token.crt" 2>/dev/null ||
    { echo "oci-test-registry: openssl cannot make the token key (apt-get install openssl)" >&2; exit 1; }
  config anon "$anon" ''
  config basic "$basic" "auth:
  htpasswd:
    realm: wasync-test
    path: $dir/htpasswd"
  config token "$token" "auth:
  token:
    realm: http://127.0.0.1:$realm/token
    service: wasync-test
    issuer: wasync-test-issuer
    rootcertbundle: $dir/token.crt"
  : >"$dir/pids"
  for name in anon basic token; do
    docker-registry serve "$dir/$name.yml" >"$dir/$name.log" 2>&1 &
    echo $! >>"$dir/pids"
  done
  i=0
  until answers "$anon" && answers "$basic" && answers "$token"; do
    i=$((i + 1))
    if [ $i -ge 60 ]; then
      echo "oci-test-registry: the registries did not answer within 30 s; logs in $dir" >&2
      stop "$dir"
      exit 1
    fi
    sleep 0.5
  done
  echo "WASYNC_TEST_OCI=http://127.0.0.1:$anon; export WASYNC_TEST_OCI"
  echo "WASYNC_TEST_OCI_BASIC=http://127.0.0.1:$basic; export WASYNC_TEST_OCI_BASIC"
  echo "WASYNC_TEST_OCI_TOKEN=http://127.0.0.1:$token; export WASYNC_TEST_OCI_TOKEN"
  echo "WASYNC_TEST_OCI_TOKEN_REALM=http://127.0.0.1:$realm/token; export WASYNC_TEST_OCI_TOKEN_REALM"
  echo "WASYNC_TEST_OCI_DIR=$dir; export WASYNC_TEST_OCI_DIR"
}

stop() {
  dir=${1:-}
  case $dir in /tmp/wasync-oci.*) ;; *) echo "oci-test-registry: stop DIR (as start printed it)" >&2; exit 2 ;; esac
  stop_servers "$dir"
}

case ${1:-} in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
