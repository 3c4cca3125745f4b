// The room page. Everyone starts as they entered: a listener hears the room over HLS (counted
// as a listener) and holds a WebSocket for the stage, chat, reactions and the hand queue; the
// host (who created the room on this browser) goes on stage over WebRTC.
//
// Raise hand → the server says the hand is up → a WebRTC session opens at once without a
// microphone (pre-warm: the page receives the room's mix but keeps it muted, HLS still plays).
// Promote → the page stops HLS, unmutes the WebRTC mix, asks for the microphone and puts it on
// the open session: no renegotiation, no reload.
import { getJson, postJson, RoomSocket } from './api.js';
import { describeMedia, playHls } from './player.js';
import { MediaSession, getMicrophone, releaseMicrophone } from './session.js';
import { loadToken, saveToken, forgetToken, savedName } from './tokens.js';
import {
  onStage, moderates, stageItem, handItem, chatItem, reportItem, moderationItem,
  reactionButtons, describeReactions,
} from './room_view.js';

const $ = (id) => document.getElementById(id);
const MAX_CHAT_SHOWN = 200;
// A WebRTC session whose ICE or DTLS fails (the browser says 'failed', or the server sends
// ice_failed) is replaced by a new one (a new offer), at most this many times in a row.
const MAX_SESSION_RETRIES = 3;

export async function showRoom(id) {
  $('room').hidden = false;
  document.body.classList.add('room-page');
  let room;
  try {
    room = await getJson(`/api/v1/rooms/${encodeURIComponent(id)}`);
  } catch {
    $('room-title').textContent = 'Room not found';
    $('status').textContent = 'This room has ended or never existed.';
    $('controls').hidden = true;
    return;
  }
  document.title = `${room.title} · roomcast`;
  $('room-title').textContent = room.title;
  $('room-topic').textContent = room.topic;
  $('listener-count').textContent = room.listener_count;
  describeMedia(room.title, room.topic);

  let entry = loadToken(id);
  if (!entry) {
    const issued = await postJson(`/api/v1/rooms/${encodeURIComponent(id)}/tokens`,
      { role: 'listener', name: savedName() || 'Guest' }).catch((error) => {
      $('status').textContent = `Cannot join the room: ${error.message}`;
      return null;
    });
    if (!issued) return;
    entry = { token: issued.token, role: 'listener' };
    saveToken(id, entry);
  }
  new RoomPage(id, room, entry).start();
}

class RoomPage {
  constructor(id, room, entry) {
    this.id = id;
    this.room = room;
    this.entry = entry;
    this.me = { identity: '', name: '', role: entry.role, muted: false };
    this.participants = new Map();  // identity → PARTICIPANT (the stage and raised hands)
    this.speaking = new Set();
    this.hands = [];                // [{identity, name}], oldest first (hosts and co-hosts)
    this.chat = new Map();          // message_id → message, in arrival order
    this.reactionTotals = {};       // reaction → count in the current burst
    this.handUp = false;
    this.invited = false;
    this.session = null;
    this.sessionRetries = 0;
    this.hls = null;
    this.ended = false;
  }

  start() {
    if (!onStage(this.entry.role)) this.startHls();
    this.bindControls();
    this.socket = new RoomSocket(this.room.ws_url, this.entry.token, (m) => this.onMessage(m),
      (state, reason) => this.onSocketState(state, reason));
  }

  send(message) { this.socket.send(message); }

  // Listening over HLS, counted by a listening session.
  async startHls() {
    if (this.hls || this.ended) return;
    this.hls = { stop() {} };  // placeholder while the session is requested
    const listen = await postJson(`/api/v1/rooms/${encodeURIComponent(this.id)}/listen`).catch(() => null);
    if (!this.hls || this.ended) return;
    $('player').hidden = false;
    this.hls = playHls($('player'), listen ? listen.hls_url : this.room.hls_url, {
      onStatus: (text) => this.status(text),
      onAutoplayBlocked: () => {
        // Autoplay blocked: one press starts it.
        $('listen').hidden = false;
        $('listen').onclick = () => { $('listen').hidden = true; $('player').play(); };
      },
    });
  }

