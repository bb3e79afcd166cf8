// Notifications you can trust, in real headless Chromium (docs/page.md,
// "Notifications and unread", "Person cards"): missed-message mail (a
// person away gets it, unsubscribes with its link, sets the choice on the
// profile page); browser notifications for direct messages and mentions
// between two people, a click opening the conversation; muting followed by
// another tab; the unread total in the tab title; the "New messages" line;
// person cards from author names. The browser's Notification and the
// tab's visibility are stood in for by init scripts (headless Chromium
// shows no notifications and is never hidden).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, Server, startSmtp, screenshots, watchProblems, assertAccessible } from "./support.mjs";

const PASSWORD = "correct horse battery staple";
const ADDRESS = "dora@example.com";

let browser;
let smtp;
let server;
let dora; // { context, page }
const problems = []; // CSP violations and page errors

const watch = (page) => watchProblems(page, problems);

const checkA11y = assertAccessible;

/** `/api/v1/me` as the page's session sees it. */
async function me(page) {
  const response = await page.request.get(`${server.base}/api/v1/me`);
  assert.equal(response.status(), 200);
  return (await response.json()).user;
}

/** A JSON request with a session cookie (another person, outside the browser). */
async function api(method, path, cookie, body) {
  const response = await fetch(`${server.base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, response };
}

/** The missed-message mails that reached `address` (not the verification mail). */
function missedMails(address) {
  return smtp.mailsTo(address).filter((mail) => mail.includes("List-Unsubscribe-Post:"));
}

async function waitForMissed(address, count) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const mails = missedMails(address);
    if (mails.length >= count) return mails;
    if (Date.now() > deadline) throw new Error(`no missed-message mail for ${address}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function header(mail, name) {
  const line = mail.split(/\r?\n/).find((l) => l.startsWith(`${name}: `));
  return line ? line.slice(name.length + 2).trim() : null;
}

before(async () => {
  smtp = await startSmtp();
  server = new Server({
    CHATROOM_SMTP_URL: smtp.url,
    CHATROOM_MISSED_MAIL_DELAY: "1",
    CHATROOM_CHAT_RATE: "1000",
    CHATROOM_REGISTER_LIMIT: "1000",
  });
  await server.start();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});

after(async () => {
  await dora?.context.close().catch(() => {});
  for (const p of Object.values(people)) await p.context.close().catch(() => {});
  await browser?.close();
  await server?.kill();
  smtp?.stop();
});

test("a person away gets the missed-message mail and unsubscribes with its link", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  watch(page);
  dora = { context, page };

  // Dora signs up and verifies her address.
  await page.goto(`${server.base}/register`);
  await page.getByLabel("Username").fill("dora");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${server.base}/discover`);
  await page.goto(`${server.base}/profile`);
  await page.getByLabel("Email", { exact: true }).fill(ADDRESS);
  await page.getByLabel("Password to confirm").fill(PASSWORD);
  await page.getByRole("button", { name: "Send verification link" }).click();
  await page.waitForURL(/done=email/);
  const [verification] = await smtp.waitFor(ADDRESS, 1);
  const start = verification.indexOf(`${server.base}/verify-email?token=`);
  const link = verification.slice(start).split(/[\s"<]/)[0];
  await page.goto(link);
  await page.getByRole("heading", { name: "Email address confirmed" }).waitFor();
  // Away: no chat page open, so no socket.
  await page.goto(`${server.base}/profile`);
  assert.equal((await me(page)).notify_email, "dms_and_mentions");

  // Someone writes to her directly.
  const registered = await api("POST", "/api/v1/auth/register", null, { username: "erin", password: PASSWORD });
  assert.equal(registered.status, 201);
  const cookie = registered.response.headers.get("set-cookie").split(";")[0];
  const opened = await api("POST", "/api/v1/dms", cookie, { username: "dora" });
  assert.equal(opened.status, 200);
  const posted = await api("POST", `/api/v1/rooms/${opened.body.room.id}/messages`, cookie, {
    text: "Dora, lunch at noon?",
  });
  assert.equal(posted.status, 201);

  const [mail] = await waitForMissed(ADDRESS, 1);
  assert.match(mail, /Dora, lunch at noon\?/);
  assert.equal(header(mail, "List-Unsubscribe-Post"), "List-Unsubscribe=One-Click");
  const url = header(mail, "List-Unsubscribe").replace(/^</, "").replace(/>$/, "");
  assert.ok(url.startsWith(`${server.base}/unsubscribe/`), url);

  // She opens the link from the mail; only the button changes anything.
  const mailClient = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const linkPage = await mailClient.newPage();
  watch(linkPage);
  await linkPage.goto(url);
  await linkPage.getByRole("heading", { name: "Stop mails about messages you miss?" }).waitFor();
  await checkA11y(linkPage, "/unsubscribe");
  await screenshots(linkPage, "unsubscribe");
  assert.equal((await me(page)).notify_email, "dms_and_mentions", "opening the link changes nothing");
  await linkPage.getByRole("button", { name: "Unsubscribe" }).click();
  await linkPage.getByRole("heading", { name: "You are unsubscribed" }).waitFor();
  await checkA11y(linkPage, "/unsubscribe (done)");
  await mailClient.close();

  const after = await me(page);
  assert.equal(after.notify_email, "off");
  assert.equal(after.email, ADDRESS, "nothing else changed");
  assert.equal(after.email_verified, true);
});

test("the profile page sets the mail choice and shows it", async () => {
  const { page } = dora;
  await page.goto(`${server.base}/profile`);
  const on = page.getByLabel("Email me about direct messages and mentions I miss");
  const off = page.getByLabel("Do not email me about them");
  assert.equal(await off.isChecked(), true, "the unsubscribe shows on the profile");
  await checkA11y(page, "/profile");

  await on.check();
  await page.getByRole("button", { name: "Save mail setting" }).click();
  await page.waitForURL(/done=notifications/);
  await page.getByText("Your mail setting was saved.").waitFor();
  assert.equal(await page.getByLabel("Email me about direct messages and mentions I miss").isChecked(), true);
  assert.equal((await me(page)).notify_email, "dms_and_mentions");
  await screenshots(page, "profile-notifications");

  await page.getByLabel("Do not email me about them").check();
  await page.getByRole("button", { name: "Save mail setting" }).click();
  await page.waitForURL(/done=notifications/);
  assert.equal(await page.getByLabel("Do not email me about them").isChecked(), true);
  assert.equal((await me(page)).notify_email, "off");
});

// ------------------------------------------- browser notifications (issue 18)

// Stands in for the browser's notifications (recorded in window.__notes,
// clickable) and lets a test hide the tab (window.__setHidden).
const STAND_INS = () => {
  window.__notes = [];
  class FakeNotification extends EventTarget {
    // Kept per origin, like the browser's.
    static get permission() {
      try {
        return localStorage.getItem("fake-notification-permission") || "default";
      } catch {
        return "default";
      }
    }
    static requestPermission() {
      localStorage.setItem("fake-notification-permission", "granted");
      return Promise.resolve("granted");
    }
    constructor(title, options = {}) {
      super();
      this.title = title;
      this.body = options.body;
      this.tag = options.tag;
      this.closed = false;
      window.__notes.push(this);
    }
    close() {
      this.closed = true;
    }
  }
  window.Notification = FakeNotification;
  let hidden = false;
  const proto = Object.getPrototypeOf(Object.getPrototypeOf(document)); // Document.prototype
  Object.defineProperty(proto, "hidden", { configurable: true, get: () => hidden });
  Object.defineProperty(proto, "visibilityState", {
    configurable: true,
    get: () => (hidden ? "hidden" : "visible"),
  });
  window.__setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
};

const people = {}; // name → { context, page, cookie, id }

async function person(name, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  await context.addInitScript(STAND_INS);
  const page = await context.newPage();
  watch(page);
  await page.goto(`${server.base}/register`);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(/\/discover/);
  await page.locator('#connection[data-state="connected"]').waitFor();
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "chatroom_session");
  const cookie = `chatroom_session=${session.value}`;
  const user = await me(page);
  people[name] = { context, page, cookie, id: user.id };
  return people[name];
}

async function notes(page) {
  return page.evaluate(() => window.__notes.map((n) => ({ title: n.title, body: n.body, closed: n.closed })));
}

async function waitForNote(page, body) {
  await page.waitForFunction((text) => window.__notes.some((n) => n.body === text), body, { timeout: 10000 });
  return (await notes(page)).find((n) => n.body === body);
}

async function post(from, room, body) {
  const answer = await api("POST", `/api/v1/rooms/${encodeURIComponent(room)}/messages`, from.cookie, { text: body });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.message;
}

function conversation(page, id) {
  return page.locator(`#rooms-nav li[data-room="${id}"] button`);
}

async function open(page, id) {
  await conversation(page, id).click();
  await page.locator(`#rooms-nav li[data-room="${id}"] button[aria-current="true"]`).waitFor();
}

function line(page, body) {
  return page.locator("#message-list > li.message", { has: page.locator(".message-body", { hasText: body }) });
}

let dm; // nora and omar's conversation

test("a direct message notifies in a hidden tab or from another conversation; a click opens it", async () => {
  const nora = await person("nora");
  const omar = await person("omar");
  const { page } = nora;

  // Nora turns notifications on.
  await page.getByRole("button", { name: "Enable notifications" }).click();
  await page.getByText("Notifications are on for direct messages and mentions.").waitFor();
  assert.equal(await page.getByRole("button", { name: "Enable notifications" }).isVisible(), false);

  // Omar writes to her while she reads the global room.
  const opened = await api("POST", "/api/v1/dms", omar.cookie, { username: "nora" });
  assert.equal(opened.status, 200);
  dm = opened.body.room.id;
  await post(omar, dm, "Nora, are you free for lunch?");
  const note = await waitForNote(page, "Nora, are you free for lunch?");
  assert.equal(note.title, "omar");

  // Her own message from another device does not notify her.
  await post(nora, dm, "Written on my phone");
  // She opens the DM: reading it, nothing notifies.
  await open(page, dm);
  await line(page, "Written on my phone").waitFor();
  await post(omar, dm, "Seen as it arrives");
  await line(page, "Seen as it arrives").waitFor();
  // The tab hidden: it notifies again.
  await page.evaluate(() => window.__setHidden(true));
  await post(omar, dm, "While you were away");
  await waitForNote(page, "While you were away");
  await page.evaluate(() => window.__setHidden(false));
  const bodies = (await notes(page)).map((n) => n.body);
  assert.deepEqual(bodies, ["Nora, are you free for lunch?", "While you were away"], "never her own, never what she sees");

  // In the global room again, a click on the notification opens the DM at it.
  await open(page, "global");
  await post(omar, dm, "Click me to come back");
  await waitForNote(page, "Click me to come back");
  await page.evaluate(() => window.__notes.at(-1).dispatchEvent(new Event("click")));
  await page.locator(`#rooms-nav li[data-room="${dm}"] button[aria-current="true"]`).waitFor();
  await line(page, "Click me to come back").waitFor();
  assert.equal((await notes(page)).at(-1).closed, true);
});

test("a reply in a thread she follows notifies; one in a thread she does not, does not", async () => {
  const nora = people.nora;
  const omar = people.omar;
  const { page } = nora;
  await page.evaluate(() => (window.__notes.length = 0));
  const followedRoot = await post(omar, "global", "Who is coming on Friday?");
  const otherRoot = await post(omar, "global", "A thread she never joins");
  // She answers from her phone: she follows that thread now.
  const mine = await api("POST", "/api/v1/rooms/global/messages", nora.cookie, {
    text: "Me!",
    reply_to: followedRoot.id,
  });
  assert.equal(mine.status, 201);
  await open(page, dm); // another conversation is open
  const reply = await api("POST", "/api/v1/rooms/global/messages", omar.cookie, {
    text: "Great, see you there",
    reply_to: followedRoot.id,
  });
  assert.equal(reply.status, 201);
  await api("POST", "/api/v1/rooms/global/messages", omar.cookie, { text: "Nobody follows this", reply_to: otherRoot.id });
  const note = await waitForNote(page, "Great, see you there");
  assert.equal(note.title, "omar replied in a thread in the global room");
  await page.waitForTimeout(800);
  assert.deepEqual(
    (await notes(page)).map((n) => n.body),
    ["Great, see you there"],
    "not for her own reply, nor for a thread she does not follow",
  );
});

test("muting is kept on the server, followed by another tab, and stops all but mentions", async () => {
  const nora = people.nora;
  const omar = people.omar;
  const first = nora.page;
  const second = await nora.context.newPage();
  watch(second);
  await second.goto(`${server.base}/discover`);
  await second.locator('#connection[data-state="connected"]').waitFor();

  // Muting in the first tab; the second follows.
  await open(first, dm);
  const mute = first.getByRole("button", { name: "Mute", exact: true });
  assert.equal(await mute.getAttribute("aria-pressed"), "false");
  await mute.click();
  await first.locator('#mute-room[aria-pressed="true"]').waitFor();
  await second.locator(`#rooms-nav li[data-room="${dm}"] button.is-muted`).waitFor();
  assert.match(await conversation(second, dm).getAttribute("aria-label"), /muted/);
  const listed = await api("GET", "/api/v1/me/rooms", nora.cookie);
  assert.equal(listed.body.rooms.find((r) => r.id === dm).muted, true, "kept on the server");

  // Omar writes: no notification in either tab, a dimmed count, no title weight.
  await open(first, "global");
  await first.evaluate(() => (window.__notes.length = 0));
  await second.evaluate(() => (window.__notes.length = 0));
  await post(omar, dm, "Muted small talk");
  await second.locator(`#rooms-nav li[data-room="${dm}"] .conv-unread.is-muted`).waitFor();
  assert.doesNotMatch(await second.title(), /^\(\d+\)/, "a muted conversation weighs nothing in the title");
  await checkA11y(second, "chat page with a muted conversation");
  await screenshots(second, "conversation-muted");

  // A mention still notifies (a muted conversation, like Slack).
  await post(omar, dm, "@nora this one matters");
  const note = await waitForNote(second, "@nora this one matters");
  assert.equal(note.title, "omar mentioned you in a direct message");
  await second.waitForFunction(() => document.title.startsWith("(1) "));
  assert.deepEqual(
    (await notes(second)).map((n) => n.body),
    ["@nora this one matters"],
    "only the mention notified",
  );

  // Unmuting in the second tab; the first follows.
  await open(second, dm);
  const pressed = second.getByRole("button", { name: "Mute", exact: true });
  assert.equal(await pressed.getAttribute("aria-pressed"), "true");
  await checkA11y(second, "muted conversation header");
  await screenshots(second, "mute-pressed");
  await pressed.click();
  await first.locator(`#rooms-nav li[data-room="${dm}"] button:not(.is-muted)`).waitFor();
  await open(first, dm);
  assert.equal(await first.locator("#mute-room").getAttribute("aria-pressed"), "false");
  await second.close();
});

test("the tab title shows the unread total, live, hidden or not", async () => {
  const nora = people.nora;
  const omar = people.omar;
  const { page } = nora;
  await open(page, "global");
  await page.waitForFunction(() => !/^\(\d+\)/.test(document.title));
  const base = await page.title();

  // A room she mutes: its messages count only when they mention her.
  const created = await api("POST", "/api/v1/rooms", omar.cookie, { name: "chatter" });
  assert.equal(created.status, 201);
  await api("PUT", "/api/v1/rooms/chatter/membership", nora.cookie);
  assert.equal((await api("PUT", "/api/v1/rooms/chatter/mute", nora.cookie)).status, 204);
  await page.locator('#rooms-nav li[data-room="chatter"] button.is-muted').waitFor();

  await post(omar, dm, "one");
  await post(omar, dm, "two");
  await page.waitForFunction((t) => document.title === `(2) ${t}`, base);
  await post(omar, "chatter", "noise in a muted room");
  await post(omar, "chatter", "@nora but this counts");
  await page.waitForFunction((t) => document.title === `(3) ${t}`, base);

  // Hidden, the open conversation counts too.
  await page.evaluate(() => window.__setHidden(true));
  await post(omar, "global", "hello everyone");
  await page.waitForFunction((t) => document.title === `(4) ${t}`, base);
  await page.evaluate(() => window.__setHidden(false));
  await page.waitForFunction((t) => document.title === `(3) ${t}`, base);
  // Back in the tab, what came meanwhile is under a "New messages" line.
  await line(page, "hello everyone").locator(".unread-line").waitFor();

  // Reading brings it down.
  await open(page, dm);
  await page.waitForFunction((t) => document.title === `(1) ${t}`, base);
  await open(page, "chatter");
  await page.waitForFunction((t) => document.title === t, base);
});

test("a 'New messages' line marks where she stopped reading, also after a reload", async () => {
  const nora = people.nora;
  const omar = people.omar;
  const { page } = nora;
  await open(page, dm);
  await open(page, "global");
  for (let i = 1; i <= 30; i += 1) await post(omar, dm, `catching up ${String(i).padStart(2, "0")}`);
  await page.waitForFunction(() => document.title.startsWith("(30) "));

  await page.reload();
  await page.locator('#connection[data-state="connected"]').waitFor();
  await open(page, dm);
  const divider = page.locator("#message-list .unread-line");
  await divider.waitFor();
  assert.equal(await divider.getAttribute("role"), "separator");
  assert.equal((await divider.textContent()).trim(), "New messages");
  // Above the first unread, and scrolled into view.
  const first = line(page, "catching up 01");
  assert.equal(await first.locator(".unread-line").count(), 1);
  const box = await divider.boundingBox();
  const view = await page.locator("#messages").boundingBox();
  assert.ok(box.y >= view.y - 1 && box.y < view.y + view.height, `in view: ${box.y} in ${view.y}+${view.height}`);
  await checkA11y(page, "the New messages line");
  await screenshots(page, "new-messages-line");

  // It stays while she reads and as more come; gone once she leaves.
  await post(omar, dm, "one more");
  await line(page, "one more").waitFor();
  assert.equal(await first.locator(".unread-line").count(), 1);
  await open(page, "global");
  await open(page, dm);
  await line(page, "one more").waitFor();
  await page.waitForTimeout(500);
  assert.equal(await page.locator("#message-list .unread-line").count(), 0, "all read: no line");
});

test("author names and avatars open the person's card; a deleted user's name is no button", async () => {
  const nora = people.nora;
  const omar = people.omar;
  const { page } = nora;
  await open(page, "global");
  await post(nora, "global", "Who knows about cards?");
  await post(omar, "global", "Ask me about the card");
  const row = line(page, "Ask me about the card");
  await row.waitFor();

  // With the mouse: the name.
  const name = row.getByRole("button", { name: "omar" });
  await name.click();
  const card = page.getByRole("dialog", { name: "omar" });
  await card.waitFor();
  await card.getByText("Online").waitFor();
  await card.getByText(/Joined /).waitFor();
  await card.getByRole("button", { name: "Message" }).waitFor();
  await page.waitForTimeout(400); // the hovered line's actions finish fading in
  await checkA11y(page, "person card from a message");
  await screenshots(page, "person-card-from-message");
  await page.keyboard.press("Escape");
  await card.waitFor({ state: "hidden" });
  assert.equal(await name.evaluate((b) => document.activeElement === b), true, "focus goes back to the name");

  // With the keyboard: the line, then Tab to the name, Enter.
  await row.locator(".message-row").focus();
  await page.keyboard.press("Tab");
  assert.equal(await name.evaluate((b) => document.activeElement === b), true, "the name is the line's first button");
  await page.keyboard.press("Enter");
  await card.waitFor();
  await card.getByRole("button", { name: "Message" }).click();
  await page.locator(`#rooms-nav li[data-room="${dm}"] button[aria-current="true"]`).waitFor();
  await card.waitFor({ state: "hidden" });

  // The avatar opens it too; on a phone the card is a sheet at the bottom.
  await open(page, "global");
  await page.setViewportSize({ width: 390, height: 844 });
  await row.locator(".message-row > img.avatar").click();
  await card.waitFor();
  const sheet = await card.boundingBox();
  assert.ok(Math.abs(sheet.y + sheet.height - 844) < 2, `a sheet at the bottom: ${JSON.stringify(sheet)}`);
  await page.waitForTimeout(400); // the line's actions finish fading in
  await checkA11y(page, "person card on a phone");
  await card.getByRole("button", { name: "Close" }).click();
  await card.waitFor({ state: "hidden" });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Someone who deleted their account is "Deleted user", plain text.
  const ghost = await person("ghost");
  await post(ghost, "global", "Soon I am gone");
  assert.equal(
    (await api("DELETE", "/api/v1/me", ghost.cookie, { current_password: PASSWORD })).status,
    204,
  );
  await ghost.context.close();
  await page.reload();
  await page.locator('#connection[data-state="connected"]').waitFor();
  const gone = line(page, "Soon I am gone");
  await gone.waitFor();
  await gone.getByText("Deleted user").waitFor();
  assert.equal(await gone.getByRole("button", { name: "Deleted user" }).count(), 0);
});

test("no page broke the content security policy or threw", () => {
  assert.deepEqual(problems, []);
});
