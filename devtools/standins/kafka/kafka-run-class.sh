#!/usr/bin/env bash
# java with every jar of /opt/kafka/libs; JVM options before the class name pass through.
exec java ${KAFKA_OPTS:-} ${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/etc/kafka/docker/log4j2.properties} \
  -Djava.awt.headless=true -cp "/opt/kafka/libs/*" "$@"
