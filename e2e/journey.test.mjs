// The whole journey of chatroom users in real headless Chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";
import { CHROMIUM_ARGS, Server, startSmtp, linkIn, screenshots, watchProblems, assertAccessible } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const PHOTO = join(here, "..", "tests", "fixtures", "legacy", "static", "alice.png");
const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "violet harbour lantern drift";
const RESET_PASSWORD = "seven quiet ravens at dawn";

let browser;
let smtp;
let server;
const problems = []; // CSP violations and page errors, from every page
const users = {};

const watch = (page, who) => watchProblems(page, problems, who);

async function newUser(name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  watch(page, name);
  users[name] = { context, page, name };
  return users[name];
}

const checkA11y = assertAccessible;

async function register(page, name) {
  await page.goto(`${server.base}/register`);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${server.base}/discover`);
}

async function logIn(page, name, password) {
  await page.goto(`${server.base}/login`);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${server.base}/discover`);
}

async function connected(page) {
  await page.locator('#connection[data-state="connected"]').waitFor();
}

async function say(page, text) {
  const box = page.getByLabel("Message");
  await box.fill(text);
  await box.press("Enter");
}

function messageLocator(page, text) {
  return page.locator(".message-body", { hasText: text });
}

async function sessionCookie(context) {
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "chatroom_session");
  return `chatroom_session=${session.value}`;
}

function socketFor(cookie) {
  return io(server.base, {
    transports: ["websocket"],
    extraHeaders: { Cookie: cookie },
    reconnection: true,
    reconnectionDelay: 100,
  });
}

before(async () => {
  smtp = await startSmtp();
  server = new Server({
    CHATROOM_SMTP_URL: smtp.url,
    CHATROOM_CHAT_RATE: "1000",
    CHATROOM_REGISTER_LIMIT: "1000",
  });
  await server.start();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});

after(async () => {
  for (const user of Object.values(users)) await user.context.close().catch(() => {});
  await browser?.close();
  await server?.kill();
  smtp?.stop();
});

test("sign up shows field errors next to the field, then lands on Discover", async () => {
  const { page } = await newUser("alice");
  await page.goto(`${server.base}/register`);
  await checkA11y(page, "/register");
  await screenshots(page, "register");
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password", { exact: true }).fill("password");
  await page.getByRole("button", { name: "Sign up" }).click();
  const error = page.locator("#password-error");
  await error.waitFor();
  assert.match(await error.textContent(), /guess|characters/);
  assert.equal(await page.getByLabel("Username").inputValue(), "alice", "input kept");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${server.base}/discover`);
  await connected(page);
  await checkA11y(page, "/discover");
});

test("two people chat live and see each other online", async () => {
  const alice = users.alice.page;
  const { page: bob } = await newUser("bob");
  await register(bob, "bob");
  await connected(bob);
  await bob.getByRole("list", { name: "Online" }).getByText("alice").waitFor();
  await alice.getByRole("list", { name: "Online" }).getByText("bob").waitFor();

  await say(alice, "Hello Bob! See https://example.com/docs.");
  await messageLocator(bob, "Hello Bob!").waitFor();
  const link = bob.locator(".message-body a", { hasText: "https://example.com/docs" });
  assert.equal(await link.getAttribute("rel"), "noopener noreferrer nofollow");
  assert.equal(await link.getAttribute("href"), "https://example.com/docs", "trailing dot not in the link");

  await say(bob, "<b>Hi Alice</b> <img src=x onerror=alert(1)>");
  const shown = messageLocator(alice, "Hi Alice");
  await shown.waitFor();
  assert.equal(await shown.locator("b, img").count(), 0, "text is never HTML");
  assert.equal(await shown.textContent(), "<b>Hi Alice</b> <img src=x onerror=alert(1)>");
  // Each message is shown once, with its author's avatar.
  assert.equal(await messageLocator(alice, "Hello Bob!").count(), 1);
  const bobsMessage = alice.locator(".message", { has: alice.locator(".message-body", { hasText: "Hi Alice" }) });
  assert.match(await bobsMessage.locator("img.avatar").getAttribute("src"), /^\/avatars\//);

  // Typing indicator.
  await bob.getByLabel("Message").pressSequentially("typing…", { delay: 20 });
  await alice.locator("#typing", { hasText: "bob is typing" }).waitFor();
  await bob.getByLabel("Message").fill("");
  await screenshots(alice, "discover");
});

test("a photo uploaded on the profile shows in the chat", async () => {
  const alice = users.alice.page;
  const bob = users.bob.page;
  await alice.goto(`${server.base}/profile`);
  await checkA11y(alice, "/profile");
  const before = await alice.getByRole("img", { name: "Your avatar" }).getAttribute("src");
  await alice.getByLabel("Photo").setInputFiles(PHOTO);
  await alice.getByRole("button", { name: "Upload" }).click();
  await alice.waitForURL(/\/profile\?done=photo/);
  const photo = await alice.getByRole("img", { name: "Your avatar" }).getAttribute("src");
  assert.notEqual(photo, before);
  assert.match(photo, /^\/avatars\/\d+\/[0-9a-f]+\.png$/);
  await screenshots(alice, "profile");

  await alice.goto(`${server.base}/discover`);
  await connected(alice);
  await say(alice, "New photo!");
  const message = bob.locator(".message", { has: bob.locator(".message-body", { hasText: "New photo!" }) });
  await message.waitFor();
  // Grouped messages hide repeated avatars; the photo is in the online list for sure.
  await bob.reload();
  await connected(bob);
  await bob.locator(`#online-list img[src="${photo}"]`).waitFor();
});

test("changing the password keeps this session and the new one logs in", async () => {
  const alice = users.alice.page;
  await alice.goto(`${server.base}/profile`);
  await alice.getByLabel("Current password").fill(PASSWORD);
  await alice.getByLabel("New password").fill(NEW_PASSWORD);
  await alice.getByRole("button", { name: "Change password" }).click();
  await alice.locator(".notice", { hasText: "password was changed" }).waitFor();
  await alice.getByRole("button", { name: "Log out" }).click();
  await alice.waitForURL(`${server.base}/login`);
  await checkA11y(alice, "/login");
  await screenshots(alice, "login");
  await logIn(alice, "alice", NEW_PASSWORD);
});

test("a recovery email is verified through the link in the mail", async () => {
  const alice = users.alice.page;
  await alice.goto(`${server.base}/profile`);
  await alice.getByLabel("Email", { exact: true }).fill("alice@example.com");
  await alice.getByLabel("Password to confirm").fill(NEW_PASSWORD);
  await alice.getByRole("button", { name: "Send verification link" }).click();
  await alice.waitForURL(/done=email/);
  const [mail] = await smtp.waitFor("alice@example.com", 1);
  const link = linkIn(mail, `${server.base}/verify-email?token=`);
  assert.ok(link, "the mail has a verification link");
  await alice.goto(link);
  await alice.getByRole("heading", { name: "Email address confirmed" }).waitFor();
  await checkA11y(alice, "/verify-email");
  await screenshots(alice, "verify-email");
  await alice.goto(`${server.base}/profile`);
  await alice.getByText("alice@example.com").first().waitFor();
});