  stopHls() {
    this.hls?.stop();
    this.hls = null;
    $('player').hidden = true;
    $('listen').hidden = true;
  }

  // The WebRTC session: with the microphone on stage, without it while pre-warming.
  async openSession() {
    this.closeSession();
    const audio = $('stage-audio');
    audio.muted = !onStage(this.me.role);
    const session = new MediaSession({
      send: (m) => this.send(m),
      audio,
      iceServers: this.iceServers,
      onState: (state) => {
        if (session !== this.session) return;
        if (state === 'connected') this.sessionRetries = 0;
        if (state === 'failed') this.retrySession('The audio connection failed');
      },
    });
    this.session = session;
    try {
      if (onStage(this.me.role)) await this.useMicrophone();
      await session.start();
    } catch (error) {
      this.status(`Cannot open the audio connection: ${error.message}`);
    }
  }

  retrySession(why) {
    if (this.sessionRetries >= MAX_SESSION_RETRIES) {
      this.status(`${why}; gave up after ${MAX_SESSION_RETRIES} retries (reload the page to try again).`);
      return;
    }
    this.sessionRetries += 1;
    this.status(`${why}; reconnecting (${this.sessionRetries} of ${MAX_SESSION_RETRIES})…`);
    this.openSession();
  }

  async useMicrophone() {
    const session = this.session;
    try {
      const track = await getMicrophone();
      track.enabled = !this.me.muted;
      if (this.session === session) await session.setTrack(track);
    } catch (error) {
      this.status(`The microphone is not available (${error.message}). Others cannot hear you.`);
    }
  }

  closeSession() {
    this.session?.close();
    this.session = null;
  }

  // Where my audio comes from and goes, from my role and hand: called whenever they change.
  async syncMedia({ fresh = false } = {}) {
    if (this.ended) return;
    if (onStage(this.me.role)) {
      this.stopHls();
      $('stage-audio').muted = false;
      if (!this.session || fresh) await this.openSession();
      else await this.useMicrophone();
    } else if (this.handUp || this.invited) {
      if (!this.session || fresh) await this.openSession();
      this.startHls();
    } else {
      this.closeSession();
      releaseMicrophone();
      this.startHls();
    }
  }

  bindControls() {
    reactionButtons($('reaction-buttons'), (reaction) => this.send({ type: 'react', reaction }));
    $('raise-hand').onclick = () => this.send({ type: this.handUp ? 'lower-hand' : 'raise-hand' });
    $('self-mute').onclick = () => this.send({ type: 'self-mute', muted: !this.me.muted });
    $('accept-invite').onclick = () => { this.send({ type: 'accept-invite' }); this.setInvited(false); };
    $('decline-invite').onclick = () => { this.send({ type: 'decline-invite' }); this.setInvited(false); this.syncMedia(); };
    $('recording-toggle').onclick = () =>
      this.send({ type: this.room.recording ? 'stop-recording' : 'start-recording' });
    $('end-room').onclick = () => this.endRoom();
    $('leave').onclick = () => this.leave();
    $('chat-form').onsubmit = (event) => {
      event.preventDefault();
      const text = $('message').value.trim();
      if (!text) return;
      this.send({ type: 'chat', text });
      $('message').value = '';
    };
    $('report-dialog').addEventListener('close', () => {
      const dialog = $('report-dialog');
      const reason = $('report-reason').value.trim();
      if (dialog.returnValue === 'send' && reason && this.reporting) {
        const { about, ...target } = this.reporting;
        this.send({ type: 'report', reason, ...target });
        this.status(`Report sent about ${about}.`);
      }
      this.reporting = null;
    });
  }

