// The chat page in real headless Chromium, where people switch from other
// chat products: the Profile tab opens a dialog (a new photo shows at once
// on another person's screen, a password change keeps this page connected,
// errors show next to their field, Escape gives focus back); a draft does
// not outlive its sign-in; People lists everyone and opens a DM; a long
// backlog opens where reading stopped.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, Server, screenshots, watchProblems, assertAccessible } from "./support.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const PHOTO = join(here, "..", "tests", "fixtures", "legacy", "static", "alice.png");
const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "seven lanterns over quiet water";

let browser;
let server;
const contexts = [];
const problems = []; // CSP violations and page errors

const watch = (page) => watchProblems(page, problems);

const checkA11y = assertAccessible;

async function person(username, viewport = { width: 1280, height: 800 }) {
  const response = await fetch(`${server.base}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(response.status, 201, `register ${username}`);
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  watch(page);
  await page.goto(`${server.base}/login`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/discover/);
  await page.locator("#connection[data-state='connected']").waitFor();
  return page;
}

before(async () => {
  server = new Server({ CHATROOM_REGISTER_LIMIT: "1000", CHATROOM_CHAT_RATE: "1000" });
  await server.start();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await server?.kill();
});

test("the profile dialog changes photo and password without leaving the chat", async () => {
  const mona = await person("mona");
  const omar = await person("omar");
  // Omar counts every time mona goes offline on his screen.
  await omar.evaluate(() => {
    window.monaLeft = 0;
    new window.MutationObserver(() => {
      const names = [...document.querySelectorAll("#online-list .online-name")].map((n) => n.textContent);
      if (!names.includes("mona")) window.monaLeft += 1;
    }).observe(document.querySelector("#online-list"), { childList: true, subtree: true });
  });
  await omar.locator("#online-list .online-name", { hasText: "mona" }).waitFor();

  await mona.getByRole("textbox", { name: "Message" }).fill("Before my new photo");
  await mona.getByRole("textbox", { name: "Message" }).press("Enter");
  const line = omar.locator("#messages li", { hasText: "Before my new photo" });
  await line.waitFor();
  const before = await line.locator("img.avatar").getAttribute("src");
  assert.match(before, /^\/avatars\/default\//);

  const where = mona.url();
  const tab = mona.getByRole("link", { name: "Profile" });
  await tab.click();
  const dialog = mona.getByRole("dialog", { name: "Your profile" });
  await dialog.waitFor();
  assert.equal(mona.url(), where, "still on the chat page");
  assert.equal(await dialog.getByRole("button", { name: "Remove photo" }).isVisible(), false, "no photo to remove yet");
  await checkA11y(mona, "profile dialog");
  await screenshots(mona, "profile-panel");

  // Upload with nothing chosen: said next to the field.
  await dialog.getByRole("button", { name: "Upload" }).click();
  await dialog.locator("#panel-photo-error", { hasText: "Choose a photo first." }).waitFor();
  assert.equal(await dialog.getByLabel("Photo").getAttribute("aria-invalid"), "true");

  await dialog.getByLabel("Photo").setInputFiles(PHOTO);
  await dialog.getByRole("button", { name: "Upload" }).click();
  await dialog.getByRole("status").filter({ hasText: "Your photo is updated." }).waitFor();
  const mine = await dialog.getByRole("img", { name: "Your avatar" }).getAttribute("src");
  assert.match(mine, /^\/avatars\/\d+\/[0-9a-f]+\.png$/);
  assert.equal(await mona.locator(".topbar-user img").getAttribute("src"), mine, "the top bar follows");

  // Omar sees it at once: his message line and online list, without a reload.
  await omar.waitForFunction(
    (url) => document.querySelector("#messages li:last-child img.avatar")?.getAttribute("src") === url,
    mine,
  );
  const listed = omar.locator("#online-list li", { hasText: "mona" }).locator("img");
  assert.equal(await listed.getAttribute("src"), mine);
  // What renders later (a new line) uses it too.
  await mona.keyboard.press("Escape");
  await mona.getByRole("textbox", { name: "Message" }).fill("After my new photo");
  await mona.getByRole("textbox", { name: "Message" }).press("Enter");
  await omar.locator("#messages li", { hasText: "After my new photo" }).waitFor();

  // A wrong current password is said next to it; the right one changes it
  // and the page stays connected.
  await tab.click();
  await dialog.getByLabel("Current password").fill("not my password");
  await dialog.getByLabel("New password").fill(NEW_PASSWORD);
  await dialog.getByRole("button", { name: "Change password" }).click();
  await dialog.locator("#panel-current-password-error", { hasText: "current password" }).waitFor();
  await checkA11y(mona, "profile dialog with an error");
  await dialog.getByLabel("Current password").fill(PASSWORD);
  await dialog.getByRole("button", { name: "Change password" }).click();
  await dialog.getByRole("status").filter({ hasText: "Your password is changed." }).waitFor();
  assert.equal(await dialog.getByLabel("Current password").inputValue(), "", "the fields are emptied");
  await screenshots(mona, "profile-panel-password-changed");

  // Escape closes and focus returns to the tab.
  await mona.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  assert.equal(await mona.evaluate(() => document.activeElement?.textContent?.trim()), "Profile");

  await mona.waitForTimeout(1500); // past the presence window
  assert.equal(await mona.locator("#connection").getAttribute("data-state"), "connected");
  await mona.getByRole("textbox", { name: "Message" }).fill("Still here after the password change");
  await mona.getByRole("textbox", { name: "Message" }).press("Enter");
  await omar.locator("#messages li", { hasText: "Still here after the password change" }).waitFor();
  assert.equal(await omar.evaluate(() => window.monaLeft), 0, "mona never went offline for omar");

  // Removing the photo: back to initials, for omar too.
  await tab.click();
  await dialog.getByRole("button", { name: "Remove photo" }).click();
  await dialog.getByRole("status").filter({ hasText: "Your photo is removed." }).waitFor();
  await omar.waitForFunction(
    () => /^\/avatars\/default\//.test(document.querySelector("#messages li:last-child img.avatar")?.getAttribute("src") || ""),
  );
  await mona.getByRole("button", { name: "Close" }).click();

  // A modified click still opens /profile in full (email, sessions, deleting).
  assert.equal(await tab.getAttribute("href"), "/profile");
  assert.deepEqual(problems, []);
});

test("on a phone the dialog fits and its controls are reachable", async () => {
  const page = await person("pia", { width: 390, height: 844 });
  const tab = page.getByRole("link", { name: "Profile" });
  await tab.click();
  const dialog = page.getByRole("dialog", { name: "Your profile" });
  await dialog.waitFor();
  const box = await dialog.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `fits the width: ${JSON.stringify(box)}`);
  await dialog.getByRole("button", { name: "Change password" }).scrollIntoViewIfNeeded();
  assert.ok(await dialog.getByRole("button", { name: "Change password" }).isVisible());
  await checkA11y(page, "profile dialog on a phone");
  await screenshots(page, "profile-panel-phone");
  assert.deepEqual(problems, []);
});

test("a draft does not outlive its sign-in on a shared browser", async () => {
  const page = await person("dora");
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill("half a thought about the budget");
  await page.reload();
  await page.locator("#connection[data-state='connected']").waitFor();
  assert.equal(await box.inputValue(), "half a thought about the budget", "kept across a reload");

  // Logging out (from the profile page) ends the session; signing in again,
  // the draft is gone from the box and from the browser's storage.
  await page.goto(`${server.base}/profile`);
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login/);
  await page.getByLabel("Username").fill("dora");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/\/discover/);
  await page.locator("#connection[data-state='connected']").waitFor();
  assert.equal(await box.inputValue(), "", "the ended sign-in's draft is not shown");
  const left = await page.evaluate(() => Object.keys(window.localStorage).filter((k) => k.startsWith("chatroom.draft.")));
  assert.deepEqual(left, [], "nor kept");
  assert.deepEqual(problems, []);
});

for (const [label, viewport] of [
  ["desktop", { width: 1280, height: 800 }],
  ["phone", { width: 390, height: 844 }],
]) {
  test(`on a ${label}, People lists everyone, offline too, and opens a direct message`, async () => {
    const suffix = label === "desktop" ? "d" : "p";
    const quiet = `quinn_${suffix}`;
    // Quinn has an account but no page open: offline.
    const response = await fetch(`${server.base}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: quiet, password: PASSWORD }),
    });
    assert.equal(response.status, 201);
    const page = await person(`rhea_${suffix}`, viewport);
    const other = await person(`sam_${suffix}`, viewport);

    // The People view reads who is online when it opens: sam's arrival first.
    await page.locator("#online-list .online-name", { hasText: `sam_${suffix}` }).waitFor({ state: "attached" });
    if (label === "phone") await page.getByRole("button", { name: "Rooms" }).click();
    await page.getByRole("button", { name: "People" }).click();
    const view = page.getByRole("region", { name: "People" });
    await view.waitFor();
    await view.getByRole("status").filter({ hasText: /people/ }).waitFor();
    const line = (name) => view.locator(".people-item", { has: page.getByText(name, { exact: true }) });
    await line(quiet).getByText(/^Offline · joined /).waitFor();
    await line(`sam_${suffix}`).getByText(/^Online · joined /).waitFor();
    assert.equal(await line(`rhea_${suffix}`).getByRole("button", { name: "Message" }).count(), 0, "no Message for yourself");
    await checkA11y(page, `People on a ${label}`);
    await screenshots(page, `people-${label}`);

    await view.getByLabel("Search people").fill(`quinn_${suffix}`);
    await view.getByRole("status").filter({ hasText: "1 person" }).waitFor();
    assert.equal(await view.locator(".people-item").count(), 1);
    await view.getByLabel("Search people").fill("nobody-by-that-name");
    await view.getByRole("status").filter({ hasText: "Nobody's name contains" }).waitFor();

    // Escape leaves; People again, then Message opens the DM with sam.
    await page.keyboard.press("Escape");
    await view.waitFor({ state: "hidden" });
    if (label === "phone") await page.getByRole("button", { name: "Rooms" }).click();
    await page.getByRole("button", { name: "People" }).click();
    await view.getByLabel("Search people").fill(`sam_${suffix}`);
    await line(`sam_${suffix}`).getByRole("button", { name: "Message" }).click();
    await view.waitFor({ state: "hidden" });
    await page.locator("#chat-name", { hasText: `sam_${suffix}` }).waitFor();
    await page.getByRole("textbox", { name: "Message" }).fill("found you in People");
    await page.getByRole("textbox", { name: "Message" }).press("Enter");
    // The DM is listed for sam with its first message (in the drawer on a phone).
    await other.locator(".conv", { hasText: `rhea_${suffix}` }).first().waitFor({ state: "attached" });
    assert.deepEqual(problems, []);
  });
}

