"""One settings object, built once from the environment, with laptop-friendly defaults.

Every variable is ``SAGA_<FIELD>`` (e.g. ``SAGA_HTTP_PORT``), except the broker
address, which is the conventional ``KAFKA_BOOTSTRAP_SERVERS``. Nothing else in the
services, sagactl or the monitor reads ``os.environ`` (only the stdlib-only broker
launcher, ``localkafka``, looks at ``JAVA_HOME`` and ``LOCALKAFKA_CACHE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HTTP_PORTS = {
    "order_service": 8000,
    "inventory_service": 8001,
    "payment_service": 8002,
    "shipping_service": 8003,
    "notification_service": 8004,
    "saga_monitor": 8005,
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAGA_", frozen=True, extra="ignore",
                                      populate_by_name=True)

    service_name: str = Field(default="sagactl", description="Consumer group and producer name.")
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "SAGA_KAFKA_BOOTSTRAP_SERVERS"))
    topic_prefix: str = Field(default="", description="Prepended to every topic and group name.")
    topic_partitions: int = Field(default=3, ge=1, le=256)
    topic_replication_factor: int = Field(default=1, ge=1)
    database_path: Path | None = Field(default=None, description="Default .run/<service>.db")
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(default=None, ge=0, le=65535)
    order_api_url: str = "http://127.0.0.1:8000"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"

    max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    retry_max_attempts: int = Field(default=5, ge=1, description="Tries before an event is parked.")
    retry_base_delay: float = Field(default=0.2, gt=0, description="Seconds; doubles per try.")
    retry_max_delay: float = Field(default=30.0, gt=0)
    send_timeout: float = Field(default=15.0, gt=0, description="Bound on one outbox publish.")
    relay_poll_interval: float = Field(default=1.0, gt=0, description="Fallback when not woken.")
    batch_max_events: int = Field(default=500, ge=1, le=10_000,
                                  description="Events decided in one group commit, at most.")
    fetch_max_wait_ms: int = Field(default=100, ge=0, le=10_000,
                                   description="How long the broker holds an empty fetch.")
    max_partition_fetch_bytes: int = Field(default=1024 * 1024, ge=64 * 1024)
    offset_commit_interval_ms: int = Field(
        default=200, ge=0, le=60_000, description="Commit consumed offsets at most this often "
        "(after their batch is durable); a crash redelivers at most this much, deduplicated.")
    producer_linger_ms: int = Field(default=1, ge=0, le=1000,
                                    description="Wait this long to fill a producer batch.")
    producer_batch_bytes: int = Field(default=64 * 1024, ge=1024)
    unreadable_max_tries: int = Field(default=3, ge=1, le=100,
                                      description="Reads of an unreadable batch before it is "
                                                  "dead-lettered and skipped.")
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    max_poll_interval_ms: int = 60_000
    watchdog_timeout: float = Field(default=90.0, gt=0, description="Restart a stalled consumer.")
    inbox_retention_days: float = Field(default=8.0, gt=0, description="Keep >= topic retention.")

    stall_after_seconds: float = Field(
        default=30.0, gt=0, description="saga_monitor: the default deadline of every step; a "
        "saga whose awaited step is this late is stuck.")
    monitor_step_deadlines: dict[str, float] = Field(
        default_factory=dict, description="saga_monitor: per-step deadlines in seconds, keyed by "
        'the awaited event, as JSON (SAGA_MONITOR_STEP_DEADLINES=\'{"OrderShipped": 120}\').')
    monitor_retention_seconds: float = Field(
        default=3600.0, gt=0, description="saga_monitor: a finished saga leaves the in-memory "
        "table (a tombstone on its changelog) this long after it finished.")
    monitor_window_seconds: float = Field(
        default=300.0, gt=0, description="saga_monitor: throughput and duration percentiles "
        "cover the sagas finished this recently (at most the retention).")

    fault_rate: float = Field(default=0.0, ge=0, le=1, description="Injected transient failures.")
    crash_point: str | None = Field(default=None, description="Test hook: exit abruptly here.")

    @model_validator(mode="after")
    def _per_service_defaults(self) -> Settings:
        if self.database_path is None:
            object.__setattr__(self, "database_path", Path(".run") / f"{self.service_name}.db")
        if self.http_port is None:
            object.__setattr__(self, "http_port", DEFAULT_HTTP_PORTS.get(self.service_name, 0))
        return self

    def topic(self, event_type: str) -> str:
        return f"{self.topic_prefix}{event_type}"

    def dead_letter_topic(self, event_type: str) -> str:
        return f"{self.topic(event_type)}.DLT"

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}{self.service_name}"
