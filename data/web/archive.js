// The archive page: every recording, a search over what was said, and a player that starts
// at a search hit's offset (the file is served with byte ranges, so the browser seeks).
import { adminToken, getJson } from './api.js';

const $ = (id) => document.getElementById(id);

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0'), ss = String(r).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

// Plays `recording` from `offset` seconds in the one player of the page.
function play(recording, offset, label) {
  const player = $('archive-player');
  $('now-playing').textContent = `${recording.title} — ${label}`;
  const start = () => {
    player.currentTime = offset;
    player.play().catch((error) => { $('archive-status').textContent = `Press play (${error.message}).`; });
  };
  if (player.dataset.url !== recording.url) {
    player.dataset.url = recording.url;
    player.src = recording.url;
    player.addEventListener('loadedmetadata', start, { once: true });
    player.load();
  } else {
    start();
  }
}

function playButton(text, recording, offset, label) {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = text;
  button.addEventListener('click', () => play(recording, offset, label));
  return button;
}

function recordingItem(r) {
  const li = document.createElement('li');
  const title = document.createElement('strong');
  title.textContent = r.title || r.room;
  const meta = document.createElement('div');
  meta.className = 'topic';
  const when = new Date(r.started_at_ms).toLocaleString();
  const speakers = r.speakers.length ? ` · ${r.speakers.join(', ')}` : '';
  meta.textContent = `${when} · ${clock(r.duration_s)} · ${r.status}${speakers}`;
  li.append(title, meta);
  if (r.url) li.append(playButton('Play', r, 0, 'from the start'));
  return li;
}

function hitItem(hit) {
  const li = document.createElement('li');
  const who = document.createElement('strong');
  who.textContent = `${hit.speaker} at ${clock(hit.offset_s)}`;
  const snippet = document.createElement('div');
  // The server marks the matched words with [brackets]; show them as <mark>, as text only.
  for (const [i, part] of hit.snippet.split(/[[\]]/).entries()) {
    const node = i % 2 ? document.createElement('mark') : document.createElement('span');
    node.textContent = part;
    snippet.append(node);
  }
  const where = document.createElement('div');
  where.className = 'topic';
  where.textContent = hit.recording.title || hit.recording.room;
  li.append(who, snippet, where);
  if (hit.recording.url) li.append(playButton('Play from here', hit.recording, hit.offset_s, `${hit.speaker} at ${clock(hit.offset_s)}`));
  return li;
}

export async function showArchive() {
  $('archive').hidden = false;
  document.title = 'Archive · roomcast';
  // A public archive needs no token. Otherwise the operator gives an admin token once per tab;
  // the recording URLs listed with it are signed, so the player needs no token.
  const list = async () => {
    const { recordings } = await getJson('/api/v1/recordings', adminToken.get());
    $('archive-login').hidden = true;
    $('recordings').replaceChildren(...recordings.map(recordingItem));
    $('archive-status').textContent = recordings.length ? '' : 'Nothing recorded yet.';
  };
  const listOrAskForToken = async () => {
    try {
      await list();
    } catch (error) {
      if (error.status !== 401 && error.status !== 403) throw error;
      if (adminToken.get()) adminToken.clear();
      $('archive-login').hidden = false;
      $('archive-status').textContent = error.status === 403 ? 'That token lacks the archive grant.' : error.message;
    }
  };
  $('archive-login').addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = $('admin-token').value.trim();
    if (!token) return;
    adminToken.set(token);
    $('admin-token').value = '';
    try { await listOrAskForToken(); } catch (error) { $('archive-status').textContent = `Cannot reach the server (${error.message}).`; }
  });
  $('search').addEventListener('submit', async (event) => {
    event.preventDefault();
    const words = $('q').value.trim();
    if (!words) { $('hits').replaceChildren(); return; }
    try {
      const { hits } = await getJson(`/api/v1/recordings?q=${encodeURIComponent(words)}`, adminToken.get());
      $('hits').replaceChildren(...hits.map(hitItem));
      $('archive-status').textContent = hits.length ? `${hits.length} found` : `Nobody said “${words}”.`;
    } catch (error) {
      $('archive-status').textContent = `Search failed (${error.message}).`;
    }
  });
  try { await listOrAskForToken(); } catch (error) { $('archive-status').textContent = `Cannot reach the server (${error.message}).`; }
}