test("a conversation with more unread than one page opens where reading stopped", async () => {
  const alex = await person("alex_b");
  const bea = await person("bea_b");
  // Alex opens a DM with bea and writes a little; bea reads it.
  const dm = await alex.evaluate(async () => {
    const res = await fetch("/api/v1/dms", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "bea_b" }),
    });
    return (await res.json()).room.id;
  });
  const post = (texts) =>
    alex.evaluate(
      async ({ room, texts }) => {
        for (const text of texts) {
          const res = await fetch(`/api/v1/rooms/${encodeURIComponent(room)}/messages`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ text }),
          });
          if (res.status !== 201) throw new Error(`post: ${res.status}`);
        }
      },
      { room: dm, texts },
    );
  await post(["early 1", "early 2", "early 3"]);
  const conv = bea.locator(`.conv[data-room="${dm}"]`);
  await conv.click();
  await bea.locator("#message-list li", { hasText: "early 3" }).waitFor();
  await bea.waitForTimeout(800); // the read marker moves
  await bea.locator('.conv[data-room="global"]').click();

  // Then seventy more while bea is elsewhere.
  await post(Array.from({ length: 70 }, (_, i) => `late ${i + 1}`));
  await bea.waitForFunction((room) => /70|99\+|\d{2}/.test(document.querySelector(`.conv[data-room="${room}"]`)?.getAttribute("aria-label") || ""), dm);
  await conv.click();
  const line = bea.locator(".unread-line");
  await line.waitFor();
  const after = await line.evaluate((node) => node.closest("li")?.querySelector(".message-text, .message-body")?.textContent?.trim());
  assert.equal(after, "late 1", "the line is above the first unread, not above the newest page");
  assert.ok(await bea.locator("#message-list li", { hasText: "early 3" }).count(), "what was read is just above");
  const box = await line.boundingBox();
  const view = await bea.locator("#messages").boundingBox();
  assert.ok(box.y >= view.y && box.y < view.y + view.height, "the line is in view");
  // Reading on reaches the newest without gaps.
  await bea.locator("#messages").evaluate((node) => {
    node.scrollTop = node.scrollHeight;
  });
  await bea.locator("#message-list li", { hasText: "late 70" }).waitFor();
  const texts = await bea.locator("#message-list li .message-text, #message-list li .message-body").allTextContents();
  const late = texts.map((t) => t.trim()).filter((t) => t.startsWith("late "));
  for (let i = 1; i < late.length; i += 1) {
    assert.equal(Number(late[i].slice(5)), Number(late[i - 1].slice(5)) + 1, `no gap after ${late[i - 1]}`);
  }
  await screenshots(bea, "backlog-opens-at-marker");
  assert.deepEqual(problems, []);
});

