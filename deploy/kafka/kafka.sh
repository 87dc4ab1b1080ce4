#!/usr/bin/env bash
# A local single-node Apache Kafka broker (KRaft mode) built from Kafka's own jars on Maven Central.
#
#   deploy/kafka/kafka.sh fetch                      resolve the broker jars into the cache (once per machine)
#   deploy/kafka/kafka.sh start [--port P] [--dir D] [--sasl | --tls [--tls-client-auth]] [--keep]
#                                                    format storage, start on 127.0.0.1:P, wait until healthy;
#                                                    --sasl: clients authenticate (SASL_PLAINTEXT: PLAIN,
#                                                    SCRAM-SHA-256/512) as the users in KAFKA_SASL_USERS;
#                                                    --tls: the client port speaks TLS only (SSL); a local CA,
#                                                    a broker certificate (127.0.0.1, localhost) and a client
#                                                    certificate are made with openssl into D/tls: ca.pem,
#                                                    client.pem, client.key for the clients (STREAMS_KAFKA__
#                                                    SSL_CAFILE / SSL_CERTFILE / SSL_KEYFILE);
#                                                    --tls-client-auth: mutual TLS, clients must present a
#                                                    certificate signed by that CA (ssl.client.auth=required);
#                                                    --keep: restart on D's existing storage (topics, data
#                                                    and offsets kept) when D holds one
#   deploy/kafka/kafka.sh stop  [--dir D]            stop the broker started in D, wait until it is gone
#   deploy/kafka/kafka.sh status [--dir D]           exit 0 when the broker in D is up
#
# Environment: KAFKA_CACHE (jar cache, default .cache/kafka at the repository root), JAVA (java binary),
# KAFKA_SASL_USERS (with --sasl: "name:password[,name:password...]", letters, digits, . _ -; default
# streams:streams-secret).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${KAFKA_CACHE:-$root/.cache/kafka}"
java="${JAVA:-java}"
port=9092
dir="$root/.cache/kafka-run"
timeout_s=90
sasl=0
tls=0
client_auth=none
keep=0

die() { echo "kafka.sh: $*" >&2; exit 1; }

cmd="${1:-}"; shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    --sasl) sasl=1; shift ;;
    --tls) tls=1; shift ;;
    --tls-client-auth) tls=1; client_auth=required; shift ;;
    --keep) keep=1; shift ;;
    *) die "unknown option $1 (see the header of $0)" ;;
  esac
done

# SASL over TLS (SASL_SSL) would need a listener of its own; the two options test one thing each.
[ "$sasl" = 1 ] && [ "$tls" = 1 ] && die "--sasl and --tls cannot be combined (yet)"

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml"; }

fetch() {
  local version; version="$(kafka_version)"
  if [ -f "$cache/libs/kafka_2.13-$version.jar" ]; then return 0; fi
  command -v mvn >/dev/null || die "Maven is needed to fetch Kafka $version (apt-get install maven)"
  echo "kafka.sh: resolving Apache Kafka $version from Maven Central into $cache/libs" >&2
  rm -rf "$cache/libs.partial"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$cache/libs.partial" >&2
  rm -rf "$cache/libs" && mv "$cache/libs.partial" "$cache/libs"
}

is_running() { [ -f "$dir/broker.pid" ] && kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  fetch
  is_running && die "a broker is already running from $dir (pid $(cat "$dir/broker.pid")); stop it first"
  local controller_port=$((port + 1))
  port_open "$port" && die "port $port is in use; pick another with --port"
  port_open "$controller_port" && die "controller port $controller_port is in use; pick another --port"
  local cp="$cache/libs/*"
  local log4j="-Dlog4j2.configurationFile=$here/log4j2.properties -Dkafka.logs.dir=$dir"
  if [ "$keep" = 1 ] && [ -f "$dir/data/meta.properties" ] && [ -f "$dir/server.properties" ]; then
    # A restart: the formatted storage and configuration of the previous start stay as they are.
    grep -q "127.0.0.1:$port\b" "$dir/server.properties" || die "--keep: $dir was started on another port"
    # The previous run's logs would say "Kafka Server started" before this one is.
    rm -f "$dir/broker.out" && { [ ! -f "$dir/server.log" ] || mv -f "$dir/server.log" "$dir/server.log.1"; }
  else
    rm -rf "$dir" && mkdir -p "$dir/data"
    sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA@|$dir/data|g" \
        "$here/server.properties" > "$dir/server.properties"
    local scram=()
    if [ "$sasl" = 1 ]; then sasl_config; fi
    if [ "$tls" = 1 ]; then tls_config; fi
    # shellcheck disable=SC2086
    "$java" -cp "$cp" $log4j kafka.tools.StorageTool format --standalone \
        -t "$("$java" -cp "$cp" $log4j kafka.tools.StorageTool random-uuid)" "${scram[@]}" \
        -c "$dir/server.properties" > "$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "formatting storage failed"; }
  fi
  # shellcheck disable=SC2086
  nohup "$java" -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true $log4j -cp "$cp" \
      kafka.Kafka "$dir/server.properties" > "$dir/broker.out" 2>&1 &
  echo $! > "$dir/broker.pid"
  local deadline=$((SECONDS + timeout_s))
  until grep -q "Kafka Server started" "$dir/broker.out" "$dir/server.log" 2>/dev/null && port_open "$port"; do
    is_running || { tail -30 "$dir/broker.out" >&2; die "the broker exited while starting (log: $dir/broker.out)"; }
    [ $SECONDS -lt $deadline ] || { stop; die "the broker was not up within ${timeout_s}s (log: $dir/broker.out)"; }
    sleep 0.5
  done
  echo "kafka.sh: Apache Kafka $(kafka_version) is up on 127.0.0.1:$port (pid $(cat "$dir/broker.pid"), dir $dir)" >&2
}

