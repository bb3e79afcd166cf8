// Accounts in real headless Chromium: login limits that do not lock out an
// office (device cookies), a used reset link that says so instead of showing
// its form, and login errors next to the field they are about.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, Server, screenshots, watchProblems, assertAccessible } from "./support.mjs";

const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "seven lanterns over quiet water";

let browser;
let server;
const contexts = [];
const problems = []; // CSP violations and page errors

const watch = (page) => watchProblems(page, problems);

const checkA11y = assertAccessible;

/** A new browser (its own cookies) with one page. */
async function person(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  watch(page);
  return { context, page };
}

async function register(username) {
  const response = await fetch(`${server.base}/api/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(response.status, 201, `register ${username}`);
}

async function logIn(page, username, password) {
  await page.goto(`${server.base}/login`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForLoadState();
}

before(async () => {
  server = new Server({ CHATROOM_REGISTER_LIMIT: "1000" });
  await server.start();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await server?.kill();
});

test("someone failing behind the office address does not lock out a colleague's browser", async () => {
  await register("alice");
  await register("bob");
  await register("carol");

  // Bob signed in on this browser before, then logged out.
  const bob = await person();
  await logIn(bob.page, "bob", PASSWORD);
  await bob.page.waitForURL(`${server.base}/discover`);
  const cookies = await bob.context.cookies();
  const device = cookies.find((c) => c.name === "chatroom_device");
  assert.ok(device, "signing in makes the browser a trusted device");
  assert.equal(device.httpOnly, true);
  assert.equal(device.sameSite, "Lax");
  await bob.page.goto(`${server.base}/profile`);
  await bob.page.getByRole("button", { name: "Log out" }).click();
  await bob.page.waitForURL(`${server.base}/login`);

  // Someone at the same address fails twenty times for Alice's account.
  const mallory = await person();
  for (let i = 0; i < 20; i++) {
    const response = await mallory.page.request.post(`${server.base}/api/v1/auth/login`, {
      data: { username: "alice", password: "a wrong guess here" },
    });
    assert.equal(response.status(), 401);
  }
  await logIn(mallory.page, "alice", PASSWORD);
  await mallory.page.getByText("Too many attempts. Try again in 15 minutes.").waitFor();
  assert.equal(new URL(mallory.page.url()).pathname, "/login");
  await checkA11y(mallory.page, "/login (rate limited)");
  await screenshots(mallory.page, "login-rate-limited");

  // Carol, on a browser that never signed in, shares the address's limit…
  const carol = await person();
  await logIn(carol.page, "carol", PASSWORD);
  await carol.page.getByText("Too many attempts. Try again in 15 minutes.").waitFor();

  // …but Bob's browser is trusted: he signs in.
  await logIn(bob.page, "bob", PASSWORD);
  await bob.page.waitForURL(`${server.base}/discover`);
});

test("a used reset link says so, offers a new one and shows no form", async () => {
  await register("dora");
  const made = spawnSync(process.env.CHATROOM_BIN, ["user", "reset-password", "dora", "--link"], {
    cwd: server.dataDir,
    encoding: "utf8",
  });
  assert.equal(made.status, 0, made.stderr);
  const token = made.stdout.match(/token=([A-Za-z0-9_-]+)/)[1];
  const link = `${server.base}/reset-password?token=${token}`;

  const { page } = await person();
  await page.goto(link);
  await page.getByRole("heading", { name: "Choose a new password" }).waitFor();
  await page.getByLabel("New password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Set new password" }).click();
  await page.waitForURL(/\/login\?done=reset/);

  // The same link again: no form, a way to ask for a new one.
  await page.goto(link);
  await page.getByRole("heading", { name: "This link no longer works" }).waitFor();
  assert.equal(await page.getByLabel("New password").count(), 0, "no password form");
  assert.equal(await page.locator("form").count(), 0);
  await checkA11y(page, "/reset-password (used link)");
  await screenshots(page, "reset-link-used");
  await page.getByRole("link", { name: "Ask for a new link" }).click();
  await page.waitForURL(`${server.base}/forgot-password`);
  await page.getByRole("heading", { name: "Forgot your password?" }).waitFor();

  // An unknown link reads the same.
  await page.goto(`${server.base}/reset-password?token=not-a-real-token`);
  await page.getByRole("heading", { name: "This link no longer works" }).waitFor();
});

test("an empty login form says which field is missing, next to it", async () => {
  for (const viewport of [
    { width: 1280, height: 800 },
    { width: 390, height: 844 },
  ]) {
    const { page } = await person(viewport);
    await page.goto(`${server.base}/login`);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByText("Enter your username or email address.").waitFor();
    await page.getByText("Enter your password.").waitFor();
    assert.equal(await page.getByText("Wrong username or password").count(), 0);
    const username = page.getByLabel("Username");
    assert.equal(await username.getAttribute("aria-invalid"), "true");
    assert.match(await username.getAttribute("aria-describedby"), /username-error/);
    const password = page.getByLabel("Password", { exact: true });
    assert.equal(await password.getAttribute("aria-invalid"), "true");
    await checkA11y(page, `/login (empty, ${viewport.width}px)`);
    if (viewport.width > 1000) await screenshots(page, "login-empty-fields");

    // A name without a password: only the password is missing, the name stays.
    await username.fill("erin");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByText("Enter your password.").waitFor();
    assert.equal(await page.getByText("Enter your username or email address.").count(), 0);
    assert.equal(await page.getByLabel("Username").inputValue(), "erin");
  }
});

test("no page broke the content security policy or threw", () => {
  assert.deepEqual(problems, []);
});
