/**
 * Runs a real `parley-node dev` for a test: a free port, a temp data dir (its own Postgres), the
 * built app served at `/`. `kill9()` + `start()` restarts it on the same data dir and port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
export const REPO_DIR = resolve(WEB_DIR, '..');

export function nodeBinary(): string {
  const bin = process.env.PARLEY_NODE_BIN ?? join(REPO_DIR, 'target', 'debug', 'parley-node');
  if (!existsSync(bin)) throw new Error(`parley-node not found at ${bin} (build it, or set PARLEY_NODE_BIN)`);
  return bin;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export interface NodeOptions {
  webDir?: string;
  /** Keep the data dir afterwards (debugging). */
  keep?: boolean;
}

/** Dev mode's embedded object store, as its `object_store` line prints it. */
export interface ObjectStoreInfo {
  endpoint: string;
  bucket: string;
  region: string;
  access_key_id: string;
  secret_access_key: string;
}

export class DevNode {
  readonly dataDir: string;
  port = 0;
  /** The private cluster's port (from dev mode's log). */
  postgresPort = 0;
  objectStore: ObjectStoreInfo | null = null;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  log: string[] = [];

  constructor(private readonly opts: NodeOptions = {}) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'parley-webtest-'));
    // As root, dev mode runs Postgres as the `postgres` user, which must reach the directory.
    chmodSync(this.dataDir, 0o755);
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/ws`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts (or restarts) the node; resolves on its `listening` line. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.child) throw new Error('already running');
    if (!this.port) this.port = await freePort();
    const args = ['dev', '--data-dir', this.dataDir, '--http', `127.0.0.1:${this.port}`, '--quic', '127.0.0.1:0'];
    if (this.opts.webDir) args.push('--web-dir', this.opts.webDir);
    const child = spawn(nodeBinary(), args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    });
    this.child = child;
    this.exited = new Promise((res) => child.once('exit', () => res()));
    const stderr = createInterface({ input: child.stderr! });
    stderr.on('line', (l) => {
      const pg = /^postgres: private cluster in .* on port (\d+)/.exec(l);
      if (pg) this.postgresPort = Number(pg[1]);
      this.log.push(l);
      if (this.log.length > 400) this.log.shift();
    });
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`parley-node did not start in ${timeoutMs} ms:\n${this.tail()}`)), timeoutMs);
      const out = createInterface({ input: child.stdout! });
      out.on('line', (l) => {
        this.log.push(l);
        try {
          const j = JSON.parse(l) as { event?: string } & ObjectStoreInfo;
          if (j.event === 'object_store') this.objectStore = j;
          if (j.event === 'listening') {
            clearTimeout(timer);
            res();
          }
        } catch {
          /* not JSON */
        }
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        rej(new Error(`parley-node exited (${code ?? sig}) before listening:\n${this.tail()}`));
      });
    });
  }

  tail(n = 30): string {
    return this.log.slice(-n).join('\n');
  }

  /** SIGKILL: no goodbye to clients, Postgres left running for the next start to adopt. */
  async kill9(): Promise<void> {
    const c = this.child;
    if (!c) return;
    this.child = null;
    c.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait (it stops its Postgres too). */
  async stop(): Promise<void> {
    const c = this.child;
    if (c) {
      this.child = null;
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
      await this.exited;
      clearTimeout(t);
    }
    this.killOrphanPostgres();
  }

  /** After a SIGKILL with no restart, the cluster's postmaster is still ours to stop. */
  private killOrphanPostgres(): void {
    const pidFile = join(this.dataDir, 'postgres', 'postmaster.pid');
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        /* gone */
      }
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    if (!this.opts.keep) {
      // Give a SIGQUIT postmaster a moment before removing its directory.
      for (let i = 0; i < 20 && existsSync(join(this.dataDir, 'postgres', 'postmaster.pid')); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}

/**
 * A second node (`parley-node serve`) beside a {@link DevNode}: the same Postgres, signing key
 * and object store, its own port. Clients of the two meet only through Postgres, as in a fleet.
 */
export class PeerNode {
  port = 0;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  log: string[] = [];

  constructor(
    private readonly dev: DevNode,
    private readonly opts: { webDir?: string; nodeId?: string } = {},
  ) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    const s3 = this.dev.objectStore;
    if (!this.dev.postgresPort || !s3) throw new Error('start the dev node first (no postgres port or object store seen)');
    if (!this.port) this.port = await freePort();
    const args = ['serve', '--rest', '--http', `127.0.0.1:${this.port}`, '--quic', '127.0.0.1:0'];
    if (this.opts.webDir) args.push('--web-dir', this.opts.webDir);
    const child = spawn(nodeBinary(), args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        RUST_LOG: process.env.RUST_LOG ?? 'warn',
        DATABASE_URL: `postgres://postgres@127.0.0.1:${this.dev.postgresPort}/parley`,
        PARLEY_NODE_ID: this.opts.nodeId ?? 'peer',
        PARLEY_JWT_SIGNING_KEY: readFileSync(join(this.dev.dataDir, 'dev-signing-key'), 'utf8').trim(),
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: s3.bucket,
        S3_REGION: s3.region,
        S3_ACCESS_KEY_ID: s3.access_key_id,
        S3_SECRET_ACCESS_KEY: s3.secret_access_key,
      },
    });
    this.child = child;
    this.exited = new Promise((res) => child.once('exit', () => res()));
    createInterface({ input: child.stderr! }).on('line', (l) => {
      this.log.push(l);
      if (this.log.length > 400) this.log.shift();
    });
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`peer node did not start in ${timeoutMs} ms:\n${this.log.join('\n')}`)), timeoutMs);
      createInterface({ input: child.stdout! }).on('line', (l) => {
        this.log.push(l);
        try {
          if ((JSON.parse(l) as { event?: string }).event === 'listening') {
            clearTimeout(timer);
            res();
          }
        } catch {
          /* not JSON */
        }
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        rej(new Error(`peer node exited (${code ?? sig}) before listening:\n${this.log.join('\n')}`));
      });
    });
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c) return;
    this.child = null;
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(t);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` until it holds. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 32);
}
