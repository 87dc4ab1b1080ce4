#!/usr/bin/env bash
# The demo: a local Kafka broker, the worker, the story board, the bundled sample replayed at 3600x, alerts
# as they arrive (in the terminal, and on the board in a browser). Ctrl-C stops everything this script started.
#   DEMO_KAFKA_PORT (default 9092; the controller uses the next port), DEMO_SPEED (default 3600),
#   DEMO_BOARD_PORT (default 8080).
set -euo pipefail
cd "$(dirname "$0")/.."

port="${DEMO_KAFKA_PORT:-9092}"
speed="${DEMO_SPEED:-3600}"
board_port="${DEMO_BOARD_PORT:-8080}"
board_log=".cache/demo-board.log"
run_dir=".cache/demo-kafka"
worker_log=".cache/demo-worker.log"
py=".venv/bin/python"
worker_pid=""
replay_pid=""
board_pid=""

cleanup() {
  trap - EXIT INT TERM
  echo; echo "demo: stopping..." >&2
  for pid in $replay_pid $board_pid $worker_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $replay_pid $board_pid $worker_pid; do wait "$pid" 2>/dev/null || true; done
  deploy/kafka/kafka.sh stop --dir "$run_dir" || true
}
trap cleanup EXIT INT TERM

deploy/kafka/kafka.sh start --port "$port" --dir "$run_dir"

# A fresh topic prefix per run, so the demo starts from an empty story state.
prefix="demo-$(date +%Y%m%d%H%M%S)"
export STREAMS_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:$port" STREAMS_KAFKA__TOPIC_PREFIX="$prefix" \
       STREAMS_WORKER__APP_ID="$prefix" STREAMS_WORKER__DATA_DIR=".cache/demo-worker"

"$py" -m streams topics
"$py" -m streams worker > "$worker_log" 2>&1 &
worker_pid=$!
echo "demo: worker starting (log: $worker_log)..." >&2
for _ in $(seq 1 240); do
  grep -q "Worker ready" "$worker_log" 2>/dev/null && break
  kill -0 "$worker_pid" 2>/dev/null || { tail -30 "$worker_log" >&2; echo "demo: the worker exited" >&2; exit 1; }
  sleep 0.5
done
grep -q "Worker ready" "$worker_log" || { echo "demo: the worker was not ready within 120s ($worker_log)" >&2; exit 1; }

"$py" -m streams board --port "$board_port" > "$board_log" 2>&1 &
board_pid=$!
for _ in $(seq 1 120); do
  "$py" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
    "http://127.0.0.1:$board_port/healthz" >/dev/null 2>&1 && break
  kill -0 "$board_pid" 2>/dev/null || { cat "$board_log" >&2; echo "demo: the board exited" >&2; exit 1; }
  sleep 0.5
done
echo "demo: the story board is at http://127.0.0.1:$board_port/ (log: $board_log)" >&2

echo "demo: replaying samples/persian-news-sample.jsonl at ${speed}x event time; alerts follow." >&2
"$py" -m streams replay samples/persian-news-sample.jsonl --speed "$speed" --no-progress &
replay_pid=$!
"$py" -m streams alerts --follow
