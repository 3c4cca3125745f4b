// REST and the room's WebSocket (protocol version 1, see docs/protocol.md).
export async function getJson(url) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

export async function postJson(url, body = {}, token = null) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(json.error?.message || `${url}: ${response.status}`);
  return json;
}

// One WebSocket in a room: says hello with a token, hands every server message to
// `onMessage`, and reconnects (with the resume token) when the connection drops.
export class RoomSocket {
  constructor(wsUrl, token, onMessage, onState = () => {}) {
    this.wsUrl = wsUrl;
    this.token = token;
    this.onMessage = onMessage;
    this.onState = onState;
    this.resume = null;
    this.retryMs = 500;
    this.closed = false;
    this.connect();
  }

  connect() {
    const ws = new WebSocket(this.wsUrl);
    this.ws = ws;
    ws.onopen = () => {
      const hello = { type: 'hello', version: 1, token: this.token };
      if (this.resume) hello.resume = this.resume;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === 'welcome') {
        this.resume = message.resume_token;
        this.retryMs = 500;
        this.onState('connected');
      }
      this.onMessage(message);
    };
    ws.onclose = (event) => {
      if (this.closed || event.code === 1008) return this.onState('closed', event.reason);
      this.onState('reconnecting');
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10000);
    };
  }

  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  close() {
    this.closed = true;
    this.ws?.close(1000, 'bye');
  }
}
