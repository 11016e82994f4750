// browser.test.js -- the browser client (web/public) in Debian's Chromium,
// driven headless by playwright-core, against the whole stack: two users in
// two browser contexts log in through the WeChat stand-in, exchange text and
// an image, see their own messages as "user" and the other's as "remote", a
// hostile message is shown as text and runs nothing, and relay restarts are
// survived by reconnection (since=<last id>) without losing, duplicating or
// reordering a message the other user sent meanwhile. Saves a screenshot to
// tests/artifacts/chat.png.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { ROOT, env, sql, stack } = require('../lib/harness');
const { makePng } = require('../lib/png');

const RUN = crypto.randomBytes(3).toString('hex');
const ROOM = `browser_${RUN}`;
const ARTIFACTS = path.join(ROOT, 'tests', 'artifacts');
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const RELAYS = Number(env.RELAYS || 1);
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

// --- a small PNG ------------------------------------------------------------------

// A w x h RGB PNG: a green field with a white diagonal.
const greenPng = (w, h) => makePng(w, h, (x, y) => (Math.abs(x - y) < 3 ? [255, 255, 255] : [7, 193, 96]));

// --- driving a page -----------------------------------------------------------------

let browser;
const errors = [];

async function openAs(name) {
  const context = await browser.newContext({ viewport: { width: 480, height: 760 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
  await page.goto(`${env.BASE_URL}/?room=${ROOM}`);
  await page.fill('#login-name', name);
  await page.click('#login-button');
  await waitOnline(page);
  return page;
}

const waitOnline = (page) => page.waitForSelector('#conn-state[data-state="online"]');

async function sendText(page, text) {
  await page.fill('#text-input', text);
  await page.press('#text-input', 'Enter');
}

// Wait until a confirmed message with this text is shown as `kind` ("user"
// or "remote"); returns its id.
async function waitForText(page, kind, text) {
  const h = await page.waitForFunction(([k, t]) => {
    for (const li of document.querySelectorAll(`#messages li.msg.${k}[data-id]`)) {
      const b = li.querySelector('.bubble.text');
      if (b && b.textContent === t) return Number(li.dataset.id);
    }
    return false;
  }, [kind, text]);
  return h.jsonValue();
}

// Wait until the image at `url` is shown, loaded, as `kind`; returns its id.
async function waitForImage(page, kind, url) {
  const h = await page.waitForFunction(([k, u]) => {
    for (const li of document.querySelectorAll(`#messages li.msg.${k}[data-id]`)) {
      const img = li.querySelector('.bubble.photo img');
      if (img && new URL(img.src).pathname === u && img.complete && img.naturalWidth > 0) return Number(li.dataset.id);
    }
    return false;
  }, [kind, url]);
  return h.jsonValue();
}

// The ids of the confirmed messages, in page order.
const shownIds = (page) => page.$$eval('#messages li.msg[data-id]', (els) => els.map((e) => Number(e.dataset.id)));

function assertGapFree(ids, label) {
  assert.ok(ids.length > 0, `${label}: no messages`);
  for (let i = 1; i < ids.length; i++) {
    assert.equal(ids[i], ids[i - 1] + 1, `${label}: ids ${ids.join(',')} are not consecutive`);
  }
}

// --- tests ----------------------------------------------------------------------------

describe('browser client', { timeout: 300000 }, () => {
  let alice;
  let bob;

  before(async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    alice = await openAs(`Alice-${RUN}`);
    bob = await openAs(`Bob-${RUN}`);
  });

  after(async () => {
    if (browser) await browser.close();
  });

  it('serves the page with its assets', async () => {
    for (const [file, type] of [['/', 'text/html'], ['/app.js', 'application/javascript'], ['/style.css', 'text/css']]) {
      const res = await fetch(env.BASE_URL + file);
      assert.equal(res.status, 200, file);
      assert.match(res.headers.get('content-type'), new RegExp(`^${type}`), file);
    }
  });

  it('exchanges text: own messages as user (right), the other\'s as remote (left)', async () => {
    const a1 = `hello from Alice ${RUN}`;
    await sendText(alice, a1);
    const idOwn = await waitForText(alice, 'user', a1);
    const idSeen = await waitForText(bob, 'remote', a1);
    assert.equal(idOwn, idSeen);

    const b1 = `Grüße Alice, ça va? ✓ ${RUN}`;
    await sendText(bob, b1);
    assert.equal(await waitForText(bob, 'user', b1), await waitForText(alice, 'remote', b1));

    // names and avatars as in the original room; own bubble on the right
    const remote = await alice.$eval(`#messages li.msg.remote[data-id="${idSeen + 1}"]`, (li) => ({
      name: li.querySelector('.name').textContent,
      avatar: li.querySelector('.avatar').tagName,
      dir: getComputedStyle(li).flexDirection,
    }));
    assert.equal(remote.name, `Bob-${RUN}`);
    assert.equal(remote.avatar, 'IMG');
    assert.equal(remote.dir, 'row');
    const ownDir = await alice.$eval(`#messages li.msg.user[data-id="${idOwn}"]`, (li) => getComputedStyle(li).flexDirection);
    assert.equal(ownDir, 'row-reverse');
    assert.equal(await alice.textContent('#online'), '2');
  });

  it('sends an image through /upload and shows it inline on both sides', async () => {
    const png = greenPng(96, 64);
    const url = `/files/${crypto.createHash('sha256').update(png).digest('hex')}.png`;
    await bob.setInputFiles('#image-input', { name: 'diagonal.png', mimeType: 'image/png', buffer: png });
    const own = await waitForImage(bob, 'user', url);
    assert.equal(await waitForImage(alice, 'remote', url), own);
    assert.ok(fs.existsSync(path.join(env.FILES_DIR, path.basename(url))));
  });

  it('shows a hostile message as literal text and runs nothing', async () => {
    await sendText(alice, HOSTILE);
    const id = await waitForText(bob, 'remote', HOSTILE);
    assert.equal(await waitForText(alice, 'user', HOSTILE), id);
    for (const page of [alice, bob]) {
      assert.equal(await page.evaluate(() => window.__pwned), undefined);
      assert.equal(await page.$$eval('img[src="x"], .bubble.text img, .bubble.text *', (e) => e.length), 0);
      assert.equal(await page.$eval(`#messages li[data-id="${id}"] .bubble`, (b) => b.innerHTML),
        '&lt;img src=x onerror="window.__pwned=1"&gt;');
    }
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await alice.screenshot({ path: path.join(ARTIFACTS, 'chat.png') });
  });

  it('survives relay restarts without losing a message sent meanwhile', async () => {
    const sentMeanwhile = [];
    // One relay at a time (clients on it reconnect, through nginx, to
    // another or to it when it is back) ...
    for (let n = 1; n <= RELAYS; n++) {
      stack('svc-stop', `relay${n}`);
      const text = `sent while relay${n} was down ${RUN}`;
      await sendText(bob, text);
      sentMeanwhile.push(text);
      stack('svc-start', `relay${n}`);
      await waitForText(alice, 'remote', text);
    }
    // ... then all of them at once: nobody is connected while Bob types.
    for (let n = 1; n <= RELAYS; n++) stack('svc-stop', `relay${n}`);
    const down = '#conn-state:not([data-state="online"])';
    await Promise.all([alice.waitForSelector(down), bob.waitForSelector(down)]);
    const offline = `sent while every relay was down ${RUN}`;
    await sendText(bob, offline);
    sentMeanwhile.push(offline);
    for (let n = 1; n <= RELAYS; n++) stack('svc-start', `relay${n}`);

    await Promise.all([waitOnline(alice), waitOnline(bob)]);
    for (const text of sentMeanwhile) {
      assert.equal(await waitForText(alice, 'remote', text), await waitForText(bob, 'user', text));
    }
    // Alice can still talk after all that.
    const after = `still here ${RUN}`;
    await sendText(alice, after);
    assert.equal(await waitForText(bob, 'remote', after), await waitForText(alice, 'user', after));

    // Both show the same messages, each once, in order, with no gap.
    const [ia, ib] = [await shownIds(alice), await shownIds(bob)];
    assertGapFree(ia, 'alice');
    assert.deepEqual(ib, ia);
    const texts = await alice.$$eval('#messages li.msg .bubble.text', (els) => els.map((e) => e.textContent));
    for (const text of sentMeanwhile) assert.equal(texts.filter((t) => t === text).length, 1, text);
    assert.equal(await bob.$$eval('#messages li.pending', (e) => e.length), 0, 'nothing left pending');
    await alice.screenshot({ path: path.join(ARTIFACTS, 'chat-after-restarts.png') });
  });

  it('logs in again by itself when its session is revoked', async () => {
    const skeyOf = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('chatroom.session')).session.skey);
    const revoke = (skey) => sql(`UPDATE sessions SET revoked_at = now()
                                  WHERE skey_hash = sha256(convert_to(:'skey', 'UTF8'))`, { skey });
    // Revoked while connected: the relay closes with 4401, the page logs in
    // again, reconnects and carries on.
    const old = await skeyOf(alice);
    revoke(old);
    await alice.waitForFunction((o) => {
      const s = JSON.parse(sessionStorage.getItem('chatroom.session') || 'null');
      return s && s.session.skey !== o && document.querySelector('#conn-state').dataset.state === 'online';
    }, old);
    const text = `Alice with a fresh session ${RUN}`;
    await sendText(alice, text);
    assert.equal(await waitForText(bob, 'remote', text), await waitForText(alice, 'user', text));

    // Revoked, then an image: /upload answers 401, the page logs in again
    // and the image still arrives.
    const png = greenPng(40, 40);
    const url = `/files/${crypto.createHash('sha256').update(png).digest('hex')}.png`;
    revoke(await skeyOf(bob));
    await bob.setInputFiles('#image-input', { name: 'again.png', mimeType: 'image/png', buffer: png });
    assert.equal(await waitForImage(alice, 'remote', url), await waitForImage(bob, 'user', url));
    await waitOnline(bob);
    assertGapFree(await shownIds(bob), 'bob');
    assert.deepEqual(await shownIds(bob), await shownIds(alice));
  });

  it('raised no error in either page', () => {
    assert.deepEqual(errors, []);
  });
});
