/**
 * Who of the user's friends is online: the map the realtime client keeps from
 * `presence_snapshot` (sent right after each `ready`: the friends online now) and `presence`
 * frames (changes), optionally seeded from REST (`GET /v1/friends`, `GET /v1/users/{id}`).
 *
 * Only friends appear, and never friends who hide their presence (they look offline). A
 * friendship that ends stops the frames without a last "offline" one, so {@link forget} drops
 * that user (the realtime client does it on a `friend_removed` notice; an app does it after it
 * unfriends or blocks someone itself, since the actor gets no notice).
 */
import { Emitter } from './emitter';
import type { PresenceChange } from './frames';
import type { PresenceView, Timestamp, UserId } from './types';

export interface PresenceState {
  online: boolean;
  /** When they were last online (known once they went offline, or from REST). */
  last_seen_at: Timestamp | null;
}

/** One change of the map: `known: false` when the user was dropped ({@link PresenceTracker.forget}). */
export interface PresenceUpdate extends PresenceState {
  user_id: UserId;
  known: boolean;
}

interface Entry extends PresenceState {
  /** Logical time of the last realtime update (see {@link PresenceTracker.mark}). */
  v: number;
}

export class PresenceTracker extends Emitter<{ change: PresenceUpdate }> {
  private map = new Map<UserId, Entry>();
  private clock = 0;

  /** The friends online now, from a `presence_snapshot`: everyone else known goes offline. */
  snapshot(online: readonly UserId[]): void {
    const v = ++this.clock;
    const now = new Set(online);
    for (const [id, e] of this.map) {
      if (!now.has(id)) this.set(id, { online: false, last_seen_at: e.last_seen_at }, v);
    }
    for (const id of now) this.set(id, { online: true, last_seen_at: this.map.get(id)?.last_seen_at ?? null }, v);
  }

  /** A `presence` frame. */
  update(p: PresenceChange): void {
    const prev = this.map.get(p.user_id);
    this.set(
      p.user_id,
      { online: p.online, last_seen_at: p.last_seen_at ?? prev?.last_seen_at ?? null },
      ++this.clock,
    );
  }

  /**
   * The logical time now: pass it to {@link seed} with a REST answer requested after this call,
   * so an answer older than a realtime update does not undo it.
   */
  mark(): number {
    return this.clock;
  }

  /**
   * Presence from REST (`Friend` or `Profile` objects). Users updated over realtime after `since`
   * (a {@link mark} taken before the request) keep what realtime said. A user without `online`
   * (not a friend, or hiding) counts as offline.
   */
  seed(users: readonly ({ id: UserId } & PresenceView)[], since = this.clock): void {
    for (const u of users) {
      const prev = this.map.get(u.id);
      if (prev && prev.v > since) continue;
      this.set(u.id, { online: u.online === true, last_seen_at: u.last_seen_at ?? prev?.last_seen_at ?? null }, prev?.v ?? 0);
    }
  }

  /** Drops a user (the friendship ended: no more frames will come about them). */
  forget(id: UserId): void {
    if (!this.map.delete(id)) return;
    this.emit('change', { user_id: id, online: false, last_seen_at: null, known: false });
  }

  get(id: UserId): PresenceState | undefined {
    const e = this.map.get(id);
    return e ? { online: e.online, last_seen_at: e.last_seen_at } : undefined;
  }

  isOnline(id: UserId): boolean {
    return this.map.get(id)?.online === true;
  }

  /** Everyone known online now. */
  online(): UserId[] {
    return [...this.map].filter(([, e]) => e.online).map(([id]) => id);
  }

  /** Every known user's state. */
  entries(): [UserId, PresenceState][] {
    return [...this.map].map(([id, e]) => [id, { online: e.online, last_seen_at: e.last_seen_at }]);
  }

  clear(): void {
    for (const id of [...this.map.keys()]) this.forget(id);
  }

  private set(id: UserId, s: PresenceState, v: number): void {
    const prev = this.map.get(id);
    this.map.set(id, { ...s, v: Math.max(v, prev?.v ?? 0) });
    if (prev && prev.online === s.online && prev.last_seen_at === s.last_seen_at) return;
    this.emit('change', { user_id: id, ...s, known: true });
  }
}
