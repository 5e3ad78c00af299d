import { useEffect, useState } from 'preact/hooks';
import type { Media } from '../../sdk';
import { useAppState } from '../hooks';

const THUMB_TRIES = 6;

/** A presigned URL for the medium: the thumbnail when there is (or soon will be) one. */
function useMediaUrl(m: Media, wantThumb: boolean): string | null {
  const state = useAppState();
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    (async () => {
      // A live event says `has_thumbnail` as of the send: the thumbnail job may still be running.
      if (wantThumb) {
        for (let i = 0; i < THUMB_TRIES && live; i++) {
          try {
            const u = await state.client.rest.media.url(m.id, 'thumb');
            if (live) setUrl(u);
            return;
          } catch {
            await new Promise((r) => setTimeout(r, 500 * (i + 1)));
          }
        }
      }
      const u = await state.client.rest.media.url(m.id, 'original');
      if (live) setUrl(u);
    })().catch(() => {});
    return () => {
      live = false;
    };
  }, [m.id, wantThumb]);
  return url;
}

function isImage(m: Media): boolean {
  return m.content_type.startsWith('image/');
}

/** An image inline (its thumbnail, opening the original), anything else as a download link. */
export function MediaView({ m }: { m: Media }) {
  const state = useAppState();
  const image = isImage(m);
  const url = useMediaUrl(m, image);
  const open = async () => {
    const u = await state.client.rest.media.url(m.id, 'original');
    window.open(u, '_blank', 'noopener');
  };
  if (image) {
    return (
      <button class="media image" aria-label={`Open image ${m.filename}`} onClick={() => void open()}>
        {url ? (
          <img src={url} alt={m.filename} width={m.width ?? undefined} height={m.height ?? undefined} loading="lazy" data-media={m.id} />
        ) : (
          <span class="media-placeholder">{m.filename}</span>
        )}
      </button>
    );
  }
  return (
    <button class="media file link" onClick={() => void open()}>
      Download {m.filename} ({formatSize(m.size)})
    </button>
  );
}

export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
