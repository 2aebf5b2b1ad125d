// A real OAuth 2 authorization server for auth-registry's integration test:
// oauth2-mock-server (auto-approving /authorize, /token, /revoke, OpenID discovery)
// plus what an MCP deployment adds around it, all on one loopback port:
//
//   GET  /mcp                                       401 + WWW-Authenticate: Bearer resource_metadata=…
//   POST /mcp                                       a real MCP server (the MCP SDK, stateless
//                                                   Streamable HTTP) with one tool, `whoami`,
//                                                   for bearer tokens this server issued only
//   POST /admin/revoke-access-tokens                every access token issued so far is refused
//   GET  /admin/tokens                              every access and refresh token issued (for
//                                                   tests that scan where tokens must not be)
//   GET  /.well-known/oauth-protected-resource/mcp  RFC 9728 metadata naming this issuer
//   GET  /.well-known/oauth-authorization-server    RFC 8414 metadata (+ registration_endpoint)
//   POST /register                                  RFC 7591: a fresh client_id
//   POST /admin/revoke-refresh-tokens               later refreshes answer invalid_grant
//   GET  /admin/stats                               {"refreshes": n, "registrations": n}
//
// Usage: node oauth-server.mjs <port>. Prints "ready <issuer>" once listening.
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { OAuth2Server } from 'oauth2-mock-server';

const port = Number.parseInt(process.argv[2] ?? '0', 10);
const host = '127.0.0.1';
const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');

const stats = { refreshes: 0, registrations: 0 };
let refreshTokensRevoked = false;

// Access tokens this server issued and did not revoke: what POST /mcp accepts.
const accessTokens = new Set();
// Every token issued, revoked or not.
const issued = [];

server.service.on('beforeResponse', (response, req) => {
  for (const field of ['access_token', 'refresh_token', 'id_token']) {
    if (typeof response.body?.[field] === 'string') {
      issued.push(response.body[field]);
    }
  }
  if (req.body?.grant_type !== 'refresh_token') {
    if (typeof response.body?.access_token === 'string') {
      accessTokens.add(response.body.access_token);
    }
    return;
  }
  stats.refreshes += 1;
  if (refreshTokensRevoked) {
    response.statusCode = 400;
    response.body = { error: 'invalid_grant', error_description: 'refresh token revoked' };
  } else if (typeof response.body?.access_token === 'string') {
    accessTokens.add(response.body.access_token);
  }
});

// The mock's express app: routes added after its own serve paths it does not have.
const app = server.service.requestHandler;

await server.start(port, host);
const issuer = server.issuer.url;

app.get('/mcp', (_req, res) => {
  res
    .status(401)
    .set('WWW-Authenticate', `Bearer resource_metadata="${issuer}/.well-known/oauth-protected-resource/mcp"`)
    .json({ error: 'unauthorized' });
});

app.get('/.well-known/oauth-protected-resource/mcp', (_req, res) => {
  res.json({ resource: `${issuer}/mcp`, authorization_servers: [issuer] });
});

app.get('/.well-known/oauth-authorization-server', (_req, res) => {
  res.json({
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    revocation_endpoint: `${issuer}/revoke`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
  });
});

app.post('/register', (req, res) => {
  const redirectUris = req.body?.redirect_uris;
  if (!Array.isArray(redirectUris) || redirectUris.length === 0) {
    res.status(400).json({ error: 'invalid_redirect_uri' });
    return;
  }
  stats.registrations += 1;
  res.status(201).json({
    client_id: randomUUID(),
    client_id_issued_at: Math.floor(Date.now() / 1000),
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none',
  });
});

app.post('/mcp', async (req, res) => {
  const header = req.headers.authorization ?? '';
  const token = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  if (!accessTokens.has(token)) {
    res
      .status(401)
      .set('WWW-Authenticate', `Bearer resource_metadata="${issuer}/.well-known/oauth-protected-resource/mcp"`)
      .json({ error: 'invalid_token' });
    return;
  }
  stats.mcpCalls = (stats.mcpCalls ?? 0) + 1;
  const mcp = new McpServer({ name: 'protected', version: '1.0.0' });
  mcp.registerTool(
    'whoami',
    { description: 'Says whether the caller is authorized.', inputSchema: {} },
    async () => ({ content: [{ type: 'text', text: 'authorized by the OAuth server' }] }),
  );
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    transport.close();
    mcp.close();
  });
  await mcp.connect(transport);
  await transport.handleRequest(req, res, typeof req.body === 'object' ? req.body : undefined);
});

app.post('/admin/revoke-access-tokens', (_req, res) => {
  accessTokens.clear();
  res.json({ revoked: true });
});

app.post('/admin/revoke-refresh-tokens', (_req, res) => {
  refreshTokensRevoked = true;
  res.json({ revoked: true });
});

app.get('/admin/tokens', (_req, res) => {
  res.json({ tokens: issued });
});

app.get('/admin/stats', (_req, res) => {
  res.json(stats);
});

process.stdout.write(`ready ${issuer}\n`);

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The test closes our stdin when it is done (or dies): stop with it.
process.stdin.on('end', stop);
process.stdin.resume();
