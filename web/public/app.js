// app.js -- the browser client of the chat room.
//
// Login is done exactly as a mini-program does it: a code and the encrypted
// user data come from the WeChat stand-in (/standin/code, what wx.login() and
// wx.getUserInfo() give a mini-program), then GET /login with the X-WX-Code,
// X-WX-Encrypted-Data and X-WX-IV headers. The session (id + skey) is kept in
// sessionStorage, so two windows can be two users. The room is a WebSocket
// to /chat; after a drop the page reconnects by itself with since=<last id>,
// and messages are shown once each, in id order. Messages it sends carry a
// cid and stay pending until the relay echoes them back; pending ones are
// sent again after a reconnect (the relay stores a cid only once).
// Everything users typed is rendered with textContent, never as HTML.
'use strict';

(function () {
  const MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A';
  const STORE_KEY = 'chatroom.session';
  const RETRY_MS = [250, 500, 1000, 2000, 4000, 5000];
  const params = new URLSearchParams(location.search);
  const ROOM = /^[A-Za-z0-9_-]{1,64}$/.test(params.get('room') || '') ? params.get('room') : 'lobby';

  const $ = (id) => document.getElementById(id);
  const els = {
    login: $('login'), loginForm: $('login-form'), loginName: $('login-name'),
    loginButton: $('login-button'), loginError: $('login-error'),
    chat: $('chat'), room: $('room-name'), me: $('me-name'), online: $('online'),
    conn: $('conn-state'), logout: $('logout'), list: $('messages'),
    composer: $('composer'), text: $('text-input'), image: $('image-input'),
  };

  const state = {
    name: null,      // the name logged in with (to log in again)
    session: null,   // {id, skey}
    user: null,      // userInfo from /login
    ws: null,
    wsSkey: null,    // the skey ws was opened with
    open: false,     // the relay's first frame has arrived on ws
    lastId: 0,       // highest message id shown
    epoch: null,     // the room's epoch, sent back with since
    seen: new Set(), // message ids shown
    pending: new Map(), // cid -> {payload, el}
    retries: 0,
    timer: null,
    invalid: false,  // the relay said ERR_INVALID_SESSION
    relogging: null, // the promise of a login in progress
  };

  // --- storage -------------------------------------------------------------------

  function save() {
    if (state.session) {
      sessionStorage.setItem(STORE_KEY, JSON.stringify({ name: state.name, session: state.session, user: state.user }));
    } else {
      sessionStorage.removeItem(STORE_KEY);
    }
  }

  function restore() {
    try {
      const s = JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null');
      if (s && s.session && typeof s.session.skey === 'string' && typeof s.name === 'string') {
        state.name = s.name; state.session = s.session; state.user = s.user || {};
        return true;
      }
    } catch (e) { /* ignore a damaged entry */ }
    return false;
  }

  // --- HTTP ------------------------------------------------------------------------

  async function fetchJson(url, options) {
    const res = await fetch(url, Object.assign({ cache: 'no-store' }, options));
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    return { status: res.status, body };
  }

  function errorText(r) {
    return (r.body && (r.body.message || r.body.error)) || `HTTP ${r.status}`;
  }

  // What wx.login() + wx.getUserInfo() give a mini-program, then /login.
  async function login(name) {
    const avatarUrl = `${location.origin}/standin/avatar/${encodeURIComponent(name)}.svg`;
    const q = new URLSearchParams({ user: name, avatarUrl });
    const c = await fetchJson(`/standin/code?${q}`, { method: 'GET' });
    if (c.status !== 200 || !c.body || !c.body.code) throw new Error(`WeChat stand-in: ${errorText(c)}`);
    const r = await fetchJson('/login', {
      method: 'GET',
      headers: { 'X-WX-Code': c.body.code, 'X-WX-Encrypted-Data': c.body.encryptedData, 'X-WX-IV': c.body.iv },
    });
    if (r.status !== 200 || !r.body || !r.body.session) throw new Error(`login failed: ${errorText(r)}`);
    state.name = name;
    state.session = r.body.session;
    state.user = r.body.userInfo || {};
    save();
  }

  // Log in again with the same name (the session was refused); one at a
  // time: everyone who needs a session waits for the same login.
  function relogin() {
    if (!state.relogging) {
      setConn('connecting', 'logging in again');
      state.relogging = login(state.name)
        .catch((e) => { state.session = null; save(); throw e; })
        .finally(() => { state.relogging = null; });
    }
    return state.relogging;
  }

  // A usable session: waits for a login in progress, logs in if there is none.
  async function currentSession() {
    if (state.relogging) await state.relogging;
    if (!state.session) await relogin();
    return state.session;
  }

  // --- the socket --------------------------------------------------------------------

  function setConn(s, text) {
    els.conn.dataset.state = s;
    els.conn.textContent = text || s;
  }

  function connect() {
    clearTimeout(state.timer);
    state.timer = null;
    if (!state.session) return;
    const q = new URLSearchParams({ 'X-WX-Id': state.session.id, 'X-WX-Skey': state.session.skey, room: ROOM });
    if (state.lastId > 0) {
      q.set('since', String(state.lastId));
      if (state.epoch) q.set('epoch', state.epoch);
    }
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/chat?${q}`);
    state.ws = ws;
    state.wsSkey = state.session.skey;
    state.open = false;
    state.invalid = false;
    setConn(state.retries ? 'reconnecting' : 'connecting');
    ws.onmessage = (ev) => {
      if (state.ws !== ws) return;
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m && typeof m === 'object') handle(m);
    };
    ws.onclose = (ev) => {
      if (state.ws !== ws) return;
      state.ws = null;
      state.open = false;
      if (ev.code === 4401 || state.invalid) {
        // Log in again; connect at once the first time, then back off.
        relogin().then(() => (state.retries++ === 0 ? connect() : scheduleReconnect()),
          (e) => { system(e.message); scheduleReconnect(); });
      } else {
        scheduleReconnect();
      }
    };
  }

  function scheduleReconnect() {
    if (!state.session && !state.name) return;
    const base = RETRY_MS[Math.min(state.retries, RETRY_MS.length - 1)];
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    state.retries++;
    setConn('reconnecting', `reconnecting in ${Math.max(1, Math.round(delay / 1000))} s`);
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      if (state.session) connect();
      else relogin().then(connect, (e) => { system(e.message); scheduleReconnect(); });
    }, delay);
  }

  function disconnect() {
    clearTimeout(state.timer);
    const ws = state.ws;
    state.ws = null;
    state.open = false;
    if (ws) ws.close(1000, 'bye');
  }

  function sendFrame(payload) {
    if (!state.ws || !state.open || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(payload));
    return true;
  }

  // --- what the relay sends ------------------------------------------------------

  function handle(m) {
    if (Object.prototype.hasOwnProperty.call(m, MAGIC) || (m.error && m.type !== 'error')) {
      if (m.error === 'ERR_INVALID_SESSION') state.invalid = true;
      else system(`server: ${m.message || m.error}`);
      return;
    }
    if (m.type === 'system') return onSystem(m);
    if (m.type === 'error') return onError(m);
    if (m.type === 'user' || m.type === 'remote') return onChat(m);
  }

  function onSystem(m) {
    if (typeof m.num === 'number') els.online.textContent = String(m.num);
    if (m.event === 'join' || m.event === 'leave') return;
    if (typeof m.seq !== 'number') return;
    // The first frame of a connection.
    const wasReconnect = state.retries > 0 || state.lastId > 0;
    if (state.epoch && m.epoch && m.epoch !== state.epoch) {
      // The room was reset: its ids start again, so the old ones mean nothing.
      for (const li of els.list.querySelectorAll('li.msg[data-id]')) li.remove();
      state.seen.clear();
      state.lastId = 0;
      system('The room was reset.');
    }
    if (m.epoch) state.epoch = m.epoch;
    if (m.recovered === false) system('Some earlier messages could not be recovered.');
    state.open = true;
    state.retries = 0;
    setConn('online');
    if (wasReconnect) system('Reconnected.');
    for (const p of state.pending.values()) if (!p.uploading) sendFrame(p.payload);
  }

  // A message of ours was refused: for good (bad message), or for now
  // (database down, too fast: sent again a little later).
  function onError(m) {
    const p = m.cid && state.pending.get(m.cid);
    const transient = m.error === 'ERR_UNAVAILABLE' || m.error === 'ERR_RATE_LIMITED';
    if (p && transient) {
      markFailed(p, `${m.message || m.error} (will retry)`);
      setTimeout(() => { if (state.pending.get(m.cid) === p) sendFrame(p.payload); }, 2000);
      return;
    }
    if (p) {
      markFailed(p, m.message || m.error);
      state.pending.delete(m.cid);
    }
    system(`${m.error}: ${m.message || ''}`);
  }

  function onChat(m) {
    if (typeof m.id !== 'number') return;
    if (typeof m.number === 'number') els.online.textContent = String(m.number);
    if (m.type === 'user' && m.cid && state.pending.has(m.cid)) {
      state.pending.get(m.cid).el.remove();
      state.pending.delete(m.cid);
    }
    if (state.seen.has(m.id)) return;
    state.seen.add(m.id);
    if (m.id > state.lastId) state.lastId = m.id;
    const el = renderMessage(m);
    insertById(el, m.id);
  }

  // --- rendering ---------------------------------------------------------------------

  function nearBottom() {
    const l = els.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 80;
  }

  function append(el) {
    const stick = nearBottom();
    els.list.appendChild(el);
    if (stick) els.list.scrollTop = els.list.scrollHeight;
  }

  // Confirmed messages go in id order, before pending ones.
  function insertById(el, id) {
    const stick = nearBottom();
    let after = els.list.lastElementChild;
    while (after && (after.classList.contains('pending') || Number(after.dataset.id) > id)) {
      after = after.previousElementSibling;
    }
    els.list.insertBefore(el, after ? after.nextSibling : els.list.firstChild);
    if (stick) els.list.scrollTop = els.list.scrollHeight;
  }

  function system(text) {
    const li = document.createElement('li');
    li.className = 'system';
    const span = document.createElement('span');
    span.textContent = text;
    li.appendChild(span);
    append(li);
  }

  // An image URL we are willing to load: our /files/ or https.
  function safeImageUrl(url) {
    if (typeof url !== 'string' || url.length > 4096) return null;
    if (/^\/files\/[A-Za-z0-9._-]+$/.test(url)) return url;
    try {
      const u = new URL(url);
      if (u.protocol === 'https:' || u.origin === location.origin) return u.href;
    } catch (e) { /* not a URL */ }
    return null;
  }

  function avatarFor(name, url) {
    const safe = typeof url === 'string' && (url.startsWith('/files/') || url.startsWith('/standin/'))
      ? url : safeImageUrl(url);
    const letter = document.createElement('span');
    letter.className = 'avatar letter';
    letter.textContent = ([...(name || '?')][0] || '?').toUpperCase();
    if (!safe) return letter;
    const img = document.createElement('img');
    img.className = 'avatar';
    img.alt = '';
    img.src = safe;
    img.onerror = () => img.replaceWith(letter);
    return img;
  }

  function timeText(ms) {
    const d = new Date(typeof ms === 'number' ? ms : Date.now());
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  // One message row; `m` is a relay message or a pending one of ours.
  function messageElement(m, mine) {
    const li = document.createElement('li');
    li.className = `msg ${mine ? 'user' : 'remote'}`;
    li.appendChild(avatarFor(m.nickName, m.avatarUrl));
    const body = document.createElement('div');
    body.className = 'body';
    if (!mine) {
      const name = document.createElement('div');
      name.className = 'name';
      name.textContent = m.nickName || `user ${m.uid}`;
      body.appendChild(name);
    }
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    const url = m.gallery ? safeImageUrl(m.url) : null;
    if (url) {
      bubble.classList.add('photo');
      const img = document.createElement('img');
      img.className = 'photo';
      img.alt = 'image';
      img.src = url;
      img.onload = () => { if (nearBottom() || mine) els.list.scrollTop = els.list.scrollHeight; };
      bubble.appendChild(img);
    } else {
      bubble.classList.add('text');
      bubble.textContent = m.gallery ? '[image]' : String(m.content == null ? '' : m.content);
    }
    body.appendChild(bubble);
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = timeText(m.time);
    body.appendChild(meta);
    li.appendChild(body);
    return li;
  }

  function renderMessage(m) {
    const li = messageElement(m, m.type === 'user');
    li.dataset.id = String(m.id);
    li.dataset.uid = String(m.uid);
    if (m.history) li.classList.add('history');
    return li;
  }

  // --- sending -------------------------------------------------------------------------

  function newCid() {
    const a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function pendingElement(m) {
    const li = messageElement(Object.assign({ nickName: state.user.nickName || state.name, avatarUrl: state.user.avatarUrl }, m), true);
    li.classList.add('pending');
    li.querySelector('.meta').textContent = 'sending…';
    return li;
  }

  function markFailed(p, why) {
    p.el.classList.add('failed');
    p.el.querySelector('.meta').textContent = `not sent: ${why}`;
  }

  function sendText(text) {
    const cid = newCid();
    const payload = { text: true, content: text, cid };
    const el = pendingElement({ text: true, content: text });
    state.pending.set(cid, { payload, el });
    append(el);
    sendFrame(payload); // otherwise it goes out when the socket is open again
  }

  // POST the file to /upload; returns the answer and the session it used.
  async function uploadOnce(file) {
    const session = await currentSession();
    const fd = new FormData();
    fd.append('file', file, file.name || 'image');
    const r = await fetchJson('/upload', {
      method: 'POST', headers: { 'X-WX-Id': session.id, 'X-WX-Skey': session.skey }, body: fd,
    });
    return Object.assign(r, { session });
  }

  async function sendImage(file) {
    const cid = newCid();
    const el = pendingElement({ text: true, content: `uploading ${file.name || 'image'}…` });
    const p = { payload: null, el, uploading: true };
    state.pending.set(cid, p);
    append(el);
    try {
      let r = await uploadOnce(file);
      if (r.status === 401) {
        if (state.session === r.session) await relogin(); // else someone already did
        else await currentSession();
        if (state.wsSkey !== state.session.skey) { disconnect(); connect(); }
        r = await uploadOnce(file);
      }
      const url = r.body && (r.body.url || (r.body.data && r.body.data.imgUrl));
      if (r.status !== 200 || !url) throw new Error(errorText(r));
      p.payload = { gallery: true, url, cid };
      p.uploading = false;
      const shown = pendingElement({ gallery: true, url });
      el.replaceWith(shown);
      p.el = shown;
      sendFrame(p.payload);
    } catch (e) {
      markFailed(p, e.message);
      state.pending.delete(cid);
    }
  }

  // --- the page ------------------------------------------------------------------------

  function showChat() {
    els.login.hidden = true;
    els.chat.hidden = false;
    els.room.textContent = ROOM;
    els.me.textContent = (state.user && state.user.nickName) || state.name;
    els.text.focus();
  }

  function showLogin(message) {
    els.chat.hidden = true;
    els.login.hidden = false;
    els.loginError.textContent = message || '';
    els.loginButton.disabled = false;
    els.loginName.focus();
  }

  els.loginForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = els.loginName.value.trim();
    if (!name) return;
    els.loginButton.disabled = true;
    els.loginError.textContent = '';
    try {
      await login(name);
      showChat();
      connect();
    } catch (e) {
      showLogin(e.message);
    }
  });

  els.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = els.text.value;
    if (!text.trim()) return;
    els.text.value = '';
    sendText(text);
  });

  els.image.addEventListener('change', () => {
    const file = els.image.files && els.image.files[0];
    els.image.value = '';
    if (file) sendImage(file);
  });

  els.logout.addEventListener('click', async () => {
    const session = state.session;
    disconnect();
    state.session = null;
    state.name = null;
    save();
    if (session) {
      await fetchJson('/logout', { method: 'POST', headers: { 'X-WX-Id': session.id, 'X-WX-Skey': session.skey } })
        .catch(() => {});
    }
    location.reload();
  });

  window.addEventListener('online', () => { if (state.session && !state.ws) connect(); });

  if (restore()) {
    showChat();
    connect();
  } else {
    showLogin();
  }
})();
