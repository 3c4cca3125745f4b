// roomcast web client (foundation): lists live rooms and plays one over HLS with hls.js,
// or natively where the browser plays HLS itself (Safari, iOS).
const $ = (id) => document.getElementById(id);

async function getJson(url) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

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

// A room's playlist appears with its first segment, about a second after the room opens:
// until then the manifest is 404 and we try again.
function attachHls(audio, url, attempt = 0) {
  // Stay near the live edge: audio-only playlists with 1 s segments.
  const hls = new Hls({ liveSyncDurationCount: 2, lowLatencyMode: false });
  hls.on(Hls.Events.ERROR, (_, data) => {
    if (!data.fatal) return;
    hls.destroy();
    if (data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR && attempt < 30) {
      $('status').textContent = 'Waiting for the room to start…';
      setTimeout(() => attachHls(audio, url, attempt + 1), 1000);
    } else {
      $('status').textContent = `Playback problem: ${data.details}`;
    }
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    $('status').textContent = '';
    start(audio);
  });
  hls.loadSource(url);
  hls.attachMedia(audio);
}

function play(audio, url) {
  if (window.Hls && Hls.isSupported()) {
    attachHls(audio, url);
  } else if (audio.canPlayType('application/vnd.apple.mpegurl')) {
    audio.src = url;
    start(audio);
  } else {
    $('status').textContent = 'This browser cannot play HLS.';
  }
}

function start(audio) {
  audio.play().catch(() => {
    // Autoplay blocked: one tap starts it.
    $('listen').hidden = false;
    $('listen').onclick = () => { $('listen').hidden = true; audio.play(); };
  });
}

async function showRoom(id) {
  $('room').hidden = false;
  try {
    const room = await getJson(`/api/v1/rooms/${encodeURIComponent(id)}`);
    document.title = `${room.title} · roomcast`;
    $('room-title').textContent = room.title;
    $('room-topic').textContent = room.topic;
    $('speaker-count').textContent = room.speaker_count;
    $('listener-count').textContent = room.listener_count;
    play($('player'), room.hls_url);
  } catch (error) {
    $('room-title').textContent = 'Room not found';
    $('status').textContent = 'This room has ended or never existed.';
  }
}

const match = location.pathname.match(/^\/room\/([^/]+)$/);
if (match) showRoom(decodeURIComponent(match[1])); else showHome();
