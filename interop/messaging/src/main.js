// Starts the bridge: config, state, the Lightspeed client, the platforms and (when a
// webhook is used) the webhook server. Stops cleanly on SIGTERM/SIGINT.
import { Bridge } from "./bridge.js";
import { loadConfig, secretValues } from "./config.js";
import { WebhookServer } from "./http.js";
import { createLightspeed } from "./lightspeed.js";
import { createLogger, redact } from "./log.js";
import { StateStore } from "./state.js";
import { TelegramPlatform } from "./telegram.js";
import { WhatsAppPlatform } from "./whatsapp.js";

export async function startBridge(env = process.env) {
  const config = loadConfig(env);
  for (const s of secretValues(config)) redact(s);
  const log = createLogger(config.logLevel);
  const store = new StateStore(config.stateFile);
  await store.load();
  const ls = createLightspeed({ url: config.lightspeed.url, apiKey: config.lightspeed.apiKey });
  const bridge = new Bridge({ config, store, ls, log });
  const needsServer = config.whatsapp.enabled || (config.telegram.enabled && config.telegram.mode === "webhook");
  const server = needsServer ? new WebhookServer({ host: config.http.host, port: config.http.port, log }) : null;
  const platforms = [];
  if (config.telegram.enabled) platforms.push(new TelegramPlatform({ config, bridge, log, server }));
  if (config.whatsapp.enabled) platforms.push(new WhatsAppPlatform({ config, bridge, log, server }));
  for (const p of platforms) bridge.addPlatform(p);
  bridge.resume();
  if (server) await server.start();
  for (const p of platforms) await p.start();
  log.info("ready", {
    platforms: platforms.map((p) => p.id),
    httpPort: server?.port ?? null,
    stateFile: store.file,
  });
  const stop = async () => {
    for (const p of platforms) await p.stop();
    await bridge.stop();
    await server?.stop();
    ls.close();
    await store.save();
  };
  return { bridge, store, server, stop, log };
}
