"""A real local webhook receiver for the `hotdash-alerts` notification block, and cleanup."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prefect import get_client
from prefect.exceptions import ObjectNotFound


class Receiver:
    """A real HTTP webhook receiver: records every JSON POST; can be told to answer 500."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.refused = 0
        self.fail = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.fail:
                    receiver.refused += 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.messages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def subjects(self) -> list[str]:
        return [str(m["subject"]) for m in self.messages]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def delete_block(name: str) -> None:
    """Delete the notification block `name` (custom or Slack webhook) if it exists."""
    with get_client(sync_client=True) as client:
        for slug in ("custom-webhook", "slack-webhook"):
            try:
                doc = client.read_block_document_by_name(name, block_type_slug=slug)
            except ObjectNotFound:
                continue
            client.delete_block_document(doc.id)
