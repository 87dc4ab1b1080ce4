"""Before a command's Kafka client starts: can the broker be reached, does TLS work? One answer, fast.

kafka-python retries a dead broker, a refused TLS handshake or a plaintext client on a TLS port until its
bootstrap timeout, then says only "Unable to bootstrap". ``check_broker`` opens one connection per
bootstrap server itself (TCP, then TLS with the same files the clients use, then an ApiVersions request,
which every listener answers before any login) and turns what went wrong into ``BrokerUnavailable``:
what failed and which setting to check. ``broker_errors`` does the same for what the client raises later
(a refused SASL login, a timeout). The worker's own clients (faust, aiokafka) are not touched.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import re
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streams.errors import BrokerUnavailable, ConfigurationError
from streams.kafka.clients import client_options, describe_connection
from streams.settings import KafkaSettings

# The commands' whole connection budget: a person gets an answer well within 15 s.
CONNECT_TIMEOUT_S = 5.0
# What a command's kafka-python client may spend bootstrapping once the probe passed (e.g. a SASL login
# that never completes), and the longest pause between its reconnects.
BOOTSTRAP_TIMEOUT_S = 8.0
RECONNECT_BACKOFF_MAX_MS = 1000

_SERVERS = "STREAMS_KAFKA__BOOTSTRAP_SERVERS (--bootstrap-servers)"
_PROTOCOL = "STREAMS_KAFKA__SECURITY_PROTOCOL"
_CLIENT_CERT = "STREAMS_KAFKA__SSL_CERTFILE and STREAMS_KAFKA__SSL_KEYFILE"
_SASL_SETTINGS = (
    "STREAMS_KAFKA__SASL_USERNAME, STREAMS_KAFKA__SASL_PASSWORD and STREAMS_KAFKA__SASL_MECHANISM"
)


def command_client_options(settings: KafkaSettings) -> dict[str, Any]:
    """``client_options`` with bounded bootstrap and reconnect times, for clients of short commands."""
    return {
        **client_options(settings),
        "bootstrap_timeout_ms": int(BOOTSTRAP_TIMEOUT_S * 1000),
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
    }


def check_broker(settings: KafkaSettings, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Return when one bootstrap server answers a Kafka request over the configured transport; raise
    ``ConfigurationError`` for an unreadable TLS file and ``BrokerUnavailable`` otherwise, within about
    ``timeout_s``."""
    context = tls_context(settings) if settings.security_protocol in ("SSL", "SASL_SSL") else None
    deadline = time.monotonic() + timeout_s
    failures: list[str] = []
    for server in settings.bootstrap_servers.split(","):
        host, port = _host_port(server.strip())
        problem = _probe(host, port, context, settings, max(0.5, deadline - time.monotonic()))
        if problem is None:
            return
        failures.append(problem)
    more = f" (and {len(failures) - 1} more servers failed)" if len(failures) > 1 else ""
    raise BrokerUnavailable(f"cannot connect to Kafka ({describe_connection(settings)}): {failures[0]}{more}")


def tls_context(settings: KafkaSettings) -> ssl.SSLContext:
    """The client TLS context from the SSL_* settings (what kafka-python builds from the same files)."""
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        value: str | None = getattr(settings, name)
        if value and not Path(value).is_file():
            raise ConfigurationError(f"STREAMS_KAFKA__{name.upper()}: file {value} does not exist")
    if settings.ssl_keyfile and not settings.ssl_certfile:
        raise ConfigurationError("STREAMS_KAFKA__SSL_KEYFILE is set without STREAMS_KAFKA__SSL_CERTFILE")
    try:
        context = ssl.create_default_context(cafile=settings.ssl_cafile)
    except ssl.SSLError as error:
        raise ConfigurationError(
            f"STREAMS_KAFKA__SSL_CAFILE: {settings.ssl_cafile} is not a PEM CA certificate ({error})"
        ) from None
    if settings.ssl_certfile:
        try:
            context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
        except ssl.SSLError as error:
            raise ConfigurationError(
                f"cannot load the client certificate {settings.ssl_certfile} (key: "
                f"{settings.ssl_keyfile or 'in the same file'}): {error}. Check {_CLIENT_CERT}"
            ) from None
    return context


@contextlib.contextmanager
def broker_errors(settings: KafkaSettings) -> Iterator[None]:
    """Turn what a kafka-python client raises into one ``BrokerUnavailable`` that says what to check.

    kafka-python retries a refused login until its bootstrap timeout and then raises only a timeout; the
    refusal itself is in its log, which is recorded here for the message."""
    from kafka.errors import AuthorizationError, KafkaError, SaslAuthenticationFailedError

    where = describe_connection(settings)
    recorder = _Recorder()
    client_log = logging.getLogger("kafka")
    client_log.addHandler(recorder)
    try:
        yield
    except SaslAuthenticationFailedError as error:
        raise BrokerUnavailable(_login_refused(where, _cause(error))) from None
    except AuthorizationError as error:
        raise BrokerUnavailable(
            f"Kafka ({where}) refused an operation: {_cause(error)}. Check the user's ACLs on the broker"
        ) from None
    except KafkaError as error:
        refusal = recorder.find("SaslAuthenticationFailedError: ")
        if refusal is not None:
            raise BrokerUnavailable(_login_refused(where, refusal)) from None
        lost = recorder.find("Connection lost: ")
        detail = f" (the connection was lost: {lost})" if lost else ""
        if settings.security_protocol.startswith("SASL"):
            # The probe saw the broker answer, so what did not finish is the login: refused before the
            # client logged why (a busy broker answers late, or closes the connection first), or unanswered.
            raise BrokerUnavailable(
                f"cannot connect to Kafka ({where}): the broker did not accept the login within "
                f"{BOOTSTRAP_TIMEOUT_S:.0f} s{detail}. Check {_SASL_SETTINGS} (-v shows the client's log)"
            ) from None
        raise BrokerUnavailable(
            f"cannot connect to Kafka ({where}): {_cause(error)}{detail}. Check {_SERVERS} and the "
            f"{_PROTOCOL} / SSL_* settings (-v shows the client's log)"
        ) from None
    finally:
        client_log.removeHandler(recorder)


