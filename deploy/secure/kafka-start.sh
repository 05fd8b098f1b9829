#!/usr/bin/env bash
# The broker of the secure compose mesh (docker-compose.secure.yml), for the apache/kafka image.
# As the image does: every KAFKA_FOO_BAR variable becomes foo.bar (__ -> _, ___ -> -). Then the
# security properties made by `python -m devtools.secure compose` (mounted at /secure), and the
# storage formatted with every principal's SCRAM credentials (they must exist before the first
# client connects, KIP-900). Passwords stay in the mounted files, never in the image or env.
set -euo pipefail
config=/tmp/server.properties
: > "$config"
while IFS='=' read -r name value; do
  [[ $name == KAFKA_* ]] || continue
  case $name in KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_LOG4J_OPTS|KAFKA_JMX_OPTS|KAFKA_VERSION) continue;; esac
  key=${name#KAFKA_}; key=${key,,}; key=${key//___/-}; key=${key//__/@}; key=${key//_/.}
  printf '%s=%s\n' "${key//@/_}" "$value" >> "$config"
done < <(env)
cat /secure/server.properties >> "$config"

# The image's own logging configuration (the stand-in's and upstream's live in different files).
for logging in /etc/kafka/docker/log4j2.properties /etc/kafka/docker/log4j2.yaml \
               /opt/kafka/config/log4j2.yaml; do
  if [[ -z "${KAFKA_LOG4J_OPTS-}" && -f $logging ]]; then
    export KAFKA_LOG4J_OPTS="-Dlog4j2.configurationFile=$logging"
  fi
done

# StorageTool's arguments hold every password: the java launcher reads them from a file only
# this user may read (an @argfile, before the main class), not from a command line that every
# user of the host can read in /proc.
arguments=$(mktemp)
{ printf '%s\n' kafka.tools.StorageTool format --ignore-formatted -t "$CLUSTER_ID" -c "$config"
  cat /secure/scram.args; } > "$arguments"
/opt/kafka/bin/kafka-run-class.sh "@$arguments"
rm -f "$arguments"
exec /opt/kafka/bin/kafka-run-class.sh ${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} kafka.Kafka "$config"
