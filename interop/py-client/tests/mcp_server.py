"""A minimal MCP server over Streamable HTTP (JSON responses) for session/mcp/link:
one tool, `py_echo`. Runs on a thread on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOOLS = [{
    "name": "py_echo",
    "description": "Echoes its text.",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                    "required": ["text"]},
}]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        raw = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        if body is not None:
            self.send_header("content-type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:  # no server-initiated stream
        self._send(405)

    def do_DELETE(self) -> None:
        self._send(200)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        message = json.loads(self.rfile.read(length) or b"{}")
        if isinstance(message, list) or "id" not in message:
            self._send(202)  # notifications and responses
            return
        method, rid = message.get("method"), message["id"]
        if method == "initialize":
            version = (message.get("params") or {}).get("protocolVersion", "2025-03-26")
            result = {"protocolVersion": version, "capabilities": {"tools": {}},
                      "serverInfo": {"name": "py-client-test", "version": "0.1.0"}}
            self._send(200, {"jsonrpc": "2.0", "id": rid, "result": result},
                       {"mcp-session-id": "py-session-1"})
        elif method == "tools/list":
            self._send(200, {"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}})
        elif method == "tools/call":
            args = (message.get("params") or {}).get("arguments") or {}
            result = {"content": [{"type": "text", "text": str(args.get("text", ""))}]}
            self._send(200, {"jsonrpc": "2.0", "id": rid, "result": result})
        elif method == "ping":
            self._send(200, {"jsonrpc": "2.0", "id": rid, "result": {}})
        else:
            self._send(200, {"jsonrpc": "2.0", "id": rid,
                             "error": {"code": -32601, "message": f"no method {method}"}})


def start() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/mcp"
