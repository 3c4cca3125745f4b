// The room page's lists, drawn from the room's state (room.js owns it): the stage, the hand
// queue, chat and reports. Every action is a real <button> whose accessible name says what and
// whom ("Mute Grace"), so keyboards and screen readers reach all of it.

const REACTIONS = [
  ['clap', '👏'], ['heart', '❤️'], ['laugh', '😂'], ['fire', '🔥'],
  ['hundred', '💯'], ['thumbs-up', '👍'], ['party', '🎉'], ['raised-hands', '🙌'],
];

export const onStage = (role) => role === 'host' || role === 'cohost' || role === 'speaker';
export const moderates = (role) => role === 'host' || role === 'cohost';

function button(text, label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  if (label) b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// May `me` act on `them`? The server decides (docs/protocol.md, Permissions); this only
// hides buttons that it would refuse: nobody acts on the host, only the host on co-hosts.
function mayModerate(me, them) {
  if (!moderates(me.role) || them.identity === me.identity || them.role === 'host') return false;
  return them.role !== 'cohost' || me.role === 'host';
}

export function stageItem(p, { me, speaking, act, report }) {
  const li = element('li');
  li.dataset.identity = p.identity;
  const name = element('span', 'name', p.name);
  const labels = [];
  if (speaking) { li.classList.add('speaking'); labels.push('speaking'); }
  if (p.muted) { li.classList.add('muted'); labels.push('muted'); }
  if (p.reconnecting) { li.classList.add('reconnecting'); labels.push('reconnecting'); }
  if (p.role === 'host') labels.push('host');
  if (p.role === 'cohost') labels.push('co-host');
  if (p.recording_opt_out) labels.push('not recorded');
  if (p.identity === me.identity) labels.push('you');
  li.append(name);
  if (labels.length) li.append(element('span', 'note', ` (${labels.join(', ')})`));
  const actions = element('span', 'actions');
  if (mayModerate(me, p)) {
    actions.append(p.muted
      ? button('Unmute', `Unmute ${p.name}`, () => act('unmute', p.identity))
      : button('Mute', `Mute ${p.name}`, () => act('mute', p.identity)));
    if (p.role !== 'cohost') actions.append(button('Demote', `Demote ${p.name}`, () => act('demote', p.identity)));
    if (me.role === 'host') {
      actions.append(p.role === 'cohost'
        ? button('Revoke co-host', `Revoke co-host ${p.name}`, () => act('revoke-cohost', p.identity))
        : button('Make co-host', `Make ${p.name} co-host`, () => act('appoint-cohost', p.identity)));
    }
    actions.append(button('Remove', `Remove ${p.name}`, () => act('remove', p.identity)));
  }
  if (p.identity !== me.identity) {
    actions.append(button('Report', `Report ${p.name}`, () => report({ identity: p.identity, about: p.name })));
  }
  if (actions.childElementCount) li.append(actions);
  return li;
}

export function handItem(hand, { act }) {
  const li = element('li');
  li.dataset.identity = hand.identity;
  li.append(element('span', 'name', hand.name), element('span', 'actions'));
  li.lastChild.append(button('Promote', `Promote ${hand.name}`, () => act('promote', hand.identity)));
  return li;
}

function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// A chat message; `author` is the sender's participant entry when they are on stage.
export function chatItem(m, { me, author, act, report, deleteMessage }) {
  const li = element('li');
  li.dataset.messageId = m.message_id;
  const time = element('time', 'note', clockTime(m.sent_at_ms));
  time.dateTime = new Date(m.sent_at_ms).toISOString();
  // The author's role as the server saw it: a listener cannot pass for the host by name.
  const badge = { host: 'host', cohost: 'co-host', speaker: 'speaker' }[m.role];
  li.append(element('strong', 'name', `${m.name}:`));
  if (badge) li.append(element('span', 'role', badge));
  li.append(element('span', 'text', m.text), time);
  const actions = element('span', 'actions');
  if (moderates(me.role)) {
    actions.append(button('Delete', `Delete message from ${m.name}`, () => deleteMessage(m.message_id)));
    // The author of a message is someone a host can ask on stage, if they are a listener.
    if (m.identity !== me.identity && !(author && onStage(author.role))) {
      actions.append(button('Invite to speak', `Invite ${m.name} to speak`, () => act('invite', m.identity)));
    }
  }
  if (m.identity !== me.identity) {
    actions.append(button('Report', `Report message from ${m.name}`,
      () => report({ message_id: m.message_id, about: `${m.name}: “${m.text}”` })));
  }
  if (actions.childElementCount) li.append(actions);
  return li;
}

export function reportItem(r) {
  const li = element('li');
  const what = r.message_text ? `message “${r.message_text}”` : `participant ${r.identity}`;
  li.textContent = `${clockTime(r.created_at_ms)} — ${what}: ${r.reason}`;
  return li;
}

export function moderationItem(m) {
  const li = element('li');
  li.textContent = `Automated moderation: ${m.name} said “${m.snippet}” (${m.category}, ${m.severity}) → ${m.action}`;
  return li;
}

export function reactionButtons(container, onReact) {
  container.replaceChildren(...REACTIONS.map(([name, emoji]) => {
    const b = button(emoji, `React ${name.replace('-', ' ')}`, () => onReact(name));
    b.className = 'reaction';
    return b;
  }));
}

export function describeReactions(counts) {
  const glyph = new Map(REACTIONS);
  return Object.entries(counts).filter(([, n]) => n > 0)
    .map(([name, n]) => `${glyph.get(name) || name} ${n}`).join('  ');
}