test("log out, forget the password, reset it by mail and log in", async () => {
  const alice = users.alice.page;
  await alice.goto(`${server.base}/profile`);
  await alice.getByRole("button", { name: "Log out" }).click();
  await alice.waitForURL(`${server.base}/login`);
  assert.equal((await alice.goto(`${server.base}/discover`)).url(), `${server.base}/login`);

  await alice.goto(`${server.base}/forgot-password`);
  await checkA11y(alice, "/forgot-password");
  await screenshots(alice, "forgot-password");
  await alice.getByLabel("Email").fill("alice@example.com");
  await alice.getByRole("button", { name: "Send reset link" }).click();
  await alice.getByText("If an account has this verified address").waitFor();
  const mails = await smtp.waitFor("alice@example.com", 2);
  const link = linkIn(mails[mails.length - 1], `${server.base}/reset-password?token=`);
  assert.ok(link, "the mail has a reset link");
  await alice.goto(link);
  await checkA11y(alice, "/reset-password");
  await screenshots(alice, "reset-password");
  await alice.getByLabel("New password").fill(RESET_PASSWORD);
  await alice.getByRole("button", { name: "Set new password" }).click();
  await alice.waitForURL(/\/login/);
  await logIn(alice, "alice", RESET_PASSWORD);
  await connected(alice);
});

test("scrolling up loads older history", async () => {
  const cookie = await sessionCookie(users.bob.context);
  const socket = socketFor(cookie);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  for (let i = 0; i < 200; i++) {
    const ack = await socket.timeout(10000).emitWithAck("message", { text: `seed message ${i}` });
    assert.equal(ack.ok, true);
  }
  socket.disconnect();

  const alice = users.alice.page;
  await alice.goto(`${server.base}/discover`);
  await connected(alice);
  await messageLocator(alice, "seed message 199").waitFor();
  const count = () => alice.locator("#message-list li[data-id]").count();
  assert.equal(await count(), 50);
  const atStart = () => alice.locator("#history-status", { hasText: "Beginning of the conversation" }).count();
  for (let round = 0; round < 15 && (await atStart()) === 0; round++) {
    await alice.locator("#messages").evaluate((el) => {
      el.scrollTop = 0;
    });
    await alice.waitForTimeout(300);
  }
  await messageLocator(alice, "seed message 0").waitFor();
  assert.ok((await count()) >= 200, "older pages were loaded");
  await alice.locator("#history-status", { hasText: "Beginning of the conversation" }).waitFor();
});

test("a dropped connection shows reconnecting, then recovers the missed messages", async () => {
  const alice = users.alice.page;
  await alice.goto(`${server.base}/discover`);
  await connected(alice);
  await server.kill();
  await alice.locator('#connection[data-state="reconnecting"]').waitFor();
  await server.start();
  const socket = socketFor(await sessionCookie(users.bob.context));
  await new Promise((resolve) => socket.once("connect", resolve));
  const ack = await socket.timeout(10000).emitWithAck("message", { text: "sent while you were away" });
  assert.equal(ack.ok, true);
  socket.disconnect();
  await connected(alice);
  await messageLocator(alice, "sent while you were away").waitFor({ timeout: 20000 });
  await alice.waitForTimeout(500);
  assert.equal(await messageLocator(alice, "sent while you were away").count(), 1, "no duplicates");
});

test("the chat and the forms work with the keyboard alone", async () => {
  const { page } = await newUser("carol");
  await register(page, "carol");
  await page.context().clearCookies();
  await page.goto(`${server.base}/login`);
  const focusOn = async (id) => {
    for (let i = 0; i < 15; i++) {
      if ((await page.evaluate(() => document.activeElement?.id)) === id) return;
      await page.keyboard.press("Tab");
    }
    throw new Error(`could not reach #${id} with Tab`);
  };
  await focusOn("username");
  await page.keyboard.type("carol");
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${server.base}/discover`);
  await connected(page);
  await focusOn("message-input");
  await page.keyboard.type("typed without a mouse");
  await page.keyboard.press("Enter");
  await messageLocator(page, "typed without a mouse").waitFor();
  await page.keyboard.type("two");
  await page.keyboard.press("Shift+Enter");
  await page.keyboard.type("lines");
  assert.equal(await page.getByLabel("Message").inputValue(), "two\nlines", "Shift+Enter adds a line");
});

test("a deleted account's messages show as by Deleted user", async () => {
  const alice = users.alice.page;
  const bob = users.bob.page;
  await alice.goto(`${server.base}/profile`);
  await alice.getByLabel("Confirm with your password").fill(RESET_PASSWORD);
  await alice.getByRole("button", { name: "Delete account" }).click();
  await alice.waitForURL(/\/login/);
  await bob.goto(`${server.base}/discover`);
  await connected(bob);
  for (let round = 0; round < 15 && (await messageLocator(bob, "Hello Bob!").count()) === 0; round++) {
    await bob.locator("#messages").evaluate((el) => {
      el.scrollTop = 0;
    });
    await bob.waitForTimeout(300);
  }
  const message = bob.locator(".message", { has: bob.locator(".message-body", { hasText: "Hello Bob!" }) });
  await message.waitFor();
  assert.equal(await message.locator(".message-author").textContent(), "Deleted user");
});

test("a room of more than 25 is listed in full (the connect event names 25)", async () => {
  const sockets = [];
  for (let i = 0; i < 30; i++) {
    const res = await fetch(`${server.base}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: `crowd${String(i).padStart(2, "0")}`, password: PASSWORD }),
    });
    assert.equal(res.status, 201);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("chatroom_session="));
    const socket = socketFor(cookie.split(";")[0]);
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    sockets.push(socket);
  }
  const bob = users.bob.page; // alice has deleted her account by now
  await bob.goto(`${server.base}/discover`);
  await connected(bob);
  const online = bob.getByRole("list", { name: "Online" });
  await online.getByText("crowd29").waitFor();
  // Everyone counted is listed once the page has asked for the full list.
  const counts = async () => [
    await online.locator("li").count(),
    Number((await bob.locator("#online-count").textContent()).trim()),
  ];
  let [shown, total] = await counts();
  for (let round = 0; round < 50 && shown !== total; round++) {
    await bob.waitForTimeout(100);
    [shown, total] = await counts();
  }
  assert.ok(total > 25, `${total} online`);
  assert.equal(shown, total);
  assert.equal(await bob.locator(".online-more").count(), 0, "no 'and N more'");
  for (const socket of sockets) socket.disconnect();
});

test("no page broke the content security policy or threw", async () => {
  assert.deepEqual(problems, []);
});

// ---------------------------------------------------------------------------
// Rooms, direct messages, edits, reactions, mentions, search and moderation
// (docs/rooms.md). alice deleted her account above, so these use new people.

function lineOf(page, text) {
  return page.locator("#message-list > li.message", { has: page.locator(".message-body", { hasText: text }) });
}

function conversation(page, id) {
  return page.locator(`#rooms-nav li[data-room="${id}"] button`);
}

async function openConversation(page, id) {
  await conversation(page, id).click();
  await page.locator(`#rooms-nav li[data-room="${id}"] button[aria-current="true"]`).waitFor();
}

async function chatNamed(page, name) {
  await page.locator("#chat-name", { hasText: name }).waitFor();
}

async function signedUpOnDiscover(name) {
  const user = await newUser(name);
  await register(user.page, name);
  await connected(user.page);
  return user.page;
}

