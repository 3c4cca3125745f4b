// roomcast web client: the list of live rooms, and a room's page.
import { adminToken, getJson, postJson } from './api.js';
import { saveToken, savedName, saveName } from './tokens.js';
import { showRoom } from './room.js';
import { showArchive } from './archive.js';

const $ = (id) => document.getElementById(id);

function roomItem(room) {
  const li = document.createElement('li');
  const a = document.createElement('a');
  a.href = `/room/${encodeURIComponent(room.id)}`;
  const title = document.createElement('strong');
  title.textContent = room.title;
  const topic = document.createElement('div');
  topic.className = 'topic';
  topic.textContent = room.topic;
  const stage = document.createElement('div');
  stage.className = 'speakers';
  const names = (room.speakers || []).map((s) => (s.role === 'host' ? `${s.name} (host)` : s.name));
  stage.textContent = names.length ? `On stage: ${names.join(', ')}` : 'Nobody on stage yet';
  const counts = document.createElement('div');
  counts.textContent = `${room.speaker_count} on stage · ${room.listener_count} listening`;
  a.append(title, topic, stage, counts);
  li.append(a);
  return li;
}

// "Create room": the creator becomes the room's host on this browser (the host token is kept
// in localStorage) and lands on the room's page.
function bindCreateForm() {
  $('your-name').value = savedName();
  $('your-name').addEventListener('input', () => saveName($('your-name').value.trim()));
  $('create-room').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    $('create-status').textContent = 'Creating the room…';
    const hostName = $('your-name').value.trim();
    try {
      const body = { title: $('title').value.trim(), topic: $('topic').value.trim(), record: $('record').checked };
      if (hostName) body.host_name = hostName;
      const room = await postJson('/api/v1/rooms', body, adminToken.get());  // needed where rooms are not open
      saveToken(room.id, { token: room.host_token, role: 'host' });
      location.href = `/room/${encodeURIComponent(room.id)}`;
    } catch (error) {
      $('create-status').textContent = `Could not create the room: ${error.message}`;
      button.disabled = false;
    }
  });
}

async function showHome() {
  $('home').hidden = false;
  bindCreateForm();
  const refresh = async () => {
    try {
      const { rooms } = await getJson('/api/v1/rooms');
      $('rooms').replaceChildren(...rooms.map(roomItem));
      $('empty').hidden = rooms.length > 0;
    } catch (error) {
      $('empty').hidden = false;
      $('empty').textContent = `Cannot reach the server (${error.message}).`;
    }
  };
  await refresh();
  setInterval(refresh, 5000);
}

const match = location.pathname.match(/^\/room\/([^/]+)$/);
if (match) showRoom(decodeURIComponent(match[1]));
else if (location.pathname === '/archive') showArchive();
else showHome();
