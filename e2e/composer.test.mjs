// The composer in real headless Chromium (docs/page.md, "The composer"):
// @-autocomplete of the people who can read the conversation (keyboard and
// click; the mentioned person gets the mention), reactions from the whole
// emoji set found by name and seen live by the other person, the emoji
// button, multi-line messages on a phone (Enter adds a line, Send sends)
// and Shift+Enter on a desktop, and touch targets of at least 44 × 44 px on
// a phone. Axe stays at 0 serious/critical with the list and the pickers
// open; screenshots of each.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, Server, startSmtp, screenshots, watchProblems, assertAccessible } from "./support.mjs";

const PASSWORD = "correct horse battery staple";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let browser;
let smtp;
let server;
const problems = []; // CSP violations and page errors
const people = {};

const watch = (page) => watchProblems(page, problems);

const checkA11y = assertAccessible;

async function api(method, path, cookie, body) {
  const response = await fetch(`${server.base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Signs someone up in a browser context of their own (`options`: viewport, touch). */
async function person(name, options = { viewport: DESKTOP }) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  watch(page);
  await page.goto(`${server.base}/register`);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${server.base}/discover`);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "chatroom_session");
  const who = { name, context, page, cookie: `chatroom_session=${session.value}` };
  people[name] = who;
  return who;
}

async function openRoom(page, room) {
  await page.goto(`${server.base}/discover/${room}`);
  await page.locator('#connection[data-state="connected"]').waitFor();
}

function lineOf(page, text) {
  return page.locator("#message-list li.message", { has: page.locator(".message-body", { hasText: text }) });
}

before(async () => {
  smtp = await startSmtp();
  server = new Server({ CHATROOM_SMTP_URL: smtp.url, CHATROOM_CHAT_RATE: "1000", CHATROOM_REGISTER_LIMIT: "1000" });
  await server.start();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});

after(async () => {
  for (const p of Object.values(people)) await p.context.close().catch(() => {});
  await browser?.close();
  await server?.kill();
  smtp?.stop();
});

test("@-autocomplete lists who can read the room; keyboard and click insert; the mentioned person gets the mention", async () => {
  const ada = await person("ada");
  const bert = await person("bertha");
  await person("bernard"); // not in the room: never offered there
  assert.equal((await api("POST", "/api/v1/rooms", ada.cookie, { name: "bakery" })).status, 201);
  assert.equal((await api("PUT", "/api/v1/rooms/bakery/membership", bert.cookie)).status, 200);
  await openRoom(ada.page, "bakery");
  await openRoom(bert.page, "bakery");

  const box = ada.page.locator("#message-input");
  const list = ada.page.locator("#message-input-mentions");
  await box.click();
  await box.pressSequentially("fresh bread @be");
  await list.locator('[role="option"]').first().waitFor();
  assert.deepEqual(await list.locator('[role="option"]').allTextContents(), ["bertha"], "members only");
  assert.equal(await box.getAttribute("role"), "combobox");
  assert.equal(await box.getAttribute("aria-expanded"), "true");
  assert.equal(await box.getAttribute("aria-controls"), "message-input-mentions");
  assert.equal(await box.getAttribute("aria-activedescendant"), "message-input-mentions-0");
  assert.equal(await list.locator('[aria-selected="true"]').textContent(), "bertha");
  assert.equal(await list.locator("img").first().getAttribute("alt"), "", "the avatar is decoration");
  await checkA11y(ada.page, "mention list open");
  await screenshots(ada.page, "composer-mentions");

  // Enter inserts "@bertha " and typing goes on; the list closes.
  await box.press("Enter");
  assert.equal(await box.inputValue(), "fresh bread @bertha ");
  assert.equal(await list.isHidden(), true);
  assert.equal(await box.getAttribute("role"), null, "a plain text box again");
  assert.equal(await box.getAttribute("aria-expanded"), null);
  await box.pressSequentially("is out");
  await box.press("Enter");
  const line = lineOf(bert.page, "fresh bread");
  await line.waitFor();
  assert.equal(await line.locator(".mention.is-me").textContent(), "@bertha", "bertha is mentioned");
  assert.ok(await line.evaluate((li) => li.classList.contains("is-mention")));

  // The global room: anyone. A click inserts; Tab inserts; Escape closes.
  await openRoom(ada.page, "global");
  await box.click();
  await box.pressSequentially("ask @BER");
  await list.locator('[role="option"]', { hasText: "bernard" }).waitFor();
  assert.deepEqual(await list.locator('[role="option"]').allTextContents(), ["bernard", "bertha"]);
  await box.press("ArrowDown");
  assert.equal(await list.locator('[aria-selected="true"]').textContent(), "bertha");
  await box.press("ArrowUp");
  assert.equal(await list.locator('[aria-selected="true"]').textContent(), "bernard");
  await list.locator('[role="option"]', { hasText: "bertha" }).click();
  assert.equal(await box.inputValue(), "ask @bertha ");
  await expectFocused(ada.page, "#message-input");
  await box.pressSequentially("or @bern");
  await list.locator('[role="option"]').first().waitFor();
  await box.press("Tab");
  assert.equal(await box.inputValue(), "ask @bertha or @bernard ");
  await expectFocused(ada.page, "#message-input");
  await box.pressSequentially("@ad");
  await box.press("Escape");
  assert.equal(await list.isHidden(), true);
  assert.equal(await box.inputValue(), "ask @bertha or @bernard @ad", "Escape keeps the text");
  // A name typed in full is sent as typed by Enter.
  await box.fill("");
  await box.pressSequentially("thanks @bertha");
  await ada.page.waitForTimeout(300);
  await box.press("Enter");
  await lineOf(ada.page, "thanks @bertha").waitFor();
  assert.equal(await box.inputValue(), "");
  assert.deepEqual(problems, []);
});

