// roomcast web client: the list of live rooms, and a room's page.
import { getJson } from './api.js';
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
  const counts = document.createElement('div');
  counts.textContent = `${room.speaker_count} on stage · ${room.listener_count} listening`;
  a.append(title, topic, counts);
  li.append(a);
  return li;
}

async function showHome() {
  $('home').hidden = false;
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
