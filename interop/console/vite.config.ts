// Builds the console into crates/gateway/console with stable file names, so the
// gateway embeds it with `include_bytes!` and a Rust build never needs npm.
// CONSOLE_OUT_DIR overrides the output directory (scripts/check-dist.mjs builds into
// a temporary one and compares).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  base: "/ui/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  resolve: {
    // The TS client loads `ws` only in Node without a global WebSocket; browsers have
    // one, so the bundle gets a stub instead of the package.
    alias: { ws: here("./src/no-ws.ts") },
  },
  build: {
    outDir: process.env.CONSOLE_OUT_DIR ?? here("../../crates/gateway/console"),
    emptyOutDir: true,
    // Vite's preload helper and polyfill are the only things that could put inline
    // script in index.html; one bundle needs neither, and the CSP forbids inline code.
    modulePreload: false,
    sourcemap: false,
    target: "es2022",
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 200,
    rollupOptions: {
      output: {
        inlineDynamicImports: true,
        entryFileNames: "assets/console.js",
        assetFileNames: (asset) =>
          asset.names.some((name) => name.endsWith(".css")) ? "assets/console.css" : "assets/[name][extname]",
      },
    },
  },
});