test("the Reply box of a thread completes names too", async () => {
  const ada = people.ada;
  const bert = people.bertha;
  await openRoom(ada.page, "bakery");
  await openRoom(bert.page, "bakery");
  const root = lineOf(ada.page, "fresh bread");
  await root.hover();
  await root.locator('button[data-action="reply"]').click();
  const reply = ada.page.locator("#thread-input");
  await reply.waitFor();
  await reply.click();
  await reply.pressSequentially("ask @bert");
  const list = ada.page.locator("#thread-input-mentions");
  await list.locator('[role="option"]').first().waitFor();
  assert.deepEqual(await list.locator('[role="option"]').allTextContents(), ["bertha"], "the room's members");
  assert.equal(await reply.getAttribute("aria-expanded"), "true");
  await checkA11y(ada.page, "mention list in a thread");
  await reply.press("Enter");
  assert.equal(await reply.inputValue(), "ask @bertha ");
  await reply.pressSequentially("in the thread");
  await reply.press("Enter");
  await ada.page.locator("#thread-list .message-body", { hasText: "ask @bertha in the thread" }).waitFor();
  await ada.page.getByRole("button", { name: "Close thread" }).click();
  assert.deepEqual(problems, []);
});

async function expectFocused(page, selector) {
  assert.ok(await page.locator(selector).evaluate((node) => node === document.activeElement), `${selector} has focus`);
}

