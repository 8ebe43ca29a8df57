// The write token: asked for when an append is refused as unauthorized, checked with the
// server's `auth` op, kept for this browser session (sessionStorage).

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = "tracker.writeToken";

export function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage refused (private mode): the token then lasts for this page only
  }
}

export class TokenPrompt {
  /** @param {(token: string) => Promise<void>} check rejects with code "unauthorized" for a wrong token */
  constructor(check) {
    this.check = check;
    this.waiter = null;
    $("#token-submit").addEventListener("click", () => this.submit());
    $("#token-cancel").addEventListener("click", () => this.cancel());
    $("#f-token").addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this.submit();
      } else if (e.key === "Escape") {
        this.cancel();
      }
    });
  }

  /** Show the prompt; resolves once a token the server accepts is given and kept. */
  ask(purpose = "write") {
    $("#token-box").hidden = false;
    $("#token-error").textContent = "";
    $("#token-prompt").textContent = purpose === "read"
      ? "This server needs a token to show its state. It is kept for this browser session only."
      : "This server needs its write token to add reports. It is kept for this browser session only.";
    if (purpose !== "read") $("#form-status").textContent = "Waiting for the write token…";
    $("#f-token").focus();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  async submit() {
    const input = $("#f-token");
    const token = input.value.trim();
    if (!token) {
      $("#token-error").textContent = "Enter the token.";
      return;
    }
    try {
      await this.check(token);
    } catch (err) {
      $("#token-error").textContent = err.code === "unauthorized"
        ? "The server refused this token. Check it and try again."
        : `Could not check the token: ${err.message}`;
      input.select();
      return;
    }
    storeToken(token);
    input.value = "";
    $("#token-box").hidden = true;
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter) waiter.resolve();
  }

  cancel() {
    $("#token-box").hidden = true;
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter) {
      const err = new Error("no write token given");
      err.code = "unauthorized";
      waiter.reject(err);
    }
  }
}