test("a reply in a thread carries files: attach, send, and the other person sees the picture", async () => {
  const cleo = await person("cleo_t");
  const dev = await person("dev_t");
  const box = cleo.getByRole("textbox", { name: "Message" });
  await box.fill("Which logo do we pick?");
  await box.press("Enter");
  const root = cleo.locator("#message-list li[data-id]", { hasText: "Which logo do we pick?" });
  await root.waitFor();
  await dev.locator("#message-list li[data-id]", { hasText: "Which logo do we pick?" }).waitFor();

  // Dev answers in the thread with a picture and a line of text.
  const line = dev.locator("#message-list li[data-id]", { hasText: "Which logo do we pick?" });
  await line.hover();
  await line.getByRole("button", { name: "Reply in thread" }).click();
  const panel = dev.getByRole("region", { name: "Thread", exact: true });
  await panel.locator("#thread-root .message-body", { hasText: "Which logo do we pick?" }).waitFor();
  const chooser = dev.waitForEvent("filechooser");
  await panel.getByRole("button", { name: "Attach files to the reply" }).click();
  await (await chooser).setFiles(PHOTO);
  const tray = panel.getByRole("list", { name: "Files to send with the reply" });
  await tray.locator("li[data-state='done']").waitFor();
  assert.equal(
    await dev.getByRole("list", { name: "Files to send", exact: true }).isVisible(),
    false,
    "the conversation's own tray stays empty",
  );
  await checkA11y(dev, "thread reply with a file");
  await screenshots(dev, "thread-reply-file");
  await panel.getByRole("textbox", { name: "Reply" }).fill("This one");
  await panel.getByRole("textbox", { name: "Reply" }).press("Enter");
  const reply = panel.locator("#thread-list > li[data-id]", { hasText: "This one" });
  await reply.locator("img.attachment-thumb").waitFor();
  assert.equal(await tray.isVisible(), false, "the tray empties once sent");

  // Cleo opens the thread and sees the picture with the reply.
  await root.locator(".thread-summary").click();
  const hers = cleo.getByRole("region", { name: "Thread", exact: true });
  const got = hers.locator("#thread-list > li[data-id]", { hasText: "This one" });
  await got.locator("img.attachment-thumb").waitFor();
  const src = await got.locator("img.attachment-thumb").getAttribute("src");
  const status = await cleo.evaluate(async (url) => (await fetch(url)).status, src);
  assert.equal(status, 200);
  assert.deepEqual(problems, []);
});
