// Builds ../ts-client (the @lightspeed/agent-client this package links to) when its
// dist/ is missing or older than its sources: its build output is not committed.
// Runs before `npm test` and `npm start`; a no-op when up to date.
import { execSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "ts-client");
const built = join(dir, "dist", "index.js");

function newestSource(d) {
  let newest = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

if (!existsSync(built) || statSync(built).mtimeMs < newestSource(join(dir, "src"))) {
  const run = (cmd) => execSync(cmd, { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
  if (!existsSync(join(dir, "node_modules", "typescript"))) run("npm ci --no-audit --no-fund");
  run("npm run build");
}
