"""A real local HTTP webhook receiver standing in for Slack, a pager or a status page, and the
`hotdash-alerts` notification block pointed at one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prefect import get_client
from prefect.exceptions import ObjectNotFound

from tasks.notify import DEFAULT_BLOCK, save_webhook_block


class Receiver:
    """Serves on 127.0.0.1 from construction until close(); records every JSON POST in order
    (`messages`, and the raw `bodies`); while `fail` is set it answers 500 and counts `refused`."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        self.refused = 0
        self.fail = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.fail:
                    receiver.refused += 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.bodies.append(body)
                receiver.messages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def subjects(self) -> list[str]:
        return [str(m.get("subject")) for m in self.messages]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def alerts_block(receiver: Receiver) -> Iterator[Receiver]:
    """The `hotdash-alerts` notification block (a custom webhook) posting to `receiver`,
    deleted again at the end."""
    save_webhook_block(receiver.url, name=DEFAULT_BLOCK)
    try:
        yield receiver
    finally:
        delete_block(DEFAULT_BLOCK)


def delete_block(name: str) -> None:
    """Delete the notification block `name` (custom or Slack webhook) if it exists."""
    with get_client(sync_client=True) as client:
        for slug in ("custom-webhook", "slack-webhook"):
            try:
                doc = client.read_block_document_by_name(name, block_type_slug=slug)
            except ObjectNotFound:
                continue
            client.delete_block_document(doc.id)
