#!/bin/sh
# A real S3 server for the tests: OpenStack Swift with its s3api middleware
# (Debian's swift, swift-proxy, swift-object, swift-container, swift-account),
# one node, everything but /etc/swift/swift.conf under a fresh temporary
# directory.
#
#   eval "$(scripts/s3-test-server.sh start)"   # sets WASYNC_TEST_S3, WASYNC_TEST_S3_DIR
#   scripts/s3-test-server.sh stop "$WASYNC_TEST_S3_DIR"
#
# The endpoint takes Signature V4 with access key test:tester, secret testing,
# region us-east-1.  start prints the variables once a signed ListBuckets
# succeeds; stop ends the four daemons by their process ids and removes the
# directory.
set -eu

. "$(dirname "$0")/test-server-lib.sh"

start() {
  for p in swift-ring-builder swift-proxy-server swift-object-server swift-container-server swift-account-server; do
    command -v "$p" >/dev/null || { echo "s3-test-server: $p not found (apt-get install swift swift-proxy swift-object swift-container swift-account)" >&2; exit 1; }
  done
  # Swift reads its hash settings from this path only; Debian ships placeholders.
  if ! grep -q '^swift_hash_path_suffix = wasync-test' /etc/swift/swift.conf 2>/dev/null; then
    mkdir -p /etc/swift
    [ -f /etc/swift/swift.conf ] && [ ! -f /etc/swift/swift.conf.dpkg-orig ] && cp /etc/swift/swift.conf /etc/swift/swift.conf.dpkg-orig
    printf '[swift-hash]\nswift_hash_path_suffix = wasync-test\nswift_hash_path_prefix = wasync-test\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' >/etc/swift/swift.conf.tmp.$$
    mv /etc/swift/swift.conf.tmp.$$ /etc/swift/swift.conf
  fi
  # Object storage needs user xattrs: a disk-backed directory, not /tmp on tmpfs.
  dir=$(mktemp -d /var/tmp/wasync-s3.XXXXXX)
  mkdir -p "$dir/devices/d1" "$dir/rings" "$dir/log"
  s3=$(free_port); object=$(free_port); container=$(free_port); account=$(free_port)
  for kind in object container account; do
    eval port=\$$kind
    (cd "$dir/rings" && swift-ring-builder $kind.builder create 10 1 1 >/dev/null &&
      swift-ring-builder $kind.builder add "r1z1-127.0.0.1:$port/d1" 1 >/dev/null &&
      swift-ring-builder $kind.builder rebalance >/dev/null) || true
    [ -f "$dir/rings/$kind.ring.gz" ] || { echo "s3-test-server: cannot build the $kind ring" >&2; exit 1; }
    case $kind in
      object) extra='[object-replicator]\n[object-updater]\n[object-auditor]\n' ;;
      container) extra='[container-replicator]\n[container-updater]\n[container-auditor]\n[container-sync]\n' ;;
      account) extra='[account-replicator]\n[account-auditor]\n[account-reaper]\n' ;;
    esac
    printf "[DEFAULT]\ndevices = $dir/devices\nmount_check = false\nbind_ip = 127.0.0.1\nbind_port = $port\nworkers = 0\nswift_dir = $dir/rings\nuser = root\n[pipeline:main]\npipeline = $kind-server\n[app:$kind-server]\nuse = egg:swift#$kind\n$extra" >"$dir/$kind-server.conf"
  done
  cat >"$dir/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $s3
workers = 0
swift_dir = $dir/rings
user = root
[pipeline:main]
pipeline = catch_errors proxy-logging cache s3api tempauth proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:s3api]
use = egg:swift#s3api
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
# a user of the same account without .admin: every request of it is denied (403 AccessDenied)
user_test_reader = reading
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
CONF
  : >"$dir/pids"
  for kind in object container account; do
    swift-$kind-server "$dir/$kind-server.conf" >"$dir/log/$kind.log" 2>&1 &
    echo $! >>"$dir/pids"
  done
  swift-proxy-server "$dir/proxy-server.conf" >"$dir/log/proxy.log" 2>&1 &
  echo $! >>"$dir/pids"
  # Ready when a signed request is answered (Swift takes a few seconds to start).
  i=0
  # The python3 on PATH if it has boto3, else Debian's (python3-boto3).
  py=python3
  python3 -c 'import boto3' 2>/dev/null || py=/usr/bin/python3
  until "$py" - "$s3" <<'PY' 2>/dev/null
import sys, boto3
from botocore.config import Config
c = boto3.client('s3', endpoint_url=f'http://127.0.0.1:{sys.argv[1]}', aws_access_key_id='test:tester',
                 aws_secret_access_key='testing', region_name='us-east-1',
                 config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}, connect_timeout=2, read_timeout=5))
c.list_buckets()
PY
  do
    i=$((i + 1))
    if [ $i -ge 60 ]; then
      echo "s3-test-server: Swift did not answer within 30 s; logs in $dir/log" >&2
      stop "$dir"
      exit 1
    fi
    sleep 0.5
  done
  echo "WASYNC_TEST_S3=http://127.0.0.1:$s3; export WASYNC_TEST_S3"
  echo "WASYNC_TEST_S3_DIR=$dir; export WASYNC_TEST_S3_DIR"
}

stop() {
  dir=${1:-}
  case $dir in /var/tmp/wasync-s3.*) ;; *) echo "s3-test-server: stop DIR (as start printed it)" >&2; exit 2 ;; esac
  stop_servers "$dir"
}

case ${1:-} in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
