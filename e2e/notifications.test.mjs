// Missed-message mail in real headless Chromium: a person away gets the
// mail, unsubscribes with the link in it, and sets the choice on the
// profile page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, Server, startSmtp, seriousViolations, screenshots } from "./support.mjs";

const PASSWORD = "correct horse battery staple";
const ADDRESS = "dora@example.com";

let browser;
let smtp;
let server;
let dora; // { context, page }
const problems = []; // CSP violations and page errors

function watch(page) {
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy|Refused to/.test(msg.text())) {
      problems.push(msg.text());
    }
  });
  page.on("pageerror", (err) => problems.push(err.message));
}

async function checkA11y(page, label) {
  const violations = await seriousViolations(page);
  assert.deepEqual(violations, [], `${label}: ${JSON.stringify(violations, null, 1)}`);
}

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

test("no page broke the content security policy or threw", () => {
  assert.deepEqual(problems, []);
});
