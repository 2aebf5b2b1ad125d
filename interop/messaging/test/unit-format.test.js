import assert from "node:assert/strict";
import { test } from "node:test";
import { completedPrefix, htmlToText, parseBlocks, renderChunks, telegramRenderer, whatsappRenderer } from "../src/format.js";
import { parseTelegramHtml } from "./fakes/telegram-server.js";

const norm = (s) => s.replace(/\s+/g, " ").trim();

test("markdown becomes Telegram HTML with escaping", () => {
  const [html] = renderChunks("**bold** _it_ `a<b>&c` [x](https://e.x/?a=1&b=2) 1 < 2 snake_case", telegramRenderer, 4096);
  assert.equal(
    html,
    '<b>bold</b> <i>it</i> <code>a&lt;b&gt;&amp;c</code> <a href="https://e.x/?a=1&amp;b=2">x</a> 1 &lt; 2 snake_case',
  );
  assert.equal(parseTelegramHtml(html), "bold it a<b>&c x 1 < 2 snake_case");
});

test("a code block split across messages is closed and reopened", () => {
  const lines = Array.from({ length: 400 }, (_, i) => `let x${i} = ${i} < ${i + 1}; // <tag> & more`);
  const md = `Here:\n\n\`\`\`js\n${lines.join("\n")}\n\`\`\`\n\nDone.`;
  const chunks = renderChunks(md, telegramRenderer, 4096);
  assert.ok(chunks.length >= 4, `${chunks.length} chunks`);
  const code = [];
  for (const c of chunks) {
    const visible = parseTelegramHtml(c); // throws on broken markup
    assert.ok(visible.length <= 4096);
    for (const m of c.matchAll(/<pre><code class="language-js">([\s\S]*?)<\/code><\/pre>/g)) code.push(htmlToText(m[1]));
  }
  assert.deepEqual(code.join("\n").split("\n"), lines);
  assert.ok(chunks[0].startsWith("Here:"));
  assert.ok(chunks[chunks.length - 1].endsWith("Done."));
});

test("WhatsApp chunks reopen ``` fences and stay under the limit", () => {
  const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${"x".repeat(20)}`);
  const md = `\`\`\`\n${lines.join("\n")}\n\`\`\``;
  const chunks = renderChunks(md, whatsappRenderer, 4096);
  assert.ok(chunks.length >= 2);
  for (const c of chunks) {
    assert.ok(c.length <= 4096);
    assert.ok(c.startsWith("```\n") && c.endsWith("\n```"), c.slice(0, 20));
  }
  assert.deepEqual(chunks.map((c) => c.slice(4, -4)).join("\n").split("\n"), lines);
});

test("a long paragraph splits at spaces without cutting styled text", () => {
  const words = Array.from({ length: 1500 }, (_, i) => `w${i}`).join(" ");
  const md = `start **${words}** end`;
  const chunks = renderChunks(md, telegramRenderer, 4096);
  assert.ok(chunks.length >= 2);
  for (const c of chunks) assert.ok(parseTelegramHtml(c).length <= 4096);
  assert.equal(norm(chunks.map((c) => parseTelegramHtml(c)).join(" ")), norm(`start ${words} end`));
});

test("one huge word is cut anyway, never above the limit", () => {
  const chunks = renderChunks("a".repeat(9000), telegramRenderer, 4096);
  assert.ok(chunks.every((c) => c.length <= 4096));
  assert.equal(chunks.join(""), "a".repeat(9000));
});

test("an unclosed fence (a streaming answer) renders as code", () => {
  const blocks = parseBlocks("text\n\n```py\nprint(1)");
  assert.deepEqual(blocks[1], { type: "code", lang: "py", text: "print(1)" });
});

test("completedPrefix stops at the last paragraph break outside code", () => {
  assert.equal(completedPrefix("a\n\nb"), "a\n\n");
  assert.equal(completedPrefix("a\n\n```\nx\n\ny"), "a\n\n");
  assert.equal(completedPrefix("abc"), "");
});
