// One JSON line per log record on stderr. Secrets registered with redact() never
// appear: every record is scrubbed before it is written.
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 };
const secrets = new Set();

export function redact(value) {
  if (value && String(value).length >= 4) secrets.add(String(value));
}

function scrub(text) {
  let out = text;
  for (const s of secrets) out = out.split(s).join("***");
  // Telegram bot tokens in URLs (`/bot123:ABC/`), whatever their source.
  return out.replace(/bot\d+:[A-Za-z0-9_-]{20,}/g, "bot***");
}

export function createLogger(level = "info", stream = process.stderr) {
  const min = LEVELS[level] ?? LEVELS.info;
  const write = (lvl, msg, fields) => {
    if (LEVELS[lvl] < min) return;
    const rec = { t: new Date().toISOString(), level: lvl, msg, ...fields };
    for (const [k, v] of Object.entries(rec)) {
      if (v instanceof Error) rec[k] = v.stack || v.message;
    }
    stream.write(`${scrub(JSON.stringify(rec))}\n`);
  };
  return {
    debug: (msg, f) => write("debug", msg, f),
    info: (msg, f) => write("info", msg, f),
    warn: (msg, f) => write("warn", msg, f),
    error: (msg, f) => write("error", msg, f),
  };
}
