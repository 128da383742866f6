// Talking to the gateway: one POST /v1/faces at a time, latest drawing wins.
//
// `FaceRequester.changed()` is called on every edit (stroke, undo, slider, ...). After a quiet
// period (debounce) it sends the latest state. While a request is in flight nothing else is
// sent; if anything changed meanwhile, exactly one more request goes out when it returns, built
// from the state at that moment. Responses older than the last shown one, or made for a drawing
// that has since been cleared, are dropped. 429/503/network errors are retried after the
// server's Retry-After; input errors (4xx) are reported and wait for the next edit.

export const FACES_URL = "/v1/faces";
export const CONFIG_URL = "/v1/config";
const DEFAULT_DEBOUNCE_MS = 250;
const REQUEST_TIMEOUT_MS = 60_000;
const MAX_RETRY_S = 30;

export class ApiError extends Error {
  constructor(status, code, detail, retryAfterS = null) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;          // 0 for network failures
    this.code = code;
    this.detail = detail;
    this.retryAfterS = retryAfterS;
  }

  /** Worth retrying by itself: the server is down, starting, or busy. */
  get transient() {
    return this.status === 0 || this.status === 429 || this.status === 502
      || this.status === 503 || this.status === 504;
  }
}

/**
 * Send one request.
 * @param {{blob: Blob, t: ?number, components: Object<string, number>, include: string[],
 *          look?: Object<string, string|number>}} req  t: null leaves the blend to the
 *          gateway's default; look: the look's form fields ({look: "sunset"} or
 *          {look: "random", seed: 123})
 * @param {AbortSignal} [signal]
 */
export async function postFace(req, signal) {
  const form = new FormData();
  form.append("sketch", req.blob, "sketch.png");
  if (req.t != null) form.append("t", formatT(req.t));
  for (const [name, value] of Object.entries(req.components)) {
    form.append(`t_${name}`, formatT(value));
  }
  if (req.include.length) form.append("include", req.include.join(","));
  for (const [name, value] of Object.entries(req.look || {})) {
    if (value !== null && value !== undefined) form.append(name, String(value));
  }

  let res;
  try {
    res = await fetch(FACES_URL, {
      method: "POST",
      body: form,
      headers: { Accept: "application/json" },
      cache: "no-store",
      signal,
    });
  } catch {
    if (signal && signal.aborted) {
      throw new ApiError(0, "timeout", "The gateway did not answer in time.");
    }
    throw new ApiError(0, "network", "The gateway could not be reached.");
  }

  const body = await jsonBody(res);
  if (!res.ok) {
    const retry = parseRetryAfter(res.headers.get("Retry-After"));
    const code = body && typeof body.error === "string" ? body.error : `http_${res.status}`;
    const detail = body && typeof body.detail === "string" ? body.detail : res.statusText;
    throw new ApiError(res.status, code, detail, retry);
  }
  if (!body || typeof body.face !== "string") {
    throw new ApiError(res.status, "bad_response", "The gateway answered without a face.");
  }
  return body;
}

/** The response's JSON body, or null when it has none (or not JSON). */
async function jsonBody(res) {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

/** GET `url`'s JSON body when `usable(body)`; else ApiError saying the gateway sent no `what`. */
async function getJson(url, usable, what, signal) {
  let res;
  try {
    res = await fetch(url, { headers: { Accept: "application/json" }, signal });
  } catch {
    throw new ApiError(0, "network", "The gateway could not be reached.");
  }
  const body = await jsonBody(res);
  if (!res.ok || !body || !usable(body)) {
    throw new ApiError(res.status, "bad_response", `The gateway sent no ${what}.`,
      parseRetryAfter(res.headers.get("Retry-After")));
  }
  return body;
}

/**
 * What a request takes (GET /v1/config): {components: ["left_eye", ...], t: {default,
 * minimum, maximum, step}, include, looks: {default, random, fields, looks: [{name, hair,
 * ...}]}, upload, image_size, model}. Throws ApiError when it cannot be had.
 */
export function fetchConfig(signal) {
  return getJson(CONFIG_URL, (body) => Array.isArray(body.components)
    && body.t != null && Number.isFinite(body.t.default) && body.looks != null
    && Array.isArray(body.looks.looks) && Array.isArray(body.looks.fields),
  "configuration", signal);
}

function formatT(v) {
  return String(Math.round(Number(v) * 1000) / 1000);
}

/** Retry-After as seconds (delta-seconds or an HTTP date); null when absent or unreadable. */
export function parseRetryAfter(value) {
  if (value == null || value === "") return null;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, n);
  const when = Date.parse(value);
  if (Number.isFinite(when)) return Math.max(0, (when - Date.now()) / 1000);
  return null;
}

