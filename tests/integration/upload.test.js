// upload.test.js -- image uploads through nginx and login-fcgi: real
// multipart requests (undici's FormData and bodies built the way
// wx.uploadFile sends them), the stored file served back at its URL with a
// safe Content-Type, and every refusal (401, 400, 413, 415) as JSON with
// nothing left in the upload directory.
'use strict';

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { env, http, wxCode, MAGIC } = require('../lib/harness');
const { loginAs } = require('../lib/fixtures');
const { makePng } = require('../lib/png');

const RUN = crypto.randomBytes(3).toString('hex');
const MAX_BYTES = 10 * 1024 * 1024; // UPLOAD_MAX_BYTES of the test stack (the default)

// --- images ----------------------------------------------------------------------

// 4x4 images encoded by Chromium's canvas, and the classic 1x1 GIF.
const JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQAAAQABAAD/4gHYSUNDX1BST0ZJTEUAAQEAAAHIAAAAAAQwAABtbnRyUkdCIFhZWiAH4AABAAEAAAAAAABhY3NwAAAAAA' +
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA9tYAAQAAAADTLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
  'AAAAAAlkZXNjAAAA8AAAACRyWFlaAAABFAAAABRnWFlaAAABKAAAABRiWFlaAAABPAAAABR3dHB0AAABUAAAABRyVFJDAAABZAAAAChnVFJDAA' +
  'ABZAAAAChiVFJDAAABZAAAAChjcHJ0AAABjAAAADxtbHVjAAAAAAAAAAEAAAAMZW5VUwAAAAgAAAAcAHMAUgBHAEJYWVogAAAAAAAAb6IAADj1' +
  'AAADkFhZWiAAAAAAAABimQAAt4UAABjaWFlaIAAAAAAAACSgAAAPhAAAts9YWVogAAAAAAAA9tYAAQAAAADTLXBhcmEAAAAAAAQAAAACZmYAAP' +
  'KnAAANWQAAE9AAAApbAAAAAAAAAABtbHVjAAAAAAAAAAEAAAAMZW5VUwAAACAAAAAcAEcAbwBvAGcAbABlACAASQBuAGMALgAgADIAMAAxADb/' +
  '2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUEBQkFBQ' +
  'kUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAARCAAEAAQDASIAAhEBAxEB/8QAFQABAQAA' +
  'AAAAAAAAAAAAAAAAAAX/xAAjEAAAAwgCAwAAAAAAAAAAAAAAAxEBAgQFBhITIRUlFCIj/8QAFQEBAQAAAAAAAAAAAAAAAAAABgj/xAAbEQACAQ' +
  'UAAAAAAAAAAAAAAAAAAgEEMjSBsf/aAAwDAQACEQMRAD8AoVBUHP8AG9bL5b4UEXBdeRiz2L9TdtuNeX2e0qM0AACj3EVVuQ2uQf/Z', 'base64');
const WEBP = Buffer.from(
  'UklGRiwCAABXRUJQVlA4WAoAAAAgAAAAAwAAAwAASUNDUMgBAAAAAAHIAAAAAAQwAABtbnRyUkdCIFhZWiAH4AABAAEAAAAAAABhY3NwAAAAAA' +
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA9tYAAQAAAADTLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
  'AAAAAAlkZXNjAAAA8AAAACRyWFlaAAABFAAAABRnWFlaAAABKAAAABRiWFlaAAABPAAAABR3dHB0AAABUAAAABRyVFJDAAABZAAAAChnVFJDAA' +
  'ABZAAAAChiVFJDAAABZAAAAChjcHJ0AAABjAAAADxtbHVjAAAAAAAAAAEAAAAMZW5VUwAAAAgAAAAcAHMAUgBHAEJYWVogAAAAAAAAb6IAADj1' +
  'AAADkFhZWiAAAAAAAABimQAAt4UAABjaWFlaIAAAAAAAACSgAAAPhAAAts9YWVogAAAAAAAA9tYAAQAAAADTLXBhcmEAAAAAAAQAAAACZmYAAP' +
  'KnAAANWQAAE9AAAApbAAAAAAAAAABtbHVjAAAAAAAAAAEAAAAMZW5VUwAAACAAAAAcAEcAbwBvAGcAbABlACAASQBuAGMALgAgADIAMAAxADZW' +
  'UDggPgAAALABAJ0BKgQABAAAwBIloAJ0ugAA5gAA/vOMP/zqb/86D3/83c0zi33H90X2oqg//6yi/9Vj/+qx/+sFAAAA', 'base64');
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// --- requests ----------------------------------------------------------------------

