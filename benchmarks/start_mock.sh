# Sourced by benchmark scripts: start_mock BINARY [ARGS...] starts llmstream-mock on a free
# loopback port (with ARGS, e.g. --rpm 3000), stops it when the script exits (or at stop_mock),
# and sets mock_url to its OpenAI-compatible base URL.
start_mock() {
  mock_log=$(mktemp)
  "$1" --port 0 "${@:2}" >"$mock_log" 2>&1 &
  mock_pid=$!
  trap 'kill $mock_pid 2>/dev/null; wait $mock_pid 2>/dev/null; rm -f "$mock_log"' EXIT
  for _ in $(seq 1 100); do grep -q listening "$mock_log" && break; sleep 0.05; done
  mock_url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$mock_log")
  [ -n "$mock_url" ] || { echo "llmstream-mock did not start" >&2; cat "$mock_log" >&2; exit 1; }
  mock_url=$mock_url/v1
}

stop_mock() {
  kill "$mock_pid" 2>/dev/null
  wait "$mock_pid" 2>/dev/null
  rm -f "$mock_log"
}
