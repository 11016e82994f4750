#!/usr/bin/env node
// server.js -- a stand-in for WeChat's servers, for tests and local runs.
//
// It answers GET /sns/jscode2session the way api.weixin.qq.com does
// (JSON served as text/plain; errcode 40029 for an unknown or expired code,
// 40163 for a code used twice, 40125 for a wrong secret, 40013 for a wrong
// appid), and lets a test or a person obtain what wx.login() and
// wx.getUserInfo() would give a mini-program for a chosen user:
//
//   GET|POST /standin/code?user=NAME[&nickName=..][&avatarUrl=..][&gender=1]
//       [&placeholder=1]        WeChat's modern placeholder profile
//       [&unionid=1]            include a unionId
//       [&delayMs=N]            answer the exchange of this code after N ms
//       [&reply=http500|garbage|errcode:N]   answer the exchange with that failure
//       [&watermarkAppid=X] [&openIdInPlaintext=X]   tamper with the encrypted data
//   => {"code", "openid", "userInfo", "rawData", "signature", "encryptedData", "iv"}
//
// encryptedData is AES-128-CBC with the code's session_key, rawData is
// signed with sha1(rawData + session_key), exactly as WeChat does, so the
// login service's whole cryptographic path runs for real. The session_key
// itself is never handed out, as with WeChat.
//
// GET /standin/avatar/NAME.svg serves a generated avatar (no network needed).
// Environment: STANDIN_LISTEN (host:port, default 127.0.0.1:9911), WX_APPID, WX_SECRET.
'use strict';

const http = require('http');
const crypto = require('crypto');

const [host, port] = (process.env.STANDIN_LISTEN || '127.0.0.1:9911').split(':');
const APPID = process.env.WX_APPID || 'wx0000standin0000';
const SECRET = process.env.WX_SECRET || 'standin-secret';
const CODE_TTL_MS = 5 * 60 * 1000;
const PLACEHOLDER_NAME = '微信用户';
const PLACEHOLDER_AVATAR =
  'https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132';

const codes = new Map(); // code -> {openid, unionid, sessionKey, issued, used, behaviour}

function openidFor(user) {
  return 'o' + crypto.createHash('sha256').update(APPID + ':' + user).digest('base64url').slice(0, 27);
}

function unionidFor(user) {
  return 'u' + crypto.createHash('sha256').update('union:' + user).digest('base64url').slice(0, 27);
}

function encrypt(sessionKey, plaintext) {
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-128-cbc', sessionKey, iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { encryptedData: data.toString('base64'), iv: iv.toString('base64') };
}

function publicBase(req) {
  const h = req.headers['x-forwarded-host'] || req.headers.host || `${host}:${port}`;
  return `http://${h}`;
}

// Issue a code and the matching user data for `q` (URLSearchParams).
function issueCode(q, req) {
  const user = q.get('user');
  if (!user || user.length > 64) return [400, { error: 'user (1..64 chars) is required' }];
  const code = crypto.randomBytes(16).toString('hex');
  const sessionKey = crypto.randomBytes(16);
  const openid = openidFor(user);
  const unionid = q.get('unionid') === '1' ? unionidFor(user) : undefined;
  const placeholder = q.get('placeholder') === '1';
  const userInfo = {
    nickName: placeholder ? PLACEHOLDER_NAME : q.get('nickName') || user,
    gender: placeholder ? 0 : Number(q.get('gender') || 0),
    language: 'zh_CN',
    city: placeholder ? '' : 'Guangzhou',
    province: placeholder ? '' : 'Guangdong',
    country: placeholder ? '' : 'CN',
    avatarUrl: placeholder
      ? PLACEHOLDER_AVATAR
      : q.get('avatarUrl') || `${publicBase(req)}/standin/avatar/${encodeURIComponent(user)}.svg`,
  };
  const rawData = JSON.stringify(userInfo);
  const signature = crypto.createHash('sha1').update(rawData + sessionKey.toString('base64')).digest('hex');
  const plain = Object.assign({ openId: q.get('openIdInPlaintext') || openid }, userInfo);
  if (unionid) plain.unionId = unionid;
  plain.watermark = { timestamp: Math.floor(Date.now() / 1000), appid: q.get('watermarkAppid') || APPID };
  const { encryptedData, iv } = encrypt(sessionKey, JSON.stringify(plain));
  codes.set(code, {
    openid, unionid, sessionKey, issued: Date.now(), used: false,
    delayMs: Math.min(Number(q.get('delayMs') || 0), 120000), reply: q.get('reply') || '',
  });
  return [200, { code, openid, userInfo, rawData, signature, encryptedData, iv }];
}

