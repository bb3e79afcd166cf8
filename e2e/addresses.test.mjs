// Addresses, in real headless Chromium (docs/page.md, "Addresses"): the
// address bar follows the open conversation, a reload stays there, Back and
// Forward move between conversations without reloading the page; a
// message's "Copy link" gives a permalink that opens, for the other person
// (on a phone), the conversation at that message with the history around
// it, a reply's in its thread; a public room not joined yet is offered to
// join; a signed-out visitor
// comes back to the permalink after logging in; a third person gets the
// 404 page for a DM's permalink.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, Server, screenshots, watchProblems, assertAccessible } from "./support.mjs";

const PASSWORD = "correct horse battery staple";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let browser;
let server;
const people = {}; // name → { context, page, id, cookie }
const problems = []; // CSP violations and page errors

const watch = (page, who) => watchProblems(page, problems, who);

const checkA11y = assertAccessible;

/** A JSON request as someone (their session cookie), outside the browser. */
async function api(method, path, cookie, body) {
  const response = await fetch(`${server.base}${path}`, {
    method,
    headers: { "content-type": "application/json", cookie },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function person(name, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, permissions: ["clipboard-read", "clipboard-write"] });
  const page = await context.newPage();
  watch(page, name);
  await page.goto(`${server.base}/register`);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${server.base}/discover`);
  await connected(page);
  const session = (await context.cookies()).find((c) => c.name === "chatroom_session");
  const cookie = `chatroom_session=${session.value}`;
  const me = await api("GET", "/api/v1/me", cookie);
  people[name] = { context, page, id: me.body.user.id, cookie };
  return people[name];
}

async function connected(page) {
  await page.locator('#connection[data-state="connected"]').waitFor();
}

function path(page) {
  return decodeURIComponent(new URL(page.url()).pathname);
}

async function waitForPath(page, expected) {
  await page.waitForFunction((p) => decodeURIComponent(window.location.pathname) === p, expected);
}

function line(page, text) {
  return page.locator("#message-list > li.message", { has: page.locator(".message-body", { hasText: text }) });
}

async function openInList(page, id) {
  await page.locator(`#rooms-nav li[data-room="${id}"] button`).click();
  await page.locator(`#rooms-nav li[data-room="${id}"] button[aria-current="true"]`).waitFor();
}

async function chatNamed(page, name) {
  await page.locator("#chat-name", { hasText: name }).waitFor();
}

// Whether a line lies wholly inside the visible list.
async function inView(page, locator) {
  const a = await locator.boundingBox();
  const b = await page.locator("#messages").boundingBox();
  return Boolean(a && b) && a.y >= b.y - 1 && a.y + a.height <= b.y + b.height + 1;
}

// The texts of the "line NNN" messages shown, in order.
async function lineTexts(page) {
  return page.$$eval("#message-list > li.message .message-body", (nodes) =>
    nodes.map((n) => n.textContent.trim()).filter((t) => /^line \d{3}$/.test(t)),
  );
}

let dm; // ana and ben's conversation id
let lounge; // a public room of ana's
const ids = new Map(); // "line 040" → message id

before(async () => {
  server = new Server({ CHATROOM_CHAT_RATE: "1000", CHATROOM_REGISTER_LIMIT: "1000" });
  await server.start();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const ana = await person("ana");
  const ben = await person("ben", PHONE);
  await person("cai");
  const room = await api("POST", "/api/v1/rooms", ana.cookie, { name: "Lounge", topic: "Anything goes" });
  assert.equal(room.status, 201);
  lounge = room.body.room.id;
  const opened = await api("POST", "/api/v1/dms", ana.cookie, { username: "ben" });
  assert.equal(opened.status, 200);
  dm = opened.body.room.id;
  // More than two pages of history (a page is 50), so a permalink in the
  // middle needs history loaded before and after it.
  for (let i = 1; i <= 130; i += 1) {
    const text = `line ${String(i).padStart(3, "0")}`;
    const posted = await api("POST", `/api/v1/rooms/${dm}/messages`, ben.cookie, { text });
    assert.equal(posted.status, 201);
    ids.set(text, posted.body.message.id);
  }
  const hello = await api("POST", `/api/v1/rooms/${lounge}/messages`, ana.cookie, { text: "welcome to the lounge" });
  assert.equal(hello.status, 201);
  ids.set("welcome", hello.body.message.id);
  for (let i = 1; i <= 60; i += 1) {
    await api("POST", `/api/v1/rooms/${lounge}/messages`, ana.cookie, { text: `chatter ${i}` });
  }
});

after(async () => {
  for (const p of Object.values(people)) await p.context.close().catch(() => {});
  await browser?.close();
  await server?.kill();
});

test("the address follows the conversation, a reload stays, Back and Forward move without reloading", async () => {
  const { page } = people.ana;
  await page.reload();
  await connected(page);
  assert.equal(path(page), "/discover");
  const start = await page.evaluate(() => window.history.length);

  await openInList(page, lounge);
  await waitForPath(page, `/discover/${lounge}`);
  await chatNamed(page, "Lounge");
  await openInList(page, dm);
  await waitForPath(page, `/discover/${dm}`);
  await chatNamed(page, "ben");
  assert.equal(await page.evaluate(() => window.history.length), start + 2);
  // The conversation already open: nothing is added.
  await openInList(page, dm);
  assert.equal(await page.evaluate(() => window.history.length), start + 2);
  await checkA11y(page, "a DM at its address");

  // A reload stays in the conversation.
  await page.reload();
  await connected(page);
  await chatNamed(page, "ben");
  assert.equal(path(page), `/discover/${dm}`);
  await page.locator(`#rooms-nav li[data-room="${dm}"] button[aria-current="true"]`).waitFor();
  await line(page, "line 130").waitFor();

  // Back and Forward, without reloading the page.
  await page.evaluate(() => {
    window.stillTheSamePage = true;
  });
  await page.goBack();
  await waitForPath(page, `/discover/${lounge}`);
  await chatNamed(page, "Lounge");
  await line(page, "chatter 60").waitFor();
  await page.goBack();
  await waitForPath(page, "/discover");
  await chatNamed(page, "Global room");
  await page.goForward();
  await waitForPath(page, `/discover/${lounge}`);
  await chatNamed(page, "Lounge");
  await page.locator(`#rooms-nav li[data-room="${lounge}"] button[aria-current="true"]`).waitFor();
  assert.equal(await page.evaluate(() => window.stillTheSamePage), true, "no reload");

  // The keyboard's ways move the address too: Alt+↓, and the quick switcher.
  await page.getByLabel("Message").focus();
  await page.keyboard.press("Alt+ArrowDown");
  await page.waitForFunction((p) => decodeURIComponent(window.location.pathname) !== p, `/discover/${lounge}`);
  const current = await page.locator('#rooms-nav li[data-room] button[aria-current="true"]').getAttribute("data-room");
  assert.equal(path(page), current === "global" ? "/discover" : `/discover/${current}`);
  await page.keyboard.press("Control+k");
  const jump = page.getByRole("combobox");
  await jump.fill("Lounge");
  await page.getByRole("option", { name: /Lounge/ }).first().waitFor();
  await page.keyboard.press("Enter");
  await waitForPath(page, `/discover/${lounge}`);
  await chatNamed(page, "Lounge");
  await screenshots(page, "address-conversation");
});

test("a copied permalink opens, for the other person on a phone, the conversation at that message", async () => {
  const ana = people.ana.page;
  const ben = people.ben.page;
  await openInList(ana, dm);
  await line(ana, "line 130").waitFor();
  // Up the history to an older line.
  for (let i = 0; i < 20 && (await line(ana, "line 040").count()) === 0; i += 1) {
    await ana.locator("#messages").evaluate((s) => {
      s.scrollTop = 0;
    });
    await ana.waitForTimeout(200);
  }
  const target = line(ana, "line 040");
  await target.scrollIntoViewIfNeeded();
  await target.hover();
  await target.getByRole("button", { name: "Copy link" }).click();
  await target.getByRole("button", { name: "Link copied" }).waitFor();
  const link = await ana.evaluate(() => navigator.clipboard.readText());
  assert.equal(link, `${server.base}/discover/${dm}/${ids.get("line 040")}`);
  await checkA11y(ana, "a message's actions with Copy link");

  // Ben, on his phone, opens the link.
  await ben.goto(link);
  await connected(ben);
  const there = line(ben, "line 040");
  await there.waitFor();
  await ben.locator("#message-list > li.message.is-highlighted", { hasText: "line 040" }).waitFor();
  assert.ok(await inView(ben, there), "the message is in view");
  assert.equal(path(ben), `/discover/${dm}/${ids.get("line 040")}`);
  await chatNamed(ben, "ana");
  // A page before it and a page after it.
  await line(ben, "line 001").waitFor({ state: "detached" }).catch(() => {});
  await line(ben, "line 039").waitFor();
  await line(ben, "line 041").waitFor();
  await line(ben, "line 080").waitFor({ state: "attached" });
  await checkA11y(ben, "a permalink opened on a phone");
  await screenshots(ben, "address-permalink");

  // Scrolling down reaches the newest line, without gaps or repeats.
  for (let i = 0; i < 20 && (await line(ben, "line 130").count()) === 0; i += 1) {
    await ben.locator("#messages").evaluate((s) => {
      s.scrollTop = s.scrollHeight;
    });
    await ben.waitForTimeout(200);
  }
  await line(ben, "line 130").waitFor();
  const texts = await lineTexts(ben);
  const numbers = texts.map((t) => Number(t.slice(5)));
  assert.equal(new Set(numbers).size, numbers.length, "no line twice");
  for (let i = 1; i < numbers.length; i += 1) assert.equal(numbers[i], numbers[i - 1] + 1, "no gap");
  assert.equal(numbers[numbers.length - 1], 130);
  assert.ok(numbers[0] <= 39, `history before the message: from ${numbers[0]}`);

  // Back: where Ben was before (the global room), still no reload.
  await ben.goBack();
  await waitForPath(ben, "/discover");
  await chatNamed(ben, "Global room");
  await ben.goForward();
  await waitForPath(ben, `/discover/${dm}/${ids.get("line 040")}`);
  await ben.locator("#message-list > li.message.is-highlighted", { hasText: "line 040" }).waitFor();
});

test("a reply's permalink opens the conversation at its root and the thread at the reply", async () => {
  const ana = people.ana.page;
  const root = await api("POST", `/api/v1/rooms/${dm}/messages`, people.ana.cookie, { text: "plan for friday" });
  assert.equal(root.status, 201);
  const reply = await api("POST", `/api/v1/rooms/${dm}/messages`, people.ben.cookie, {
    text: "friday works for me",
    reply_to: root.body.message.id,
  });
  assert.equal(reply.status, 201);
  const address = `/discover/${dm}/${reply.body.message.id}`;
  await ana.goto(`${server.base}${address}`);
  await connected(ana);
  const panel = ana.locator("#thread-panel");
  await panel.locator("li.message.is-highlighted", { hasText: "friday works for me" }).waitFor();
  await ana.locator("#message-list > li.message.is-highlighted", { hasText: "plan for friday" }).waitFor();
  assert.equal(path(ana), address);
  await checkA11y(ana, "a reply's permalink");
  await screenshots(ana, "address-thread-reply");

  // The reply's own Copy link, in the thread panel, gives the same address.
  const inThread = panel.locator("li.message", { hasText: "friday works for me" });
  await inThread.hover();
  await inThread.getByRole("button", { name: "Copy link" }).click();
  await inThread.getByRole("button", { name: "Link copied" }).waitFor();
  assert.equal(await ana.evaluate(() => navigator.clipboard.readText()), `${server.base}${address}`);
});

test("a third person gets the 404 page for the DM, and a public room's link offers to join it", async () => {
  const cai = people.cai.page;
  const response = await cai.goto(`${server.base}/discover/${dm}/${ids.get("line 040")}`);
  assert.equal(response.status(), 404);
  await cai.getByRole("heading", { name: "Page not found" }).waitFor();
  assert.equal(await cai.getByText("line 040").count(), 0);
  assert.equal((await cai.goto(`${server.base}/discover/${dm}`)).status(), 404);
  await checkA11y(cai, "the 404 page");

  // The lounge is public: its permalink offers "Join #Lounge".
  const welcome = ids.get("welcome");
  assert.equal((await cai.goto(`${server.base}/discover/${lounge}/${welcome}`)).status(), 200);
  await connected(cai);
  const offer = cai.getByRole("region", { name: "Join #Lounge" });
  await offer.waitFor();
  await offer.getByText("Anything goes").waitFor();
  assert.equal(path(cai), `/discover/${lounge}/${welcome}`);
  await checkA11y(cai, "a room to join first");
  await screenshots(cai, "address-join-offer");
  await offer.getByRole("button", { name: "Join #Lounge" }).click();
  await chatNamed(cai, "Lounge");
  await cai.locator("#message-list > li.message.is-highlighted", { hasText: "welcome to the lounge" }).waitFor();
  assert.ok(await inView(cai, line(cai, "welcome to the lounge")));
  await offer.waitFor({ state: "detached" });
  assert.equal(path(cai), `/discover/${lounge}/${welcome}`);
  await cai.locator(`#rooms-nav li[data-room="${lounge}"]`).waitFor();
});

test("signed out, a permalink goes through the login page and back to the message", async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  watch(page, "ben, signed out");
  const target = `/discover/${dm}/${ids.get("line 090")}`;
  await page.goto(`${server.base}${target}`);
  await page.waitForURL(/\/login\?next=/);
  await page.getByLabel("Username").fill("ben");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await waitForPath(page, target);
  await connected(page);
  await page.locator("#message-list > li.message.is-highlighted", { hasText: "line 090" }).waitFor();
  assert.ok(await inView(page, line(page, "line 090")));
  await context.close();
});

test("no page broke the content security policy or threw", () => {
  assert.deepEqual(problems, []);
});
