"""Just enough of the Kafka protocol, stdlib only, to ask a running cluster about itself:
which brokers are registered, who leads each partition and which replicas are in sync
(Metadata v8), and which node is the active controller (DescribeQuorum v0, forwarded by a
broker to the controllers). Over TLS with SASL/SCRAM-SHA-512 when secure.

The launcher must work before the project's virtualenv exists (``make kafka`` runs it with
the system Python), so it cannot use aiokafka. One connection per question; every read and
write is bounded by ``timeout``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct
from dataclasses import dataclass, field
from pathlib import Path

METADATA, SASL_HANDSHAKE, SASL_AUTHENTICATE, DESCRIBE_QUORUM = 3, 17, 36, 55
CLUSTER_METADATA_TOPIC = "__cluster_metadata"


class ProtocolError(OSError):
    """The broker answered with an error code, or not in a way this module understands."""


@dataclass(frozen=True)
class Credentials:
    """How to reach a secure listener: the CA that signed the brokers, a SCRAM principal."""

    ca_file: Path
    username: str
    password: str


@dataclass(frozen=True)
class PartitionState:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def in_sync(self) -> bool:
        return self.leader >= 0 and set(self.isr) == set(self.replicas)


@dataclass(frozen=True)
class ClusterMetadata:
    brokers: dict[int, tuple[str, int]]
    partitions: list[PartitionState] = field(default_factory=list)


def metadata(host: str, port: int, topics: list[str] | None = (), *,
             credentials: Credentials | None = None, timeout: float = 5.0) -> ClusterMetadata:
    """The registered (unfenced) brokers; and the partitions of ``topics`` (None: every
    topic, internal ones included; the default, none)."""
    names = b"\xff\xff\xff\xff" if topics is None else _array([_string(t) for t in topics])
    body = names + b"\x00\x00\x00"  # no auto-creation, no authorized operations
    with _Connection(host, port, credentials, timeout) as connection:
        return _parse_metadata(_Reader(connection.request(METADATA, 8, body)))


def active_controller(host: str, port: int, *, credentials: Credentials | None = None,
                      timeout: float = 5.0) -> int:
    """The node id of the active controller (the KRaft quorum's leader)."""
    topic = _compact_string(CLUSTER_METADATA_TOPIC) + b"\x02" + struct.pack(">i", 0) + b"\x00"
    body = b"\x02" + topic + b"\x00" + b"\x00"  # one topic, one partition; no tagged fields
    with _Connection(host, port, credentials, timeout) as connection:
        reader = _Reader(connection.request(DESCRIBE_QUORUM, 0, body, flexible=True))
    _check(reader.int16(), "DescribeQuorum")
    reader.varint(), reader.compact_string(), reader.varint()  # one topic, its name, one partition
    reader.int32()
    _check(reader.int16(), "DescribeQuorum partition")
    return reader.int32()


def _parse_metadata(reader: _Reader) -> ClusterMetadata:
    reader.int32()  # throttle time
    brokers = {}
    for _ in range(reader.int32()):
        node_id, host, port = reader.int32(), reader.string(), reader.int32()
        reader.string()  # rack
        brokers[node_id] = (host, port)
    reader.string(), reader.int32()  # cluster id, a random broker (not the KRaft controller)
    partitions = []
    for _ in range(reader.int32()):
        error, topic = reader.int16(), reader.string()
        reader.int8()  # is internal
        for _ in range(reader.int32()):
            reader.int16()  # a partition's error: a missing leader shows as leader -1
            index, leader = reader.int32(), reader.int32()
            reader.int32()  # leader epoch
            replicas, isr = reader.int32_array(), reader.int32_array()
            reader.int32_array()  # offline replicas
            partitions.append(PartitionState(topic, index, leader, replicas, isr))
        reader.int32()  # authorized operations
        if error not in (0, 5, 9):  # leader not available / replica not available: still listed
            raise ProtocolError(f"metadata of {topic}: error {error}")
    return ClusterMetadata(brokers, partitions)


class _Connection:
    def __init__(self, host: str, port: int, credentials: Credentials | None,
                 timeout: float) -> None:
        self.host, self.port, self.credentials, self.timeout = host, port, credentials, timeout
        self._correlation = 0

    def __enter__(self) -> _Connection:
        self.socket = socket.create_connection((self.host, self.port), self.timeout)
        self.socket.settimeout(self.timeout)
        try:
            if self.credentials is not None:
                context = ssl.create_default_context(cafile=str(self.credentials.ca_file))
                self.socket = context.wrap_socket(self.socket, server_hostname=self.host)
                _scram_sha512(self, self.credentials.username, self.credentials.password)
        except BaseException:
            self.socket.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.socket.close()

    def request(self, api_key: int, version: int, body: bytes, *, flexible: bool = False) -> bytes:
        """Send one request; return the response body (after its header)."""
        self._correlation += 1
        header = struct.pack(">hhi", api_key, version, self._correlation) + _string("localkafka")
        message = header + (b"\x00" if flexible else b"") + body
        self.socket.sendall(struct.pack(">i", len(message)) + message)
        (size,) = struct.unpack(">i", self._read(4))
        response = self._read(size)
        if struct.unpack(">i", response[:4])[0] != self._correlation:
            raise ProtocolError("response to another request")
        return response[5:] if flexible else response[4:]

    def _read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = self.socket.recv(left)
            if not chunk:
                raise ProtocolError("connection closed by the broker")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


def _scram_sha512(connection: _Connection, username: str, password: str) -> None:
    """RFC 5802 over Kafka's SaslHandshake v1 + SaslAuthenticate v1."""
    reader = _Reader(connection.request(SASL_HANDSHAKE, 1, _string("SCRAM-SHA-512")))
    _check(reader.int16(), "SaslHandshake (is SCRAM-SHA-512 enabled?)")
    nonce = base64.b64encode(os.urandom(24)).decode()
    name = username.replace("=", "=3D").replace(",", "=2C")
    first_bare = f"n={name},r={nonce}"
    server_first = _authenticate(connection, f"n,,{first_bare}")
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    if not fields["r"].startswith(nonce):
        raise ProtocolError("SCRAM: the server's nonce does not extend ours")
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(fields["s"]),
                                 int(fields["i"]))
    client_key = hmac.digest(salted, b"Client Key", "sha512")
    final_bare = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{final_bare}".encode()
    signature = hmac.digest(hashlib.sha512(client_key).digest(), auth_message, "sha512")
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
    server_final = _authenticate(connection, f"{final_bare},p={proof.decode()}")
    expected = hmac.digest(hmac.digest(salted, b"Server Key", "sha512"), auth_message, "sha512")
    if server_final != f"v={base64.b64encode(expected).decode()}":
        raise ProtocolError("SCRAM: the server's signature is wrong")