def _login_refused(where: str, why: str) -> str:
    return f"cannot connect to Kafka ({where}): the broker refused the login ({why}). Check {_SASL_SETTINGS}"


class _Recorder(logging.Handler):
    """The client's recent warnings and errors (whether or not they are shown: see ``quiet_client_log``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: collections.deque[str] = collections.deque(maxlen=50)

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.messages.append(record.getMessage())

    def find(self, marker: str) -> str | None:
        """The text after ``marker`` in the latest message that has it."""
        for message in reversed(self.messages):
            if marker in message:
                text = re.sub(r"\s*\(backoff [\d.]+ secs\)$", "", message.rsplit(marker, 1)[1])
                return text.removesuffix(")").strip() if text.count(")") > text.count("(") else text
        return None


def quiet_client_log(verbose: bool) -> None:
    """kafka-python's log out of sight (its warnings still reach ``broker_errors``), or all of it (-v).

    It narrates every connection and logs each retry of a dead broker as an error; a command turns the
    client's failure into one line of its own."""
    client_log = logging.getLogger("kafka")
    client_log.setLevel(logging.DEBUG if verbose else logging.WARNING)
    client_log.propagate = verbose


def _cause(error: BaseException) -> str:
    # kafka-python's messages repeat the class name ("KafkaTimeoutError: KafkaTimeoutError: ...").
    text = str(error).strip()
    name = type(error).__name__
    while text.startswith(f"{name}: "):
        text = text[len(name) + 2 :]
    return text or name


def _host_port(server: str) -> tuple[str, int]:
    host, _, port = server.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigurationError(f"{_SERVERS}: expected host:port[,host:port], got {server!r}")
    return host.strip("[]"), int(port)


def _probe(
    host: str, port: int, context: ssl.SSLContext | None, settings: KafkaSettings, timeout_s: float
) -> str | None:
    """None when ``host:port`` answered an ApiVersions request; else what failed and what to check."""
    where = f"{host}:{port}"
    try:
        raw = socket.create_connection((host, port), timeout=timeout_s)
    except socket.gaierror as error:
        return f"cannot resolve {host} ({error.strerror}). Check {_SERVERS}"
    except ConnectionRefusedError:
        return f"nothing listens on {where} (connection refused). Is the broker running? Check {_SERVERS}"
    except TimeoutError:
        return (
            f"no answer from {where} within {timeout_s:.0f}s. Is the broker running there? Check {_SERVERS}"
        )
    except OSError as error:
        return f"cannot reach {where} ({error.strerror or error}). Check {_SERVERS}"
    with contextlib.ExitStack() as stack:
        sock: socket.socket = stack.enter_context(raw)
        if context is not None:
            try:
                sock = stack.enter_context(context.wrap_socket(raw, server_hostname=host))
            except ssl.SSLCertVerificationError as error:
                return (
                    f"the broker's TLS certificate at {where} was not accepted ({error.verify_message}). "
                    "Check STREAMS_KAFKA__SSL_CAFILE: the CA that signed the broker's certificate"
                    + (", and that the certificate names this host" if "mismatch" in str(error) else "")
                )
            except (ssl.SSLError, OSError) as error:
                return (
                    f"the TLS handshake with {where} failed ({_ssl_reason(error)}). Is it a TLS listener? "
                    f"Check {_PROTOCOL} and {_SERVERS}"
                )
        try:
            _api_versions(sock)
        except ssl.SSLError as error:
            # TLS 1.3: a broker that requires a client certificate says so after the handshake.
            return (
                f"the broker at {where} refused the TLS connection ({_ssl_reason(error)}). It may require "
                f"a client certificate it trusts: check {_CLIENT_CERT}"
            )
        except TimeoutError:
            return (
                f"{where} accepted the connection but sent no Kafka answer within {timeout_s:.0f}s. Is it "
                f"a Kafka broker, is it a TLS port? Check {_PROTOCOL} (now {settings.security_protocol})"
            )
        except ValueError:
            return f"{where} answered, but not as a Kafka broker. Check {_SERVERS}"
        except OSError as error:
            return (
                f"{where} closed the connection without a Kafka answer ({error}). Is it a TLS or SASL "
                f"port? Check {_PROTOCOL} (now {settings.security_protocol}) and {_SERVERS}"
            )
    return None


def _ssl_reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason).lower().replace("_", " ") if reason else str(error)


_CORRELATION_ID = 0x5354  # any number: the answer must echo it


def _api_versions(sock: socket.socket) -> None:
    """Send ApiVersions v0 (which every listener answers before a SASL login) and read its header."""
    client_id = b"streams-check"
    header = struct.pack(">hhih", 18, 0, _CORRELATION_ID, len(client_id)) + client_id
    sock.sendall(struct.pack(">i", len(header)) + header)
    answer = _read(sock, 8)
    size, correlation_id = struct.unpack(">ii", answer)
    if size < 4 or correlation_id != _CORRELATION_ID:
        raise ValueError("not a Kafka answer")


def _read(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data