test("a room is created, found in the directory and joined; only members get its messages", async () => {
  const dave = await signedUpOnDiscover("dave");
  const erin = await signedUpOnDiscover("erin");
  const bob = users.bob.page;
  await bob.goto(`${server.base}/discover`);
  await connected(bob);

  await dave.getByRole("button", { name: "Browse rooms" }).click();
  await dave.getByLabel("Room name").fill("x");
  await dave.getByRole("button", { name: "Create room" }).click();
  await dave.locator("#room-name-error").waitFor();
  assert.equal(await dave.getByLabel("Room name").getAttribute("aria-invalid"), "true");
  await dave.getByLabel("Room name").fill("Rust-Fans");
  await dave.getByLabel("Topic").fill("All things Rust");
  await checkA11y(dave, "/discover (rooms)");
  await screenshots(dave, "rooms");
  await dave.getByRole("button", { name: "Create room" }).click();
  await chatNamed(dave, "Rust-Fans");
  await dave.locator("#chat-topic", { hasText: "All things Rust" }).waitFor();
  await dave.locator('#rooms-nav li[data-room="rust-fans"] button[aria-current="true"]').waitFor();
  await say(dave, "hello rust fans");
  await messageLocator(dave, "hello rust fans").waitFor();

  // The name is taken, whatever the case.
  await erin.getByRole("button", { name: "Browse rooms" }).click();
  await erin.getByLabel("Room name").fill("rust-FANS");
  await erin.getByRole("button", { name: "Create room" }).click();
  await erin.locator("#room-name-error", { hasText: "taken" }).waitFor();

  // The directory search finds it; joining opens it with its history.
  await erin.getByLabel("Search rooms").fill("rust");
  const entry = erin.locator('#directory-list li[data-room="rust-fans"]');
  await entry.getByText("All things Rust").waitFor();
  await entry.getByText("1 member").waitFor();
  await entry.getByRole("button", { name: "Join" }).click();
  await chatNamed(erin, "Rust-Fans");
  await messageLocator(erin, "hello rust fans").waitFor();
  await erin.locator("#chat-members", { hasText: "2 members" }).waitFor();

  // Members only: bob, in the global room, never sees it.
  await say(dave, "members only here");
  await messageLocator(erin, "members only here").waitFor();
  await say(bob, "a global line");
  await bob.waitForTimeout(300);
  assert.equal(await messageLocator(bob, "members only here").count(), 0);
  assert.equal(await messageLocator(bob, "hello rust fans").count(), 0);
  // …and the global line stays out of the room's list, counted on Global instead.
  assert.equal(await messageLocator(erin, "a global line").count(), 0);
  await erin.locator('#rooms-nav li[data-room="global"] .conv-unread').waitFor();
  await openConversation(erin, "global");
  await messageLocator(erin, "a global line").waitFor();
  assert.equal(await messageLocator(erin, "members only here").count(), 0);
  await erin.locator('#rooms-nav li[data-room="global"] .conv-unread').waitFor({ state: "detached" });
});

test("unread and mention badges on a conversation, the mention highlighted", async () => {
  const dave = users.dave.page;
  const erin = users.erin.page; // in the global room now
  await say(dave, "are you there @erin? see @dave");
  const item = erin.locator('#rooms-nav li[data-room="rust-fans"]');
  await item.locator(".conv-unread", { hasText: "1" }).waitFor();
  await item.locator(".conv-mention").waitFor();
  assert.match(await item.locator("button").getAttribute("aria-label"), /1 unread/);
  assert.match(await item.locator("button").getAttribute("aria-label"), /1 mention/);

  await openConversation(erin, "rust-fans");
  const line = lineOf(erin, "are you there");
  await line.waitFor();
  assert.ok(await line.evaluate((li) => li.classList.contains("is-mention")), "the line is highlighted");
  assert.equal(await line.locator(".mention.is-me").textContent(), "@erin");
  assert.equal(await line.locator(".mention:not(.is-me)").textContent(), "@dave");
  await item.locator(".conv-unread").waitFor({ state: "detached" });
  await item.locator(".conv-mention").waitFor({ state: "detached" });

  // The read marker is on the server: a reload shows no badge either.
  await openConversation(erin, "global");
  await erin.reload();
  await connected(erin);
  await erin.locator('#rooms-nav li[data-room="rust-fans"]').waitFor();
  await erin.waitForTimeout(300);
  assert.equal(await erin.locator('#rooms-nav li[data-room="rust-fans"] .conv-unread').count(), 0);
});

test("a direct message from the Online list's profile card", async () => {
  const dave = users.dave.page;
  const erin = users.erin.page;
  await dave.getByRole("list", { name: "Online" }).getByText("erin").click();
  const card = dave.getByRole("dialog", { name: "erin" });
  await card.waitFor();
  await checkA11y(dave, "/discover (profile card)");
  await card.getByRole("button", { name: "Message", exact: true }).click();
  await chatNamed(dave, "erin");
  await dave.locator("#chat-hash", { hasText: "@" }).waitFor();
  await say(dave, "psst, just between us");
  await messageLocator(dave, "psst, just between us").waitFor();

  const dm = erin.locator("#dm-list li", { hasText: "dave" });
  await dm.locator(".conv-unread", { hasText: "1" }).waitFor();
  assert.equal(await messageLocator(erin, "psst, just between us").count(), 0, "not in the open room");
  await dm.locator("button").click();
  await chatNamed(erin, "dave");
  await messageLocator(erin, "psst, just between us").waitFor();
  await say(erin, "got it");
  await messageLocator(dave, "got it").waitFor();
  // bob is in neither conversation.
  assert.equal(await messageLocator(users.bob.page, "psst, just between us").count(), 0);
});

test("editing, reacting to and deleting a message, live on both sides", async () => {
  const dave = users.dave.page;
  const erin = users.erin.page; // both in their DM
  await say(dave, "tpyo in this line");
  const mine = lineOf(dave, "tpyo in this line");
  await mine.waitFor();
  await mine.hover();
  await mine.getByRole("button", { name: "Edit" }).click();
  const editor = mine.getByRole("textbox", { name: "Edit text" });
  await editor.fill("typo fixed in this line");
  await editor.press("Enter");
  const theirs = lineOf(erin, "typo fixed in this line");
  await theirs.locator(".message-edited", { hasText: "(edited)" }).waitFor();
  await lineOf(dave, "typo fixed in this line").locator(".message-edited").waitFor();
  // Only the author may edit; anyone may react.
  await theirs.hover();
  assert.equal(await theirs.getByRole("button", { name: "Edit" }).count(), 0);
  assert.equal(await theirs.getByRole("button", { name: "Delete" }).count(), 0);

  // Escape leaves the editor without a change.
  const again = lineOf(dave, "typo fixed in this line");
  await again.hover();
  await again.getByRole("button", { name: "Edit" }).click();
  await again.getByRole("textbox", { name: "Edit text" }).press("Escape");
  await again.getByRole("textbox", { name: "Edit text" }).waitFor({ state: "detached" });

  // The actions show while the pointer is on the line: point at it first
  // (its line may have been drawn again under a pointer that has not moved).
  await theirs.hover();
  await theirs.getByRole("button", { name: "React" }).click();
  await theirs.getByRole("button", { name: "thumbs up" }).click();
  const chip = (page) => lineOf(page, "typo fixed in this line").locator(".reaction", { hasText: "👍" });
  await chip(dave).locator(".reaction-count", { hasText: "1" }).waitFor();
  assert.match(await chip(dave).getAttribute("title"), /erin/);
  assert.equal(await chip(erin).getAttribute("aria-pressed"), "true");
  await chip(dave).click();
  await chip(erin).locator(".reaction-count", { hasText: "2" }).waitFor();
  await chip(dave).click(); // your own: taken back
  await chip(erin).locator(".reaction-count", { hasText: "1" }).waitFor();

  const line = lineOf(dave, "typo fixed in this line");
  await line.hover();
  await line.getByRole("button", { name: "Delete" }).click();
  await line.getByRole("button", { name: "Yes, delete" }).click();
  await erin.locator("#message-list .message-body.is-deleted", { hasText: "This message was deleted" }).waitFor();
  await dave.locator("#message-list .message-body.is-deleted", { hasText: "This message was deleted" }).waitFor();
  assert.equal(await messageLocator(erin, "typo fixed").count(), 0);
  assert.equal(await erin.locator("#message-list .reaction").count(), 0, "a deleted message keeps no reactions");
});