  report(target) {
    this.reporting = target;
    $('report-about').textContent = `Report ${target.about}`;
    $('report-reason').value = '';
    $('report-dialog').showModal();
  }

  async endRoom() {
    const response = await fetch(`/api/v1/rooms/${encodeURIComponent(this.id)}`, {
      method: 'DELETE', headers: { Authorization: `Bearer ${this.entry.token}` },
    }).catch((error) => ({ ok: false, statusText: error.message }));
    if (!response.ok) this.status(`Cannot end the room (${response.status || response.statusText}).`);
  }

  leave() {
    this.send({ type: 'leave' });
    this.finish('You left the room.');
    location.href = '/';
  }

  // The room is over for this page: ended, removed, or left.
  finish(text) {
    this.ended = true;
    this.socket.close();
    this.closeSession();
    releaseMicrophone();
    this.stopHls();
    for (const id of ['raise-hand', 'self-mute', 'recording-toggle', 'end-room']) $(id).hidden = true;
    this.setInvited(false);
    $('chat-form').hidden = true;
    this.status(text);
  }

  status(text) { $('status').textContent = text; }

  setInvited(invited) {
    this.invited = invited;
    $('invitation').hidden = !invited;
    if (invited) $('accept-invite').focus();
  }

  onSocketState(state, reason) {
    if (state === 'reconnecting') $('connection').textContent = 'Reconnecting…';
    else if (state === 'connected') $('connection').textContent = '';
    else if (state === 'closed' && !this.ended) {
      $('connection').textContent = '';
      this.finish(reason ? `Disconnected: ${reason}` : 'Disconnected.');
    }
  }

