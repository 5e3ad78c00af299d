import { ParleyError } from '../errors';
import type { Http } from '../http';
import type { Media, MediaId, MediaUpload, MediaUrl } from '../types';

/** Progress of one upload: bytes sent of the total. */
export interface UploadProgress {
  loaded: number;
  total: number;
}

export interface UploadOptions {
  onProgress?: (p: UploadProgress) => void;
  signal?: AbortSignal;
  /** The name stored with it (default: the file's name, else "upload"). */
  filename?: string;
}

/** Headers a browser sets itself and refuses from scripts. */
const FORBIDDEN = new Set(['content-length', 'host', 'connection']);

/**
 * `/v1/media*`: uploads straight to object storage by presigned URL (announce, `PUT`, complete),
 * and download URLs. The bytes never pass through Parley's servers.
 */
export class MediaApi {
  /** Presigned download URLs, until shortly before they expire. */
  private urls = new Map<string, { url: string; until: number }>();

  constructor(private readonly http: Http) {}

  /** Announces an upload: where to `PUT` it and with which headers. */
  create(body: { content_type: string; size: number; filename: string }): Promise<MediaUpload> {
    return this.http.request('POST', '/v1/media', { body });
  }

  /** Checks the uploaded object (size, type) and makes it attachable. */
  complete(id: MediaId): Promise<Media> {
    return this.http.request('POST', `/v1/media/${encodeURIComponent(id)}/complete`);
  }

  /**
   * Uploads a file or blob: announce, `PUT` with progress (XMLHttpRequest in browsers; fetch,
   * without intermediate progress, elsewhere), complete. Resolves with the completed medium, to
   * attach by its id (`media_ids`).
   */
  async upload(file: Blob, opts: UploadOptions = {}): Promise<Media> {
    const filename = opts.filename ?? (file as { name?: string }).name ?? 'upload';
    const contentType = file.type || 'application/octet-stream';
    const up = await this.create({ content_type: contentType, size: file.size, filename });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(up.upload_headers)) if (!FORBIDDEN.has(k.toLowerCase())) headers[k] = v;
    opts.onProgress?.({ loaded: 0, total: file.size });
    await put(up.upload_url, file, headers, opts);
    opts.onProgress?.({ loaded: file.size, total: file.size });
    return this.complete(up.media_id);
  }

  /**
   * A presigned URL of the medium (or its thumbnail), good for a few minutes: for `<img src>`
   * and links, which cannot carry a bearer token. Cached until a minute before it expires.
   */
  async url(id: MediaId, variant: 'original' | 'thumb' = 'original'): Promise<string> {
    const key = `${id}:${variant}`;
    const hit = this.urls.get(key);
    if (hit && hit.until > Date.now()) return hit.url;
    const r = await this.http.request<MediaUrl>('GET', `/v1/media/${encodeURIComponent(id)}`, {
      query: { variant, redirect: false },
    });
    this.urls.set(key, { url: r.url, until: Date.parse(r.expires_at) - 60_000 });
    return r.url;
  }
}

function put(url: string, body: Blob, headers: Record<string, string>, opts: UploadOptions): Promise<void> {
  const XHR = (globalThis as { XMLHttpRequest?: typeof XMLHttpRequest }).XMLHttpRequest;
  if (!XHR) {
    return fetch(url, { method: 'PUT', body, headers, signal: opts.signal }).then(
      (r) => {
        if (!r.ok) throw new ParleyError('network', `upload refused by the store: HTTP ${r.status}`, r.status);
      },
      (e: unknown) => {
        throw new ParleyError('network', `upload: ${(e as Error)?.message ?? e}`);
      },
    );
  }
  return new Promise((resolve, reject) => {
    const xhr = new XHR();
    xhr.open('PUT', url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => opts.onProgress?.({ loaded: e.loaded, total: e.lengthComputable ? e.total : body.size });
    xhr.onload = () =>
      xhr.status >= 200 && xhr.status < 300
        ? resolve()
        : reject(new ParleyError('network', `upload refused by the store: HTTP ${xhr.status}`, xhr.status));
    xhr.onerror = () => reject(new ParleyError('network', 'upload failed (network)'));
    xhr.onabort = () => reject(new ParleyError('closed', 'upload cancelled'));
    opts.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}
