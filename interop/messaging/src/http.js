// The webhook server: Telegram (webhook mode) and WhatsApp post here. Handlers get the
// raw body (needed for signature checks) and answer only once the update is safe to
// acknowledge; a non-2xx answer makes the platform deliver it again later.
import http from "node:http";

const MAX_BODY = 4 * 1024 * 1024;

export class WebhookServer {
  constructor({ host, port, log }) {
    this.host = host;
    this.port = port;
    this.log = log;
    /** @type {Map<string, (req: http.IncomingMessage, body: Buffer, url: URL) => Promise<{status: number, body?: string, type?: string}>>} */
    this.routes = new Map();
    this.server = null;
  }

  route(path, handler) {
    this.routes.set(path, handler);
  }

  async start() {
    this.server = http.createServer((req, res) => this.#handle(req, res));
    await new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, this.host, resolve);
    });
    this.port = this.server.address().port;
    this.log.info("webhook server listening", { host: this.host, port: this.port, paths: [...this.routes.keys()] });
  }

  async stop() {
    if (!this.server) return;
    this.server.closeAllConnections?.();
    await new Promise((r) => this.server.close(r));
  }

  async #handle(req, res) {
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (status, body = "", type = "text/plain") => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (url.pathname === "/health") return send(200, "ok");
    const handler = this.routes.get(url.pathname);
    if (!handler) return send(404, "not found");
    const chunks = [];
    let size = 0;
    try {
      for await (const c of req) {
        size += c.length;
        if (size > MAX_BODY) return send(413, "too large");
        chunks.push(c);
      }
      const out = await handler(req, Buffer.concat(chunks), url);
      send(out.status, out.body ?? "", out.type);
    } catch (err) {
      this.log.error("webhook handler failed", { path: url.pathname, error: err });
      if (!res.headersSent) send(500, "error");
    }
  }
}