test("search finds a message and opens its conversation at it", async () => {
  const socket = socketFor(await sessionCookie(users.bob.context));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  const ack = await socket.timeout(10000).emitWithAck("message", { text: "a needle in the haystack" });
  assert.equal(ack.ok, true);
  const needle = ack.message.id;
  for (let i = 0; i < 80; i++) {
    assert.equal((await socket.timeout(10000).emitWithAck("message", { text: `hay ${i}` })).ok, true);
  }
  socket.disconnect();

  const dave = users.dave.page;
  await dave.getByRole("button", { name: "Search", exact: true }).click();
  await dave.getByLabel("Search messages").fill("haysta");
  const hit = dave.locator(`#search-results button[data-id="${needle}"]`);
  await hit.waitFor();
  assert.match(await hit.textContent(), /bob/);
  assert.match(await hit.textContent(), /Global room/);
  await checkA11y(dave, "/discover (search)");
  await screenshots(dave, "search");
  await hit.click();
  await chatNamed(dave, "Global room");
  const line = dave.locator(`#message-list > li[data-id="${needle}"]`);
  await line.waitFor();
  assert.ok(await line.evaluate((li) => li.classList.contains("is-highlighted")), "highlighted");
  assert.ok(
    await line.evaluate((li) => {
      const box = li.getBoundingClientRect();
      const view = document.getElementById("messages").getBoundingClientRect();
      return box.top >= view.top && box.bottom <= view.bottom;
    }),
    "scrolled into view",
  );
  // The search box is gone again; the composer still answers to "Message".
  assert.equal(await dave.getByLabel("Search messages").count(), 0);
  await say(dave, "back to the present");
  await messageLocator(dave, "back to the present").waitFor();
  await messageLocator(dave, "hay 79").waitFor();
});

test("typing shows only in its own conversation", async () => {
  const dave = users.dave.page;
  const erin = users.erin.page;
  await openConversation(dave, "rust-fans");
  await openConversation(erin, "global");
  await dave.getByLabel("Message").pressSequentially("typing in the room", { delay: 20 });
  await erin.waitForTimeout(500);
  assert.equal(await erin.locator("#typing").textContent(), "");
  await openConversation(erin, "rust-fans");
  await dave.waitForTimeout(2100); // typing is sent at most every 2 s
  await dave.getByLabel("Message").pressSequentially(" more", { delay: 20 });
  await erin.locator("#typing", { hasText: "dave is typing" }).waitFor();
  await dave.getByLabel("Message").fill("");
});

test("leaving a room removes it from the list and stops its messages", async () => {
  const dave = users.dave.page;
  const erin = users.erin.page;
  await openConversation(erin, "rust-fans");
  await erin.getByRole("button", { name: "Leave room" }).click();
  await chatNamed(erin, "Global room");
  await erin.locator("#chat-notice", { hasText: "You left #rust-fans." }).waitFor();
  await conversation(erin, "rust-fans").waitFor({ state: "detached" });
  await openConversation(dave, "rust-fans");
  await say(dave, "after erin left");
  await messageLocator(dave, "after erin left").waitFor();
  await erin.waitForTimeout(300);
  assert.equal(await conversation(erin, "rust-fans").count(), 0, "no unread for a room left");
});

test("an admin deletes anyone's message and suspends an account", async () => {
  const second = new Server({ CHATROOM_CHAT_RATE: "1000", CHATROOM_REGISTER_LIMIT: "1000" });
  await second.start();
  const open = async (name) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    watch(page, `${name}@second`);
    await page.goto(`${second.base}/register`);
    await page.getByLabel("Username").fill(name);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL(`${second.base}/discover`);
    await connected(page);
    return { context, page };
  };
  const root = await open("root"); // the first account is the admin
  const mallory = await open("mallory");
  try {
    await say(mallory.page, "buy cheap stuff");
    const line = lineOf(root.page, "buy cheap stuff");
    await line.waitFor();
    await line.hover();
    await line.getByRole("button", { name: "Delete" }).click();
    await line.getByRole("button", { name: "Yes, delete" }).click();
    await mallory.page.locator("#message-list .message-body.is-deleted").waitFor();
    // Others cannot: mallory has no Delete on root's lines.
    await say(root.page, "house rules apply");
    const rootLine = lineOf(mallory.page, "house rules apply");
    await rootLine.waitFor();
    await rootLine.hover();
    assert.equal(await rootLine.getByRole("button", { name: "Delete" }).count(), 0);

    await root.page.getByRole("list", { name: "Online" }).getByText("mallory").click();
    await root.page.getByRole("dialog", { name: "mallory" }).getByRole("button", { name: "Suspend" }).click();
    await root.page.locator("#profile-card-status", { hasText: "suspended" }).waitFor();
    await mallory.page.waitForURL(/\/login/, { timeout: 20000 });
  } finally {
    await root.context.close();
    await mallory.context.close();
    await second.kill();
  }
});

test("after a dropped connection the open room catches up and the other rooms' counts come back", async () => {
  const dave = users.dave.page;
  await dave.goto(`${server.base}/discover`);
  await connected(dave);
  await openConversation(dave, "rust-fans");
  await messageLocator(dave, "after erin left").waitFor();
  await server.kill();
  await dave.locator('#connection[data-state="reconnecting"]').waitFor();
  await server.start();
  const send = async (context, payload) => {
    const socket = socketFor(await sessionCookie(context));
    await new Promise((resolve) => socket.once("connect", resolve));
    const ack = await socket.timeout(10000).emitWithAck("message", payload);
    assert.equal(ack.ok, true, JSON.stringify(ack));
    socket.disconnect();
  };
  await send(users.dave.context, { text: "sent from my other device", room: "rust-fans" });
  await send(users.bob.context, { text: "global while dave was away" });
  await connected(dave);
  await messageLocator(dave, "sent from my other device").waitFor({ timeout: 20000 });
  await dave.locator('#rooms-nav li[data-room="global"] .conv-unread').waitFor({ timeout: 20000 });
  await dave.waitForTimeout(500);
  assert.equal(await messageLocator(dave, "sent from my other device").count(), 1, "no duplicates");
  assert.equal(await messageLocator(dave, "global while dave was away").count(), 0, "not in the open room");
});

test("a message's actions and the reaction picker work with the keyboard", async () => {
  const dave = users.dave.page;
  await dave.locator("#messages").focus();
  await dave.keyboard.press("ArrowUp");
  const focusedLine = () => dave.evaluate(() => document.activeElement.closest("li.message")?.dataset.id ?? null);
  const last = await dave.locator("#message-list > li[data-id]").last().getAttribute("data-id");
  assert.equal(await focusedLine(), last, "ArrowUp focuses the newest line");
  await dave.keyboard.press("ArrowUp");
  assert.notEqual(await focusedLine(), last, "and moves up");
  await dave.keyboard.press("ArrowDown");
  await dave.keyboard.press("Tab");
  // The author's name comes first on a line that shows it: it opens their card.
  if (await dave.evaluate(() => document.activeElement.dataset.action === "person")) await dave.keyboard.press("Tab");
  assert.equal(await dave.evaluate(() => document.activeElement.textContent), "React");
  await dave.keyboard.press("Enter");
  assert.equal(await dave.evaluate(() => document.activeElement.getAttribute("aria-label")), "thumbs up");
  await dave.keyboard.press("Escape");
  assert.equal(await dave.evaluate(() => document.activeElement.textContent), "React");
  assert.equal(await dave.locator(".reaction-picker").count(), 0);
});