test("a reaction found by name in the full picker reaches the other person live; the emoji button inserts at the caret", async () => {
  const ada = people.ada;
  const bert = people.bertha;
  await openRoom(ada.page, "bakery");
  await openRoom(bert.page, "bakery");
  await bert.page.locator("#message-input").fill("launch day");
  await bert.page.locator("#message-input").press("Enter");
  const line = lineOf(ada.page, "launch day");
  await line.waitFor();
  await line.hover();
  await line.locator('button[data-action="react"]').click();
  const picker = ada.page.locator(".reaction-picker");
  assert.equal(await picker.locator(".reaction-pick").count(), 6, "the quick six first");
  await picker.getByRole("button", { name: "More reactions…" }).click();
  const search = picker.getByLabel("Search emoji");
  await search.waitFor();
  await picker.locator(".emoji-option").first().waitFor();
  assert.ok((await picker.locator(".emoji-option").count()) > 1500, "the whole set");
  await search.fill("rocket");
  await picker.locator('.emoji-option[data-emoji="🚀"]').waitFor();
  assert.equal(await picker.locator(".emoji-option:visible").count(), 1);
  await checkA11y(ada.page, "full reaction picker");
  await screenshots(ada.page, "composer-reaction-picker");
  await picker.getByRole("button", { name: "rocket" }).click();
  // Bertha sees it live.
  const chip = lineOf(bert.page, "launch day").locator(".reaction", { hasText: "🚀" });
  await chip.waitFor();
  assert.match(await chip.getAttribute("aria-label"), /🚀 1: ada/);
  // A skin tone, kept for the next time.
  await line.hover();
  await line.locator('button[data-action="react"]').click();
  await picker.getByRole("button", { name: "More reactions…" }).click();
  await picker.locator(".emoji-option").first().waitFor();
  await picker.getByLabel("Skin tone").selectOption({ label: "✋🏽 Medium" });
  await picker.getByLabel("Search emoji").fill("waving");
  await picker.getByRole("button", { name: "waving hand" }).click();
  await lineOf(bert.page, "launch day").locator(".reaction", { hasText: "👋🏽" }).waitFor();
  await line.hover();
  await line.locator('button[data-action="react"]').click();
  await picker.getByRole("button", { name: "More reactions…" }).click();
  await picker.locator(".emoji-option").first().waitFor();
  assert.equal(await picker.getByLabel("Skin tone").inputValue(), "3", "the tone is remembered");
  await picker.getByLabel("Skin tone").selectOption("0");
  await ada.page.keyboard.press("Escape");

  // Enter in the search picks the first match; a short name works too.
  await line.hover();
  await line.locator('button[data-action="react"]').click();
  await picker.getByRole("button", { name: "More reactions…" }).click();
  await picker.locator(".emoji-option").first().waitFor();
  await picker.getByLabel("Search emoji").fill("+1");
  await picker.getByLabel("Search emoji").press("Enter");
  await lineOf(bert.page, "launch day").locator(".reaction", { hasText: "👍" }).waitFor();

  // The composer's emoji button: at the caret, then typing goes on.
  const box = ada.page.locator("#message-input");
  await box.fill("good  morning");
  await box.evaluate((node) => node.setSelectionRange(5, 5));
  await ada.page.getByRole("button", { name: "Insert an emoji" }).click();
  const popover = ada.page.getByRole("dialog", { name: "Insert an emoji" });
  await popover.locator(".emoji-option").first().waitFor();
  await expectFocused(ada.page, ".emoji-popover .emoji-search");
  await popover.getByLabel("Search emoji").fill("croissant");
  await checkA11y(ada.page, "emoji picker of the composer");
  await screenshots(ada.page, "composer-emoji-picker");
  await popover.getByRole("button", { name: "croissant" }).click();
  assert.equal(await popover.count(), 0, "closed once chosen");
  assert.equal(await box.inputValue(), "good 🥐 morning");
  await expectFocused(ada.page, "#message-input");
  await box.press("Enter");
  await lineOf(bert.page, "good 🥐 morning").waitFor();
  // Escape closes it and gives the focus back to the button.
  await ada.page.getByRole("button", { name: "Insert an emoji" }).click();
  await popover.locator(".emoji-search").waitFor();
  await ada.page.keyboard.press("Escape");
  assert.equal(await popover.count(), 0);
  await expectFocused(ada.page, "#emoji-button");
  assert.deepEqual(problems, []);
});

test("on a phone Enter starts a new line and Send sends; on a desktop Shift+Enter does", async () => {
  const bert = people.bertha;
  const cleo = await person("cleo", { viewport: PHONE, hasTouch: true, isMobile: true });
  await openRoom(cleo.page, "global");
  await openRoom(bert.page, "global");
  const box = cleo.page.locator("#message-input");
  assert.equal(await box.getAttribute("enterkeyhint"), "enter", "the keyboard shows a return key");
  await box.tap();
  await box.pressSequentially("first line");
  await box.press("Enter");
  await box.pressSequentially("second line");
  await box.press("Enter");
  await box.pressSequentially("third line");
  assert.equal(await box.inputValue(), "first line\nsecond line\nthird line", "Enter made new lines");
  const oneLine = 44;
  assert.ok((await box.boundingBox()).height > oneLine + 20, "the box grew with its lines");
  await screenshots(cleo.page, "composer-phone-lines");
  await cleo.page.getByRole("button", { name: "Send" }).tap();
  const sent = lineOf(bert.page, "first line");
  await sent.waitFor();
  assert.equal(await sent.locator(".message-body").innerText(), "first line\nsecond line\nthird line");
  assert.equal(await box.inputValue(), "");

  // A desktop: Shift+Enter adds a line, Enter sends.
  const desk = bert.page.locator("#message-input");
  await desk.click();
  await desk.pressSequentially("top");
  await desk.press("Shift+Enter");
  await desk.pressSequentially("bottom");
  assert.equal(await desk.inputValue(), "top\nbottom");
  await desk.press("Enter");
  const line = lineOf(cleo.page, "top");
  await line.waitFor();
  assert.equal(await line.locator(".message-body").innerText(), "top\nbottom");
  assert.deepEqual(problems, []);
});