def _authenticate(connection: _Connection, message: str) -> str:
    encoded = message.encode()
    reader = _Reader(connection.request(SASL_AUTHENTICATE, 1,
                                        struct.pack(">i", len(encoded)) + encoded))
    error, text = reader.int16(), reader.string()
    _check(error, f"SaslAuthenticate ({text})")
    return reader.bytes().decode()


def _check(error: int, what: str) -> None:
    if error:
        raise ProtocolError(f"{what}: error {error}")


def _string(text: str) -> bytes:
    encoded = text.encode()
    return struct.pack(">h", len(encoded)) + encoded


def _compact_string(text: str) -> bytes:
    encoded = text.encode()
    return bytes([len(encoded) + 1]) + encoded  # short names only: a one-byte varint


def _array(items: list[bytes]) -> bytes:
    return struct.pack(">i", len(items)) + b"".join(items)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def _take(self, fmt: str):
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def int8(self) -> int:
        return self._take(">b")

    def int16(self) -> int:
        return self._take(">h")

    def int32(self) -> int:
        return self._take(">i")

    def int32_array(self) -> tuple[int, ...]:
        return tuple(self.int32() for _ in range(self.int32()))

    def string(self) -> str | None:
        size = self.int16()
        return None if size < 0 else self._slice(size).decode()

    def bytes(self) -> bytes:
        return self._slice(self.int32())

    def varint(self) -> int:
        value = shift = 0
        while True:
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def compact_string(self) -> str:
        return self._slice(self.varint() - 1).decode()

    def _slice(self, size: int) -> bytes:
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return chunk