export class FaceRequester {
  /**
   * @param {object} opts
   * @param {() => boolean} opts.isEmpty       true when there is nothing to send
   * @param {() => object} opts.build  the latest request ({blob, t, components, include})
   * @param {(body: object) => void} opts.onResult
   * @param {() => void} opts.onEmpty           the drawing became empty (clear the results)
   * @param {(state: object) => void} opts.onStatus  {kind: "sending"|"error"|"retry", ...}
   * @param {number} [opts.debounceMs]
   */
  constructor(opts) {
    this.opts = opts;
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.version = 0;          // bumped on every change
    this.sentVersion = -1;     // version of the request in flight (or last sent)
    this.shownVersion = -1;    // version of the result on screen
    this.emptyVersion = -1;    // last version at which the drawing was empty
    this.inFlight = false;
    this.debounceTimer = null;
    this.retryTimer = null;
    this.retryTick = null;
    this.retryAt = 0;
    this.failures = 0;
  }

  /** Something the request depends on changed. `immediate` skips the debounce. */
  changed({ immediate = false } = {}) {
    this.version += 1;
    if (this.opts.isEmpty()) {
      this.emptyVersion = this.version;
      this._cancelDebounce();
      this._cancelRetry();
      this.opts.onEmpty();
      return;
    }
    this._cancelDebounce();
    if (immediate) {
      this._fire();
    } else {
      this.debounceTimer = setTimeout(() => {
        this.debounceTimer = null;
        this._fire();
      }, this.debounceMs);
    }
  }

  /** Something is about to change (a stroke started): hold the pending send until it ends. */
  hold() {
    this._cancelDebounce();
  }

  get pending() {
    return this.version > this.sentVersion;
  }

  _fire() {
    if (this.inFlight) return;          // the in-flight request's completion sends the latest
    if (this.retryTimer !== null) return; // honour Retry-After: the retry sends the latest
    if (!this.pending) return;
    if (this.opts.isEmpty()) return;
    this._send();
  }

  async _send() {
    this.inFlight = true;
    const version = this.version;
    this.sentVersion = version;
    let body = null;
    let error = null;
    const controller = new AbortController();
    const timeout = setTimeout(() => controller.abort("timeout"), REQUEST_TIMEOUT_MS);
    try {
      const req = this.opts.build();
      this.opts.onStatus({ kind: "sending" });
      body = await postFace(req, controller.signal);
    } catch (err) {
      error = err;
    } finally {
      clearTimeout(timeout);
      this.inFlight = false;
    }

    if (error) {
      this._failed(error);
      return;
    }
    this.failures = 0;
    // Never show a result over a newer one, nor a result for a drawing since cleared.
    if (version > this.shownVersion && version > this.emptyVersion) {
      this.shownVersion = version;
      this.opts.onResult(body, { stale: this.version > version });
    }
    this._followUp();
  }

  _followUp() {
    // Exactly one more request when something changed while this one was out. If a debounce
    // is still counting (the person is still editing), it will send when it fires.
    if (this.pending && this.debounceTimer === null && !this.opts.isEmpty()) this._send();
  }

  _failed(error) {
    if (!(error instanceof ApiError)) {
      error = new ApiError(0, "network", error && error.message ? error.message
        : "The request failed.");
    }
    if (!error.transient) {
      this.opts.onStatus({ kind: "error", error });
      // A rejected drawing: wait for the next edit, unless one already happened.
      this._followUp();
      return;
    }
    this.failures += 1;
    const backoff = Math.min(MAX_RETRY_S, 2 ** Math.min(this.failures, 5));
    const seconds = Math.min(MAX_RETRY_S, Math.max(1, error.retryAfterS ?? backoff));
    this._scheduleRetry(seconds, error);
  }

  _scheduleRetry(seconds, error) {
    this._cancelRetry();
    this.retryAt = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.max(0, Math.ceil((this.retryAt - Date.now()) / 1000));
      this.opts.onStatus({ kind: "retry", error, seconds: left });
    };
    tick();
    this.retryTick = setInterval(tick, 1000);
    this.retryTimer = setTimeout(() => {
      this._cancelRetry();
      if (this.opts.isEmpty() || this.inFlight) return;
      // Resend the latest drawing even if nothing changed: the last one never got an answer.
      this.sentVersion = Math.min(this.sentVersion, this.version - 1);
      this._fire();
    }, seconds * 1000);
  }

  _cancelRetry() {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.retryTick !== null) clearInterval(this.retryTick);
    this.retryTimer = null;
    this.retryTick = null;
  }

  _cancelDebounce() {
    if (this.debounceTimer !== null) clearTimeout(this.debounceTimer);
    this.debounceTimer = null;
  }
}
