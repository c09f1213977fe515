# Shared by the test servers' scripts (s3-test-server.sh, oci-test-registry.sh),
# sourced, not run: a free loopback port, and the end of a server's processes
# and directory.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# stop_servers DIR: ends the processes listed in DIR/pids (TERM, then KILL) and removes DIR.
stop_servers() {
  if [ -f "$1/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$1/pids"
    sleep 0.3
    while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$1/pids"
  fi
  rm -rf "$1"
}
