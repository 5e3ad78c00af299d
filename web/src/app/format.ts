export function timeOf(iso: string): string {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function dayOf(iso: string): string {
  const d = new Date(iso);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return timeOf(iso);
  return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

/** "Online", "Last seen just now", "Last seen 5 min ago", "Last seen today at 10:20", "Last seen Nov 3". */
export function presenceText(p: { online: boolean; last_seen_at: string | null } | null, now = Date.now()): string {
  if (!p) return '';
  if (p.online) return 'Online';
  if (!p.last_seen_at) return 'Offline';
  const t = Date.parse(p.last_seen_at);
  const mins = Math.floor((now - t) / 60_000);
  if (mins < 1) return 'Last seen just now';
  if (mins < 60) return `Last seen ${mins} min ago`;
  const d = new Date(t);
  if (d.toDateString() === new Date(now).toDateString()) return `Last seen today at ${timeOf(p.last_seen_at)}`;
  return `Last seen ${d.toLocaleDateString([], { month: 'short', day: 'numeric' })}`;
}

export function ago(iso: string, now = Date.now()): string {
  const mins = Math.floor((now - Date.parse(iso)) / 60_000);
  if (mins < 1) return 'just now';
  if (mins < 60) return `${mins} min ago`;
  const h = Math.floor(mins / 60);
  if (h < 24) return `${h} h ago`;
  return new Date(iso).toLocaleDateString([], { month: 'short', day: 'numeric' });
}
