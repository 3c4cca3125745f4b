// A WebRTC media session with the room (see docs/protocol.md, "A speaker's session"): one
// audio transceiver, sendrecv, Opus (RED-wrapped where both sides can), trickle ICE over the room's WebSocket.
//
// It can start without a microphone: a listener with a raised hand opens it early (pre-warm),
// hears the room's mix over it (muted on the page while HLS plays), and only when promoted
// asks for the microphone and puts the track on the existing sender (replaceTrack needs no
// renegotiation, and the server only switches mixing on: the new speaker is live at once).
// A page behind a NAT or a UDP-blocking firewall reaches the room through the TURN relays the
// welcome names.

// Voice capture: the browser's echo cancellation, noise suppression and gain control, mono.
const captureConstraints = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
  video: false,
};

// The microphone, asked for only when going on stage, and kept while there.
let microphone = null;
export async function getMicrophone() {
  if (!microphone || microphone.readyState === 'ended') {
    const stream = await navigator.mediaDevices.getUserMedia(captureConstraints);
    microphone = stream.getAudioTracks()[0];
  }
  return microphone;
}
export function releaseMicrophone() {
  microphone?.stop();
  microphone = null;
}

export class MediaSession {
  // `send(message)` writes to the room's WebSocket; `audio` is the <audio> element that plays
  // what the server sends us; `onState(state)` sees the connection state.
  // `iceServers`: the welcome's ice_servers (RTCIceServer entries: TURN URLs and credentials).
  constructor({ send, audio, onState = () => {}, iceServers = [] }) {
    this.send = send;
    this.audio = audio;
    this.onState = onState;
    this.pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', iceServers });
    this.transceiver = this.pc.addTransceiver('audio', { direction: 'sendrecv' });
    // RED first, then Opus, nothing else: the server mixes Opus and answers with the payload
    // types we offer. With RED (RFC 2198) each packet also carries the previous frame, so a
    // packet lost on our uplink comes back from the next one; a server without RED answers
    // Opus alone.
    const codecs = RTCRtpReceiver.getCapabilities?.('audio')?.codecs || [];
    const named = (name) => codecs.filter((c) => c.mimeType.toLowerCase() === name);
    const opus = named('audio/opus');
    if (opus.length && this.transceiver.setCodecPreferences) this.transceiver.setCodecPreferences([...named('audio/red'), ...opus]);
    this.pc.ontrack = (event) => {
      this.audio.srcObject = event.streams[0] || new MediaStream([event.track]);
      this.audio.play().catch(() => {});
    };
    this.pc.onicecandidate = (event) => {
      const c = event.candidate;
      // An empty candidate tells the server that we have gathered all of ours.
      this.send({ type: 'candidate', candidate: c ? c.candidate : '', sdpMLineIndex: c ? c.sdpMLineIndex ?? 0 : 0 });
    };
    this.pc.onconnectionstatechange = () => this.onState(this.pc.connectionState);
  }

  async start() {
    const offer = await this.pc.createOffer();
    // Mono voice with in-band FEC (the server's decoder uses it under loss); DTX is welcome.
    // Only Opus's fmtp line: RED's ("111/111") is not key=value.
    const opusPt = offer.sdp.match(/a=rtpmap:(\d+) opus\//i)?.[1];
    offer.sdp = offer.sdp.replace(/a=fmtp:(\d+) (.*)/g, (line, pt, params) => {
      if (pt !== opusPt) return line;
      const keys = new Map(params.split(';').map((p) => p.trim().split('=')));
      keys.set('stereo', '0');
      keys.set('sprop-stereo', '0');
      keys.set('useinbandfec', '1');
      return `a=fmtp:${pt} ${[...keys].map(([k, v]) => `${k}=${v}`).join(';')}`;
    });
    await this.pc.setLocalDescription(offer);
    this.send({ type: 'offer', sdp: offer.sdp });
  }

  async onAnswer(sdp) {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  async onCandidate(candidate, sdpMLineIndex) {
    if (!candidate) return;
    await this.pc.addIceCandidate({ candidate, sdpMLineIndex }).catch(() => {});
  }

  // Sends `track` (the microphone) on the existing sender, or nothing when null.
  async setTrack(track) {
    await this.transceiver.sender.replaceTrack(track);
  }

  close() {
    this.pc.close();
    this.audio.srcObject = null;
  }
}
