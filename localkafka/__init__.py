"""A single-node Apache Kafka broker from the Maven jars, for development and tests."""

from localkafka.broker import LocalKafka
from localkafka.errors import LocalKafkaError
from localkafka.jars import KAFKA_VERSION, ensure_jars

__all__ = ["KAFKA_VERSION", "LocalKafka", "LocalKafkaError", "ensure_jars"]
