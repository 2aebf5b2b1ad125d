// Builds the console into a temporary directory and fails when it differs from the
// committed build in crates/gateway/console (which the gateway embeds): run
// `npm run build` and commit the result after changing the console.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const committed = join(root, "../../crates/gateway/console");
const fresh = mkdtempSync(join(tmpdir(), "console-dist-"));

function files(dir) {
  const found = [];
  const walk = (at) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else found.push(relative(dir, path));
    }
  };
  walk(dir);
  return found.sort();
}

try {
  execFileSync("npx", ["vite", "build", "--logLevel", "warn"], {
    cwd: root,
    env: { ...process.env, CONSOLE_OUT_DIR: fresh },
    stdio: "inherit",
  });
  const want = files(fresh);
  const have = files(committed);
  const problems = [];
  for (const name of want) {
    if (!have.includes(name)) problems.push(`missing: ${name}`);
    else if (!readFileSync(join(fresh, name)).equals(readFileSync(join(committed, name)))) problems.push(`differs: ${name}`);
  }
  for (const name of have) if (!want.includes(name)) problems.push(`not built any more: ${name}`);
  if (problems.length > 0) {
    console.error(
      `crates/gateway/console is stale (the gateway embeds it):\n  ${problems.join("\n  ")}\n` +
        "Run `npm run build` in interop/console and commit crates/gateway/console.",
    );
    process.exitCode = 1;
  } else {
    console.log(`crates/gateway/console matches the sources (${want.length} files).`);
  }
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