/** Every visible button, link and option smaller than 44 × 44 px (links in a message's sentences are text). */
async function smallTargets(page) {
  return page.evaluate(() => {
    const out = [];
    for (const node of document.querySelectorAll('button, a[href], [role="option"], summary')) {
      if (node.closest(".message-body")) continue;
      const box = node.getBoundingClientRect();
      const style = window.getComputedStyle(node);
      if (!box.width || !box.height || style.visibility === "hidden" || style.display === "none") continue;
      if (box.right <= 0 || box.left >= window.innerWidth) continue; // a closed drawer, off screen
      if (box.width < 44 || box.height < 44) {
        const name = (node.getAttribute("aria-label") || node.textContent || "").trim().slice(0, 30);
        out.push(`${node.tagName.toLowerCase()}.${node.className} "${name}" ${box.width.toFixed(1)}×${box.height.toFixed(1)}`);
      }
    }
    return out;
  });
}

test("every control of the chat page is at least 44 × 44 px on a phone", async () => {
  const cleo = people.cleo;
  const page = cleo.page;
  await openRoom(page, "global");
  await lineOf(page, "top").waitFor();
  assert.deepEqual(await smallTargets(page), [], "the conversation");

  // A line's actions, the reaction picker and the whole set.
  const line = lineOf(page, "top");
  await line.locator(".message-row").tap();
  await line.locator('button[data-action="react"]').tap();
  assert.deepEqual(await smallTargets(page), [], "the quick reactions");
  await page.getByRole("button", { name: "More reactions…" }).tap();
  await page.locator(".reaction-picker .emoji-option").first().waitFor();
  assert.deepEqual(await smallTargets(page), [], "the full picker");
  await page.keyboard.press("Escape");

  // The composer's lists.
  const box = page.locator("#message-input");
  await box.tap();
  await box.pressSequentially("@ber");
  await page.locator("#message-input-mentions [role=option]").first().waitFor();
  assert.deepEqual(await smallTargets(page), [], "the mention list");
  await checkA11y(page, "mention list on a phone");
  await box.fill("");
  await page.getByRole("button", { name: "Insert an emoji" }).tap();
  await page.locator(".emoji-popover .emoji-option").first().waitFor();
  assert.deepEqual(await smallTargets(page), [], "the emoji picker");
  await page.keyboard.press("Escape");

  // The drawers.
  await page.locator("#rooms-toggle").tap();
  await page.locator("#rooms-nav-close").waitFor();
  assert.deepEqual(await smallTargets(page), [], "the conversation list");
  await page.locator("#rooms-nav-close").tap();
  await page.locator("#sidebar-toggle").tap();
  await page.locator("#sidebar-close").waitFor();
  assert.deepEqual(await smallTargets(page), [], "the people list");
  await page.locator("#sidebar-close").tap();

  // A thread panel.
  await line.locator(".message-row").tap();
  await line.locator('button[data-action="reply"]').tap();
  await page.locator("#thread-close").waitFor();
  assert.deepEqual(await smallTargets(page), [], "the thread panel");
  await page.locator("#thread-close").tap();
  await screenshots(page, "composer-phone-targets");
  assert.deepEqual(problems, []);
});

test("in a read-only DM the emoji button is disabled with the Message box", async () => {
  const ada = people.ada;
  const dan = await person("dan");
  const dm = await api("POST", "/api/v1/dms", ada.cookie, { username: "dan" });
  assert.equal(dm.status, 200, JSON.stringify(dm.body));
  assert.equal((await api("DELETE", "/api/v1/me", dan.cookie, { current_password: PASSWORD })).status, 204);
  await openRoom(ada.page, dm.body.room.id);
  await ada.page.locator("#message-input:disabled").waitFor();
  assert.equal(await ada.page.getByRole("button", { name: "Insert an emoji" }).isDisabled(), true);
  assert.deepEqual(problems, []);
});