test("a live message while reading old history offers the way back (new messages pill)", async () => {
  // Self-contained: runs alone with --test-name-pattern too.
  const writer = await signedUpOnDiscover("frank");
  const reader = await signedUpOnDiscover("gina");
  const errors = [];
  reader.on("pageerror", (err) => errors.push(err.message));

  // frank has an old message and 60 newer ones in the global room.
  const socket = socketFor(await sessionCookie(users.frank.context));
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  const ack = await socket.timeout(10000).emitWithAck("message", { text: "the zebracrossing anchor" });
  assert.equal(ack.ok, true);
  const anchorId = ack.message.id;
  for (let i = 0; i < 60; i++) {
    assert.equal((await socket.timeout(10000).emitWithAck("message", { text: `later line ${i}` })).ok, true);
  }
  socket.disconnect();

  // gina opens the search hit: 50 newer lines are loaded, the rest are not.
  await reader.getByRole("button", { name: "Search", exact: true }).click();
  await reader.getByLabel("Search messages").fill("zebracrossing");
  const hit = reader.locator(`#search-results button[data-id="${anchorId}"]`);
  await hit.waitFor();
  await hit.click();
  await reader.locator(`#message-list > li[data-id="${anchorId}"]`).waitFor();
  await messageLocator(reader, "later line 48").waitFor();
  assert.equal(await messageLocator(reader, "later line 59").count(), 0, "the newest lines are not loaded");
  const pill = reader.getByRole("button", { name: "New messages" });
  assert.equal(await pill.isVisible(), false);

  // frank posts from his page; gina is offered the way back to the present.
  await say(writer, "fresh news from frank");
  await messageLocator(writer, "fresh news from frank").waitFor();
  const shown = await pill.waitFor({ state: "visible", timeout: 5000 }).then(
    () => true,
    () => false,
  );
  assert.deepEqual(errors, [], "no page error");
  assert.ok(shown, "the new messages pill is shown");
  await pill.click();
  await messageLocator(reader, "fresh news from frank").waitFor();
  await messageLocator(reader, "later line 59").waitFor();
  assert.deepEqual(errors, [], "no page error");
});

test("each sent message carries its own client_id and settles its pending line by it", async () => {
  const first = await signedUpOnDiscover("hana");
  const second = await users.hana.context.newPage(); // a second tab, same session
  watch(second, "hana#2");
  const sentIds = [];
  const echoed = [];
  for (const tab of [first, second]) {
    tab.on("websocket", (ws) => {
      ws.on("framesent", ({ payload }) => {
        const packet = /^42\d*(\[.*\])$/s.exec(String(payload));
        if (!packet) return;
        const [event, data] = JSON.parse(packet[1]);
        if (event === "message") sentIds.push(data.client_id);
      });
      ws.on("framereceived", ({ payload }) => {
        const packet = /^43?\d*(\[.*\])$/s.exec(String(payload));
        if (!packet) return;
        const [head, data] = JSON.parse(packet[1]);
        const m = head === "message" ? data : head && head.message; // broadcast or ack
        if (m && m.client_id) echoed.push(m.client_id);
      });
    });
  }
  await first.reload();
  await connected(first);
  await second.goto(`${server.base}/discover`);
  await connected(second);

  // The same words from both tabs at once: each line is settled by its own
  // id (matching by text could settle one tab's copy with the other's message).
  const text = "the same words from two tabs";
  await Promise.all([say(first, text), say(second, text)]);
  for (const tab of [first, second]) {
    for (let round = 0; round < 50 && (await messageLocator(tab, text).count()) !== 2; round++) {
      await tab.waitForTimeout(100);
    }
    assert.equal(await messageLocator(tab, text).count(), 2);
    await tab.locator("#message-list > li[data-pending]").waitFor({ state: "detached" });
    assert.equal(await tab.locator("#message-list > li[data-id]", { hasText: text }).count(), 2);
  }
  assert.equal(sentIds.length, 2, JSON.stringify(sentIds));
  for (const id of sentIds) assert.match(id, /^[A-Za-z0-9_-]{1,64}$/);
  assert.notEqual(sentIds[0], sentIds[1], "one id per message");
  for (const id of sentIds) assert.ok(echoed.includes(id), `the server echoed ${id}`);
  await second.close();
});

// ---------------------------------------------------------------------------
// Replies, threads and formatting (docs/threads.md).

function threadPanel(page) {
  return page.getByRole("region", { name: "Thread", exact: true });
}

function threadReply(page, text) {
  return page.locator("#thread-list > li[data-id] .message-body", { hasText: text });
}

async function openThreadOf(page, rootText) {
  const line = lineOf(page, rootText);
  await line.waitFor();
  await line.hover();
  await line.getByRole("button", { name: "Reply in thread" }).click();
  const panel = threadPanel(page);
  await panel.locator("#thread-root .message-body", { hasText: rootText }).waitFor();
  return panel;
}

async function sendReply(page, text, alsoInRoom = false) {
  const panel = threadPanel(page);
  if (alsoInRoom) await panel.getByRole("checkbox", { name: "Also send to the room" }).check();
  const box = panel.getByRole("textbox", { name: "Reply" });
  await box.fill(text);
  await box.press("Enter");
  await threadReply(page, text).waitFor();
}

