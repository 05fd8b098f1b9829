#!/usr/bin/env bash
exec /opt/kafka/bin/kafka-run-class.sh -Xmx256M org.apache.kafka.tools.TopicCommand "$@"
