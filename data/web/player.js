// Plays a room's HLS in an <audio> element: hls.js where needed, the browser's own HLS where
// it has it (Safari, iOS). Starts near the live edge; an <audio> element keeps playing with
// the screen off where the browser allows background audio.
// Returns a handle whose stop() ends playback (when the listener goes on stage).

// hls.js starts two target durations (2 s) behind the end of the newest segment. A room that
// has just opened lists only one or two segments. Playing from the first of them leaves no
// margin for the next one to arrive a little late, and the player stalls. So playback starts
// only once this much audio is buffered ahead. It is a little less than hls.js's own margin,
// so that a normal start is never held back.
export const PLAY_AHEAD_S = 1.75;

// A rendition whose playlist failed (a 404 before the room's first segment, an edge's hiccup)
// is tried again after this long. hls.js's default (0) never does: a listener who opened the
// room in its first second would hear the 24 kbps rendition for as long as they stay.
const RETRY_RENDITION_AFTER_MS = 10000;

const bufferedAhead = (audio) => {
  const b = audio.buffered;
  return b.length ? b.end(b.length - 1) - audio.currentTime : 0;
};

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
    let waitingToStart = false;  // the playlist is in, but not yet PLAY_AHEAD_S of audio
    const startWhenBuffered = () => {
      if (waitingToStart && !stopped && bufferedAhead(audio) >= PLAY_AHEAD_S) {
        waitingToStart = false;
        start();
      }
    };
    const attach = () => {
      if (stopped) return;
      // Two target durations behind the newest segment: about 2 s behind live.
      hls = new Hls({
        liveSyncDurationCount: 2,
        liveMaxLatencyDurationCount: 6,
        lowLatencyMode: false,
        errorPenaltyExpireMs: RETRY_RENDITION_AFTER_MS,
      });
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
        attempt = 0;  // playing again: a later gap (a failover moving the room) gets its own 30 tries
        onStatus('');
        waitingToStart = true;
        startWhenBuffered();
      });
      hls.on(Hls.Events.FRAG_BUFFERED, startWhenBuffered);
      hls.on(Hls.Events.BUFFER_EOS, () => {  // a room that ended before it had PLAY_AHEAD_S
        if (waitingToStart && !stopped) {
          waitingToStart = false;
          start();
        }
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