test("a reply in a thread: the root's counter moves live, the room gets it only when asked", async () => {
  const ivan = await signedUpOnDiscover("ivan");
  const judy = await signedUpOnDiscover("judy");
  const root = "who wants to plan the offsite";
  await say(ivan, root);
  const rootOnIvan = lineOf(ivan, root);
  await rootOnIvan.waitFor();
  await lineOf(judy, root).waitFor();
  assert.equal(await rootOnIvan.locator(".thread-summary").count(), 0, "no replies yet, no counter");

  // judy replies from her thread panel; focus went into it.
  const panel = await openThreadOf(judy, root);
  assert.ok(await panel.evaluate((node) => node.contains(document.activeElement)), "focus is in the panel");
  await sendReply(judy, "count me in, thread only");

  // ivan's root shows the counter, without a reload; the reply stays in the thread.
  const summary = rootOnIvan.locator(".thread-summary");
  await summary.filter({ hasText: "1 reply" }).waitFor();
  assert.match(await summary.textContent(), /1 reply.*Last reply/);
  assert.equal(await messageLocator(ivan, "count me in").count(), 0, "a thread-only reply is not in the room");
  assert.equal(await judy.locator("#message-list .message-body", { hasText: "count me in" }).count(), 0);

  // ivan opens the thread from the counter and watches it live.
  await summary.click();
  const ivanPanel = threadPanel(ivan);
  await threadReply(ivan, "count me in, thread only").waitFor();
  await ivanPanel.locator("#thread-count", { hasText: "1 reply" }).waitFor();

  // "Also send to the room": the reply shows in the room as well.
  await sendReply(judy, "me too, and the whole room should know", true);
  await ivan.locator("#message-list .message-body", { hasText: "me too, and the whole room should know" }).waitFor();
  await threadReply(ivan, "me too, and the whole room should know").waitFor();
  await ivanPanel.locator("#thread-count", { hasText: "2 replies" }).waitFor();
  await summary.filter({ hasText: "2 replies" }).waitFor();
  assert.equal(await panel.getByRole("checkbox", { name: "Also send to the room" }).isChecked(), false, "unchecked after sending");
  assert.equal(await threadReply(ivan, "count me in").count(), 1, "each reply once in the panel");

  // Reactions and deletes work in the panel, live on both sides.
  const first = judy.locator("#thread-list > li.message", {
    has: judy.locator(".message-body", { hasText: "count me in, thread only" }),
  });
  await first.hover();
  await first.getByRole("button", { name: "React" }).click();
  await first.getByRole("button", { name: "party" }).click();
  await ivan.locator("#thread-list .reaction", { hasText: "🎉" }).waitFor();
  await first.hover();
  await first.getByRole("button", { name: "Delete" }).click();
  await first.getByRole("button", { name: "Yes, delete" }).click();
  await ivan.locator("#thread-list .message-body.is-deleted").waitFor();
  await summary.filter({ hasText: "1 reply" }).waitFor();
  await ivanPanel.locator("#thread-count", { hasText: "1 reply" }).waitFor();

  await checkA11y(ivan, "/discover (thread)");
  await screenshots(ivan, "thread");
  // On a phone the panel takes the whole width.
  await ivan.setViewportSize({ width: 390, height: 844 });
  assert.equal(Math.round((await ivanPanel.boundingBox()).width), 390);
  await ivan.setViewportSize({ width: 1280, height: 800 });

  // Escape closes it and gives focus back to the counter that opened it.
  await ivanPanel.getByRole("textbox", { name: "Reply" }).focus();
  await ivan.keyboard.press("Escape");
  await ivanPanel.waitFor({ state: "hidden" });
  assert.ok(await ivan.evaluate(() => document.activeElement.classList.contains("thread-summary")), "focus back on the counter");
  await judy.getByRole("button", { name: "Close thread" }).click();
  await threadPanel(judy).waitFor({ state: "hidden" });
});

test("Markdown shows formatted: a code block in monospace, bold as strong", async () => {
  const ivan = users.ivan.page;
  const judy = users.judy.page;
  const long = `const wide = "${"w".repeat(300)}";`;
  const text = [
    "Formatted **bold** news for @judy with `inline` code:",
    "```",
    "fn main() {",
    '    println!("hi");',
    "}",
    long,
    "```",
    "> quoted words",
    "",
    "- first point",
    "- second point",
  ].join("\n");
  await say(ivan, text);
  const line = lineOf(judy, "Formatted bold news");
  await line.waitFor();
  const body = line.locator(".message-body");
  assert.equal(await body.locator("strong").textContent(), "bold");
  assert.equal(await body.locator("p code").textContent(), "inline");
  assert.equal(await body.locator(".mention.is-me").textContent(), "@judy", "mentions still highlighted");
  const code = body.locator("pre > code");
  assert.equal(await code.textContent(), `fn main() {\n    println!("hi");\n}\n${long}\n`, "whitespace kept");
  const style = (node) => {
    const css = node.ownerDocument.defaultView.getComputedStyle(node);
    return { font: css.fontFamily, whiteSpace: css.whiteSpace, overflowX: css.overflowX };
  };
  assert.match((await code.evaluate(style)).font, /monospace/);
  const pre = body.locator("pre");
  assert.deepEqual(
    { ...(await pre.evaluate(style)), font: "" },
    { font: "", whiteSpace: "pre", overflowX: "auto" },
    "the block keeps its lines and scrolls sideways",
  );
  assert.ok(await pre.evaluate((node) => node.scrollWidth > node.clientWidth), "the long line scrolls inside the block");
  assert.ok(
    await judy.locator("#messages").evaluate((node) => node.scrollWidth <= node.clientWidth),
    "the chat itself does not scroll sideways",
  );
  assert.match(await body.locator("blockquote").textContent(), /quoted words/);
  assert.equal(await body.locator("ul > li").count(), 2);
  await checkA11y(judy, "/discover (formatted message)");
  await screenshots(judy, "formatted");
});

test("hostile Markdown shows no script, handler or javascript: link, and opens no dialog", async () => {
  const ivan = users.ivan.page;
  const judy = users.judy.page;
  const dialogs = [];
  for (const page of [ivan, judy]) {
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
  }
  const text =
    "**hostile** sample [x](javascript:alert(1)) <img src=x onerror=alert(1)> <script>alert(2)</script> " +
    '[y](data:text/html,hi) <a href="javascript:alert(3)">z</a>';
  await say(ivan, text);
  const line = lineOf(judy, "hostile sample");
  await line.waitFor();
  const body = line.locator(".message-body");
  assert.equal(await body.locator("strong").textContent(), "hostile", "formatting is on");
  assert.equal(await body.locator("img, script, iframe, svg").count(), 0);
  assert.equal(await body.locator("[onerror], [onclick], [onload], [style], [src]").count(), 0);
  assert.equal(await judy.locator('a[href^="javascript:" i], a[href^="data:" i]').count(), 0);
  assert.equal(await body.locator("a").count(), 0, "no link from a forbidden scheme");
  const shown = await body.textContent();
  assert.ok(shown.includes("<img src=x onerror=alert(1)>"), `raw HTML shows as the typed text: ${shown}`);
  assert.ok(shown.includes("<script>alert(2)</script>"));
  await lineOf(ivan, "hostile sample").waitFor();
  await judy.waitForTimeout(300);
  assert.deepEqual(dialogs, []);
});

test("the Threads view counts unread replies by others and clears them once the thread is open", async () => {
  const ivan = users.ivan.page;
  const judy = users.judy.page;
  const root = "threads view anchor from ivan";
  await say(ivan, root);
  await openThreadOf(judy, root);
  await sendReply(judy, "an answer ivan has not read yet");
  await judy.getByRole("button", { name: "Close thread" }).click();

  // ivan wrote the root, so he follows the thread: the nav entry counts the reply.
  const nav = ivan.getByRole("button", { name: /^Threads/ });
  await ivan.locator("#threads-unread", { hasText: "1" }).waitFor();
  assert.match(await nav.getAttribute("aria-label"), /1 unread/);
  await nav.click();
  await ivan.getByRole("heading", { name: "Threads" }).waitFor();
  const item = ivan.locator("#threads-list li", { hasText: root });
  await item.locator(".thread-unread", { hasText: "1" }).waitFor();
  assert.match(await item.textContent(), /Global room/);
  await checkA11y(ivan, "/discover (threads)");
  await screenshots(ivan, "threads");

  // Opening it shows the reply and clears the counts (the marker moves on the server).
  await item.getByRole("button").click();
  await threadReply(ivan, "an answer ivan has not read yet").waitFor();
  await item.locator(".thread-unread").waitFor({ state: "detached" });
  await ivan.locator("#threads-unread").waitFor({ state: "hidden" });
  assert.equal(await nav.getAttribute("aria-label"), null);

  // A later reply while ivan reads the thread is not unread either.
  await openThreadOf(judy, root);
  await sendReply(judy, "and one more while you look");
  await threadReply(ivan, "and one more while you look").waitFor();
  await ivan.waitForTimeout(1000);
  assert.equal(await item.locator(".thread-unread").count(), 0);

  // Unfollow: the thread leaves the list; follow again: it is back.
  const panel = threadPanel(ivan);
  await panel.getByRole("button", { name: "Unfollow thread" }).click();
  await panel.getByRole("button", { name: "Follow thread" }).waitFor();
  await item.waitFor({ state: "detached" });
  await panel.getByRole("button", { name: "Follow thread" }).click();
  await panel.getByRole("button", { name: "Unfollow thread" }).waitFor();
  await item.waitFor();

  // Still read after a reload.
  await ivan.reload();
  await connected(ivan);
  await ivan.getByRole("button", { name: /^Threads/ }).click();
  await item.waitFor();
  await ivan.waitForTimeout(300);
  assert.equal(await item.locator(".thread-unread").count(), 0);
  await ivan.getByRole("button", { name: "Back to chat" }).click();
  await judy.getByRole("button", { name: "Close thread" }).click();
});

