// REST and the room's WebSocket (protocol version 1, see docs/protocol.md).
// Failed requests throw an Error with the HTTP `status` and the server's error `code`.
function failure(url, response, json) {
  const error = new Error(json.error?.message || `${url}: ${response.status}`);
  error.status = response.status;
  error.code = json.error?.code;
  return error;
}

export async function getJson(url, token = null) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(url, { cache: 'no-store', headers });
  if (!response.ok) throw failure(url, response, await response.json().catch(() => ({})));
  return response.json();
}

export async function postJson(url, body = {}, token = null) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw failure(url, response, json);
  return json;
}

// The operator's admin token (docs/protocol.md, admin tokens), for a server whose archive or
// room creation is not open to everyone. Kept for this tab only: it is a credential.
const adminTokenKey = 'roomcast.adminToken';
export const adminToken = {
  get: () => sessionStorage.getItem(adminTokenKey),
  set: (token) => sessionStorage.setItem(adminTokenKey, token),
  clear: () => sessionStorage.removeItem(adminTokenKey),
};

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