// The session headers of a fresh real login.
const login = async (user) => (await loginAs(user)).headers;

// A multipart body; parts: [{name, filename?, type?, data}].
function multipart(boundary, parts, { close = true } = {}) {
  const chunks = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(head + '\r\n'), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

function postRaw(path, headers, boundary, body) {
  return http('POST', path, {
    headers: Object.assign({ 'Content-Type': `multipart/form-data; boundary=${boundary}` }, headers),
    body,
  });
}

// Through fetch's own FormData encoder, like a browser.
function postForm(path, headers, data, filename, type) {
  const form = new FormData();
  form.append('file', new Blob([data], { type }), filename);
  return http('POST', path, { headers, body: form });
}

function filesInDir() {
  return fs.readdirSync(env.FILES_DIR);
}

function assertNoTempFiles() {
  const stray = filesInDir().filter((f) => !/^[0-9a-f]{64}\.(png|jpg|gif|webp)$/.test(f));
  assert.deepEqual(stray, [], 'only content-addressed files in the upload directory');
}

function assertJsonError(res, status, error) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') || '', /^application\/json/, res.text);
  assert.ok(res.json, `not JSON: ${res.text}`);
  assert.equal(res.json[MAGIC], 1, res.text);
  assert.equal(res.json.error, error, res.text);
  assert.equal(typeof res.json.message, 'string');
}

// The URL answers with exactly these bytes, the right type, never sniffed.
async function assertServed(url, data, mime) {
  const res = await fetch(env.BASE_URL + url);
  assert.equal(res.status, 200, url);
  assert.equal(res.headers.get('content-type'), mime);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.match(res.headers.get('cache-control') || '', /max-age=31536000/);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(data), 'served bytes equal the upload');
}

function assertUploaded(res, data, ext, mime) {
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.code, 0, res.text);
  assert.equal(res.json.url, `/files/${sha256(data)}.${ext}`);
  assert.deepEqual(res.json.data, { imgUrl: res.json.url, size: data.length, mimeType: mime });
  assert.equal(res.json[MAGIC], undefined, 'a success body carries no MAGIC key');
}

// --- tests ----------------------------------------------------------------------------