  onMessage(m) {
    const mine = m.identity !== undefined && m.identity === this.me.identity;
    switch (m.type) {
      case 'welcome': return this.onWelcome(m);
      case 'answer': return this.session?.onAnswer(m.sdp).catch((e) => this.status(`Audio: ${e.message}`));
      case 'candidate': return this.session?.onCandidate(m.candidate, m.sdpMLineIndex);
      case 'participant-joined':
        if (m.participant.role !== 'listener' || m.participant.identity === this.me.identity) {
          this.participants.set(m.participant.identity, m.participant);
        }
        break;
      case 'participant-left':
        this.participants.delete(m.identity);
        this.hands = this.hands.filter((h) => h.identity !== m.identity);
        break;
      case 'role-changed': return this.onRoleChanged(m, mine);
      case 'mute-changed': {
        const p = this.participants.get(m.identity);
        if (p) p.muted = m.muted;
        if (mine) {
          this.me.muted = m.muted;
          // Muted means nothing leaves this page either, not only out of the server's mixes.
          const track = this.session?.transceiver.sender.track;
          if (track) track.enabled = !m.muted;
          if (m.by === 'host') this.status(m.muted ? 'The host muted you.' : 'The host unmuted you.');
        }
        break;
      }
      case 'reconnecting': case 'reconnected': {
        const p = this.participants.get(m.identity);
        if (p) p.reconnecting = m.type === 'reconnecting';
        break;
      }
      case 'active-speakers': this.speaking = new Set(m.identities); break;
      case 'listener-count': $('listener-count').textContent = m.count; return;
      case 'hand-raised':
        if (mine) {
          this.handUp = true;
          this.syncMedia();
          if (this.room.recording) this.status('Hand raised. This room is being recorded: on stage, your voice is in the recording.');
        }
        if (!this.hands.some((h) => h.identity === m.identity)) this.hands.push({ identity: m.identity, name: m.name });
        break;
      case 'hand-lowered':
        if (mine) { this.handUp = false; this.syncMedia(); }
        this.hands = this.hands.filter((h) => h.identity !== m.identity);
        break;
      case 'invited':
        this.setInvited(true);
        $('invitation-text').textContent = 'You are invited to speak. Your microphone is used once you accept.' +
          (this.room.recording ? ' This room is being recorded: on stage, your voice is in the recording.' : '');
        this.syncMedia();  // pre-warm, so accepting is instant
        break;
      case 'invite-answered': {
        const who = this.participants.get(m.identity)?.name || 'The listener';
        this.status(`${who} ${m.accepted ? 'accepted' : 'declined'} the invitation.`);
        return;
      }
      case 'removed':
        forgetToken(this.id);
        return this.finish('You were removed from the room.');
      case 'room-ended':
        forgetToken(this.id);
        return this.finish('The room has ended.');
      case 'chat-history':
        for (const c of m.messages) this.chat.set(c.message_id, c);
        return this.renderChat();
      case 'chat':
        this.chat.set(m.message_id, m);
        if (this.chat.size > MAX_CHAT_SHOWN) this.chat.delete(this.chat.keys().next().value);
        return this.renderChat();
      case 'chat-deleted':
        this.chat.delete(m.message_id);
        return this.renderChat();
      case 'reactions': {
        // The server sends a window's counts (200 ms); the page shows the sum of the current
        // burst and clears it after 5 s without reactions.
        for (const [name, n] of Object.entries(m.counts)) this.reactionTotals[name] = (this.reactionTotals[name] || 0) + n;
        $('reaction-counts').textContent = describeReactions(this.reactionTotals);
        clearTimeout(this.reactionClear);
        this.reactionClear = setTimeout(() => { this.reactionTotals = {}; $('reaction-counts').textContent = ''; }, 5000);
        return;
      }
      case 'report':
        $('reports').prepend(reportItem(m.report));
        $('reports-panel').hidden = false;
        return;
      case 'moderation':
        $('reports').prepend(moderationItem(m));
        $('reports-panel').hidden = false;
        return;
      case 'recording':
        this.room.recording = m.active;
        if (!m.active && m.reason && m.reason !== 'stopped') this.status(`Recording stopped: ${m.reason}`);
        break;
      case 'recording-notice':
        // Comes before our role-changed (consent): that one says it on the page.
        this.room.recording = true;
        return;
      case 'recording-opt-out': {
        const p = this.participants.get(m.identity);
        if (p) p.recording_opt_out = m.opt_out;
        break;
      }
      case 'error':
        this.status(m.error.message);
        // The room holds only a few pre-warmed sessions: this one opens when we are promoted.
        if (m.error.code === 'room_full' && !onStage(this.me.role) && this.session) this.closeSession();
        if (m.error.code === 'conflict' || m.error.code === 'forbidden') this.resyncAfterRefusal();
        if (m.error.code === 'ice_failed' && this.session) this.retrySession('The audio connection did not get through');
        return;
      default: return;
    }
    this.render();
  }

  onWelcome(m) {
    this.me = { ...m.you };
    // The server's TURN relays with this participant's short-lived credentials (renewed with
    // every welcome): the way in from behind a NAT or a firewall that drops UDP.
    this.iceServers = m.ice_servers || [];
    this.entry.role = m.you.role;
    saveToken(this.id, this.entry);
    this.room = { ...this.room, ...m.room };
    $('listener-count').textContent = m.room.listener_count;
    this.participants.clear();
    for (const p of m.participants) this.participants.set(p.identity, p);
    this.speaking = new Set(m.active_speakers || []);
    this.hands = m.hands || [];
    if (onStage(this.me.role)) this.handUp = false;
    this.chat.clear();
    this.renderChat();
    // A (re)connected socket needs a new media session: the server makes a new webrtcbin.
    this.syncMedia({ fresh: true });
    this.render();
  }

