"""A real SMTP server on 127.0.0.1 (port 0), aiosmtpd on an event loop of its own, as the relay the
SMTP channel talks to: STARTTLS or TLS from the first byte with a test CA (trusted by the product
only through `SSL_CERT_FILE`, as a company CA is), AUTH (only over TLS, as real relays demand), and
the ways a relay fails: 4xx and 5xx to a recipient or to the message, a refused login, and a
connection dropped after the message's final dot (the mail taken, the answer lost).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.fakes.https_fake import local_ca


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool
    login: str | None

    def message(self) -> EmailMessage:
        return cast(EmailMessage, email.message_from_bytes(self.data, policy=email.policy.default))


@dataclass
class FakeRelay:
    starttls: bool = False  # offer STARTTLS and demand it before MAIL
    implicit_tls: bool = False  # TLS from the first byte (port 465 style)
    users: dict[str, str] = field(default_factory=dict)  # login → password; any: AUTH required
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    # What the relay answers: address → reply to RCPT; replies to the next messages (instead of 250).
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)
    # The next this many messages are taken, then the connection is closed without an answer.
    drop_after_data: int = 0
    logins_refused: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-smtp", daemon=True)

    def start(self) -> FakeRelay:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = future.result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Close the listening socket: from now on connections are refused."""
        if self._server is not None:
            server = self._server
            self._server = None

            async def close() -> None:
                server.close()
                await server.wait_closed()

            asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)

    def restart(self) -> None:
        """Listen again on the same port (the relay is back)."""
        self._server = asyncio.run_coroutine_threadsafe(self._listen(self.port), self._loop).result(5)

    def close(self) -> None:
        self.stop()

        async def finish() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(finish(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def messages(self) -> list[EmailMessage]:
        return [r.message() for r in self.received]

    async def _listen(self, port: int = 0) -> asyncio.AbstractServer:
        context = local_ca().server_context()
        return await self._loop.create_server(
            lambda: self._protocol(context), self.host, port, ssl=context if self.implicit_tls else None
        )

    def _protocol(self, context: ssl.SSLContext) -> SMTP:
        with warnings.catch_warnings():
            # aiosmtpd warns of AUTH without STARTTLS; with TLS from the first byte, it is over TLS.
            warnings.simplefilter("ignore", UserWarning)
            return SMTP(
                _Handler(self),
                hostname="relay.test",
                tls_context=None if self.implicit_tls else (context if self.starttls else None),
                require_starttls=self.starttls,
                authenticator=self._authenticate,
                auth_required=bool(self.users),
                # Over TLS only (aiosmtpd sees only STARTTLS as TLS; the other is TLS from the start).
                auth_require_tls=not self.implicit_tls,
                loop=self._loop,
            )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            if self.users.get(login) == password:
                return AuthResult(success=True, auth_data=login)
        self.logins_refused += 1
        return AuthResult(success=False, handled=False)


class _Handler:
    def __init__(self, relay: FakeRelay) -> None:
        self.relay = relay

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.relay.refuse_rcpt.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        relay = self.relay
        if relay.data_replies:
            return relay.data_replies.pop(0)
        content = envelope.original_content or b""
        login = session.auth_data if isinstance(session.auth_data, str) else None
        tls = session.ssl is not None or relay.implicit_tls
        relay.received.append(
            Received(envelope.mail_from or "", tuple(envelope.rcpt_tos), content, tls, login)
        )
        if relay.drop_after_data > 0:
            relay.drop_after_data -= 1
            assert server.transport is not None
            server.transport.abort()  # taken, but the answer never leaves
        return "250 2.0.0 Message accepted for delivery"


@contextmanager
def fake_relay(**options: Any) -> Iterator[FakeRelay]:
    relay = FakeRelay(**options).start()
    try:
        yield relay
    finally:
        relay.close()
