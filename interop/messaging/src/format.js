// Markdown (as models write it) -> platform text, split at message length limits
// without cutting inside a code block or an entity.
//
// The answer is parsed into blocks: fenced code blocks and paragraphs. A paragraph is
// a list of segments, each a run of text with a set of styles (bold, italic, strike,
// code, link). Platform renderers turn segments into Telegram HTML or WhatsApp's
// markup; since every chunk is generated from the structure, tags are always balanced
// and a code block cut in two is closed at the end of one chunk and reopened at the
// start of the next.

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;

/** @typedef {{text: string, b?: boolean, i?: boolean, s?: boolean, code?: boolean, href?: string}} Segment */
/** @typedef {{type: "code", lang: string, text: string} | {type: "para", segments: Segment[]}} Block */

/** Splits markdown into code blocks and paragraphs. An unclosed fence runs to the end. */
export function parseBlocks(md) {
  const lines = String(md).replace(/\r\n?/g, "\n").split("\n");
  /** @type {Block[]} */
  const blocks = [];
  let para = [];
  const flushPara = () => {
    if (para.length) blocks.push({ type: "para", segments: parseParagraph(para) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const m = FENCE.exec(line);
    if (m) {
      flushPara();
      const fence = m[1];
      const code = [];
      i++;
      while (i < lines.length) {
        const close = lines[i].trim();
        if (close.length >= fence.length && close[0] === fence[0] && /^(`+|~+)$/.test(close)) break;
        code.push(lines[i]);
        i++;
      }
      blocks.push({ type: "code", lang: m[2] || "", text: code.join("\n") });
      continue;
    }
    if (line.trim() === "") flushPara();
    else para.push(line);
  }
  flushPara();
  return blocks;
}

function parseParagraph(lines) {
  /** @type {Segment[]} */
  const out = [];
  lines.forEach((raw, n) => {
    if (n > 0) out.push({ text: "\n" });
    let line = raw;
    let heading = false;
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      line = h[1];
      heading = true;
    }
    const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
    if (bullet && !heading) {
      out.push({ text: `${bullet[1]}• ` });
      line = bullet[2];
    }
    for (const seg of parseInline(line)) out.push(heading ? { ...seg, b: true } : seg);
  });
  return mergeSegments(out);
}

/** Inline markdown: `code`, **bold**, __bold__, *italic*, _italic_, ~~strike~~, [text](url). */
export function parseInline(text, style = {}) {
  /** @type {Segment[]} */
  const out = [];
  let buf = "";
  const flush = () => {
    if (buf) out.push({ ...style, text: buf });
    buf = "";
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length && /[\\`*_~[\]()#+\-.!|>]/.test(text[i + 1])) {
      buf += text[i + 1];
      i += 2;
      continue;
    }
    if (c === "`") {
      let n = 1;
      while (text[i + n] === "`") n++;
      const ticks = "`".repeat(n);
      const end = text.indexOf(ticks, i + n);
      if (end > i + n - 1 && end !== -1) {
        flush();
        let code = text.slice(i + n, end);
        if (/^ .* $/.test(code)) code = code.slice(1, -1);
        out.push({ ...style, text: code, code: true });
        i = end + n;
        continue;
      }
    }
    if (c === "[") {
      const m = /^\[([^\]\n]+)\]\(([^)\s]+)\)/.exec(text.slice(i));
      if (m && /^(https?:|mailto:|tg:)/i.test(m[2])) {
        flush();
        for (const seg of parseInline(m[1], { ...style })) out.push({ ...seg, href: m[2] });
        i += m[0].length;
        continue;
      }
    }
    const pair = delimiterAt(text, i);
    if (pair) {
      const { open, key } = pair;
      const end = findClose(text, i + open.length, open);
      if (end !== -1) {
        flush();
        const inner = text.slice(i + open.length, end);
        for (const seg of parseInline(inner, { ...style, [key]: true })) out.push(seg);
        i = end + open.length;
        continue;
      }
    }
    buf += c;
    i++;
  }
  flush();
  return out;
}

function delimiterAt(text, i) {
  const two = text.slice(i, i + 2);
  if (two === "**" || two === "__") return { open: two, key: "b" };
  if (two === "~~") return { open: two, key: "s" };
  const c = text[i];
  if (c === "*" || c === "_") {
    // `_` only at a word boundary (snake_case stays as is); neither before a space.
    if (c === "_" && i > 0 && /[\p{L}\p{N}]/u.test(text[i - 1])) return null;
    if (!text[i + 1] || /\s/.test(text[i + 1])) return null;
    return { open: c, key: "i" };
  }
  return null;
}

function findClose(text, from, delim) {
  let j = from;
  while (j < text.length) {
    const k = text.indexOf(delim, j);
    if (k === -1 || k === from) return k === from ? findClose(text, from + 1, delim) : -1;
    const before = text[k - 1];
    const after = text[k + delim.length];
    const okBefore = before && !/\s/.test(before);
    const okAfter = delim[0] !== "_" || !after || !/[\p{L}\p{N}]/u.test(after);
    // `*` alone must not be half of `**`.
    const single = delim.length === 1 && (text[k + 1] === delim || before === delim);
    if (okBefore && okAfter && !single) return k;
    j = k + 1;
  }
  return -1;
}

function sameStyle(a, b) {
  return !!a.b === !!b.b && !!a.i === !!b.i && !!a.s === !!b.s && !!a.code === !!b.code && a.href === b.href;
}

function mergeSegments(segs) {
  const out = [];
  for (const s of segs) {
    if (!s.text) continue;
    const last = out[out.length - 1];
    if (last && sameStyle(last, s)) last.text += s.text;
    else out.push({ ...s });
  }
  return out;
}

// ---- renderers ----

export function escapeHtml(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function escapeAttr(s) {
  return escapeHtml(s).replace(/"/g, "&quot;");
}

/** Telegram HTML (parse_mode "HTML"); length is what Telegram counts: the text after entity parsing. */
export const telegramRenderer = {
  segments(segs) {
    return segs
      .map((s) => {
        let h = escapeHtml(s.text);
        if (s.code) h = `<code>${h}</code>`;
        if (s.s) h = `<s>${h}</s>`;
        if (s.i) h = `<i>${h}</i>`;
        if (s.b) h = `<b>${h}</b>`;
        if (s.href) h = `<a href="${escapeAttr(s.href)}">${h}</a>`;
        return h;
      })
      .join("");
  },
  segmentsLength(segs) {
    return segs.reduce((n, s) => n + s.text.length, 0);
  },
  code(lang, text) {
    const cls = lang ? ` class="language-${escapeAttr(lang.replace(/[^\w+#.-]/g, ""))}"` : "";
    return `<pre><code${cls}>${escapeHtml(text)}</code></pre>`;
  },
  codeLength(_lang, text) {
    return text.length;
  },
  codeOverhead() {
    return 0;
  },
};

/** WhatsApp markup: *bold*, _italic_, ~strike~, `code`, ``` blocks; length is the raw body. */
export const whatsappRenderer = {
  segments(segs) {
    return segs
      .map((s) => {
        let t = s.text;
        if (s.code) return t.includes("`") ? t : `\`${t}\``;
        const trimmed = t.trim();
        if (trimmed && (s.b || s.i || s.s)) {
          const lead = t.slice(0, t.indexOf(trimmed));
          const tail = t.slice(lead.length + trimmed.length);
          let core = trimmed;
          if (s.s) core = `~${core}~`;
          if (s.i) core = `_${core}_`;
          if (s.b) core = `*${core}*`;
          t = lead + core + tail;
        }
        if (s.href && s.href !== s.text) t += ` (${s.href})`;
        return t;
      })
      .join("");
  },
  segmentsLength(segs) {
    return this.segments(segs).length;
  },
  code(_lang, text) {
    return "```\n" + text + "\n```";
  },
  codeLength(lang, text) {
    return this.code(lang, text).length;
  },
  codeOverhead() {
    return 8;
  },
};

// ---- splitting ----

const SEP = "\n\n";

/**
 * Renders markdown into chunks of at most `limit` (as the renderer counts), each a
 * complete, well-formed message.
 * @returns {string[]}
 */
export function renderChunks(md, renderer, limit) {
  if (limit < 64) throw new Error("limit too small");
  const units = [];
  for (const block of parseBlocks(md)) {
    if (block.type === "code") units.push(...splitCode(block, renderer, limit));
    else units.push(...splitPara(block.segments, renderer, limit));
  }
  const chunks = [];
  let cur = [];
  let size = 0;
  for (const u of units) {
    const add = (cur.length ? SEP.length : 0) + u.len;
    if (cur.length && size + add > limit) {
      chunks.push(cur.join(SEP));
      cur = [];
      size = 0;
    }
    size += (cur.length ? SEP.length : 0) + u.len;
    cur.push(u.out);
  }
  if (cur.length) chunks.push(cur.join(SEP));
  return chunks.filter((c) => c.trim() !== "");
}

function splitCode(block, r, limit) {
  const max = limit - r.codeOverhead(block.lang);
  const pieces = [];
  let cur = null; // lines of the current piece, or null when it holds none
  for (const line0 of block.text.split("\n")) {
    let line = line0;
    while (line.length > max) {
      if (cur !== null) pieces.push(cur);
      let cut = max;
      if (isLowSurrogate(line.charCodeAt(cut))) cut--;
      pieces.push(line.slice(0, cut));
      cur = null;
      line = line.slice(cut);
    }
    if (cur === null) cur = line;
    else if (r.codeLength(block.lang, `${cur}\n${line}`) > limit) {
      pieces.push(cur);
      cur = line;
    } else cur = `${cur}\n${line}`;
  }
  if (cur !== null) pieces.push(cur);
  return pieces.map((text) => ({ out: r.code(block.lang, text), len: r.codeLength(block.lang, text) }));
}

function isLowSurrogate(c) {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Splits a paragraph's segments at line breaks, then at spaces, then anywhere (not inside a surrogate pair). */
function splitPara(segs, r, limit) {
  const len = r.segmentsLength(segs);
  if (len <= limit) return [{ out: r.segments(segs), len }];
  // Tokens: pieces of segments that end at a newline or after whitespace.
  const tokens = [];
  for (const s of segs) {
    const parts = s.text.match(/[^\s]+\s*|\s+/g) || [];
    for (const p of parts) tokens.push({ ...s, text: p });
  }
  const units = [];
  let cur = [];
  const flush = () => {
    if (cur.length) {
      const merged = mergeSegments(trimEnd(cur));
      if (merged.length) units.push({ out: r.segments(merged), len: r.segmentsLength(merged) });
    }
    cur = [];
  };
  for (let t of tokens) {
    while (r.segmentsLength([t]) > limit) {
      flush();
      let cut = Math.max(1, limit - 16);
      if (isLowSurrogate(t.text.charCodeAt(cut))) cut--;
      const head = { ...t, text: t.text.slice(0, cut) };
      units.push({ out: r.segments([head]), len: r.segmentsLength([head]) });
      t = { ...t, text: t.text.slice(cut) };
    }
    if (cur.length && r.segmentsLength(mergeSegments([...cur, t])) > limit) flush();
    if (!cur.length) t = { ...t, text: t.text.replace(/^\s+/, "") };
    if (t.text) cur.push(t);
  }
  flush();
  return units;
}

function trimEnd(segs) {
  const out = segs.map((s) => ({ ...s }));
  while (out.length) {
    const last = out[out.length - 1];
    last.text = last.text.replace(/\s+$/, "");
    if (last.text) break;
    out.pop();
  }
  return out;
}

/** Plain text of a Telegram HTML message as Telegram shows it (for tests and stand-ins). */
export function htmlToText(html) {
  return html
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, "&");
}

/**
 * For WhatsApp "paragraphs" streaming: the part of a growing answer that is complete
 * (up to the last blank line outside a code fence), or "" when none is.
 */
export function completedPrefix(md) {
  const lines = md.split("\n");
  let inFence = null;
  let pos = 0;
  let lastBoundary = 0;
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i];
    pos += line.length + 1;
    const m = FENCE.exec(line);
    if (inFence) {
      const t = line.trim();
      if (t.length >= inFence.length && t[0] === inFence[0] && /^(`+|~+)$/.test(t)) inFence = null;
    } else if (m) inFence = m[1];
    else if (line.trim() === "") lastBoundary = pos;
  }
  return md.slice(0, lastBoundary);
}
