"""A local Apache Kafka broker — one node, or a replicated cluster of three or more — from the
Maven jars, for development and tests."""

from localkafka.broker import LocalKafka
from localkafka.errors import LocalKafkaError
from localkafka.jars import KAFKA_VERSION, ensure_jars
from localkafka.node import KafkaNode

__all__ = ["KAFKA_VERSION", "KafkaNode", "LocalKafka", "LocalKafkaError", "ensure_jars"]
