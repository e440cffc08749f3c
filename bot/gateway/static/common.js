/* Helpers shared by the webchat (app.js) and the agent console (agent.js).
 *
 * Vanilla ES2020, no dependencies. Loaded before the page's own script (both deferred, so they run
 * in document order); it only defines window.zcc and touches nothing on the page. Text from the
 * server is only ever inserted as text nodes (textContent / createTextNode), never as HTML.
 */
(() => {
  "use strict";

  // Reconnection delays when an event stream is closed for good (EventSource retries by itself otherwise).
  const EVENTS_RETRY_MIN_MS = 3000;
  const EVENTS_RETRY_MAX_MS = 60000;

  const isStr = (v) => typeof v === "string";

  // ---------------------------------------------------------------------------------------------
  // Storage (localStorage may be unavailable or full: never let that break the page). Where it is denied
  // (a chat framed by another site) the values live in memory for as long as the page does.

  const memory = new Map();
  const local = () => {
    try {
      return window.localStorage;
    } catch (_) {
      return null;
    }
  };

  const store = {
    get(key) {
      try {
        const storage = local();
        if (storage) return storage.getItem(key);
      } catch (_) {
        /* fall through to memory */
      }
      return memory.has(key) ? memory.get(key) : null;
    },
    /** Whether the value was stored. */
    set(key, value) {
      const storage = local();
      if (!storage) {
        memory.set(key, String(value));
        return true;
      }
      try {
        storage.setItem(key, value);
        return true;
      } catch (_) {
        return false; // full: the caller may make room
      }
    },
    remove(key) {
      memory.delete(key);
      try {
        const storage = local();
        if (storage) storage.removeItem(key);
      } catch (_) {
        /* ignore */
      }
    },
    keys() {
      try {
        const storage = local();
        if (storage) return Object.keys(storage);
      } catch (_) {
        /* fall through to memory */
      }
      return [...memory.keys()];
    },
  };

  // ---------------------------------------------------------------------------------------------
  // Sign-in tokens

  /** Keep a token under `key`, or forget it when the token is "". */
  function storeToken(key, token) {
    if (token) store.set(key, token);
    else store.remove(key);
  }

  /** Another tab signed in or out: `changed(token)` when the token under `key` is not `current()`. */
  function followStoredToken(key, current, changed) {
    window.addEventListener("storage", (event) => {
      if (event.key === key || event.key === null) {
        const token = store.get(key) || "";
        if (token !== current()) changed(token);
      }
    });
  }

  /** #token=<jwt> in the URL: keep it and take it out of the address bar. */
  function tokenFromHash() {
    const hash = window.location.hash.replace(/^#/, "");
    if (!hash) return null;
    const params = new URLSearchParams(hash);
    const token = params.get("token");
    if (token === null) return null;
    params.delete("token");
    const rest = params.toString();
    const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
    try {
      window.history.replaceState(window.history.state, "", url);
    } catch (_) {
      /* ignore */
    }
    return token.trim();
  }

  /** The claims of a JWT (not verified: only to show who is signed in), or null. */
  function decodeJwt(token) {
    try {
      const part = token.split(".")[1];
      if (!part) return null;
      const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const data = JSON.parse(new TextDecoder().decode(bytes));
      return data && typeof data === "object" ? data : null;
    } catch (_) {
      return null;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  async function readJson(response) {
    try {
      return await response.json();
    } catch (_) {
      return null;
    }
  }

  /**
   * fetch() of a JSON answer: {ok, status, body, headers, error}. When the request itself failed
   * (network, abort) status is 0 and error is what fetch threw; body is null when the answer is not JSON.
   */
  async function requestJson(path, init) {
    let response;
    try {
      response = await fetch(path, Object.assign({ credentials: "same-origin" }, init));
    } catch (error) {
      return { ok: false, status: 0, body: null, headers: null, error };
    }
    const body = await readJson(response);
    return { ok: response.ok, status: response.status, body, headers: response.headers, error: null };
  }

  /** The server's message for the user in an error body, or `fallback`. */
  function messageOf(body, fallback) {
    if (body && typeof body === "object" && isStr(body.message) && body.message.trim()) return body.message;
    return fallback;
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering

  function el(tag, className, attrs, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (attrs) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  /** Text for screen readers only. */
  const srOnly = (text) => el("span", "visually-hidden", null, text);

  const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;

  /** Append text to an element: newlines become <br>, http(s) links become safe anchors. */
  function appendText(parent, text) {
    text.split(/\r?\n/).forEach((line, i) => {
      if (i > 0) parent.appendChild(document.createElement("br"));
      let last = 0;
      for (const match of line.matchAll(URL_RE)) {
        let url = match[0];
        const trail = /[.,;:!?)\]»]+$/.exec(url);
        if (trail) url = url.slice(0, -trail[0].length);
        if (match.index > last) parent.appendChild(document.createTextNode(line.slice(last, match.index)));
        parent.appendChild(el("a", "", { href: url, target: "_blank", rel: "noopener noreferrer" }, url));
        last = match.index + url.length;
      }
      if (last < line.length) parent.appendChild(document.createTextNode(line.slice(last)));
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Composer

  /** Enter sends (Shift+Enter is a new line; not while an input method is composing), as does submit. */
  function bindComposer(form, textarea, send) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send();
    });
    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        send();
      }
    });
  }

  /** Grow a textarea with its text, up to `max` pixels (then it scrolls). */
  function fitTextarea(textarea, max) {
    textarea.style.height = "auto";
    textarea.style.height = Math.min(textarea.scrollHeight + 2, max) + "px";
    textarea.style.overflowY = textarea.scrollHeight + 2 > max ? "auto" : "hidden";
  }

  // ---------------------------------------------------------------------------------------------
  // Live events (Server-Sent Events)

  function parseEventData(event) {
    try {
      const data = JSON.parse(event.data);
      return data && typeof data === "object" ? data : null;
    } catch (_) {
      return null;
    }
  }

  /**
   * An event stream whose events carry JSON objects. EventSource reconnects by itself after network
   * errors; when the server refuses the stream for good (e.g. no conversation yet, an expired token)
   * it gives up, so `reconnect` is called after a delay that doubles each time (3 s up to 60 s) and
   * is back to the shortest once a stream opens. Only the current stream's events are passed on.
   *
   * hooks: {
   *   on: {name: function (data)}   the events to follow (only those whose data is a JSON object),
   *   opened()                       optional: the stream is open,
   *   interrupted()                  optional: an error EventSource recovers from by itself,
   *   closed()                       optional: the server refused the stream for good,
   *   reconnect(isCurrent)           after the delay; isCurrent() tells whether the stream is still
   *                                  the one that was refused (nothing reopened or closed it since)
   * }
   */
  function eventStream(hooks) {
    const stream = {
      source: null,
      retryTimer: 0,
      retryDelay: EVENTS_RETRY_MIN_MS,

      /** (Re)open the stream; false when the browser cannot (then none is open). */
      open(url, init) {
        stream.close();
        if (typeof window.EventSource !== "function") return false;
        let source;
        try {
          source = new EventSource(url, init);
        } catch (_) {
          return false;
        }
        stream.source = source;
        const isCurrent = () => stream.source === source;
        source.addEventListener("open", () => {
          if (!isCurrent()) return;
          stream.retryDelay = EVENTS_RETRY_MIN_MS;
          if (hooks.opened) hooks.opened();
        });
        for (const [name, handle] of Object.entries(hooks.on)) {
          source.addEventListener(name, (event) => {
            if (!isCurrent()) return;
            const data = parseEventData(event);
            if (data) handle(data);
          });
        }
        source.addEventListener("error", () => {
          if (!isCurrent()) return;
          if (source.readyState !== 2 /* CLOSED */) {
            if (hooks.interrupted) hooks.interrupted();
            return;
          }
          if (hooks.closed) hooks.closed();
          const delay = stream.retryDelay;
          stream.retryDelay = Math.min(stream.retryDelay * 2, EVENTS_RETRY_MAX_MS);
          window.clearTimeout(stream.retryTimer);
          stream.retryTimer = window.setTimeout(() => {
            if (isCurrent()) hooks.reconnect(isCurrent);
          }, delay);
        });
        return true;
      },

      close() {
        window.clearTimeout(stream.retryTimer);
        stream.retryTimer = 0;
        if (stream.source) {
          stream.source.close();
          stream.source = null;
        }
      },

      /** The next retry after the shortest delay again. */
      resetDelay() {
        stream.retryDelay = EVENTS_RETRY_MIN_MS;
      },
    };
    return stream;
  }

  // ---------------------------------------------------------------------------------------------
  // Development mode (the panel to sign in as a demo user)

  /** The demo users, or null when development mode is off (or the server cannot be reached). */
  async function fetchDevUsers() {
    const r = await requestJson("/api/dev/users", { headers: { Accept: "application/json" } });
    return r.status === 200 && Array.isArray(r.body) ? r.body : null;
  }

  /**
   * Sign in as a demo user: a token from POST /api/dev/token, with the panel's button disabled
   * meanwhile. `signedIn(token)` takes it; otherwise the panel's status line says
   * `refused(status, body)`, or `networkText` when the server cannot be reached.
   *
   * panel: {button, status, networkText, refused(status, body), signedIn(token)}
   */
  async function devPanelSignIn(email, panel) {
    panel.button.disabled = true;
    try {
      const r = await requestJson("/api/dev/token", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ email }),
      });
      if (r.status === 0) {
        panel.status.textContent = panel.networkText;
        return;
      }
      if (!r.ok || !r.body || !isStr(r.body.token) || !r.body.token) {
        panel.status.textContent = panel.refused(r.status, r.body);
        return;
      }
      panel.signedIn(r.body.token);
    } catch (_) {
      panel.status.textContent = panel.networkText;
    } finally {
      panel.button.disabled = false;
    }
  }

  window.zcc = Object.freeze({
    isStr, store, storeToken, followStoredToken, tokenFromHash, decodeJwt, requestJson, messageOf,
    el, srOnly, appendText, bindComposer, fitTextarea, eventStream, fetchDevUsers, devPanelSignIn,
  });
})();
