"""One settings object per process, built once from the environment, with laptop-friendly
defaults: :class:`Settings` for a service (and the monitor), :class:`ToolSettings` for sagactl.
Both share :class:`KafkaSettings`, what every Kafka client of the saga needs.

Every variable is ``SAGA_<FIELD>`` (e.g. ``SAGA_HTTP_PORT``), except the broker address, which
is the conventional ``KAFKA_BOOTSTRAP_SERVERS``. Every value is bounded and checked once, at
start: :func:`load` turns a bad one into one clear line per problem and exit status 2. A tool
reads only its own fields, so a variable meant for the services never stops sagactl. Nothing
else in the services or the monitor reads ``os.environ``; sagactl's global options name the same
variables (typer's ``envvar``) so that ``--help`` shows them, and the values still end up here.
The stdlib-only broker launcher, ``localkafka``, looks at ``JAVA_HOME`` and
``LOCALKAFKA_CACHE``.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HTTP_PORTS = {
    "order_service": 8000,
    "inventory_service": 8001,
    "payment_service": 8002,
    "shipping_service": 8003,
    "notification_service": 8004,
    "saga_monitor": 8005,
    "fraud_service": 8006,
    "orchestrator_service": 8007,
}


LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"],
                     BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value)]
#: Topic names Kafka accepts (a prefix must keep every name valid).
TOPIC_PREFIX_PATTERN = r"^[A-Za-z0-9._-]{0,100}$"
#: An API token shorter than this is refused at start (a generated one has 32 characters).
MIN_API_TOKEN_LENGTH = 16
#: The names a service answers to by default, whatever it binds (see Settings.allowed_hosts).
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


class KafkaSettings(BaseSettings):
    """What every Kafka client of the saga needs, and nothing else."""

    model_config = SettingsConfigDict(env_prefix="SAGA_", frozen=True, extra="ignore",
                                      populate_by_name=True)

    service_name: str = Field(default="sagactl", description="Client id; a service's consumer "
                              "group and producer name.")
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", min_length=1,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "SAGA_KAFKA_BOOTSTRAP_SERVERS"))
    topic_prefix: str = Field(default="", pattern=TOPIC_PREFIX_PATTERN,
                              description="Prepended to every topic and group name.")
    topic_partitions: int = Field(default=3, ge=1, le=256)
    topic_replication_factor: int = Field(default=1, ge=1, le=16, description="Replicas of "
                                          "each topic we create: 3 on a cluster of 3 or more.")
    topic_min_insync_replicas: int | None = Field(
        default=None, ge=1, le=16, description="Replicas that must have a write before it is "
        "acknowledged (acks=all). Default: 2 when the replication factor is 3 or more, else 1.")
    connect_timeout: float = Field(default=10.0, gt=0, le=300,
                                   description="Seconds to reach the broker before giving up.")
    send_timeout: float = Field(default=15.0, gt=0, le=600,
                                description="Bound on one publish (and one client stop).")
    log_level: LogLevel = "INFO"
    log_format: Literal["json", "text"] = "json"

    # Secure mode (docs/security.md): TLS to the broker, and a SCRAM principal per process.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str | None = Field(default=None, description="Default: the service name.")
    kafka_password: SecretStr | None = None
    kafka_password_file: Path | None = Field(default=None, description="A secret file holding "
                                             "the password (preferred over the variable).")
    kafka_ca_file: Path | None = Field(default=None, description="The CA that signed the broker.")

    @model_validator(mode="after")
    def _min_insync_fits(self) -> KafkaSettings:
        if self.min_insync_replicas > self.topic_replication_factor:
            raise ValueError(f"topic_min_insync_replicas ({self.min_insync_replicas}) must not "
                             f"exceed topic_replication_factor ({self.topic_replication_factor})"
                             ": no write could ever be acknowledged")
        return self

    @model_validator(mode="after")
    def _secure_needs_credentials(self) -> KafkaSettings:
        if self.kafka_security_protocol == "SASL_SSL":
            if self.kafka_password is None and self.kafka_password_file is None:
                raise ValueError("SASL_SSL needs SAGA_KAFKA_PASSWORD or SAGA_KAFKA_PASSWORD_FILE")
            if self.kafka_ca_file is None or not self.kafka_ca_file.is_file():
                raise ValueError("SASL_SSL needs SAGA_KAFKA_CA_FILE, the broker's CA (a file)")
        return self

    @property
    def min_insync_replicas(self) -> int:
        """Three replicas, two must have each write: one broker may be lost (or restarted)
        without stopping writes or losing an acknowledged one. One replica: one."""
        if self.topic_min_insync_replicas is not None:
            return self.topic_min_insync_replicas
        return 2 if self.topic_replication_factor >= 3 else 1

    def topic(self, event_type: str) -> str:
        return f"{self.topic_prefix}{event_type}"

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments every aiokafka client of the saga is built with: where the broker
        is and, in secure mode, who we are and whom we trust."""
        options: dict[str, Any] = {"bootstrap_servers": self.kafka_bootstrap_servers}
        if self.kafka_security_protocol == "SASL_SSL":
            from aiokafka.helpers import create_ssl_context

            options.update(security_protocol="SASL_SSL", sasl_mechanism=self.kafka_sasl_mechanism,
                           sasl_plain_username=self.principal,
                           sasl_plain_password=self.password(),
                           ssl_context=create_ssl_context(cafile=str(self.kafka_ca_file)))
        return options

    @property
    def principal(self) -> str:
        return self.kafka_username or self.service_name

    def password(self) -> str | None:
        if self.kafka_password_file is not None:
            return self.kafka_password_file.read_text().strip()
        return self.kafka_password.get_secret_value() if self.kafka_password else None


