// Builds ../ts-client (the @lightspeed/agent-client this package links to) when its
// dist/ is missing: its build output is not committed. Runs before `npm test` and
// `npm start`; a no-op once built.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "ts-client");
if (!existsSync(join(dir, "dist", "index.js"))) {
  const run = (cmd) => execSync(cmd, { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
  if (!existsSync(join(dir, "node_modules", "typescript"))) run("npm ci --no-audit --no-fund");
  run("npm run build");
}