// The answer WeChat gives to a jscode2session request.
function exchange(q) {
  if (q.get('appid') !== APPID) return { errcode: 40013, errmsg: 'invalid appid' };
  if (q.get('secret') !== SECRET) return { errcode: 40125, errmsg: 'invalid appsecret' };
  if (q.get('grant_type') !== 'authorization_code') return { errcode: 40002, errmsg: 'invalid grant_type' };
  const entry = codes.get(q.get('js_code') || '');
  if (!entry || Date.now() - entry.issued > CODE_TTL_MS) return { errcode: 40029, errmsg: 'invalid code' };
  if (entry.used) return { errcode: 40163, errmsg: 'code been used' };
  entry.used = true;
  const answer = { session_key: entry.sessionKey.toString('base64'), openid: entry.openid };
  if (entry.unionid) answer.unionid = entry.unionid;
  return answer;
}

function avatarSvg(name) {
  const hue = crypto.createHash('md5').update(name).digest()[0] * 360 / 256;
  const letter = [...name][0] || '?';
  const esc = letter.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">` +
    `<rect width="96" height="96" rx="12" fill="hsl(${hue.toFixed(0)},55%,55%)"/>` +
    `<text x="48" y="62" font-size="44" text-anchor="middle" fill="#fff" font-family="sans-serif">${esc}</text></svg>`;
}

function send(res, status, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function handleExchange(q, res) {
  const entry = codes.get(q.get('js_code') || '');
  const reply = entry && !entry.used ? entry.reply : '';
  const answer = () => {
    if (reply === 'http500') return send(res, 500, 'internal error', 'text/plain');
    if (reply === 'garbage') return send(res, 200, '<html>not json', 'text/html');
    if (reply.startsWith('errcode:')) {
      entry.used = true;
      return send(res, 200, { errcode: Number(reply.slice(8)), errmsg: 'stand-in failure' }, 'text/plain');
    }
    send(res, 200, exchange(q), 'text/plain');
  };
  if (entry && entry.delayMs > 0 && !entry.used) setTimeout(answer, entry.delayMs);
  else answer();
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://standin');
  const q = url.searchParams;
  if (url.pathname === '/sns/jscode2session' && req.method === 'GET') return handleExchange(q, res);
  if (url.pathname === '/standin/code' && (req.method === 'GET' || req.method === 'POST')) {
    const [status, body] = issueCode(q, req);
    return send(res, status, body);
  }
  const avatar = url.pathname.match(/^\/standin\/avatar\/([^/]{1,200})\.svg$/);
  if (avatar && req.method === 'GET') {
    res.setHeader('Cache-Control', 'public, max-age=86400');
    return send(res, 200, avatarSvg(decodeURIComponent(avatar[1])), 'image/svg+xml');
  }
  if (url.pathname === '/standin/healthz') return send(res, 200, { ok: true });
  send(res, 404, { errcode: -1, errmsg: 'not found' });
});

// Forget codes nobody exchanged.
setInterval(() => {
  const now = Date.now();
  for (const [code, entry] of codes) if (now - entry.issued > CODE_TTL_MS) codes.delete(code);
}, 60000).unref();

server.listen(Number(port), host, () => console.log(`wx-standin listening on ${host}:${port} appid=${APPID}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