class ModeSettings(BaseSettings):
    """How the saga runs: for the services, and for sagactl doctor (which services to ask)."""

    model_config = SettingsConfigDict(env_prefix="SAGA_", frozen=True, extra="ignore")

    mode: Literal["choreographed", "orchestrated"] = Field(
        default="choreographed", description="How the saga runs (SAGA_MODE): each service "
        "reacting to the others' events, or orchestrator_service commanding each step "
        "(docs/choosing.md). Every service of a mesh must run the same mode.")


class ApiTokenSettings(BaseSettings):
    """The services' HTTP bearer token: when set (always in secure mode) every write needs it,
    and reads where they need it too. Checked at start: a token that is set but empty, blank
    or shorter than MIN_API_TOKEN_LENGTH stops the process, since an empty one would turn
    the check off."""

    model_config = SettingsConfigDict(env_prefix="SAGA_", frozen=True, extra="ignore")

    api_token: SecretStr | None = None
    api_token_file: Path | None = Field(default=None, description="A secret file holding it.")

    @field_validator("api_token")
    @classmethod
    def _a_token_long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None:
            _check_token(token.get_secret_value())
        return token

    @field_validator("api_token_file")
    @classmethod
    def _a_file_holding_a_token(cls, path: Path | None) -> Path | None:
        if path is not None:
            try:
                _check_token(path.read_text())
            except (OSError, UnicodeDecodeError) as error:
                raise ValueError(f"cannot read {path}: {error}") from None
        return path

    def api_token_value(self) -> str | None:
        if self.api_token_file is not None:
            return self.api_token_file.read_text().strip()
        return self.api_token.get_secret_value() if self.api_token else None

    def api_headers(self) -> dict[str, str]:
        """What a client of the services' HTTP APIs sends: the token, if there is one."""
        token = self.api_token_value()
        return {"Authorization": f"Bearer {token}"} if token else {}


def _check_token(text: str) -> None:
    length = len(text.strip())
    if length < MIN_API_TOKEN_LENGTH:
        raise ValueError(f"an API token needs at least {MIN_API_TOKEN_LENGTH} characters, this "
                         f"one has {length}" + (" (it is blank)" if not length else ""))


class ToolSettings(KafkaSettings, ApiTokenSettings, ModeSettings):
    """sagactl's settings: where the broker, the order API, the monitor and the services are."""

    order_api_url: str = "http://127.0.0.1:8000"
    monitor_url: str = "http://127.0.0.1:8005"
    service_urls: dict[str, str] = Field(
        default_factory=lambda data: {
            name: f"http://127.0.0.1:{port}" for name, port in DEFAULT_HTTP_PORTS.items()
            if name != "saga_monitor" and (name != "orchestrator_service"
                                           or data.get("mode") == "orchestrated")},
        description='JSON, e.g. {"payment_service": "http://10.0.0.5:8002"}; for sagactl doctor. '
                    "Default: every service on its default port (the orchestrator with "
                    "SAGA_MODE=orchestrated).")