# Appends the SASL listener (sasl.properties) with its users to $dir/server.properties and fills the
# caller's `scram` array with the StorageTool options that store the same users' SCRAM credentials.
sasl_config() {
  local users="${KAFKA_SASL_USERS:-streams:streams-secret}" plain="" entry name password mechanism entries
  local admin; admin="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
  IFS=',' read -r -a entries <<< "$users"
  for entry in "${entries[@]}"; do
    [[ "$entry" =~ ^([A-Za-z0-9._-]+):([A-Za-z0-9._-]+)$ ]] || die "KAFKA_SASL_USERS: expected name:password (letters, digits, . _ -), got an entry that is not"
    name="${BASH_REMATCH[1]}"; password="${BASH_REMATCH[2]}"
    [ "$name" != admin ] || die "KAFKA_SASL_USERS: 'admin' is the broker's own user"
    plain="$plain user_$name=\"$password\""
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      scram+=(--add-scram "$mechanism=[name=$name,password=$password]")
    done
  done
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@ADMIN_PASSWORD@|$admin|g" \
      -e "s|@PLAIN_USERS@|${plain# }|" "$here/sasl.properties" >> "$dir/server.properties"
  chmod 600 "$dir/server.properties"  # it holds the passwords
}

# Makes a CA, a broker and a client certificate in $dir/tls (openssl; PEM files, which both the broker,
# ssl.keystore.type=PEM, and the Python clients read) and appends the TLS listener (tls.properties).
tls_config() {
  command -v openssl >/dev/null || die "--tls needs openssl (apt-get install openssl)"
  local tls="$dir/tls" name
  mkdir -p "$tls" && chmod 700 "$tls"
  # Certificates for a test broker: valid for a month, never trusted beyond this folder.
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=streams local test CA" \
      -keyout "$tls/ca.key" -out "$tls/ca.pem" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      > "$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; die "making the CA failed"; }
  for name in broker client; do
    local usage="serverAuth,clientAuth" san="subjectAltName=IP:127.0.0.1,DNS:localhost"
    [ "$name" = client ] && usage="clientAuth" && san="subjectAltName=DNS:streams-client"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=$usage" "$san" "authorityKeyIdentifier=keyid" "subjectKeyIdentifier=hash" \
        > "$tls/$name.ext"
    { openssl req -newkey rsa:2048 -nodes -subj "/CN=streams-$name" -keyout "$tls/$name.key" \
          -out "$tls/$name.csr" &&
      openssl x509 -req -in "$tls/$name.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
          -days 30 -extfile "$tls/$name.ext" -out "$tls/$name.pem"; } >> "$tls/openssl.log" 2>&1 ||
      { cat "$tls/openssl.log" >&2; die "making the $name certificate failed"; }
  done
  # Kafka's PEM key store: the (PKCS#8, unencrypted) private key, then the certificate chain.
  cat "$tls/broker.key" "$tls/broker.pem" "$tls/ca.pem" > "$tls/broker-keystore.pem"
  chmod 600 "$tls"/*.key "$tls/broker-keystore.pem"
  sed -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@TLS@|$tls|g" \
      -e "s|@CLIENT_AUTH@|$client_auth|g" "$here/tls.properties" >> "$dir/server.properties"
}

stop() {
  is_running || { rm -f "$dir/broker.pid"; return 0; }
  local pid; pid="$(cat "$dir/broker.pid")"
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.2
  done
  rm -f "$dir/broker.pid"
  echo "kafka.sh: broker stopped" >&2
}

case "$cmd" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) is_running && port_open "$port" ;;
  *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
