"""A real Apache Kafka cluster (KRaft) run from the Maven jars, no Docker: one node, or three
or more combined broker+controller nodes on loopback ports that form one quorum.

Guarantees: ``start()`` returns only once every node logged ``Kafka Server started`` and a
metadata request sees every broker registered, or raises :class:`LocalKafkaError` within
``startup_timeout`` saying why (no Java, no Maven, port in use, startup error with the node
log's tail). ``stop()`` leaves no JVM behind; an attached node also dies with the thread that
started it. One node keeps its config, data, log and pid file directly in the state dir; a
cluster has a directory per node (``node-1``, ``node-2``, …), sharing the state dir's secrets.
Single nodes can be killed, frozen and started again from Python (:class:`KafkaNode`).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from localkafka.config import LOG4J2_PROPERTIES, new_cluster_id, server_properties
from localkafka.errors import LocalKafkaError
from localkafka.jars import KAFKA_VERSION, ensure_jars
from localkafka.mode import record_mode, refuse_other_mode
from localkafka.node import KafkaNode
from localkafka.secrets import (
    ADMIN,
    Secrets,
    argument_file,
    ensure_secrets,
    private_dir,
    scram_arguments,
    server_security_properties,
    write_client_settings,
    write_secret,
)
from localkafka.system import claim_ports, find_java
from localkafka.wire import ClusterMetadata, Credentials, active_controller, metadata

#: A topic is replicated three times once there are this many brokers.
REPLICATED_FROM = 3


class LocalKafka:
    def __init__(
        self,
        state_dir: Path | str | None = None,
        *,
        brokers: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        controller_port: int = 0,
        heap: str | None = None,
        version: str = KAFKA_VERSION,
        startup_timeout: float = 90.0,
        detach: bool = False,
        secure: bool = False,
    ) -> None:
        if brokers != 1 and brokers < REPLICATED_FROM:
            raise LocalKafkaError(f"{brokers} brokers: run 1, or {REPLICATED_FROM} or more "
                                  "(two voters cannot elect a controller once one is gone)")
        self._owns_state_dir = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="localkafka-"))
        self.host, self.version = host, version
        self.heap = heap or ("512m" if brokers == 1 else "384m")  # per node
        self.startup_timeout = startup_timeout
        #: SASL_SSL + SCRAM for clients, ACLs enforced (docs/security.md): see ``secrets``.
        self.secure = secure
        self.secrets: Secrets | None = None
        self.nodes = [KafkaNode(n, self.state_dir if brokers == 1 else self.state_dir / f"node-{n}",
                                host=host, port=port + n - 1 if port else 0,
                                controller_port=controller_port + n - 1 if controller_port else 0,
                                detach=detach)
                      for n in range(1, brokers + 1)]
        self._java: str | None = None
        self._lib: Path | None = None

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.address for node in self.nodes)

    # The first node, for code written when there was only one.
    @property
    def port(self) -> int:
        return self.nodes[0].port

    @property
    def process(self) -> subprocess.Popen | None:
        return self.nodes[0].process

    @property
    def log_path(self) -> Path:
        return self.nodes[0].log_path

    def log_tail(self, lines: int = 25) -> str:
        return self.nodes[0].log_tail(lines)

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    def start(self) -> str:
        self._java, self._lib = find_java(), ensure_jars(self.version)
        ports = claim_ports(self.host, [(p, f"{role} {n.node_id}" if len(self.nodes) > 1 else role)
                                        for n in self.nodes for p, role in
                                        ((n.port, "broker"), (n.controller_port, "controller"))])
        for node, (port, controller_port) in zip(self.nodes, zip(ports[::2], ports[1::2],
                                                                  strict=True), strict=True):
            node.port, node.controller_port = port, controller_port
        private_dir(self.state_dir)  # data, config and (secure) credentials: no one else's
        if any((node.data_dir / "meta.properties").exists() for node in self.nodes):
            refuse_other_mode(self.state_dir, self.secure)
        if self.secure:
            self.secrets = ensure_secrets(self.state_dir, hosts={self.host})
        self._write_configs()
        self._format_storage()
        record_mode(self.state_dir, self.secure)
        self._run_all()
        if self.secrets is not None:
            replication = ({"SAGA_TOPIC_REPLICATION_FACTOR": "3"}
                           if len(self.nodes) >= REPLICATED_FROM else {})
            write_client_settings(self.secrets, self.bootstrap_servers, replication)
        return self.bootstrap_servers

    def restart(self) -> None:
        """Stop every node and start them again on the same ports, keeping topics and offsets."""
        self._terminate_all()
        self._run_all()

    def start_node(self, node_id: int) -> None:
        """Start one node again (after a kill) with its config and data; returns once it runs
        and every broker is registered again."""
        node = self.node(node_id)
        node.launch(self._java_command())
        deadline = time.monotonic() + self.startup_timeout
        node.wait_started(deadline)
        self._until_registered(deadline)

    def _run_all(self) -> None:
        for node in self.nodes:
            node.launch(self._java_command())
        try:
            deadline = time.monotonic() + self.startup_timeout
            for node in self.nodes:
                node.wait_started(deadline)
            self._until_registered(deadline)
        except BaseException:
            self.stop()
            raise
        (self.state_dir / "bootstrap").write_text(self.bootstrap_servers)

    def stop(self, timeout: float = 30.0) -> None:
        pids = [node.process.pid if node.process else None for node in self.nodes]
        self._terminate_all(timeout)
        for node, pid in zip(self.nodes, pids, strict=True):
            if pid is not None:
                node.forget_pid_file(pid)
        if pids[0] is not None and not self.nodes[0].pid_file.exists():
            (self.state_dir / "bootstrap").unlink(missing_ok=True)
        if self._owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def _terminate_all(self, timeout: float = 30.0) -> None:
        """All at once: a node stopping alone waits for a quorum the others would leave."""
        for node in self.nodes:
            node.request_stop()
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            node.wait_stopped(deadline)

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Questions to the running cluster, asked of any node that answers.

    def metadata(self, topics: list[str] | None = ()) -> ClusterMetadata:
        return self._ask(lambda node: metadata(node.host, node.port, topics,
                                               credentials=self._credentials()))

    def active_controller(self) -> int:
        return self._ask(lambda node: active_controller(node.host, node.port,
                                                        credentials=self._credentials()))

    def leaders(self, topics: list[str]) -> Counter[int]:
        """How many partitions of ``topics`` each node leads."""
        return Counter(p.leader for p in self.metadata(topics).partitions if p.leader >= 0)

    def wait_in_sync(self, timeout: float = 120.0) -> None:
        """Until every node is registered and every partition of every topic (internal ones
        too) has a leader and all its replicas in sync."""
        deadline = time.monotonic() + timeout
        self._until_registered(deadline)
        while time.monotonic() < deadline:
            try:
                if all(p.in_sync for p in self.metadata(None).partitions):
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise LocalKafkaError(f"partitions still under-replicated after {timeout:.0f}s")

    def _until_registered(self, deadline: float) -> None:
        wanted = {node.node_id for node in self.nodes if node.alive()}
        seen: object = "no answer"
        while time.monotonic() < deadline:
            try:
                seen = set(self.metadata().brokers)
                if seen == wanted:
                    return
            except OSError as error:
                seen = error
            time.sleep(0.2)
        raise LocalKafkaError(f"Kafka started, but a metadata request sees brokers {seen}, "
                              f"not {sorted(wanted)}; last lines of {self.log_path}:\n"
                              f"{self.log_tail()}")

    def _ask(self, question):
        error: OSError = OSError("no node runs")
        for node in self.nodes:
            if node.alive() and not node.frozen:
                try:
                    return question(node)
                except OSError as failed:
                    error = failed
        raise error

    def _credentials(self) -> Credentials | None:
        if self.secrets is None:
            return None
        return Credentials(self.secrets.ca, ADMIN, self.secrets.passwords()[ADMIN])

    # Files and processes.

    def _write_configs(self) -> None:
        voters = ",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in self.nodes)
        security = server_security_properties(self.secrets) if self.secrets else None
        for node in self.nodes:
            node.directory.mkdir(parents=True, exist_ok=True)
            write_secret(node.config_path, server_properties(  # passwords, when secure
                node_id=node.node_id, host=node.host, port=node.port,
                controller_port=node.controller_port, voters=voters, nodes=len(self.nodes),
                data_dir=node.data_dir, security=security))
        (self.state_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES)

    def _java_command(self, heap: str | None = None) -> list[str]:
        heap = heap or self.heap
        return [self._java, f"-Xms{heap}", f"-Xmx{heap}", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.properties'}",
                "-cp", f"{self._lib}/*"]

    def _format_storage(self) -> None:
        """Format every node not formatted yet, with the cluster id the others already have
        (a fresh one for a fresh cluster): an earlier run's topics are kept."""
        missing = [n for n in self.nodes if not (n.data_dir / "meta.properties").exists()]
        if not missing:
            return
        cluster_id = _existing_cluster_id(self.nodes) or new_cluster_id()
        scram = scram_arguments(self.secrets) if self.secrets else []
        with contextlib.ExitStack() as files:  # the SCRAM passwords: never on a command line
            formats = [subprocess.Popen(
                [*self._java_command("256m"), files.enter_context(argument_file(
                    node.directory / "format.args",
                    ["kafka.tools.StorageTool", "format", "-t", cluster_id,
                     "-c", str(node.config_path), *scram]))],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for node in missing]
            for node, run in zip(missing, formats, strict=True):
                output, _ = run.communicate(timeout=180)
                if run.returncode != 0:
                    tail = "\n".join(output.splitlines()[-15:])
                    raise LocalKafkaError(f"formatting Kafka storage of node {node.node_id} "
                                          f"failed:\n{tail}")


def _existing_cluster_id(nodes: list[KafkaNode]) -> str | None:
    for node in nodes:
        meta = node.data_dir / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    return line.split("=", 1)[1].strip()
    return None