describe('uploads', () => {
  let session;
  before(async () => { session = await login(`uploader-${RUN}`); });

  for (const [label, data, ext, mime, filename] of [
    ['PNG', () => makePng(3, 2, [7, 193, 96]), 'png', 'image/png', 'green.png'],
    ['JPEG', () => JPEG, 'jpg', 'image/jpeg', 'photo.jpeg'],
    ['GIF', () => GIF, 'gif', 'image/gif', 'dot.gif'],
    ['WebP', () => WEBP, 'webp', 'image/webp', 'pic.webp'],
  ]) {
    it(`accepts a ${label} and serves it at its URL`, async () => {
      const bytes = data();
      const res = await postForm('/upload', session, bytes, filename, mime);
      assertUploaded(res, bytes, ext, mime);
      assert.ok(filesInDir().includes(`${sha256(bytes)}.${ext}`));
      await assertServed(res.json.url, bytes, mime);
    });
  }

  it('accepts a body built the way wx.uploadFile builds it', async () => {
    // wx.uploadFile({url, filePath, name: 'file', header, formData}): the
    // form fields first, then the file part named after the temp file with
    // the type of its extension; the session travels in the headers.
    const boundary = `----WebKitFormBoundary${crypto.randomBytes(8).toString('hex')}`;
    const body = multipart(boundary, [
      { name: 'user', data: 'test' },
      { name: 'room', data: 'lobby' },
      { name: 'file', filename: `tmp_${crypto.randomBytes(6).toString('hex')}.jpg`, type: 'image/jpeg', data: JPEG },
    ]);
    const headers = Object.assign({ Referer: 'https://servicewechat.com/wx0000standin0000/devtools/page-frame.html' }, session);
    const res = await postRaw('/upload', headers, boundary, body);
    assertUploaded(res, JPEG, 'jpg', 'image/jpeg');
  });

  it('stores the same image uploaded twice as one file', async () => {
    const png = makePng(5, 5, [200, 30, 30]);
    const a = await postForm('/upload', session, png, 'one.png', 'image/png');
    const b = await postForm('/upload', session, png, 'another-name.jpg', 'image/jpeg');
    assertUploaded(a, png, 'png', 'image/png');
    assertUploaded(b, png, 'png', 'image/png');
    assert.equal(a.json.url, b.json.url);
    assert.equal(filesInDir().filter((f) => f.startsWith(sha256(png))).length, 1);
    assertNoTempFiles();
  });

  it('judges by content: HTML named .png and sent as image/png is 415', async () => {
    const before = filesInDir().length;
    const html = Buffer.from('<html><body><script>alert(1)</script></body></html>');
    const res = await postForm('/upload', session, html, 'cat.png', 'image/png');
    assertJsonError(res, 415, 'ERR_UNSUPPORTED_TYPE');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>');
    assertJsonError(await postForm('/upload', session, svg, 'x.gif', 'image/gif'), 415, 'ERR_UNSUPPORTED_TYPE');
    assert.equal(filesInDir().length, before);
    assertNoTempFiles();
  });

  it('a hostile file name cannot choose where the file goes', async () => {
    const png = makePng(1, 7, [1, 2, 3]);
    const boundary = 'b0undary';
    const body = multipart(boundary, [{ name: 'file', filename: '../../../etc/evil.png', type: 'image/png', data: png }]);
    const res = await postRaw('/upload', session, boundary, body);
    assertUploaded(res, png, 'png', 'image/png');
    assertNoTempFiles();
  });

  it('refuses a file over UPLOAD_MAX_BYTES with 413 JSON, and accepts one of exactly that size', async () => {
    const exact = Buffer.alloc(MAX_BYTES, 0x5a);
    makePng(1, 1, [0, 0, 0]).copy(exact);
    const ok = await postForm('/upload', session, exact, 'big.png', 'image/png');
    assertUploaded(ok, exact, 'png', 'image/png');
    fs.unlinkSync(`${env.FILES_DIR}/${sha256(exact)}.png`);

    const over = Buffer.concat([exact, Buffer.from('!')]);
    assertJsonError(await postForm('/upload', session, over, 'big.png', 'image/png'), 413, 'ERR_TOO_LARGE');
    // far over: nginx stops it before login-fcgi, with the same JSON shape
    const huge = Buffer.concat([exact, Buffer.alloc(512 * 1024)]);
    assertJsonError(await postForm('/upload', session, huge, 'huge.png', 'image/png'), 413, 'ERR_TOO_LARGE');
    assert.ok(!filesInDir().includes(`${sha256(over)}.png`));
    assertNoTempFiles();
    // the service still answers normally afterwards
    const small = makePng(2, 2, [9, 9, 9]);
    assertUploaded(await postForm('/upload', session, small, 's.png', 'image/png'), small, 'png', 'image/png');
  });

  it('401 without a session or with an invalid one, and nothing is stored', async () => {
    const png = makePng(9, 1, [4, 5, 6]);
    assertJsonError(await postForm('/upload', {}, png, 'a.png', 'image/png'), 401, 'ERR_INVALID_SESSION');
    const bad = { 'X-WX-Id': session['X-WX-Id'], 'X-WX-Skey': 'f'.repeat(64) };
    assertJsonError(await postForm('/upload', bad, png, 'a.png', 'image/png'), 401, 'ERR_INVALID_SESSION');
    assert.ok(!filesInDir().includes(`${sha256(png)}.png`));
  });

  it('400 for a body that ends before the closing boundary', async () => {
    const png = makePng(8, 8, [10, 20, 30]);
    const boundary = 'trunc8ted';
    const whole = multipart(boundary, [{ name: 'file', filename: 'a.png', type: 'image/png', data: png }]);
    for (const cut of [whole.length - 8, Math.floor(whole.length / 2), 20]) {
      const res = await postRaw('/upload', session, boundary, whole.subarray(0, cut));
      assertJsonError(res, 400, 'ERR_BAD_REQUEST');
    }
    assert.ok(!filesInDir().includes(`${sha256(png)}.png`));
    assertNoTempFiles();
  });

  it('400 for a form without a "file" field, or a body that is not multipart', async () => {
    const boundary = 'nofile';
    const body = multipart(boundary, [
      { name: 'user', data: 'test' },
      { name: 'image', filename: 'a.png', type: 'image/png', data: makePng(2, 3, [1, 1, 1]) },
    ]);
    assertJsonError(await postRaw('/upload', session, boundary, body), 400, 'ERR_BAD_REQUEST');
    const raw = await http('POST', '/upload', {
      headers: Object.assign({ 'Content-Type': 'image/png' }, session), body: makePng(1, 1, [2, 2, 2]),
    });
    assertJsonError(raw, 400, 'ERR_BAD_REQUEST');
    assertNoTempFiles();
  });

  it('/weapp/upload answers in the wafer2 envelope', async () => {
    const iss = await wxCode(`uploader2-${RUN}`);
    const w = await http('GET', '/weapp/login', { headers: { 'X-WX-Code': iss.code } });
    assert.equal(w.status, 200, w.text);
    const headers = { 'X-WX-Skey': w.json.data.skey }; // wafer2 sends only the skey
    const gif = GIF;
    const ok = await postForm('/weapp/upload', headers, gif, 'a.gif', 'image/gif');
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json, { code: 0, data: { imgUrl: `/files/${sha256(gif)}.gif`, size: gif.length, mimeType: 'image/gif' } });
    await assertServed(ok.json.data.imgUrl, gif, 'image/gif');

    const bad = await postForm('/weapp/upload', headers, Buffer.from('plain text'), 'a.gif', 'image/gif');
    assert.equal(bad.status, 415, bad.text);
    assert.equal(bad.json.code, -1);
    assert.equal(bad.json.error, 'ERR_UNSUPPORTED_TYPE');
    const anon = await postForm('/weapp/upload', { 'X-WX-Skey': '0'.repeat(64) }, gif, 'a.gif', 'image/gif');
    assert.equal(anon.status, 401, anon.text);
    assert.equal(anon.json.code, -1);
    assert.equal(anon.json.error, 'ERR_INVALID_SESSION');
  });

  it('/files/ lists nothing and serves only content-addressed names', async () => {
    const list = await fetch(`${env.BASE_URL}/files/`);
    assert.equal(list.status, 404);
    assert.equal(list.headers.get('x-content-type-options'), 'nosniff');
    fs.writeFileSync(`${env.FILES_DIR}/.upload-${RUN}.tmp`, '<script>alert(1)</script>');
    try {
      const tmp = await fetch(`${env.BASE_URL}/files/.upload-${RUN}.tmp`);
      assert.equal(tmp.status, 404);
    } finally {
      fs.unlinkSync(`${env.FILES_DIR}/.upload-${RUN}.tmp`);
    }
    const missing = await fetch(`${env.BASE_URL}/files/${'0'.repeat(64)}.png`);
    assert.equal(missing.status, 404);
  });
});
