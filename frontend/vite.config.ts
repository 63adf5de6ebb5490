import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const outDir = fileURLToPath(new URL("../annotation_ui/static/annotation_ui/", import.meta.url));

export default defineConfig({
  // Assets are served by Django from {% static 'annotation_ui/' %}; relative URLs keep that working.
  base: "./",
  resolve: {
    // Bare "events" (xmlbuilder2 via vtk.js) must resolve to the npm polyfill, not a browser-external stub.
    alias: { events: fileURLToPath(new URL("./node_modules/events/events.js", import.meta.url)) },
  },
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 6000,
    cssCodeSplit: false,
    rollupOptions: {
      input: fileURLToPath(new URL("./src/main.ts", import.meta.url)),
      preserveEntrySignatures: false,
      output: {
        format: "es",
        // One file: Django serves app.js by a fixed name, so no hashed chunks.
        codeSplitting: false,
        entryFileNames: "app.js",
        chunkFileNames: "chunks/[name].js",
        assetFileNames: (info) => (info.names.some((n) => n.endsWith(".css")) ? "app.css" : "assets/[name][extname]"),
      },
    },
  },
  worker: { format: "es" },
  test: {
    environment: "node",
    include: ["tests/**/*.test.ts"],
  },
});
