// The web console's static side: a handful of plain HTML/CSS/JS files in apiserver/console/, read once
// at start and served by the lifecycle API under /console/ (no CDN, no build step, nothing fetched
// from elsewhere at run time). The page holds the bearer token in sessionStorage and sends it in an
// Authorization header from JS: no cookie, so a cross-site form or image cannot act with the
// user's rights (CSRF). Every answer of this server carries a strict Content-Security-Policy
// (scripts only from this origin, no inline code) and nosniff, so injected markup cannot run.
import { readFileSync } from "node:fs";
import type Koa from "koa";
import type Router from "@koa/router";

export const consolePath = "/console/";

/** Sent with every answer of the lifecycle API (JSON included): only this origin's files, no inline code, no framing. */
export const securityHeaders: Readonly<Record<string, string>> = {
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

// Each file named literally (new URL("./console/…", import.meta.url)), so the image's module closure
// check (test/deploy/dockerfile.ts) sees them as run-time files.
const assetFiles: ReadonlyArray<{ file: string; type: string; url: URL }> = [
  { file: "index.html", type: "text/html; charset=utf-8", url: new URL("./console/index.html", import.meta.url) },
  { file: "app.js", type: "text/javascript; charset=utf-8", url: new URL("./console/app.js", import.meta.url) },
  { file: "app.css", type: "text/css; charset=utf-8", url: new URL("./console/app.css", import.meta.url) },
  { file: "favicon.svg", type: "image/svg+xml", url: new URL("./console/favicon.svg", import.meta.url) },
];

export interface ConsoleAsset {
  type: string;
  body: Buffer;
}

/** The console's files, read from apiserver/console/ (a missing file is a broken install: fail at start). */
export function loadConsoleAssets(): Map<string, ConsoleAsset> {
  return new Map(assetFiles.map(({ file, type, url }) => [file, { type, body: readFileSync(url) }]));
}

/** GET /console → /console/, /console/ → index.html, /console/<file> → that file; no token needed (the files hold no data). */
export function addConsoleRoutes<State>(router: Router<State>, assets: Map<string, ConsoleAsset>): void {
  const serve = (ctx: Koa.Context, file: string) => {
    const asset = assets.get(file);
    if (!asset) return; // falls through to the error boundary's 404
    ctx.type = asset.type;
    // Revalidate every time: a new version of the API server must not run with an old script.
    ctx.set("Cache-Control", "no-cache");
    ctx.body = asset.body;
  };
  router
    // The router ignores a trailing slash, so "/console" matches /console/ too: redirect only the bare
    // path (the page's relative asset URLs need the slash).
    .get("/console", (ctx, next) => {
      if (ctx.path !== "/console") return next();
      ctx.status = 301;
      ctx.redirect(consolePath);
    })
    .get(consolePath, (ctx) => serve(ctx as unknown as Koa.Context, "index.html"))
    .get(`${consolePath}:file`, (ctx) => serve(ctx as unknown as Koa.Context, ctx.params.file));
}
