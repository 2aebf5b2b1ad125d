// A loopback stand-in for the outside services some methods need: a Streamable HTTP
// MCP server (JSON answers, one tool) and an OAuth authorization server (RFC 9728
// and RFC 8414 discovery, RFC 7591 registration, a token endpoint that accepts any
// code). Enough for session/mcp/link and a full auth/flows round trip.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeServices {
  origin: string;
  /** The MCP endpoint (also the OAuth-protected resource). */
  mcpUrl: string;
  /** How many token requests were answered. */
  tokenRequests: number;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(value));
}

export async function startFakeServices(): Promise<FakeServices> {
  let origin = "";
  const state = { tokenRequests: 0 };
  const server: Server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", origin);
      const path = url.pathname;
      if (path === "/mcp" && req.method === "POST") {
        const message = JSON.parse(await body(req));
        const reply = (result: unknown) => json(res, 200, { jsonrpc: "2.0", id: message.id, result }, { "mcp-session-id": "fake-session" });
        switch (message.method) {
          case "initialize":
            return reply({
              protocolVersion: message.params?.protocolVersion ?? "2025-06-18",
              capabilities: { tools: {} },
              serverInfo: { name: "ts-client-fake", version: "1.0.0" },
            });
          case "tools/list":
            return reply({
              tools: [
                {
                  name: "echo",
                  description: "Echoes its input.",
                  inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
                },
              ],
            });
          case "tools/call":
            return reply({ content: [{ type: "text", text: String(message.params?.arguments?.text ?? "") }] });
          case "ping":
            return reply({});
          default:
            if (message.id === undefined) {
              res.writeHead(202).end();
              return;
            }
            return json(res, 200, { jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "no such method" } });
        }
      }
      if (path === "/mcp" && req.method === "DELETE") {
        res.writeHead(200).end();
        return;
      }
      if (path === "/mcp") {
        res.writeHead(405, { allow: "POST" }).end();
        return;
      }
      if (path === "/.well-known/oauth-protected-resource/mcp" || path === "/.well-known/oauth-protected-resource") {
        return json(res, 200, { resource: `${origin}/mcp`, authorization_servers: [origin] });
      }
      if (path === "/.well-known/oauth-authorization-server") {
        return json(res, 200, {
          issuer: origin,
          authorization_endpoint: `${origin}/authorize`,
          token_endpoint: `${origin}/token`,
          registration_endpoint: `${origin}/register`,
          code_challenge_methods_supported: ["S256"],
          response_types_supported: ["code"],
          grant_types_supported: ["authorization_code", "refresh_token"],
          scopes_supported: ["mcp"],
        });
      }
      if (path === "/register" && req.method === "POST") {
        const registration = JSON.parse((await body(req)) || "{}");
        return json(res, 201, {
          client_id: `client-${Math.random().toString(36).slice(2)}`,
          redirect_uris: registration.redirect_uris ?? [],
          token_endpoint_auth_method: "none",
        });
      }
      if (path === "/token" && req.method === "POST") {
        await body(req);
        state.tokenRequests++;
        return json(res, 200, {
          access_token: `at-${Math.random().toString(36).slice(2)}`,
          token_type: "Bearer",
          expires_in: 3600,
          refresh_token: `rt-${Math.random().toString(36).slice(2)}`,
          scope: "mcp",
        });
      }
      res.writeHead(404).end();
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    mcpUrl: `${origin}/mcp`,
    get tokenRequests() {
      return state.tokenRequests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