// A PDF small enough to write here: what matters is its name and type.
const PDF = Buffer.from("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n");

// Pastes a freshly drawn 800 × 500 PNG into the Message box, as a screenshot
// copied to the clipboard arrives (a File named image.png).
async function pasteScreenshot(page) {
  await page.getByLabel("Message").focus();
  await page.evaluate(async () => {
    const canvas = document.createElement("canvas");
    canvas.width = 800;
    canvas.height = 500;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#2a6";
    ctx.fillRect(0, 0, 800, 500);
    ctx.fillStyle = "#fff";
    ctx.fillRect(100, 100, 300, 200);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    const data = new DataTransfer();
    data.items.add(new File([blob], "image.png", { type: "image/png" }));
    const event = new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
    document.getElementById("message-input").dispatchEvent(event);
  });
}

// Drops `name` with `text` as its content on the conversation, as a file
// dragged from the desktop does.
async function dropFile(page, name, text) {
  await page.evaluate(
    ({ name, text }) => {
      const data = new DataTransfer();
      data.items.add(new File([text], name, { type: "text/plain" }));
      const target = document.getElementById("messages");
      for (const type of ["dragenter", "dragover"]) {
        target.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
      }
      window.dropZoneShown = !document.getElementById("drop-zone").hidden;
      target.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
    },
    { name, text },
  );
  assert.equal(await page.evaluate(() => window.dropZoneShown), true, "the drop zone shows while dragging");
}

test("a pasted screenshot shows live as a thumbnail, a PDF as a download card; an outsider gets 404", async () => {
  const kate = await signedUpOnDiscover("kate");
  const liam = await signedUpOnDiscover("liam");
  const mona = await signedUpOnDiscover("mona");

  // kate opens a direct message with liam and says hello; liam opens it.
  await kate.getByRole("list", { name: "Online" }).getByText("liam").click();
  await kate.getByRole("dialog", { name: "liam" }).getByRole("button", { name: "Message", exact: true }).click();
  await chatNamed(kate, "liam");
  await say(kate, "files coming");
  await messageLocator(kate, "files coming").waitFor();
  await liam.locator("#dm-list li", { hasText: "kate" }).locator("button").click();
  await chatNamed(liam, "kate");
  await messageLocator(liam, "files coming").waitFor();

  // A screenshot pasted into the box uploads at once and waits in the tray.
  await pasteScreenshot(kate);
  const tray = kate.getByRole("list", { name: "Files to send" });
  const shot = tray.locator('.upload[data-state="done"]');
  await shot.waitFor();
  assert.match(await shot.locator(".upload-name").textContent(), /^Pasted image \d{4}-\d\d-\d\d [\d.]+\.png$/);
  assert.equal(await kate.getByLabel("Message").inputValue(), "", "no text was pasted");
  await checkA11y(kate, "/discover (a file in the tray)");
  await kate.getByLabel("Message").press("Enter");
  await tray.waitFor({ state: "hidden" });

  // liam sees it live: a thumbnail with its space reserved (800 × 500
  // fitted into 360 × 240) that loads.
  const thumb = liam.locator(".attachment-thumb");
  await thumb.waitFor();
  assert.equal(await thumb.getAttribute("width"), "360");
  assert.equal(await thumb.getAttribute("height"), "225");
  assert.match(await thumb.getAttribute("alt"), /^Pasted image /);
  await liam.waitForFunction(() => document.querySelector(".attachment-thumb")?.naturalWidth > 0);
  const thumbUrl = await thumb.getAttribute("src");
  assert.match(thumbUrl, /^\/attachments\/[0-9a-f]{32}\/thumbnail$/);

  // Opened full size in the viewer; Escape closes it and focus comes back.
  await liam.getByRole("button", { name: /^Pasted image .*picture.*open$/ }).click();
  const viewer = liam.getByRole("dialog", { name: /^Pasted image / });
  await viewer.waitFor();
  await liam.waitForFunction(() => document.querySelector(".picture-viewer-img")?.naturalWidth === 800);
  assert.match(await viewer.textContent(), /800 × 500/);
  await checkA11y(liam, "/discover (picture viewer)");
  await screenshots(liam, "picture-viewer");
  await liam.keyboard.press("Escape");
  await viewer.waitFor({ state: "hidden" });
  assert.equal(await liam.evaluate(() => document.activeElement?.dataset.action), "view-picture");

  // A PDF from the Attach files button, sent with a line of text.
  const chooser = kate.waitForEvent("filechooser");
  await kate.getByRole("button", { name: "Attach files" }).click();
  await (await chooser).setFiles({ name: "Quarterly report.pdf", mimeType: "application/pdf", buffer: PDF });
  await tray.locator('.upload[data-state="done"]', { hasText: "Quarterly report.pdf" }).waitFor();
  await say(kate, "the report");
  const card = liam.getByRole("link", { name: /^Download Quarterly report\.pdf, \d+ bytes$/ });
  await card.waitFor();
  assert.match(await card.textContent(), /PDF · \d+ bytes/);
  await messageLocator(liam, "the report").waitFor();
  await screenshots(liam, "attachments");
  const pdfUrl = await card.getAttribute("href");
  const download = await users.liam.context.request.get(`${server.base}${pdfUrl}`);
  assert.equal(download.status(), 200);
  assert.match(download.headers()["content-disposition"], /^attachment;/);
  assert.deepEqual(Buffer.from(await download.body()), PDF);

  // mona is in neither conversation: both URLs are 404 for her, as for a
  // signed-out request.
  for (const url of [thumbUrl, pdfUrl, thumbUrl.replace(/\/thumbnail$/, "")]) {
    const res = await users.mona.context.request.get(`${server.base}${url}`);
    assert.equal(res.status(), 404, `mona asked for ${url}`);
    assert.equal((await res.json()).error.code, "not_found");
  }
  assert.equal(await mona.locator(".attachment-thumb, .file-card").count(), 0);

  // Dropping a file on the conversation uploads it as well; Remove takes it
  // off the tray again.
  await dropFile(kate, "notes.txt", "some notes");
  const notes = tray.locator('.upload[data-state="done"]', { hasText: "notes.txt" });
  await notes.waitFor();
  assert.equal(await kate.locator("#drop-zone").isHidden(), true);
  await kate.getByRole("button", { name: "Remove notes.txt" }).click();
  await tray.waitFor({ state: "hidden" });

  // A slow upload shows its progress and can be cancelled: nothing is sent.
  const cdp = await users.kate.context.newCDPSession(kate);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 20,
    downloadThroughput: -1,
    uploadThroughput: 64 * 1024,
  });
  const slow = kate.waitForEvent("filechooser");
  await kate.getByRole("button", { name: "Attach files" }).click();
  await (await slow).setFiles({ name: "big.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(2 * 1024 * 1024, 7) });
  const big = tray.locator('.upload[data-state="uploading"]', { hasText: "big.bin" });
  await big.waitFor();
  await kate.waitForFunction(() => /Uploading… [1-9]\d* %/.test(document.querySelector(".upload")?.textContent || ""));
  assert.equal(await kate.locator("#send-button").getAttribute("aria-disabled"), "true", "Send waits for the upload");
  await screenshots(kate, "upload-progress");
  await kate.getByRole("button", { name: "Remove big.bin" }).click();
  await tray.waitFor({ state: "hidden" });
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await say(kate, "never mind the big one");
  await messageLocator(liam, "never mind the big one").waitFor();
  const last = liam.locator("li.message", { hasText: "never mind the big one" });
  assert.equal(await last.locator(".attachments").count(), 0);
  assert.equal(await liam.locator(".file-card").count(), 1, "only the PDF was ever sent as a file");
});

