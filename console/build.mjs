// Bundles the console (src/) with esbuild and writes the built files as C initializers for
// src/server/http_console.c: each file as it is and gzip-compressed, with its ETag.  The script
// and style sheet are named by their hash, so browsers keep them; index.html names them.
// usage: node build.mjs SRC DIST INC   (console/build.sh runs it beside its node_modules)
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, constants } from "node:zlib";

const [src, dist, inc] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const result = await build({
  entryPoints: [path.join(src, "app.js"), path.join(src, "app.css")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outdir: dist,
  entryNames: "[name]-[hash]",
  nodePaths: [path.join(here, "node_modules")],
  metafile: true,
  logLevel: "warning",
});
const built = Object.keys(result.metafile.outputs).map((o) => path.basename(o));
const named = (ext) => built.find((f) => f.startsWith("app-") && f.endsWith(ext));
const html = readFileSync(path.join(src, "index.html"), "utf8")
  .replace("{{app.js}}", named(".js"))
  .replace("{{app.css}}", named(".css"));
writeFileSync(path.join(dist, "index.html"), html);

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};
const files = [
  { url: "/console/", file: "index.html", immutable: 0 },
  { url: "/console/index.html", file: "index.html", immutable: 0 },
  { url: "/console/" + named(".js"), file: named(".js"), immutable: 1 },
  { url: "/console/" + named(".css"), file: named(".css"), immutable: 1 },
];
const bytes = (name, data) => {
  const lines = [];
  for (let i = 0; i < data.length; i += 20)
    lines.push("    " + Array.from(data.subarray(i, i + 20), (b) => b + ",").join(""));
  return `static const unsigned char ${name}[] = {\n${lines.join("\n")}\n};\n`;
};
let out = "/* Written by console/build.mjs from console/src: do not edit. */\n";
const rows = [];
const seen = new Map();
for (const f of files) {
  let id = seen.get(f.file);
  if (id === undefined) {
    id = seen.size;
    seen.set(f.file, id);
    const raw = readFileSync(path.join(dist, f.file));
    const gz = gzipSync(raw, { level: constants.Z_BEST_COMPRESSION });
    out += bytes(`console_raw_${id}`, raw) + bytes(`console_gz_${id}`, gz);
  }
  const raw = readFileSync(path.join(dist, f.file));
  const etag = '"' + createHash("sha256").update(raw).digest("hex").slice(0, 32) + '"';
  rows.push(`    {"${f.url}", "${types[path.extname(f.file)]}", ${JSON.stringify(etag)}, ${f.immutable},\n` +
            `     console_raw_${id}, sizeof console_raw_${id}, console_gz_${id}, sizeof console_gz_${id}},`);
}
out += `static const console_asset console_assets[] = {\n${rows.join("\n")}\n};\n`;
writeFileSync(inc + ".tmp", out);
renameSync(inc + ".tmp", inc);
