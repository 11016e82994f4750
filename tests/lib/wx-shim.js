// wx-shim.js -- the part of the mini-program `wx` API that the wafer client
// SDKs use, for Node, so the UNMODIFIED wafer-client-sdk@0.8.4 and
// wafer2-client-sdk@2.1.0 run against the real stack:
//
//   wx.login          a fresh code from the WeChat stand-in (harness.wxCode)
//   wx.getUserInfo    that same issuance's userInfo/rawData/signature/encryptedData/iv
//   wx.checkSession   succeeds (shim.sessionValid = false makes it fail)
//   wx.request        a real HTTP request (fetch); success({data, statusCode, header})
//                     with data parsed as JSON when it parses, like WeChat's
//   wx.get/set/removeStorageSync   an in-memory map per client
//   wx.connectSocket, onSocketOpen/Message/Close/Error, sendSocketMessage,
//   closeSocket       (and the SocketTask form) on npm `ws`
//
// Each client gets its own `wx`, its own storage and its own copy of the SDK:
// the SDK's files are loaded by a tiny CommonJS loader that hands them `wx`
// as a variable, so module-level state (login URL, session, socket
// listeners) is never shared between clients and no global is touched.
//
//   const { createClient } = require('../lib/wx-shim');
//   const c = createClient({ sdk: 'wafer', user: 'alice' });
//   c.sdk.setLoginUrl(`${env.BASE_URL}/login`);
//   const userInfo = await c.login();
//   const res = await c.request({ login: true, url: `${env.BASE_URL}/user` });
'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');
const WebSocket = require('ws');

const SDK_PACKAGES = { wafer: 'wafer-client-sdk', wafer2: 'wafer2-client-sdk' };

// The stand-in's code source; loaded lazily so the shim has no side effect
// at require time.
function defaultCodeSource(user, options) {
  return require('./harness').wxCode(user, options);
}

// Call the WeChat-style callbacks of `opts` with `result`.
function settle(opts, ok, result) {
  const cb = ok ? opts && opts.success : opts && opts.fail;
  if (typeof cb === 'function') cb(result);
  if (opts && typeof opts.complete === 'function') opts.complete(result);
}

// Run `fn` on a later turn, so callbacks never run inside the caller (as in WeChat).
const later = (fn) => setImmediate(fn);

function queryString(data) {
  return Object.entries(data)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === 'object' ? JSON.stringify(v) : String(v))}`)
    .join('&');
}

// Headers as WeChat sends them: values as strings, undefined/null dropped,
// content-type application/json unless the caller set one.
function requestHeaders(header) {
  const out = {};
  for (const [k, v] of Object.entries(header || {})) if (v !== undefined && v !== null) out[k] = String(v);
  if (!Object.keys(out).some((k) => k.toLowerCase() === 'content-type')) out['content-type'] = 'application/json';
  return out;
}

// URL and body of a wx.request: GET data goes into the query string; other
// methods send strings/buffers as they are and objects as JSON (or as a
// form when the content type says so).
function requestUrlAndBody(method, url, data, headers) {
  if (data === undefined || data === null) return { url, body: undefined };
  if (method === 'GET' || method === 'HEAD') {
    if (typeof data === 'object') {
      const q = queryString(data);
      return { url: q ? url + (url.includes('?') ? '&' : '?') + q : url, body: undefined };
    }
    return { url, body: undefined };
  }
  if (typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return { url, body: data };
  const type = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')[1];
  if (/x-www-form-urlencoded/i.test(type)) return { url, body: queryString(data) };
  return { url, body: JSON.stringify(data) };
}

// One socket over npm `ws` with the SocketTask interface; `onEvent(name,
// payload)` also sees every event (for the global wx.onSocket* listeners).
function openSocketTask(opts, onEvent) {
  const listeners = { open: [], close: [], error: [], message: [] };
  const emit = (name, payload) => {
    for (const cb of listeners[name]) cb(payload);
    onEvent(name, payload);
  };
  const headers = {};
  for (const [k, v] of Object.entries(opts.header || {})) if (v !== undefined && v !== null) headers[k] = String(v);
  const ws = new WebSocket(opts.url, opts.protocols || [], { headers, handshakeTimeout: 10000 });
  ws.on('open', () => emit('open', { header: {}, profile: {} }));
  ws.on('message', (data, isBinary) => {
    const buf = Buffer.isBuffer(data) ? data : Buffer.concat([].concat(data));
    emit('message', {
      data: isBinary ? buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) : buf.toString('utf8'),
    });
  });
  ws.on('close', (code, reason) => emit('close', { code, reason: reason.toString('utf8') }));
  ws.on('error', (err) => emit('error', { errMsg: `connectSocket:fail ${err.message}` }));

  const task = {
    ws,
    get readyState() { return ws.readyState; },
    send(o = {}) {
      if (ws.readyState !== WebSocket.OPEN) {
        later(() => settle(o, false, { errMsg: 'sendSocketMessage:fail WebSocket is not connected' }));
        return;
      }
      const binary = o.data instanceof ArrayBuffer || ArrayBuffer.isView(o.data);
      ws.send(binary ? Buffer.from(o.data.buffer || o.data) : String(o.data), { binary }, (err) =>
        settle(o, !err, { errMsg: err ? `sendSocketMessage:fail ${err.message}` : 'sendSocketMessage:ok' }));
    },
    close(o = {}) {
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) {
        ws.close(o.code || 1000, o.reason || '');
      }
      later(() => settle(o, true, { errMsg: 'closeSocket:ok' }));
    },
    onOpen(cb) { listeners.open.push(cb); },
    onClose(cb) { listeners.close.push(cb); },
    onError(cb) { listeners.error.push(cb); },
    onMessage(cb) { listeners.message.push(cb); },
  };
  return task;
}