class Settings(KafkaSettings, ApiTokenSettings, ModeSettings):
    """A service's settings (the monitor's too)."""

    api_reads_need_token: bool | None = Field(
        default=None, description="Reads (GETs of orders, parked events and each service's "
        "views) need the API token too. Default: in secure mode.")
    database_path: Path | None = Field(default=None, description="The service's SQLite file "
                                       "(when no database_url is set); default .run/<service>.db")
    database_url: str | None = Field(
        default=None, pattern=r"^postgres(ql)?://", description="Keep the service's state in "
        "this PostgreSQL database instead of SQLite, shared by every instance of the service. "
        "{service} is replaced by the service's name, so that one value serves every service "
        "(postgresql://{service}@127.0.0.1:5432/{service}). No password in it: see "
        "database_password_file.")
    database_password_file: str | None = Field(
        default=None, description="A secret file holding the database password; {service} is "
        "replaced by the service's name.")
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(default=None, ge=0, le=65535)
    http_allowed_hosts: str | None = Field(
        default=None, description="Comma-separated names the HTTP server answers to (the Host "
        "header; * for any), against DNS rebinding. Default: 127.0.0.1, localhost and "
        "SAGA_HTTP_HOST unless it binds every interface.")

    max_message_bytes: int = Field(default=64 * 1024, ge=1024, le=900 * 1024)
    retry_max_attempts: int = Field(default=5, ge=1, le=1000,
                                    description="Tries before an event is parked.")
    retry_base_delay: float = Field(default=0.2, gt=0, le=60, description="Seconds; doubles per try.")
    retry_max_delay: float = Field(default=30.0, gt=0, le=3600)
    relay_poll_interval: float = Field(default=1.0, gt=0, description="How often the relay "
                                       "looks for committed rows never handed to it in memory.")
    relay_stranded_after: float = Field(
        default=5.0, ge=0, le=3600, description="A committed row not handed over this long "
        "(seconds) is stranded, and the relay's look at the outbox publishes it.")
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
    static_membership: bool = Field(
        default=True, description="Join the consumer group as a static member "
        "(group.instance.id): a restarted service gets its partitions back at once instead "
        "of after the session timeout (docs/reliability.md).")
    group_instance_id: str | None = Field(
        default=None, min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$",
        description="This instance's name, and its static member id in the consumer group. "
        "Default: the service's name on SQLite (it runs once); <service>-<host name> on "
        "PostgreSQL. Give instances on one host names of their own (<service>-1, -2, ...); a "
        "second process with a name already running refuses to start.")
    # The broker refuses sessions outside group.min/max.session.timeout.ms (6 s .. 30 min).
    session_timeout_ms: int = Field(default=10_000, ge=6_000, le=1_800_000)
    heartbeat_interval_ms: int = Field(default=3_000, ge=100, le=600_000,
                                       description="At most a third of the session timeout.")
    max_poll_interval_ms: int = Field(default=60_000, ge=1_000, le=3_600_000)
    watchdog_timeout: float = Field(default=90.0, gt=0, le=3600,
                                    description="Restart a stalled consumer.")
    inbox_retention_days: float = Field(default=8.0, gt=0, le=3650,
                                        description="Keep >= topic retention.")
    timer_tick: float = Field(default=1.0, gt=0, le=60, description="How often a service "
                              "looks for timers whose time has come (a deadline fires at most "
                              "this late).")
    order_deadline_seconds: float = Field(
        default=1800.0, ge=1, le=30 * 86_400, description="order_service: a saga not past "
        "shipping this long after its order was placed is cancelled (compensations run as for "
        "an accepted cancellation); POST /orders may ask for another (deadline_seconds).")

    stall_after_seconds: float = Field(
        default=30.0, gt=0, description="saga_monitor: the default deadline of every step; a "
        "saga whose awaited step is this late is stuck.")
    monitor_step_deadlines: dict[str, float] = Field(
        default_factory=dict, description="saga_monitor: per-step deadlines in seconds, keyed by "
        'the awaited event, as JSON (SAGA_MONITOR_STEP_DEADLINES=\'{"OrderShipped": 120}\').')
    monitor_retention_seconds: float = Field(
        default=3600.0, gt=0, description="saga_monitor: a finished saga leaves the in-memory "
        "table (a tombstone on its changelog) this long after it finished.")
    monitor_nice: int = Field(
        default=-10, ge=-20, le=19, description="saga_monitor: the nice value its threads run "
        "at. Below the services' (0), so that in a burst that saturates the cores its counts "
        "keep up with the topics; needs root, CAP_SYS_NICE or RLIMIT_NICE, else it says so and "
        "runs at the priority it was given. (Compose gives its container a CPU weight instead.)")
    monitor_window_seconds: float = Field(
        default=300.0, gt=0, description="saga_monitor: throughput and duration percentiles "
        "cover the sagas finished this recently (at most the retention).")

    otlp_endpoint: str | None = Field(default=None, description="Export trace spans to this "
                                      "OTLP/HTTP endpoint (e.g. http://127.0.0.1:4318/v1/traces).")
    trace_sample_ratio: float = Field(
        default=1.0, ge=0, le=1, description="With an exporter: the share of sagas whose spans "
        "are recorded (decided from the trace id, so every service decides the same; a saga "
        "arriving with a decision keeps it).")

    flow_version: int | None = Field(
        default=None, ge=1, description="order_service: the version of the saga's flow new "
        "sagas start with; default: the latest this code declares. During a rolling upgrade "
        "that adds a step, keep the old one until every participant runs the new code "
        "(docs/adding-a-step.md).")

    fault_rate: float = Field(default=0.0, ge=0, le=1, description="Injected transient failures.")
    crash_point: str | None = Field(default=None, description="Test hook: exit abruptly here.")

    @model_validator(mode="after")
    def _per_service_defaults(self) -> Settings:
        if self.heartbeat_interval_ms * 3 > self.session_timeout_ms:
            raise ValueError(f"heartbeat_interval_ms ({self.heartbeat_interval_ms}) must be at "
                             f"most a third of session_timeout_ms ({self.session_timeout_ms})")
        if self.retry_base_delay > self.retry_max_delay:
            raise ValueError("retry_base_delay must not exceed retry_max_delay")
        if self.database_path is None:
            object.__setattr__(self, "database_path", Path(".run") / f"{self.service_name}.db")
        if self.http_port is None:
            object.__setattr__(self, "http_port", DEFAULT_HTTP_PORTS.get(self.service_name, 0))
        return self

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}{self.service_name}"

    @property
    def reads_need_token(self) -> bool:
        if self.api_reads_need_token is not None:
            return self.api_reads_need_token
        return self.kafka_security_protocol == "SASL_SSL"

    @property
    def allowed_hosts(self) -> list[str]:
        """What a request's Host may name: a page served from any other name (DNS rebinding
        points one at 127.0.0.1) gets a 400, and reads nothing."""
        if self.http_allowed_hosts is not None:
            return [name.strip() for name in self.http_allowed_hosts.split(",") if name.strip()]
        bound = [] if self.http_host in ("0.0.0.0", "::", "") else [self.http_host]
        return list(dict.fromkeys([*LOOPBACK_NAMES, *bound]))

    @property
    def instance(self) -> str:
        """This instance's name: in /health and /metrics, on what it publishes, and its static
        member id."""
        if self.group_instance_id:
            return self.group_instance_id
        if self.database_url:  # several instances may share the database: one per host, say
            return f"{self.service_name}-{socket.gethostname()}"
        return self.service_name

    @property
    def consumer_instance_id(self) -> str | None:
        """The static member id within :attr:`consumer_group`, or None (dynamic membership)."""
        return self.instance if self.static_membership else None

    @property
    def service_database_url(self) -> str | None:
        return self.database_url.replace("{service}", self.service_name) if self.database_url else None

    def service_database_password(self) -> str | None:
        if self.database_password_file is None:
            return None
        path = Path(self.database_password_file.replace("{service}", self.service_name))
        return path.read_text().strip()


S = TypeVar("S", bound=KafkaSettings)


def load(settings_class: type[S], **overrides: Any) -> S:
    """The settings from the environment (and overrides), or one line per bad value on stderr
    and exit status 2: a process with a bad setting never starts half-configured."""
    try:
        return settings_class(**overrides)
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            print(f"invalid setting {_variable(problem['loc'])}: {problem['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def _variable(location: tuple) -> str:
    if not location:
        return "(combination)"
    name = str(location[0])
    return "KAFKA_BOOTSTRAP_SERVERS" if name == "kafka_bootstrap_servers" else f"SAGA_{name.upper()}"
