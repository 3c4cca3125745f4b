// Where the page keeps its access tokens (see docs/protocol.md, Tokens). The host's token lives
// in localStorage, so the creator of a room is its host again after closing the tab; other
// tokens live in sessionStorage: one identity per tab, kept across a reload (which resumes).
const key = (roomId) => `roomcast.token.${roomId}`;

export function loadToken(roomId) {
  const text = sessionStorage.getItem(key(roomId)) || localStorage.getItem(key(roomId));
  try { return text ? JSON.parse(text) : null; } catch { return null; }
}

export function saveToken(roomId, entry) {
  const text = JSON.stringify({ token: entry.token, role: entry.role });
  sessionStorage.setItem(key(roomId), text);
  if (entry.role === 'host') localStorage.setItem(key(roomId), text);
}

export function forgetToken(roomId) {
  sessionStorage.removeItem(key(roomId));
  localStorage.removeItem(key(roomId));
}

export function savedName() { return localStorage.getItem('roomcast.name') || ''; }
export function saveName(name) {
  if (name) localStorage.setItem('roomcast.name', name);
  else localStorage.removeItem('roomcast.name');
}
