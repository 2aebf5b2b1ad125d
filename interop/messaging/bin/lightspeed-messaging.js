#!/usr/bin/env node
// lightspeed-messaging: the Telegram/WhatsApp bridge (configuration: README.md).
import { startBridge } from "../src/main.js";

let running;
try {
  running = await startBridge(process.env);
} catch (err) {
  process.stderr.write(`lightspeed-messaging: ${err.message}\n`);
  process.exit(1);
}
// A stray rejection is logged, not fatal: the state on disk is always consistent, but
// dying would stop every chat for one failed call.
process.on("unhandledRejection", (err) => running.log.error("unhandled rejection", { error: err }));
let stopping = false;
const shutdown = async (signal) => {
  if (stopping) process.exit(1);
  stopping = true;
  running.log.info("stopping", { signal });
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  await running.stop().catch((err) => running.log.error("stop failed", { error: err }));
  process.exit(0);
};
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
