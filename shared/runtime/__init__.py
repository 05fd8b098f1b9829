"""The only part of the project that is async and the only part that talks to Kafka."""