// A `wx` object for one mini-program instance, logged in as `user`.
// Options: codeOptions (stand-in options for every code: nickName, placeholder,
// unionid...), codeSource (async (user, options) => issuance).
function createWx({ user, codeOptions = {}, codeSource = defaultCodeSource } = {}) {
  if (!user) throw new Error('createWx: user is required');
  const storage = new Map();
  const globalListeners = { open: null, close: null, error: null, message: null };
  let currentSocket = null;
  let issuance = null;

  const shim = {
    user,
    codeOptions: Object.assign({}, codeOptions),
    nextCodeOptions: null, // stand-in options for the next wx.login only
    sessionValid: true,    // what wx.checkSession answers
    issued: [],            // every issuance from the stand-in, oldest first
    requests: [],          // {method, url, statusCode} of every wx.request, in order
    storage,
    get socket() { return currentSocket; },
  };

  const wx = {
    __shim: shim,

    login(opts = {}) {
      const options = Object.assign({}, shim.codeOptions, shim.nextCodeOptions || {});
      shim.nextCodeOptions = null;
      Promise.resolve()
        .then(() => codeSource(shim.user, options))
        .then((got) => {
          issuance = got;
          shim.issued.push(got);
          settle(opts, true, { code: got.code, errMsg: 'login:ok' });
        }, (err) => settle(opts, false, { errMsg: `login:fail ${err.message}` }));
    },

    getUserInfo(opts = {}) {
      later(() => {
        if (!issuance) return settle(opts, false, { errMsg: 'getUserInfo:fail not logged in' });
        const { userInfo, rawData, signature, encryptedData, iv } = issuance;
        settle(opts, true, { userInfo: Object.assign({}, userInfo), rawData, signature, encryptedData, iv,
                             errMsg: 'getUserInfo:ok' });
      });
    },

    checkSession(opts = {}) {
      later(() => settle(opts, shim.sessionValid, { errMsg: shim.sessionValid ? 'checkSession:ok' : 'checkSession:fail' }));
    },

    getStorageSync(key) {
      return storage.has(key) ? structuredClone(storage.get(key)) : '';
    },
    setStorageSync(key, value) {
      storage.set(key, structuredClone(value));
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
    clearStorageSync() {
      storage.clear();
    },

    request(opts = {}) {
      const controller = new AbortController();
      const method = String(opts.method || 'GET').toUpperCase();
      const headers = requestHeaders(opts.header);
      const { url, body } = requestUrlAndBody(method, opts.url, opts.data, headers);
      const entry = { method, url, statusCode: null };
      shim.requests.push(entry);
      fetch(url, { method, headers, body, signal: controller.signal })
        .then(async (res) => {
          const text = await res.text();
          let data = text;
          if ((opts.dataType || 'json') === 'json') {
            try { data = JSON.parse(text); } catch { data = text; }
          }
          const header = {};
          res.headers.forEach((v, k) => { header[k] = v; });
          entry.statusCode = res.status;
          settle(opts, true, { data, statusCode: res.status, header, cookies: [], errMsg: 'request:ok' });
        }, (err) => settle(opts, false, { errMsg: `request:fail ${err.message}` }));
      return { abort: () => controller.abort() };
    },

    connectSocket(opts = {}) {
      if (currentSocket && currentSocket.readyState <= WebSocket.OPEN) currentSocket.close({});
      const task = openSocketTask(opts, (name, payload) => {
        if (task === currentSocket && globalListeners[name]) globalListeners[name](payload);
      });
      currentSocket = task;
      later(() => settle(opts, true, { errMsg: 'connectSocket:ok' }));
      return task;
    },
    onSocketOpen(cb) { globalListeners.open = cb; },
    onSocketClose(cb) { globalListeners.close = cb; },
    onSocketError(cb) { globalListeners.error = cb; },
    onSocketMessage(cb) { globalListeners.message = cb; },
    sendSocketMessage(opts = {}) {
      if (!currentSocket) return later(() => settle(opts, false, { errMsg: 'sendSocketMessage:fail no socket' }));
      currentSocket.send(opts);
    },
    closeSocket(opts = {}) {
      if (!currentSocket) return later(() => settle(opts, true, { errMsg: 'closeSocket:ok' }));
      currentSocket.close(opts);
    },
  };
  return wx;
}

// Load an npm package's files fresh, with `wx` in scope of each file.
// Relative requires stay inside the package and share this load's cache;
// anything else goes to Node's require.
function loadWithWx(pkgName, wx) {
  const pkgJson = require.resolve(`${pkgName}/package.json`);
  const pkgDir = path.dirname(pkgJson);
  const main = path.resolve(pkgDir, require(pkgJson).main || 'index.js');
  const cache = new Map();
  const resolveFile = (p) => {
    for (const candidate of [p, `${p}.js`, path.join(p, 'index.js')]) {
      if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
    }
    throw new Error(`wx-shim: cannot find ${p}`);
  };
  const load = (file) => {
    if (cache.has(file)) return cache.get(file).exports;
    const module = { exports: {} };
    cache.set(file, module);
    const fn = vm.compileFunction(fs.readFileSync(file, 'utf8'),
      ['exports', 'require', 'module', '__filename', '__dirname', 'wx'], { filename: file });
    const dir = path.dirname(file);
    const localRequire = (spec) => {
      if (spec.startsWith('./') || spec.startsWith('../')) {
        const target = resolveFile(path.resolve(dir, spec));
        if (!target.startsWith(pkgDir + path.sep)) throw new Error(`wx-shim: ${spec} leaves ${pkgName}`);
        return load(target);
      }
      return require(spec);
    };
    fn.call(module.exports, module.exports, localRequire, module, file, dir, wx);
    return module.exports;
  };
  return load(main);
}

// Promise forms of the SDK calls; errors reject with the SDK's error object.
function promisify(sdk) {
  return {
    login: (opts = {}) => new Promise((resolve, reject) =>
      sdk.login(Object.assign({}, opts, { success: resolve, fail: reject }))),
    loginWithCode: (opts = {}) => new Promise((resolve, reject) =>
      sdk.loginWithCode(Object.assign({}, opts, { success: resolve, fail: reject }))),
    request: (opts = {}) => new Promise((resolve, reject) =>
      sdk.request(Object.assign({}, opts, { success: resolve, fail: reject }))),
  };
}

// A mini-program instance: { wx, shim, sdk, login(), loginWithCode(), request() }.
// sdk: 'wafer' (wafer-client-sdk 0.8.4) or 'wafer2' (wafer2-client-sdk 2.1.0).
function createClient({ sdk = 'wafer', user, codeOptions, codeSource } = {}) {
  const pkg = SDK_PACKAGES[sdk];
  if (!pkg) throw new Error(`createClient: unknown sdk ${sdk}`);
  const wx = createWx({ user, codeOptions, codeSource });
  const lib = loadWithWx(pkg, wx);
  return Object.assign({ wx, shim: wx.__shim, sdk: lib, user }, promisify(lib));
}

module.exports = { createWx, createClient, loadWithWx };
