"""The staff app's client of the services: a kept-alive connection the service closes just as a
request goes out (its idle timeout) costs a read one more try on a fresh connection, never the
user a "try again" page; a post is never sent twice."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from services.gateway.adapters.services import HttpInvoicing, HttpJobs
from services.gateway.service_layer.ports import ServiceDown

pytestmark = pytest.mark.unit
BODY = b'{"customer_id": "c-1", "name": "Ana"}'


class ClosingServer:
    """Answers the first request of each connection (keeping it alive), then closes the
    connection on its next request without a word, as a server whose idle timeout ran out."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            first = self._read(conn)
            self.requests.append(first.split(b"\r\n", 1)[0])
            answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            answer += b"Content-Length: %d\r\nConnection: keep-alive\r\n\r\n" % len(BODY) + BODY
            conn.sendall(answer)
            second = self._read(conn)
            if second:
                self.requests.append(second.split(b"\r\n", 1)[0] + b" (closed unanswered)")

    @staticmethod
    def _read(conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        return data


@pytest.fixture
def server() -> Iterator[ClosingServer]:
    found = ClosingServer()
    yield found
    found.sock.close()


def test_a_read_on_a_connection_closing_under_it_is_asked_once_more(server: ClosingServer) -> None:
    jobs = HttpJobs(f"http://127.0.0.1:{server.port}", "token-123456")
    assert jobs.customer("shop-a", "c-1")["name"] == "Ana"
    assert jobs.customer("shop-a", "c-1")["name"] == "Ana"  # first try met the closing connection
    assert server.requests == [
        b"GET /customers/c-1 HTTP/1.1",
        b"GET /customers/c-1 HTTP/1.1 (closed unanswered)",
        b"GET /customers/c-1 HTTP/1.1",
    ]


def test_a_post_is_never_sent_twice(server: ClosingServer) -> None:
    invoicing = HttpInvoicing(f"http://127.0.0.1:{server.port}", "token-123456")
    invoicing.settings("shop-a")
    with pytest.raises(ServiceDown):
        invoicing.send("shop-a", "inv-1", "Ana")
    assert server.requests == [
        b"GET /settings HTTP/1.1",
        b"POST /invoices/inv-1/send HTTP/1.1 (closed unanswered)",
    ]