  onRoleChanged(m, mine) {
    const p = this.participants.get(m.identity);
    if (m.participant && (onStage(m.role) || p)) this.participants.set(m.identity, m.participant);
    else if (p) p.role = m.role;
    else if (onStage(m.role)) {
      const hand = this.hands.find((h) => h.identity === m.identity);
      this.participants.set(m.identity, { identity: m.identity, name: hand?.name || m.identity, role: m.role, muted: false });
    }
    if (onStage(m.role)) this.hands = this.hands.filter((h) => h.identity !== m.identity);
    if (mine) {
      this.me.role = m.role;
      this.entry.role = m.role;
      saveToken(this.id, this.entry);
      if (onStage(m.role)) {
        this.handUp = false;
        this.setInvited(false);
        this.status(this.room.recording
          ? 'You are on stage. This room is being recorded: your voice is in the recording.'
          : 'You are on stage.');
      } else {
        this.status('You are back in the audience.');
      }
      this.syncMedia();
    }
    this.render();
    this.renderChat();  // "Invite to speak" follows the authors' roles
  }

  // A refused hand or invitation answer: the server's state wins, drop the local intent.
  resyncAfterRefusal() {
    if (!onStage(this.me.role) && !this.handUp && !this.invited) this.syncMedia();
  }

  act(action, identity) { this.send({ type: action, identity }); }

  deleteMessage(messageId) { this.send({ type: 'delete-message', message_id: messageId }); }

  render() {
    const me = this.me;
    const actions = {
      me, act: (a, i) => this.act(a, i), report: (t) => this.report(t),
      deleteMessage: (id) => this.deleteMessage(id),
    };
    const people = [...this.participants.values()].filter((p) => onStage(p.role)).sort((a, b) => a.slot - b.slot);
    $('speaker-count').textContent = people.length;
    keepFocus($('stage'), people.map((p) => stageItem(p, { ...actions, speaking: this.speaking.has(p.identity) })));

    $('hands-panel').hidden = !moderates(me.role);
    keepFocus($('hands'), this.hands.map((h) => handItem(h, actions)));
    $('no-hands').hidden = this.hands.length > 0;

    $('you').textContent = me.name ? `You are ${me.name}, ${describeRole(me.role, this.handUp)}.` : '';
    $('raise-hand').hidden = onStage(me.role) || this.ended;
    $('raise-hand').textContent = this.handUp ? 'Lower hand' : 'Raise hand';
    $('raise-hand').setAttribute('aria-pressed', String(this.handUp));
    $('self-mute').hidden = !onStage(me.role) || this.ended;
    $('self-mute').textContent = me.muted ? 'Unmute' : 'Mute';
    $('self-mute').setAttribute('aria-pressed', String(Boolean(me.muted)));
    $('recording-indicator').hidden = !this.room.recording;
    $('recording-toggle').hidden = me.role !== 'host' || this.ended;
    $('recording-toggle').textContent = this.room.recording ? 'Stop recording' : 'Start recording';
    $('end-room').hidden = me.role !== 'host' || this.ended;
  }

  renderChat() {
    const actions = {
      me: this.me, act: (a, i) => this.act(a, i), report: (t) => this.report(t),
      deleteMessage: (id) => this.deleteMessage(id),
    };
    const list = $('chat');
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    keepFocus(list, [...this.chat.values()].map((m) =>
      chatItem(m, { ...actions, author: this.participants.get(m.identity) })));
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
}

// Replaces a list's items; a keyboard user whose focus was on one of its buttons keeps it on
// the button of the same name (the lists are redrawn on every change, even a talking light).
function keepFocus(list, items) {
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const label = focused?.getAttribute('aria-label') || focused?.textContent;
  list.replaceChildren(...items);
  if (!label) return;
  const same = [...list.querySelectorAll('button')].find((b) => (b.getAttribute('aria-label') || b.textContent) === label);
  (same || list).focus?.();
}

function describeRole(role, handUp) {
  if (role === 'host') return 'the host';
  if (role === 'cohost') return 'a co-host';
  if (role === 'speaker') return 'on stage';
  return handUp ? 'listening, hand raised' : 'listening';
}
