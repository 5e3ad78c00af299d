// The worker's entry point (wrangler.toml `main`): the Rust worker built by worker-build
// (`scripts/build-edge` → edge/build/index.js + index_bg.wasm), wrapped so that nothing escapes as the
// runtime's bare 500.
//
// The Rust side already turns every error into the contract's envelope; what remains is a panic
// (a bug). In wasm32 it aborts, as a WebAssembly.RuntimeError thrown either out of the call or,
// when it happens in a spawned future (the usual case: the handler runs as one), out of a
// microtask, where it is an uncaught error and the fetch promise never settles (workerd would then
// answer its own text/plain 500 about a hung worker). So each request races the Rust fetch against
// the isolate's `error`/`unhandledrejection` events. The shim, whose listener runs first, marks
// the instance broken and re-instantiates the module on the next request; this wrapper answers
// the failed request(s) with `{"error":{"code":"internal","message":"internal error"}}` and logs
// the cause (Workers Logs), never showing a trace to the client.
import { WorkerEntrypoint } from "cloudflare:workers";
import Rust from "./build/index.js";

const INTERNAL = JSON.stringify({ error: { code: "internal", message: "internal error" } });

// The same rule as edge/src/cors.rs, so a browser can read the 500 too.
function allowedOrigin(env, request) {
  const origin = (request.headers.get("Origin") || "").trim().replace(/\/+$/, "");
  const config = typeof env.CORS_ORIGINS === "string" ? env.CORS_ORIGINS : "";
  if (!origin) return null;
  const allowed = config
    .split(",")
    .map((o) => o.trim().replace(/\/+$/, ""))
    .some((o) => o === "*" || (o !== "" && o.toLowerCase() === origin.toLowerCase()));
  return allowed ? request.headers.get("Origin") : null;
}

// Rejecters of the requests in flight in this isolate. A wasm abort breaks the instance they all
// run on, so an uncaught failure fails every one of them (none of them could answer any more).
const inFlight = new Set();
function failAll(cause) {
  for (const reject of inFlight) reject(cause);
}
addEventListener("error", (e) => failAll(e.error ?? e));
addEventListener("unhandledrejection", (e) => failAll(e.reason ?? e));

export default class ParleyEdge extends WorkerEntrypoint {
  async fetch(request) {
    let reject;
    const failed = new Promise((_, r) => {
      reject = r;
    });
    inFlight.add(reject);
    try {
      return await Promise.race([new Rust(this.ctx, this.env).fetch(request), failed]);
    } catch (e) {
      console.error("parley-edge: uncaught failure (a panic?)", e);
      const headers = new Headers({ "Content-Type": "application/json" });
      const origin = allowedOrigin(this.env, request);
      if (origin) {
        headers.set("Access-Control-Allow-Origin", origin);
        headers.set("Access-Control-Expose-Headers", "Retry-After");
        headers.append("Vary", "Origin");
      }
      return new Response(INTERNAL, { status: 500, headers });
    } finally {
      inFlight.delete(reject);
    }
  }
}