// Whether `inner` lies wholly inside `outer` on screen.
async function inside(page, inner, outer) {
  const a = await page.locator(inner).last().boundingBox();
  const b = await page.locator(outer).boundingBox();
  return a.y >= b.y - 1 && a.y + a.height <= b.y + b.height + 1 && a.x >= b.x - 1 && a.x + a.width <= b.x + b.width + 1;
}

// Opens a conversation by the name shown in the list (a DM's id is not known here).
async function openNamed(page, name) {
  await page.locator("#rooms-nav li[data-room] button", { hasText: name }).first().click();
  await chatNamed(page, name);
}

test("a draft stays with its conversation, across switches and a reload, and never goes elsewhere", async () => {
  const kate = users.kate.page;
  const box = kate.getByLabel("Message");
  await chatNamed(kate, "liam");
  await box.fill("just for liam");
  await openNamed(kate, "Global room");
  assert.equal(await box.inputValue(), "", "the DM's draft did not follow into the global room");
  await box.fill("for everyone, later");
  await openNamed(kate, "liam");
  assert.equal(await box.inputValue(), "just for liam");
  await kate.reload();
  await connected(kate);
  await openNamed(kate, "Global room");
  assert.equal(await box.inputValue(), "for everyone, later", "kept across a reload");
  await openNamed(kate, "liam");
  assert.equal(await box.inputValue(), "just for liam", "kept across a reload");
  await box.press("Enter");
  await messageLocator(users.liam.page, "just for liam").waitFor();
  await openNamed(kate, "Global room");
  await openNamed(kate, "liam");
  assert.equal(await box.inputValue(), "", "a sent draft is gone");
  assert.equal(await messageLocator(users.liam.page, "for everyone, later").count(), 0);
});

for (const [label, viewport] of [
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 390, height: 844 }],
]) {
  test(`on a ${label}, the last line's editor and reaction picker open in view`, async () => {
    const kate = users.kate.page;
    await kate.setViewportSize(viewport);
    await chatNamed(kate, "liam");
    for (let i = 1; i <= 12; i += 1) await say(kate, `${label} line ${i}`);
    const last = kate.locator("li.message[data-id]", { hasText: `${label} line 12` });
    await last.waitFor();
    await last.locator(".message-row").hover();
    await last.getByRole("button", { name: "Edit" }).click();
    await last.getByRole("button", { name: "Save" }).waitFor();
    assert.ok(await inside(kate, "li.message.is-editing .editor-row", "#messages"), "Save and Cancel are in view");
    await kate.keyboard.press("Escape");
    await last.locator(".message-editor").waitFor({ state: "detached" });
    await last.locator(".message-row").hover();
    await last.getByRole("button", { name: "React" }).click();
    const picker = last.getByRole("group", { name: "Choose a reaction" });
    await picker.waitFor();
    assert.ok(await inside(kate, ".reaction-picker", "#messages"), "the picker is not clipped");
    await kate.keyboard.press("Escape");
    await picker.waitFor({ state: "detached" });
    await kate.setViewportSize({ width: 1280, height: 800 });
  });
}

test("the keyboard: Ctrl+K reaches an offline person and a room, Alt+arrows move, arrow up edits, Escape leaves a panel, ? lists it all", async () => {
  const kate = users.kate.page;
  // nora signs up elsewhere and never opens the chat: she is offline.
  const signup = await fetch(`${server.base}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "nora", password: PASSWORD }),
  });
  assert.equal(signup.status, 201);
  await openNamed(kate, "Global room");

  await kate.keyboard.press("Control+k");
  const switcher = kate.getByRole("dialog", { name: "Jump to" });
  await switcher.waitFor();
  await kate.keyboard.type("nor");
  const nora = switcher.getByRole("option", { name: /nora.*Send a direct message/ });
  await nora.waitFor();
  await checkA11y(kate, "/discover (quick switcher)");
  await screenshots(kate, "quick-switcher");
  await kate.keyboard.press("Enter");
  await switcher.waitFor({ state: "hidden" });
  await chatNamed(kate, "nora");
  await kate.locator("#dm-list li", { hasText: "nora" }).waitFor();

  await kate.keyboard.press("Control+k");
  await switcher.waitFor();
  await kate.keyboard.type("glob");
  await switcher.getByRole("option", { name: /Global room/ }).waitFor();
  await kate.keyboard.press("Enter");
  await chatNamed(kate, "Global room");

  // Alt+arrows walk the conversation list.
  const order = await kate.locator("#rooms-nav li[data-room] button[data-room]").evaluateAll((bs) => bs.map((b) => b.dataset.room));
  assert.ok(order.length >= 3, `conversations: ${order}`);
  await kate.getByLabel("Message").focus();
  await kate.keyboard.press("Alt+ArrowDown");
  await kate.locator(`#rooms-nav li[data-room="${order[1]}"] button[aria-current="true"]`).waitFor();
  await kate.keyboard.press("Alt+ArrowUp");
  await kate.locator(`#rooms-nav li[data-room="${order[0]}"] button[aria-current="true"]`).waitFor();
  await chatNamed(kate, "Global room");

  // Arrow up in the empty box edits the last message.
  await say(kate, "a typo in here");
  await messageLocator(kate, "a typo in here").waitFor();
  await kate.locator("li.message.is-pending").waitFor({ state: "detached" });
  await kate.getByLabel("Message").focus();
  await kate.keyboard.press("ArrowUp");
  const editor = kate.getByLabel("Edit text");
  await editor.waitFor();
  assert.equal(await editor.inputValue(), "a typo in here");
  await editor.fill("no typo in here");
  await editor.press("Enter");
  await messageLocator(users.liam.page, "no typo in here").waitFor({ timeout: 1 }).catch(() => {});
  await messageLocator(kate, "no typo in here").waitFor();

  // Escape leaves a panel.
  await kate.getByRole("button", { name: "Browse rooms" }).click();
  await kate.locator("#directory").waitFor();
  await kate.keyboard.press("Escape");
  await kate.locator("#directory").waitFor({ state: "hidden" });
  assert.equal(await kate.locator("#chat").isVisible(), true);

  // ? (outside a text box) lists the shortcuts.
  await kate.locator("#messages").focus();
  await kate.keyboard.press("?");
  const list = kate.getByRole("dialog", { name: "Keyboard shortcuts" });
  await list.waitFor();
  assert.match(await list.textContent(), /Jump to a conversation or a person/);
  await checkA11y(kate, "/discover (keyboard shortcuts)");
  await kate.keyboard.press("Escape");
  await list.waitFor({ state: "hidden" });
});

test("still no page broke the content security policy or threw", async () => {
  assert.deepEqual(problems, []);
});
