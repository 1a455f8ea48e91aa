#!/usr/bin/env bash
# A local two-shard ClickHouse cluster for playtally's scale-out engine: two clickhouse-server
# processes on 127.0.0.1, each with its own config and data folder, and a cluster `playtally`
# (one replica per shard) that Distributed tables spread over. For tests, CI and developers.
#
#   scripts/clickhouse-cluster.sh start [DIR]   start both (default DIR: /tmp/playtally-clickhouse)
#   scripts/clickhouse-cluster.sh stop [DIR]    stop both, by the PIDs recorded at start
#   scripts/clickhouse-cluster.sh status [DIR]
#
# Ports (HTTP, native TCP, interserver) start at CLICKHOUSE_PORT_BASE (default 18123):
# shard 1 HTTP on BASE, shard 2 on BASE+1; native TCP on BASE+877 and BASE+878 (19000, 19001 by
# default). `start` prints the URLs to give playtally:
#   CLICKHOUSE_URLS=http://127.0.0.1:18123,http://127.0.0.1:18124
# Needs Debian's clickhouse-server (apt-get install -y clickhouse-server; version 18.16).
set -euo pipefail

command=${1:-}
dir=${2:-/tmp/playtally-clickhouse}
base=${CLICKHOUSE_PORT_BASE:-18123}
server=${CLICKHOUSE_SERVER:-/usr/sbin/clickhouse-server}

http_port() { echo $((base + $1 - 1)); }
tcp_port() { echo $((base + 877 + $1 - 1)); }
interserver_port() { echo $((base + 886 + $1 - 1)); }

urls() {
  echo "http://127.0.0.1:$(http_port 1),http://127.0.0.1:$(http_port 2)"
}

write_config() {
  local shard=$1 d="$dir/shard$1"
  mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/log"
  cat > "$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$d/log/server.log</log>
    <errorlog>$d/log/server.err.log</errorlog>
    <size>10M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$(http_port "$shard")</http_port>
  <tcp_port>$(tcp_port "$shard")</tcp_port>
  <interserver_http_port>$(interserver_port "$shard")</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>256</max_connections>
  <keep_alive_timeout>30</keep_alive_timeout>
  <max_concurrent_queries>64</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <remote_servers>
    <playtally>
      <shard><replica><host>127.0.0.1</host><port>$(tcp_port 1)</port></replica></shard>
      <shard><replica><host>127.0.0.1</host><port>$(tcp_port 2)</port></replica></shard>
    </playtally>
  </remote_servers>
  <macros><shard>$shard</shard></macros>
</yandex>
XML
  cat > "$d/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}

running() {
  local pidfile="$dir/shard$1/pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

case "$command" in
  start)
    [ -x "$server" ] || { echo "clickhouse-cluster: $server is missing (apt-get install -y clickhouse-server)" >&2; exit 1; }
    for shard in 1 2; do
      if running "$shard"; then
        echo "clickhouse-cluster: shard $shard already running (pid $(cat "$dir/shard$shard/pid"))" >&2
        continue
      fi
      write_config "$shard"
      "$server" --config-file="$dir/shard$shard/config.xml" > "$dir/shard$shard/log/stdout.log" 2>&1 &
      echo $! > "$dir/shard$shard/pid"
    done
    for shard in 1 2; do
      for _ in $(seq 1 100); do
        if [ "$(curl -s "http://127.0.0.1:$(http_port "$shard")/ping" 2>/dev/null)" = "Ok." ]; then break; fi
        if ! running "$shard"; then
          echo "clickhouse-cluster: shard $shard exited; see $dir/shard$shard/log/" >&2
          tail -n 20 "$dir/shard$shard/log/server.err.log" "$dir/shard$shard/log/stdout.log" >&2 || true
          exit 1
        fi
        sleep 0.2
      done
      [ "$(curl -s "http://127.0.0.1:$(http_port "$shard")/ping")" = "Ok." ] || {
        echo "clickhouse-cluster: shard $shard does not answer on port $(http_port "$shard")" >&2
        exit 1
      }
    done
    echo "CLICKHOUSE_URLS=$(urls)"
    ;;
  stop)
    for shard in 1 2; do
      pidfile="$dir/shard$shard/pid"
      [ -f "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
      fi
      rm -f "$pidfile"
    done
    echo "clickhouse-cluster: stopped"
    ;;
  status)
    for shard in 1 2; do
      if running "$shard"; then echo "shard $shard: running (pid $(cat "$dir/shard$shard/pid")), http://127.0.0.1:$(http_port "$shard")"
      else echo "shard $shard: stopped"; fi
    done
    ;;
  *)
    echo "usage: $0 start|stop|status [DIR]" >&2
    exit 2
    ;;
esac
