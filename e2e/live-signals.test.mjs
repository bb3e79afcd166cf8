// Live signals on the chat page, in real headless Chromium with several
// people at once (docs/page.md, "Live counts, sign-outs, read-only
// conversations"): a room's member count moves in the header and in Browse
// rooms when someone joins or leaves; a page whose session is ended from
// another device (or whose password changes elsewhere, or whose account is
// suspended, or whose reconnect is refused) lands on the login page saying
// why; a DM opened by one person shows up for the other only with its first
// message, then live; a DM with a deleted account has its composer disabled
// with the reason. Desktop and phone sizes, axe 0 serious/critical,
// screenshots of each new state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, Server, screenshots, watchProblems, assertAccessible } from "./support.mjs";

const PASSWORD = "correct horse battery staple";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let browser;
let server;
const contexts = [];
const problems = []; // CSP violations and page errors

const watch = (page) => watchProblems(page, problems);

const checkA11y = assertAccessible;

async function register(username) {
  const response = await fetch(`${server.base}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(response.status, 201, `register ${username}`);
}

// Signs `username` in on a new browser (context) of this size; the chat page.
async function signIn(username, viewport = DESKTOP, password = PASSWORD) {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  watch(page);
  await page.goto(`${server.base}/login`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/discover/);
  await connected(page);
  return page;
}

async function person(username, viewport = DESKTOP) {
  await register(username);
  return signIn(username, viewport);
}

async function connected(page) {
  await page.locator("#connection[data-state='connected']").waitFor();
}

// The JSON API with this page's cookies.
async function call(page, method, path, data) {
  const response = await page.request.fetch(`${server.base}${path}`, { method, data });
  const text = await response.text();
  return { status: response.status(), body: text ? JSON.parse(text) : null };
}

before(async () => {
  server = new Server({ CHATROOM_REGISTER_LIMIT: "1000" });
  await server.start();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  await register("root"); // the first account is the admin
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await server?.kill();
  assert.deepEqual(problems, [], "no CSP violations or page errors");
});

test("a room's member count moves live in the header and in Browse rooms", async () => {
  const ana = await person("ana", PHONE);
  const ben = await person("ben", DESKTOP);
  await register("cleo");
  const cleo = await signIn("cleo", DESKTOP);

  const created = await call(ana, "POST", "/api/v1/rooms", { name: "lounge", topic: "Sofas and tea" });
  assert.equal(created.status, 201);
  await ana.goto(`${server.base}/discover/lounge`);
  await connected(ana);
  const anaCount = ana.locator("#chat-members");
  await anaCount.filter({ hasText: "1 member" }).waitFor();

  // Ben browses rooms; Cleo has the room open to join it.
  await ben.getByRole("button", { name: "Browse rooms" }).click();
  const entry = ben.locator('#directory-list li[data-room="lounge"]');
  await entry.locator(".directory-meta", { hasText: "1 member" }).waitFor();

  const joined = await call(cleo, "PUT", "/api/v1/rooms/lounge/membership");
  assert.equal(joined.status, 200);
  await anaCount.filter({ hasText: "2 members" }).waitFor();
  await entry.locator(".directory-meta", { hasText: "2 members" }).waitFor();
  await checkA11y(ana, "/discover/lounge (phone, count moved)");
  await checkA11y(ben, "/discover (Browse rooms, count moved)");
  await screenshots(ana, "live-count-header");
  await screenshots(ben, "live-count-directory");

  // Ben joins from the directory; Cleo leaves: each count follows.
  await entry.getByRole("button", { name: "Join" }).click();
  await ben.locator("#chat-members", { hasText: "3 members" }).waitFor();
  await anaCount.filter({ hasText: "3 members" }).waitFor();
  assert.equal((await call(cleo, "DELETE", "/api/v1/rooms/lounge/membership")).status, 204);
  await anaCount.filter({ hasText: "2 members" }).waitFor();
  await ben.locator("#chat-members", { hasText: "2 members" }).waitFor();
});

test("a page signed out from elsewhere lands on the login page saying why", async () => {
  await register("dora");
  const laptop = await signIn("dora", DESKTOP);
  const phone = await signIn("dora", PHONE);

  // The laptop ends the phone's session (its sessions list).
  const sessions = await call(laptop, "GET", "/api/v1/me/sessions");
  const other = sessions.body.sessions.find((s) => !s.current);
  assert.ok(other, JSON.stringify(sessions.body));
  assert.equal((await call(laptop, "DELETE", `/api/v1/me/sessions/${other.id}`)).status, 204);
  await phone.waitForURL(/\/login\?reason=session_ended/);
  const notice = phone.getByRole("status");
  await notice.filter({ hasText: "You were signed out because this session was ended from another device." }).waitFor();
  await checkA11y(phone, "/login?reason=session_ended");
  await screenshots(phone, "signed-out-session-ended");
  // Logging in again brings her back to the chat.
  await phone.getByLabel("Username").fill("dora");
  await phone.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await phone.getByRole("button", { name: "Log in" }).click();
  await phone.waitForURL(/\/discover/);
  await connected(phone);

  // A password changed on the laptop signs the phone out, saying so.
  const changed = await call(laptop, "PUT", "/api/v1/me/password", {
    current_password: PASSWORD,
    new_password: "seven lanterns over quiet water",
  });
  assert.equal(changed.status, 204);
  await phone.waitForURL(/\/login\?reason=password_changed/);
  await phone
    .getByRole("status")
    .filter({ hasText: "You were signed out because your password was changed. Log in with the new one." })
    .waitFor();
  await screenshots(phone, "signed-out-password-changed");
  // The laptop, where it was changed, stays in.
  await connected(laptop);
  assert.match(laptop.url(), /\/discover/);

  // An admin suspends an account: its open page says so.
  await register("eli");
  const eli = await signIn("eli", DESKTOP);
  const admin = await signIn("root", DESKTOP);
  assert.equal((await call(admin, "PUT", "/api/v1/admin/users/eli/suspension")).status, 204);
  await eli.waitForURL(/\/login\?reason=account_suspended/);
  await eli.getByRole("status").filter({ hasText: "You were signed out because an admin suspended your account." }).waitFor();
  await checkA11y(eli, "/login?reason=account_suspended");

  // A made-up reason shows nothing, and is never echoed.
  await eli.goto(`${server.base}/login?reason=%3Cb%3Ehacked%3C%2Fb%3E`);
  assert.equal(await eli.getByRole("status").count(), 0);
  assert.equal(await eli.getByText("hacked").count(), 0);
});

test("a DM shows up for the other person only with its first message, then live", async () => {
  const fay = await person("fay", DESKTOP);
  const gus = await person("gus", PHONE);

  const opened = await call(fay, "POST", "/api/v1/dms", { username: "gus" });
  assert.equal(opened.status, 200);
  const dm = opened.body.room.id;
  await fay.locator(`#dm-list li[data-room="${dm}"]`).waitFor();
  // Gus's list has no sign of it, live or after a reload.
  const gusItem = gus.locator(`#dm-list li[data-room="${dm}"]`);
  await gus.waitForTimeout(500);
  assert.equal(await gusItem.count(), 0, "not listed before the first message");
  await gus.reload();
  await connected(gus);
  await gus.waitForTimeout(300);
  assert.equal(await gusItem.count(), 0, "not listed after a reload either");

  // Fay writes; the conversation arrives in Gus's list with its unread count.
  await fay.locator(`#dm-list li[data-room="${dm}"] button`).click();
  await fay.locator("#chat-name", { hasText: "gus" }).waitFor();
  const box = fay.getByLabel("Message");
  await box.fill("lunch at noon?");
  await box.press("Enter");
  await gusItem.waitFor({ state: "attached" });
  await gusItem.locator(".conv-unread", { hasText: "1" }).waitFor({ state: "attached" });
  // On the phone the list is a drawer: open it to see the new conversation.
  await gus.locator("#rooms-toggle").click();
  await gusItem.waitFor();
  await checkA11y(gus, "/discover (phone, DM arrived)");
  await screenshots(gus, "dm-arrives-with-first-message");
});

