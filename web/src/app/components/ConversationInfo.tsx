import { useEffect, useState } from 'preact/hooks';
import type { ConversationId, GroupMember, Role } from '../../sdk';
import { inviteLink } from '../groups';
import { useAppState } from '../hooks';
import { explain } from '../social';
import { Avatar, Bar, ErrorLine, FriendPicker } from './common';

const ROLES: Role[] = ['admin', 'member', 'guest'];
const MUTE_FOR: { label: string; ms: number | null }[] = [
  { label: '1 hour', ms: 3_600_000 },
  { label: '8 hours', ms: 8 * 3_600_000 },
  { label: '1 week', ms: 7 * 86_400_000 },
  { label: 'Always', ms: 100 * 365 * 86_400_000 },
];

function MemberRow({ id, m }: { id: ConversationId; m: GroupMember }) {
  const state = useAppState();
  const [error, setError] = useState<string | null>(null);
  const name = m.user.display_name || m.user.username;
  const me = m.user.id === state.me?.id;
  const manage = state.groups.outranks(id, m);
  const mutedNow = !!m.muted_until && Date.parse(m.muted_until) > Date.now();
  const run = (fn: () => Promise<void>) => fn().catch((e) => setError(explain(e)));
  return (
    <li class="person" data-member={m.user.username}>
      <Avatar user={m.user} name={name} presence={state.social.presenceOf(m.user.id)} />
      <span class="person-main">
        <span>
          {name}
          {me ? ' (you)' : ''}
          <br />
          <span class="tag">
            {m.role}
            {mutedNow ? ' · muted' : ''}
          </span>
        </span>
      </span>
      {manage && (
        <span class="actions">
          <label class="visually-hidden" for={`role-${m.user.id}`}>
            Role of {name}
          </label>
          <select id={`role-${m.user.id}`} value={m.role} onChange={(e) => run(() => state.groups.setRole(id, m.user.id, e.currentTarget.value as Role))}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
          <button
            class="secondary"
            aria-label={`${mutedNow ? 'Unmute' : 'Mute'} ${name}`}
            onClick={() => run(() => state.groups.muteMember(id, m.user.id, mutedNow ? null : new Date(Date.now() + 3_600_000).toISOString()))}
          >
            {mutedNow ? 'Unmute' : 'Mute 1 h'}
          </button>
          <button class="secondary" aria-label={`Remove ${name}`} onClick={() => run(() => state.groups.remove(id, m.user.id))}>
            Remove
          </button>
        </span>
      )}
      <ErrorLine text={error} />
    </li>
  );
}

/** A conversation's details: pin, mute, archive; for groups members, roles, invite links, leave. */
export function ConversationInfo({ id }: { id: ConversationId }) {
  const state = useAppState();
  const c = state.conversations.get(id);
  const group = c?.kind === 'group';
  const info = state.groups.of(id);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const [adding, setAdding] = useState<Set<string>>(new Set());
  useEffect(() => {
    if (group) void state.groups.load(id);
  }, [id]);
  const run = (fn: () => Promise<unknown>) => {
    setError(null);
    fn().catch((e) => setError(explain(e)));
  };
  if (!c) return <Bar title="Details" />;
  const title = state.title(c);
  const muted = state.isMuted(c);
  const manage = group && state.groups.canManage(id);
  const memberIds = new Set(info?.members.map((m) => m.user.id));
  const addable = [...state.social.friends.values()].filter((f) => !memberIds.has(f.id));

  return (
    <section class="page info" aria-label={`Details of ${title}`}>
      <Bar title={`${title}: details`}>
        <button class="secondary" onClick={() => state.go({ name: 'chat', id })}>
          Back to chat
        </button>
      </Bar>
      <div class="page-body">
        <ErrorLine text={error ?? info?.error} />
        <div class="section">
          <h3>This conversation</h3>
          <label class="inline">
            <input type="checkbox" checked={c.pinned} onChange={(e) => run(() => state.updateSettings(id, { pinned: e.currentTarget.checked }))} />
            Pinned
          </label>
          <label class="inline">
            <input type="checkbox" checked={c.archived} onChange={(e) => run(() => state.updateSettings(id, { archived: e.currentTarget.checked }))} />
            Archived
          </label>
          <label>
            Mute notifications
            <select
              value=""
              onChange={(e) => {
                const v = e.currentTarget.value;
                if (!v) return;
                const until = v === 'off' ? null : new Date(Date.now() + Number(v)).toISOString();
                run(() => state.updateSettings(id, { muted_until: until }));
              }}
            >
              <option value="">{muted ? `Muted until ${new Date(c.muted_until!).toLocaleString()}` : 'Not muted'}</option>
              {MUTE_FOR.map((m) => (
                <option key={m.label} value={String(m.ms)}>
                  Mute for {m.label.toLowerCase()}
                </option>
              ))}
              {muted && <option value="off">Unmute</option>}
            </select>
          </label>
        </div>
        {group && info?.group && (
          <>
            <div class="section">
              <h3>{info.group.name}</h3>
              {info.group.description && <p>{info.group.description}</p>}
              <p class="hint">
                {info.group.member_count} members · you are {info.group.my_role}
              </p>
            </div>
            {manage && (
              <div class="section">
                <h3>Invite links</h3>
                <button class="secondary" onClick={() => run(() => state.groups.createInvite(id))}>
                  Create invite link
                </button>
                <ul aria-label="Invite links">
                  {info.invites.map((inv) => {
                    const link = inviteLink(inv.code);
                    return (
                      <li key={inv.code} class="invite">
                        <label>
                          Invite link
                          <input readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
                        </label>
                        <span class="actions">
                          <button
                            class="secondary"
                            onClick={() =>
                              run(async () => {
                                await navigator.clipboard?.writeText(link);
                                setCopied(inv.code);
                              })
                            }
                          >
                            {copied === inv.code ? 'Copied' : 'Copy link'}
                          </button>
                          <button class="secondary" onClick={() => run(() => state.groups.revokeInvite(id, inv.code))}>
                            Revoke
                          </button>
                        </span>
                      </li>
                    );
                  })}
                </ul>
              </div>
            )}
            <div class="section">
              <h3>Members</h3>
              <ul class="people" aria-label="Members">
                {info.members.map((m) => (
                  <MemberRow key={m.user.id} id={id} m={m} />
                ))}
              </ul>
              {manage && addable.length > 0 && (
                <fieldset>
                  <legend>Add friends</legend>
                  <FriendPicker friends={addable} picked={adding} onChange={setAdding} />
                  <button disabled={adding.size === 0} onClick={() => run(async () => (await state.groups.addMembers(id, [...adding]), setAdding(new Set())))}>
                    Add to group
                  </button>
                </fieldset>
              )}
            </div>
            <div class="section danger-zone">
              {info.group.my_role !== 'owner' ? (
                <button class="danger" onClick={() => run(() => state.groups.leave(id))}>
                  Leave group
                </button>
              ) : (
                <p class="hint">As the owner, transfer the group before leaving it.</p>
              )}
            </div>
          </>
        )}
        {group && info?.loading && !info.group && <p class="empty">Loading…</p>}
      </div>
    </section>
  );
}
