// A WhatsApp Cloud API stand-in: the Graph API endpoints the bridge uses
// (POST /{version}/{phone-number-id}/messages, GET /{version}/{media-id}, the media URL),
// bearer-checked, recording what was sent; and a driver that posts signed webhook
// payloads to the bridge the way Meta does.
import { createHmac, randomBytes } from "node:crypto";
import http from "node:http";

export class FakeWhatsApp {
  constructor({ accessToken = "wa-access-token-test-0123456789", appSecret = "wa-app-secret-test", verifyToken = "wa-verify-token", phoneNumberId = "109876543210", version = "v21.0" } = {}) {
    Object.assign(this, { accessToken, appSecret, verifyToken, phoneNumberId, version });
    /** {to, body, context, at, id} */
    this.sent = [];
    this.calls = [];
    this.media = new Map(); // id -> {bytes, mime}
    this.nextId = 1;
  }

  async start() {
    this.server = http.createServer((req, res) => this.#handle(req, res));
    await new Promise((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  async stop() {
    this.server.closeAllConnections?.();
    await new Promise((r) => this.server.close(r));
  }

  addMedia(bytes, mime) {
    const id = `${100000 + this.media.size}${Math.floor(Math.random() * 1000)}`;
    this.media.set(id, { bytes: Buffer.from(bytes), mime });
    return id;
  }

  messages(to) {
    return this.sent.filter((m) => m.to === String(to));
  }

  async #handle(req, res) {
    const url = new URL(req.url, this.url);
    const reply = (status, obj) => {
      const body = JSON.stringify(obj);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    const graphError = (status, message, code = 100) =>
      reply(status, { error: { message, type: "OAuthException", code, fbtrace_id: "fake" } });
    if (req.headers.authorization !== `Bearer ${this.accessToken}`) return graphError(401, "Invalid OAuth access token", 190);
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString("utf8");
    this.calls.push({ method: req.method, path: url.pathname, body: raw, at: Date.now() });
    const dl = /^\/media-download\/(\w+)$/.exec(url.pathname);
    if (dl && req.method === "GET") {
      const m = this.media.get(dl[1]);
      if (!m) return graphError(404, "not found");
      res.writeHead(200, { "content-type": m.mime, "content-length": m.bytes.length });
      return res.end(m.bytes);
    }
    const parts = url.pathname.split("/").filter(Boolean);
    if (parts[0] !== this.version) return graphError(400, "Unknown version");
    if (req.method === "POST" && parts.length === 3 && parts[2] === "messages") {
      if (parts[1] !== this.phoneNumberId) return graphError(400, "Unsupported post request: unknown phone number id");
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        return graphError(400, "Invalid JSON");
      }
      if (body.messaging_product !== "whatsapp") return graphError(400, "(#100) The parameter messaging_product is required.");
      if (body.status === "read") return reply(200, { success: true });
      if (body.type !== "text" || typeof body.text?.body !== "string") return graphError(400, "(#100) unsupported message type here");
      if (body.text.body.length > 4096) return graphError(400, "(#100) Param text['body'] must be at most 4096 characters long.");
      if (!body.text.body.trim()) return graphError(400, "(#100) Param text['body'] is required.");
      const id = `wamid.fake${this.nextId++}`;
      this.sent.push({ to: String(body.to), body: body.text.body, context: body.context ?? null, at: Date.now(), id });
      return reply(200, { messaging_product: "whatsapp", contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id }] });
    }
    if (req.method === "GET" && parts.length === 2) {
      const m = this.media.get(parts[1]);
      if (!m) return graphError(404, "(#100) media not found");
      return reply(200, {
        messaging_product: "whatsapp",
        url: `${this.url}/media-download/${parts[1]}`,
        mime_type: m.mime,
        sha256: "fake",
        file_size: m.bytes.length,
        id: parts[1],
      });
    }
    return graphError(400, "Unsupported request");
  }

  /** A webhook payload carrying one inbound message. */
  payload(from, message) {
    return {
      object: "whatsapp_business_account",
      entry: [
        {
          id: "WABA_ID",
          changes: [
            {
              field: "messages",
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: "15550001111", phone_number_id: this.phoneNumberId },
                contacts: [{ profile: { name: "Tester" }, wa_id: String(from) }],
                messages: [
                  {
                    from: String(from),
                    // Real ids are base64 (with `=`), which submission ids may not contain.
                    id: `wamid.${randomBytes(18).toString("base64")}=`,
                    timestamp: String(Math.floor(Date.now() / 1000)),
                    ...message,
                  },
                ],
              },
            },
          ],
        },
      ],
    };
  }

  textPayload(from, text) {
    return this.payload(from, { type: "text", text: { body: text } });
  }

  /** POSTs a payload to the bridge's webhook, signed (or, with `badSignature`, signed wrongly). */
  async postWebhook(webhookUrl, payload, { badSignature = false, noSignature = false } = {}) {
    const body = Buffer.from(JSON.stringify(payload));
    const secret = badSignature ? `${this.appSecret}-wrong` : this.appSecret;
    const sig = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    const headers = { "content-type": "application/json" };
    if (!noSignature) headers["x-hub-signature-256"] = sig;
    const res = await fetch(webhookUrl, { method: "POST", headers, body });
    return { status: res.status, body: await res.text() };
  }
}