test("a DM with a deleted account has its composer disabled, saying why", async () => {
  const hal = await person("hal", DESKTOP);
  await register("ivy");
  const ivy = await signIn("ivy", PHONE);
  const opened = await call(hal, "POST", "/api/v1/dms", { username: "ivy" });
  const dm = opened.body.room.id;
  assert.equal((await call(hal, "POST", `/api/v1/rooms/${dm}/messages`, { text: "see you" })).status, 201);
  // Hal has the DM open while Ivy deletes her account (on her phone).
  await hal.goto(`${server.base}/discover/${dm}`);
  await connected(hal);
  await hal.locator("#chat-name", { hasText: "ivy" }).waitFor();
  assert.equal(await hal.getByLabel("Message").isDisabled(), false);
  assert.equal((await call(ivy, "DELETE", "/api/v1/me", { current_password: PASSWORD })).status, 204);
  await ivy.waitForURL(/\/login\?reason=account_deleted/);
  await ivy.getByRole("status").filter({ hasText: "Your account was deleted, so you were signed out." }).waitFor();

  const sentence = "This account was deleted. You can still read this conversation, but not send to it.";
  // Live, without reopening: the name changes and the composer closes.
  await hal.locator("#chat-name", { hasText: "Deleted user" }).waitFor();
  await hal.locator("#composer-readonly", { hasText: sentence }).waitFor();
  assert.equal(await hal.getByLabel("Message").isDisabled(), true);
  for (const viewport of [DESKTOP, PHONE]) {
    await hal.setViewportSize(viewport);
    await hal.goto(`${server.base}/discover/${dm}`);
    await connected(hal);
    await hal.locator("#chat-name", { hasText: "Deleted user" }).waitFor();
    await hal.locator("#composer-readonly", { hasText: sentence }).waitFor();
    const input = hal.getByLabel("Message");
    assert.equal(await input.isDisabled(), true, "the Message box is disabled");
    assert.equal(await hal.locator("#send-button").isDisabled(), true);
    assert.equal(await hal.locator("#attach-button").isDisabled(), true);
    assert.match(await input.getAttribute("aria-describedby"), /composer-readonly/);
    await hal.locator(".message-body", { hasText: "see you" }).waitFor();
    await checkA11y(hal, `/discover/${dm} (read-only, ${viewport.width}px)`);
  }
  await screenshots(hal, "dm-read-only");

  // Another conversation is writable again.
  await hal.goto(`${server.base}/discover`);
  await connected(hal);
  await hal.locator("#composer-readonly").waitFor({ state: "hidden" });
  assert.equal(await hal.getByLabel("Message").isDisabled(), false);
});

test("a reconnect refused after the server came back says the session ended", async () => {
  const joan = await person("joan", PHONE);
  // The server goes away; meanwhile an operator ends Joan's sessions.
  await server.kill();
  await joan.locator("#connection:not([data-state='connected'])").waitFor();
  const ended = spawnSync(process.env.CHATROOM_BIN, ["user", "end-sessions", "joan"], {
    cwd: server.dataDir,
    env: { ...process.env, ...server.env, RUST_LOG: "warn" },
    encoding: "utf8",
  });
  assert.equal(ended.status, 0, ended.stderr);
  await server.start();
  // Its reconnect is refused (unauthenticated): the login page says why.
  await joan.waitForURL(/\/login\?reason=session_expired/, { timeout: 30000 });
  await joan.getByRole("status").filter({ hasText: "Your session ended. Log in again to continue." }).waitFor();
  await checkA11y(joan, "/login?reason=session_expired");
  await screenshots(joan, "signed-out-session-expired");
});
