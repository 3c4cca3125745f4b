// Plays a room's HLS in an <audio> element: hls.js where needed, the browser's own HLS where
// it has it (Safari, iOS). Starts near the live edge; an <audio> element keeps playing with
// the screen off where the browser allows background audio.
// Returns a handle whose stop() ends playback (when the listener goes on stage).
export function playHls(audio, url, { onStatus = () => {}, onAutoplayBlocked = () => {} } = {}) {
  let stopped = false;
  let hls = null;
  let retry = null;
  const start = () => audio.play().catch(() => { if (!stopped) onAutoplayBlocked(); });
  const handle = {
    stop() {
      stopped = true;
      clearTimeout(retry);
      hls?.destroy();
      hls = null;
      audio.pause();
      audio.removeAttribute('src');
      audio.load();
    },
  };
  if (window.Hls && Hls.isSupported()) {
    let attempt = 0;
    const attach = () => {
      if (stopped) return;
      // Two target durations behind the newest segment: about 2 s behind live.
      hls = new Hls({ liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 6, lowLatencyMode: false });
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (!data.fatal) return;
        hls.destroy();
        hls = null;
        // The room's first segment appears about a second after it opens: try again.
        if (attempt++ < 30) {
          onStatus('Waiting for the room to start…');
          retry = setTimeout(attach, 1000);
        } else {
          onStatus(`Playback problem: ${data.details}`);
        }
      });
      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        onStatus('');
        start();
      });
      hls.loadSource(url);
      hls.attachMedia(audio);
    };
    attach();
    return handle;
  }
  if (audio.canPlayType('application/vnd.apple.mpegurl')) {
    audio.src = url;
    start();
    return handle;
  }
  onStatus('This browser cannot play HLS.');
  return handle;
}

// What the phone's lock screen and notification show while the room plays.
export function describeMedia(title, topic) {
  if (!('mediaSession' in navigator)) return;
  navigator.mediaSession.metadata = new MediaMetadata({ title, artist: topic || 'roomcast', album: 'Live room' });
}
