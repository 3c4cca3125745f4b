// The room page for a listener: the room's audio over HLS (counted as a listener), the stage
// with who is talking, and the live listener count.
import { getJson, postJson, RoomSocket } from './api.js';
import { describeMedia, playHls } from './player.js';

const $ = (id) => document.getElementById(id);

export async function showRoom(id) {
  $('room').hidden = false;
  let room;
  try {
    room = await getJson(`/api/v1/rooms/${encodeURIComponent(id)}`);
  } catch {
    $('room-title').textContent = 'Room not found';
    $('status').textContent = 'This room has ended or never existed.';
    return;
  }
  document.title = `${room.title} · roomcast`;
  $('room-title').textContent = room.title;
  $('room-topic').textContent = room.topic;
  $('listener-count').textContent = room.listener_count;
  describeMedia(room.title, room.topic);

  // A listening session, so this page counts as a listener.
  const listen = await postJson(`/api/v1/rooms/${encodeURIComponent(id)}/listen`).catch(() => null);
  playHls($('player'), listen ? listen.hls_url : room.hls_url, {
    onStatus: (text) => { $('status').textContent = text; },
    onAutoplayBlocked: () => {
      // Autoplay blocked: one tap starts it.
      $('listen').hidden = false;
      $('listen').onclick = () => { $('listen').hidden = true; $('player').play(); };
    },
  });

  // The stage and the count, live, from the room's WebSocket (as an anonymous listener).
  const stage = new Map();  // identity → participant
  let speaking = new Set();
  const renderStage = () => {
    const people = [...stage.values()].filter((p) => p.role !== 'listener').sort((a, b) => a.slot - b.slot);
    $('speaker-count').textContent = people.length;
    $('stage').replaceChildren(...people.map((p) => {
      const li = document.createElement('li');
      li.textContent = p.name;
      li.dataset.identity = p.identity;
      const labels = [];
      if (speaking.has(p.identity)) { li.classList.add('speaking'); labels.push('speaking'); }
      if (p.muted) { li.classList.add('muted'); labels.push('muted'); }
      if (p.reconnecting) labels.push('reconnecting');
      if (p.role === 'host') labels.push('host');
      if (labels.length) {
        const note = document.createElement('span');
        note.className = 'note';
        note.textContent = ` (${labels.join(', ')})`;
        li.append(note);
      }
      return li;
    }));
  };
  const token = await postJson(`/api/v1/rooms/${encodeURIComponent(id)}/tokens`, { role: 'listener', name: 'Listener' })
    .catch(() => null);
  if (!token) return;
  new RoomSocket(room.ws_url, token.token, (m) => {
    switch (m.type) {
      case 'welcome':
        stage.clear();
        for (const p of m.participants) stage.set(p.identity, p);
        speaking = new Set(m.active_speakers || []);
        $('listener-count').textContent = m.room.listener_count;
        break;
      case 'participant-joined':
        if (m.participant.role === 'listener') return;  // counted, not shown
        stage.set(m.participant.identity, m.participant);
        break;
      case 'participant-left': stage.delete(m.identity); break;
      case 'role-changed': if (stage.has(m.identity)) stage.get(m.identity).role = m.role; break;
      case 'mute-changed': if (stage.has(m.identity)) stage.get(m.identity).muted = m.muted; break;
      case 'reconnecting': case 'reconnected':
        if (stage.has(m.identity)) stage.get(m.identity).reconnecting = m.type === 'reconnecting';
        break;
      case 'active-speakers': speaking = new Set(m.identities); break;
      case 'listener-count': $('listener-count').textContent = m.count; return;
      case 'room-ended': $('status').textContent = 'The room has ended.'; return;
      default: return;
    }
    renderStage();
  }, (state) => {
    $('connection').textContent = state === 'reconnecting' ? 'Reconnecting…' : '';
  });
}
