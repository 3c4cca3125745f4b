// Plays a room's HLS in an <audio> element: hls.js where needed, the browser's own HLS where
// it has it (Safari, iOS). Starts near the live edge; an <audio> element keeps playing with
// the screen off where the browser allows background audio.
export function playHls(audio, url, { onStatus = () => {}, onAutoplayBlocked = () => {} } = {}) {
  const start = () => audio.play().catch(() => onAutoplayBlocked());
  if (window.Hls && Hls.isSupported()) {
    let attempt = 0;
    const attach = () => {
      // Two target durations behind the newest segment: about 2 s behind live.
      const hls = new Hls({ liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 6, lowLatencyMode: false });
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (!data.fatal) return;
        hls.destroy();
        // The room's first segment appears about a second after it opens: try again.
        if (attempt++ < 30) {
          onStatus('Waiting for the room to start…');
          setTimeout(attach, 1000);
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
    return true;
  }
  if (audio.canPlayType('application/vnd.apple.mpegurl')) {
    audio.src = url;
    start();
    return true;
  }
  onStatus('This browser cannot play HLS.');
  return false;
}

// What the phone's lock screen and notification show while the room plays.
export function describeMedia(title, topic) {
  if (!('mediaSession' in navigator)) return;
  navigator.mediaSession.metadata = new MediaMetadata({ title, artist: topic || 'roomcast', album: 'Live room' });
}
