// Helpers for the browser journey: the server and SMTP processes, mail
// reading, accessibility checks and screenshots.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
];

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A real SMTP server (aiosmtpd) that stores mails as files. */
export async function startSmtp() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "chatroom-mail-"));
  const script = join(here, "..", "tests", "support", "smtp_sink.py");
  const child = spawn("python3", [script, String(port), dir], { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`smtp sink exited ${code}`)));
    child.stdout.on("data", (chunk) => {
      if (String(chunk).includes("READY")) resolve();
    });
  });
  return {
    url: `smtp://127.0.0.1:${port}`,
    stop: () => child.kill("SIGKILL"),
    mailsTo(address) {
      return readdirSync(dir)
        .filter((f) => f.endsWith(".eml"))
        .sort()
        .map((f) => decodeQuotedPrintable(readFileSync(join(dir, f), "utf8")))
        .filter((m) => m.split("\n")[0].toLowerCase().includes(address.toLowerCase()));
    },
    async waitFor(address, count, timeoutMs = 15000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const mails = this.mailsTo(address);
        if (mails.length >= count) return mails;
        if (Date.now() > deadline) throw new Error(`no mail for ${address}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

function decodeQuotedPrintable(raw) {
  return raw
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

export function linkIn(mail, prefix) {
  const start = mail.indexOf(prefix);
  if (start < 0) return null;
  const rest = mail.slice(start);
  const end = rest.search(/[\s"<]/);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The release binary on a fixed port with its own data directory. */
export class Server {
  constructor(env) {
    this.dataDir = mkdtempSync(join(tmpdir(), "chatroom-e2e-"));
    this.env = env;
    this.child = null;
  }

  async start(port) {
    this.port = port ?? this.port ?? (await freePort());
    this.base = `http://127.0.0.1:${this.port}`;
    const bin = process.env.CHATROOM_BIN;
    if (!bin) throw new Error("CHATROOM_BIN is not set (run e2e/run.sh)");
    this.child = spawn(bin, [], {
      cwd: this.dataDir,
      env: {
        ...process.env,
        CHATROOM_BIND: `127.0.0.1:${this.port}`,
        RUST_LOG: "warn",
        ...this.env,
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const deadline = Date.now() + 20000;
    for (;;) {
      try {
        const res = await fetch(`${this.base}/healthz`);
        if (res.ok) return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error("server did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async kill() {
    if (!this.child) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGKILL");
    await exited;
    this.child = null;
  }
}

/**
 * Records what must never happen on a page into `problems`: a Content
 * Security Policy violation or an uncaught error (prefixed with `who`).
 */
export function watchProblems(page, problems, who = "") {
  const tag = who ? `${who}: ` : "";
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy|Refused to/.test(msg.text())) {
      problems.push(`${tag}${msg.text()}`);
    }
  });
  page.on("pageerror", (err) => problems.push(`${tag}${err.message}`));
}

/** Fails, listing them, when axe finds serious or critical violations. */
export async function assertAccessible(page, label) {
  const violations = await seriousViolations(page);
  assert.deepEqual(violations, [], `${label}: ${JSON.stringify(violations, null, 1)}`);
}

/** Runs axe-core and returns serious or critical violations. */
export async function seriousViolations(page) {
  const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(source);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

export const SCREENSHOT_DIR = join(here, "screenshots");

/** Screenshots of the page at desktop and phone sizes, light and dark. */
export async function screenshots(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const original = page.viewportSize();
  for (const [label, size] of [
    ["desktop", { width: 1280, height: 800 }],
    ["phone", { width: 390, height: 844 }],
  ]) {
    for (const scheme of ["light", "dark"]) {
      await page.setViewportSize(size);
      await page.emulateMedia({ colorScheme: scheme });
      await page.waitForTimeout(50);
      await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${label}-${scheme}.png`) });
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  if (original) await page.setViewportSize(original);
}
