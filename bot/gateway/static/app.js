/* Webchat of the "Asistente de planes y contratos" (Zenvia Customer Cloud).
 *
 * Vanilla ES2020, no dependencies. Message content is only ever inserted as text nodes
 * (textContent / createTextNode), never as HTML.
 */
(() => {
  "use strict";

  // Helpers shared with the agent console (common.js).
  const { isStr, store, storeToken, followStoredToken, tokenFromHash, decodeJwt, requestJson, messageOf } = window.zcc;
  const { el, srOnly, appendText, bindComposer, fitTextarea, eventStream, fetchDevUsers, devPanelSignIn } = window.zcc;

  const TOKEN_KEY = "zcc.token";
  const WHOAMI_KEY = "zcc.whoami";
  const TRANSCRIPT_PREFIX = "zcc.transcript.v1.";
  const MAX_ENTRIES = 200;
  const MAX_LENGTH = 2000;
  const REQUEST_TIMEOUT_MS = 60000;
  const MAX_SEEN_IDS = 500;
  const EVENTS_URL = "/api/chat/events";
  // Framed by a host site (the widget): the anonymous conversation rides on a partitioned cookie (keyed by
  // the host's site); where the browser allows the frame storage too, it is also kept there and sent in a
  // header, for browsers that refuse even partitioned cookies.
  const EMBEDDED = window.self !== window.top;
  const CONVERSATION_KEY = "zcc.conversation";
  // The first bubble; a host embedding the chat may give its own opening message.
  let welcomeText = "¡Hola! Pregúntame por los planes, canales, pagos o tus contratos.";

  const TEXTS = {
    typing: "El asistente está escribiendo…",
    network: "No pudimos conectar con el asistente. Revisa tu conexión e inténtalo de nuevo.",
    timeout: "El asistente tardó demasiado en responder. Inténtalo de nuevo.",
    unavailable: "El asistente no está disponible en este momento. Inténtalo de nuevo en unos minutos.",
    retry: "Reintentar",
    buttonsLabel: "Opciones sugeridas",
    tableLabel: "Tabla",
    signedInAs: (name, profile) => (profile ? `Conectado como ${name} (${profile})` : `Conectado como ${name}`),
    signedIn: "Sesión iniciada",
    devLoginFailed: "No se pudo iniciar la sesión de prueba.",
    devAnonymous: "Ahora conversas como visitante anónimo.",
    agentLabel: "Agente",
    systemLabel: "Aviso: ",
    handoffQueued: (position) =>
      Number.isInteger(position) && position > 0
        ? `En espera de un agente (posición ${position})`
        : "En espera de un agente",
    handoffAssigned: "Hablando con un agente",
    attachedImage: "Imagen enviada por el agente",
    attachedFile: "Archivo adjunto",
    newTab: " (se abre en una pestaña nueva)",
  };

  // ---------------------------------------------------------------------------------------------
  // Elements

  const $ = (id) => document.getElementById(id);
  const log = $("chat-log");
  const typing = $("typing");
  const form = $("composer");
  const input = $("chat-input");
  const send = $("chat-send");
  const counter = $("chat-counter");
  const whoami = $("whoami");
  const devPanel = $("dev-panel");
  const devForm = $("dev-form");
  const devSelect = $("dev-user");
  const devLogin = $("dev-login");
  const devStatus = $("dev-status");
  const handoffStatus = $("handoff-status");

  // ---------------------------------------------------------------------------------------------
  // Storage keys (common.js's store: localStorage may be unavailable or full, that never breaks the chat)

  const getToken = () => store.get(TOKEN_KEY) || "";

  /** A short, stable id for a token so that transcripts are keyed per identity. */
  function tokenId(token) {
    if (!token) return "anon";
    // cyrb53: a small non-cryptographic 53-bit hash.
    let h1 = 0xdeadbeef;
    let h2 = 0x41c6ce57;
    for (let i = 0; i < token.length; i++) {
      const ch = token.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return "t" + (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
  }

  const transcriptKey = (token) => TRANSCRIPT_PREFIX + tokenId(token);

  // ---------------------------------------------------------------------------------------------
  // Data validation: keep only well-formed pieces of what the server (or storage) gives us

  function cleanButtons(buttons) {
    if (!Array.isArray(buttons)) return [];
    return buttons
      .filter((b) => b && typeof b === "object" && (isStr(b.title) || isStr(b.payload)))
      .map((b) => {
        const title = isStr(b.title) && b.title.trim() ? b.title : String(b.payload);
        const payload = isStr(b.payload) && b.payload.trim() ? b.payload : title;
        return { title, payload };
      });
  }

  const cellText = (v) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

  function cleanTable(custom) {
    if (!custom || typeof custom !== "object" || custom.type !== "table") return null;
    if (!Array.isArray(custom.columns) || !Array.isArray(custom.rows)) return null;
    return {
      columns: custom.columns.map(cellText),
      rows: custom.rows.filter(Array.isArray).map((row) => row.map(cellText)),
      label: isStr(custom.label) ? custom.label : isStr(custom.caption) ? custom.caption : "",
    };
  }

  const LIVE_ROLES = new Set(["agent", "system"]);
  // A file an agent attached: served by the gateway under an unguessable id (never another site's address).
  const MEDIA_URL = /^\/media\/[0-9A-Za-z]{1,64}$/;
  const MAX_MEDIA = 10;

  /** A message id from the server (number or string), as a string; null when missing. */
  function cleanId(id) {
    if (typeof id === "number" && Number.isFinite(id)) return String(id);
    if (isStr(id) && id.trim() && id.length <= 100) return id.trim();
    return null;
  }

  /** The files of an agent's message: [{url, name, type}] with our own addresses only. */
  function cleanMedia(list) {
    if (!Array.isArray(list)) return [];
    return list
      .filter((m) => m && typeof m === "object" && isStr(m.url) && MEDIA_URL.test(m.url))
      .slice(0, MAX_MEDIA)
      .map((m) => ({
        url: m.url,
        name: isStr(m.name) && m.name.trim() ? m.name.trim().slice(0, 200) : "",
        type: isStr(m.type) ? m.type.split(";", 1)[0].trim().toLowerCase().slice(0, 100) : "",
      }));
  }

  /**
   * An entry of the transcript: {role: "user"|"bot", text?, buttons?, table?}, or a live message
   * from a human agent or the system: {role: "agent"|"system", text, id?, media?, buttons?} (an agent's
   * file may come without text; the system's satisfaction question comes with its options).
   */
  function cleanEntry(e) {
    if (!e || typeof e !== "object") return null;
    if (LIVE_ROLES.has(e.role)) {
      const media = e.role === "agent" ? cleanMedia(e.media) : [];
      const text = isStr(e.text) ? e.text : "";
      if (!text.trim() && !media.length) return null;
      const live = { role: e.role, text };
      if (media.length) live.media = media;
      const buttons = e.role === "system" ? cleanButtons(e.buttons) : [];
      if (buttons.length) live.buttons = buttons;
      const id = cleanId(e.id);
      if (id !== null) live.id = id;
      return live;
    }
    if (e.role !== "user" && e.role !== "bot") return null;
    const entry = { role: e.role };
    if (isStr(e.text) && e.text !== "") entry.text = e.text;
    if (e.role === "bot") {
      const buttons = cleanButtons(e.buttons);
      if (buttons.length) entry.buttons = buttons;
      const table = e.table ? cleanTable({ type: "table", ...e.table }) : null;
      if (table) entry.table = table;
    }
    return entry.text || entry.buttons || entry.table ? entry : null;
  }

  // ---------------------------------------------------------------------------------------------
  // State

  const state = {
    token: "",
    entries: [],
    seen: new Set(), // ids of the live (agent/system) messages already shown, to drop repeats
    busy: false,
    generation: 0, // bumped whenever the identity changes, so stale replies are dropped
  };

  /** The stored transcript of the current identity: {entries, seen}. */
  function loadTranscript() {
    const empty = { entries: [], seen: new Set() };
    const raw = store.get(transcriptKey(state.token));
    if (!raw) return empty;
    try {
      const data = JSON.parse(raw);
      const list = Array.isArray(data) ? data : Array.isArray(data && data.entries) ? data.entries : [];
      const entries = list.map(cleanEntry).filter(Boolean).slice(-MAX_ENTRIES);
      const seen = new Set(
        (data && Array.isArray(data.seen) ? data.seen : []).map(cleanId).filter((id) => id !== null)
      );
      for (const e of entries) if (e.id !== undefined) seen.add(e.id);
      return { entries, seen };
    } catch (_) {
      return empty;
    }
  }

  function seenList() {
    const ids = Array.from(state.seen);
    return ids.length > MAX_SEEN_IDS ? ids.slice(-MAX_SEEN_IDS) : ids;
  }

  function saveTranscript() {
    if (state.entries.length > MAX_ENTRIES) state.entries = state.entries.slice(-MAX_ENTRIES);
    const key = transcriptKey(state.token);
    let entries = state.entries;
    // If storage is full, keep dropping the oldest half until it fits.
    const seen = seenList();
    while (!store.set(key, JSON.stringify({ v: 1, entries, seen }))) {
      if (entries.length <= 1) {
        store.remove(key);
        return;
      }
      entries = entries.slice(Math.floor(entries.length / 2));
    }
  }

  /** Forget the transcripts of identities other than the current one and the anonymous one. */
  function pruneTranscripts() {
    const keep = new Set([transcriptKey(state.token), transcriptKey("")]);
    for (const key of store.keys()) {
      if (key.startsWith(TRANSCRIPT_PREFIX) && !keep.has(key)) store.remove(key);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering

  function renderTable(table) {
    const wrap = el("div", "msg bot msg-table-bubble");
    const scroller = el("div", "table-scroll", { tabindex: "0", role: "region" });
    const label = table.label || `${TEXTS.tableLabel}: ${table.columns.join(", ")}`;
    scroller.setAttribute("aria-label", label);
    const t = el("table", "msg-table", { "data-testid": "msg-table", "aria-label": label });
    if (table.label) {
      const caption = document.createElement("caption");
      caption.textContent = table.label;
      t.appendChild(caption);
    }
    const thead = document.createElement("thead");
    const headRow = document.createElement("tr");
    for (const col of table.columns) {
      const th = el("th", "", { scope: "col" });
      th.textContent = col;
      headRow.appendChild(th);
    }
    thead.appendChild(headRow);
    t.appendChild(thead);
    const tbody = document.createElement("tbody");
    for (const row of table.rows) {
      const tr = document.createElement("tr");
      row.forEach((cell, i) => {
        const td = document.createElement("td");
        if (i === 0 && table.columns.length > 1) td.className = "row-name";
        td.textContent = cell;
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    }
    t.appendChild(tbody);
    scroller.appendChild(t);
    wrap.appendChild(srOnly("Asistente: "));
    wrap.appendChild(scroller);
    return wrap;
  }

  function renderButtons(buttons, disabled) {
    const group = el("div", "msg-buttons", { "data-testid": "msg-buttons", role: "group", "aria-label": TEXTS.buttonsLabel });
    for (const b of buttons) {
      const button = el("button", "choice", { type: "button" });
      button.textContent = b.title;
      button.disabled = Boolean(disabled);
      button.addEventListener("click", () => {
        if (state.busy || button.disabled) return;
        submit(b.payload, b.title);
      });
      group.appendChild(button);
    }
    return group;
  }

  /** An agent's files under their text: images as a small preview, anything else as a link. */
  function renderMedia(media) {
    const box = el("div", "msg-media", { "data-testid": "msg-media" });
    for (const file of media) {
      const link = el("a", "msg-file", { href: file.url, target: "_blank", rel: "noopener" });
      if (file.type === "image/jpeg" || file.type === "image/png") {
        link.classList.add("msg-file-image");
        const img = el("img", "", { src: file.url, alt: file.name || TEXTS.attachedImage, loading: "lazy" });
        // The preview makes the bubble taller once loaded: keep the latest message in sight.
        img.addEventListener("load", keepEnd, { once: true });
        link.appendChild(img);
      } else {
        link.textContent = file.name || TEXTS.attachedFile;
      }
      link.appendChild(srOnly(TEXTS.newTab));
      box.appendChild(link);
    }
    return box;
  }

  /** The DOM nodes of one transcript entry (a bubble, a table, a group of buttons). */
  function renderEntry(entry, buttonsDisabled) {
    const nodes = [];
    if (entry.role === "agent") {
      const bubble = el("div", "msg agent", { "data-testid": "msg-agent" });
      const label = el("span", "msg-label");
      label.textContent = TEXTS.agentLabel;
      bubble.appendChild(label);
      bubble.appendChild(srOnly(": "));
      if (entry.text || !entry.media) {
        const body = el("span", "msg-body");
        appendText(body, entry.text || "");
        bubble.appendChild(body);
      }
      if (entry.media && entry.media.length) bubble.appendChild(renderMedia(entry.media));
      nodes.push(bubble);
      return nodes;
    }
    if (entry.role === "system") {
      const bubble = el("div", "msg system", { "data-testid": "msg-system" });
      bubble.appendChild(srOnly(TEXTS.systemLabel));
      appendText(bubble, entry.text || "");
      nodes.push(bubble);
      if (entry.buttons && entry.buttons.length) nodes.push(renderButtons(entry.buttons, buttonsDisabled));
      return nodes;
    }
    if (entry.role === "user") {
      const bubble = el("div", "msg user");
      bubble.appendChild(srOnly("Tú: "));
      appendText(bubble, entry.text || "");
      nodes.push(bubble);
      return nodes;
    }
    if (entry.table) nodes.push(renderTable(entry.table));
    if (entry.text) {
      const bubble = el("div", "msg bot");
      bubble.appendChild(srOnly("Asistente: "));
      appendText(bubble, entry.text);
      nodes.push(bubble);
    }
    if (entry.buttons && entry.buttons.length) nodes.push(renderButtons(entry.buttons, buttonsDisabled));
    return nodes;
  }

  function appendNodes(nodes) {
    for (const n of nodes) log.appendChild(n);
  }

  function scrollToEnd() {
    const reduce = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    const last = log.lastElementChild;
    if (last && last.scrollIntoView) last.scrollIntoView({ block: "end", behavior: reduce ? "auto" : "smooth" });
    log.scrollTop = log.scrollHeight;
  }

  /** Back to the end after something above grew, unless the user scrolled up to read. */
  function keepEnd() {
    if (log.scrollHeight - log.scrollTop - log.clientHeight < 200) log.scrollTop = log.scrollHeight;
  }

  function renderWelcome() {
    const bubble = el("div", "msg bot welcome");
    bubble.appendChild(srOnly("Asistente: "));
    bubble.appendChild(document.createTextNode(welcomeText));
    log.appendChild(bubble);
  }

  /** Render the whole transcript from state (on load and on identity change). */
  function renderAll() {
    log.replaceChildren();
    renderWelcome();
    let lastUser = -1;
    state.entries.forEach((e, i) => {
      if (e.role === "user") lastUser = i;
    });
    state.entries.forEach((entry, i) => appendNodes(renderEntry(entry, i < lastUser)));
    scrollToEnd();
  }

  function disableOldButtons() {
    for (const b of log.querySelectorAll(".msg-buttons button")) b.disabled = true;
  }

  function removeErrors() {
    for (const n of log.querySelectorAll(".msg.error")) n.remove();
  }

  function showError(message, retry) {
    const bubble = el("div", "msg error", { role: "alert", "data-testid": "msg-error" });
    const p = el("p", "error-text");
    appendText(p, message);
    bubble.appendChild(p);
    if (retry) {
      const button = el("button", "retry", { type: "button" });
      button.textContent = TEXTS.retry;
      button.addEventListener("click", () => {
        if (state.busy) return;
        bubble.remove();
        input.focus();
        retry();
      });
      bubble.appendChild(button);
    }
    log.appendChild(bubble);
    scrollToEnd();
  }

  // ---------------------------------------------------------------------------------------------
  // Busy state and composer

  function setBusy(busy) {
    state.busy = busy;
    typing.replaceChildren();
    if (busy) {
      const dots = el("span", "typing-dots", { "aria-hidden": "true" });
      dots.append(el("span"), el("span"), el("span"));
      typing.append(dots, document.createTextNode(TEXTS.typing));
    }
    typing.classList.toggle("is-active", busy);
    log.setAttribute("aria-busy", busy ? "true" : "false");
    updateComposer();
    if (busy) {
      for (const b of log.querySelectorAll(".msg-buttons button, .msg.error button")) b.disabled = true;
    }
  }

  function updateComposer() {
    const length = input.value.length;
    counter.textContent = `${length}/${MAX_LENGTH}`;
    counter.classList.toggle("is-near", length >= MAX_LENGTH * 0.9);
    send.disabled = state.busy;
    send.setAttribute("aria-disabled", state.busy ? "true" : "false");
  }

  function autoGrow() {
    fitTextarea(input, 160);
  }

  // ---------------------------------------------------------------------------------------------
  // Talking to the API

  function authHeaders(extra) {
    const headers = Object.assign({ Accept: "application/json" }, extra || {});
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (EMBEDDED && store.get(CONVERSATION_KEY)) headers["X-Conversation"] = store.get(CONVERSATION_KEY);
    return headers;
  }

  /** Keep the anonymous conversation the server started (framed pages only: the others have the cookie). */
  function keepConversation(headers) {
    const conversation = EMBEDDED && headers ? headers.get("X-Conversation") : null;
    if (conversation && !getToken()) store.set(CONVERSATION_KEY, conversation);
  }

  /** Turn the server's list of messages into transcript entries, applying table replacements. */
  function entriesFrom(list) {
    const out = [];
    // Indexes (in `out`) of the text messages of this response, in order, that a table may replace.
    const textIdx = [];
    for (const item of Array.isArray(list) ? list : []) {
      if (!item || typeof item !== "object") continue;
      const table = cleanTable(item.custom);
      if (table) {
        const n = Math.max(0, Math.min(Number.parseInt(item.custom.replaces, 10) || 0, textIdx.length));
        const replaced = textIdx.splice(textIdx.length - n, n);
        for (const idx of replaced) {
          // The table replaces the text; buttons of a replaced message are kept.
          delete out[idx].text;
        }
        out.push({ role: "bot", table });
      }
      const entry = cleanEntry({ role: "bot", text: item.text, buttons: item.buttons });
      if (entry) {
        if (entry.text) textIdx.push(out.length);
        out.push(entry);
      }
    }
    // Drop entries emptied by a replacement; keep the table right after the kept ones.
    return out.filter((e) => e.text || e.table || (e.buttons && e.buttons.length));
  }

  function errorMessageFor(status, body) {
    let fallback = TEXTS.unavailable;
    if (status === 429) fallback = "Has enviado muchos mensajes seguidos. Espera un momento e inténtalo de nuevo.";
    else if (status === 413) fallback = `Tu mensaje es demasiado largo. Escribe como máximo ${MAX_LENGTH} caracteres.`;
    return messageOf(body, fallback);
  }

  /**
   * Send a message. `shown` is what the user's bubble says (a button's title); `isRetry` means the
   * bubble is already on screen.
   */
  async function submit(message, shown, isRetry) {
    const text = isStr(message) ? message : "";
    if (!text.trim() || state.busy) return;
    const generation = state.generation;

    removeErrors();
    disableOldButtons();
    if (!isRetry) {
      const entry = { role: "user", text: isStr(shown) && shown.trim() ? shown : text };
      state.entries.push(entry);
      saveTranscript();
      appendNodes(renderEntry(entry, true));
    }
    setBusy(true);
    scrollToEnd();

    const retry = () => submit(text, shown, true);
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    const timer = controller ? window.setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS) : 0;
    const r = await requestJson("/api/chat", {
      method: "POST",
      headers: authHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify({ message: text }),
      signal: controller ? controller.signal : undefined,
    });
    window.clearTimeout(timer);
    keepConversation(r.headers);
    if (generation !== state.generation) return; // identity changed meanwhile: drop the reply
    setBusy(false);

    if (r.status === 0) {
      showError(r.error && r.error.name === "AbortError" ? TEXTS.timeout : TEXTS.network, retry);
      return;
    }
    const body = r.body;
    if (!r.ok) {
      showError(errorMessageFor(r.status, body), retry);
      return;
    }
    if (!Array.isArray(body)) {
      showError(TEXTS.unavailable, retry);
      return;
    }
    const handoff = handoffFrom(body);
    if (handoff) showHandoff(handoff.status, handoff.position);
    const entries = entriesFrom(body);
    for (const entry of entries) {
      state.entries.push(entry);
      appendNodes(renderEntry(entry, false));
    }
    saveTranscript();
    scrollToEnd();
    afterChatReply(Boolean(handoff));
  }

  // ---------------------------------------------------------------------------------------------
  // Hand-off to a human agent: status banner and live messages (Server-Sent Events)

  const HANDOFF_STATUSES = new Set(["queued", "assigned", "resolved"]);

  /** The last {type: "handoff"} custom payload of a /api/chat response, or null. */
  function handoffFrom(list) {
    let found = null;
    for (const item of Array.isArray(list) ? list : []) {
      const custom = item && typeof item === "object" ? item.custom : null;
      if (custom && typeof custom === "object" && custom.type === "handoff" && HANDOFF_STATUSES.has(custom.status)) {
        found = custom;
      }
    }
    return found;
  }

  /** Show, update or hide the banner above the composer. */
  function showHandoff(status, position) {
    let text = "";
    if (status === "queued") {
      const n = typeof position === "string" ? Number.parseInt(position, 10) : position;
      text = TEXTS.handoffQueued(Number.isInteger(n) ? n : null);
    } else if (status === "assigned") {
      text = TEXTS.handoffAssigned;
    }
    handoffStatus.dataset.status = text ? status : "";
    if (handoffStatus.textContent !== text) handoffStatus.textContent = text;
    handoffStatus.hidden = !text;
  }

  const events = eventStream({
    on: {
      message: (data) => receiveLiveMessage(data),
      handoff: (data) => {
        if (HANDOFF_STATUSES.has(data.status)) showHandoff(data.status, data.position);
      },
    },
    reconnect: () => openEvents(),
  });
  // Anonymous visitors: the first chat reply may have created the conversation cookie, so the
  // stream is reopened once afterwards to make sure it follows that conversation.
  let reopenedAfterChat = false;

  /** A live message from the stream: shown and kept once per id. */
  function receiveLiveMessage(data) {
    const entry = cleanEntry({ role: data.role, text: data.text, id: data.id, media: data.media, buttons: data.buttons });
    if (!entry) return;
    if (entry.id !== undefined) {
      if (state.seen.has(entry.id)) return;
      state.seen.add(entry.id);
    }
    state.entries.push(entry);
    saveTranscript();
    // Keep an error notice (and its retry button) at the bottom of the log.
    const firstError = log.querySelector(".msg.error");
    for (const node of renderEntry(entry, false)) {
      if (firstError) log.insertBefore(node, firstError);
      else log.appendChild(node);
    }
    scrollToEnd();
  }

  /**
   * (Re)open the stream for the current identity. When the server refuses it (e.g. no conversation
   * yet) it is tried again later, quietly and with a back-off (common.js's eventStream).
   */
  function openEvents() {
    let url = EVENTS_URL;
    if (state.token) url = `${EVENTS_URL}?access_token=${encodeURIComponent(state.token)}`;
    else if (EMBEDDED && store.get(CONVERSATION_KEY)) {
      url = `${EVENTS_URL}?conversation=${encodeURIComponent(store.get(CONVERSATION_KEY))}`;
    }
    events.open(url, { withCredentials: true });
  }

  function afterChatReply(handedOff) {
    const source = events.source;
    const closed = !source || source.readyState === 2;
    if (!state.token && !reopenedAfterChat) {
      reopenedAfterChat = true;
      openEvents();
    } else if (closed || (handedOff && source.readyState !== 1 /* OPEN */)) {
      events.resetDelay();
      openEvents();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Identity

  function currentProfile() {
    if (!state.token) return null;
    try {
      const saved = JSON.parse(store.get(WHOAMI_KEY) || "null");
      if (saved && saved.id === tokenId(state.token) && isStr(saved.name)) return saved;
    } catch (_) {
      /* ignore */
    }
    const claims = decodeJwt(state.token);
    if (claims && (isStr(claims.name) || isStr(claims.email))) {
      return {
        name: isStr(claims.name) ? claims.name : claims.email,
        profile: isStr(claims.profile) ? claims.profile : "",
        email: isStr(claims.email) ? claims.email : "",
      };
    }
    return null;
  }

  function renderWhoami() {
    const who = currentProfile();
    if (!state.token) {
      whoami.hidden = true;
      whoami.textContent = "";
      return;
    }
    whoami.textContent = who ? TEXTS.signedInAs(who.name, who.profile) : TEXTS.signedIn;
    whoami.hidden = false;
    if (who && who.email && devSelect.querySelector(`option[value="${CSS.escape(who.email)}"]`)) {
      devSelect.value = who.email;
    }
  }

  /** Switch to another identity (token or "" for anonymous): a new, empty conversation view. */
  function setIdentity(token, who) {
    storeToken(TOKEN_KEY, token);
    if (token && who) {
      store.set(WHOAMI_KEY, JSON.stringify({ id: tokenId(token), name: who.name, profile: who.profile || "", email: who.email || "" }));
    } else if (!token) {
      store.remove(WHOAMI_KEY);
    }
    adoptIdentity(token, true);
  }

  function adoptIdentity(token, fresh) {
    state.generation += 1;
    state.token = token;
    if (state.busy) setBusy(false);
    if (fresh) {
      state.entries = [];
      state.seen = new Set();
      store.remove(transcriptKey(token));
    } else {
      const saved = loadTranscript();
      state.entries = saved.entries;
      state.seen = saved.seen;
    }
    pruneTranscripts();
    showHandoff("resolved", null);
    reopenedAfterChat = false;
    events.resetDelay();
    openEvents();
    devStatus.textContent = "";
    devStatus.classList.remove("visually-hidden");
    if (!token) devSelect.value = "";
    renderWhoami();
    renderAll();
    if (!state.entries.length) loadHistory(state.generation);
  }

  /**
   * Nothing kept here (a framed page gets no storage of its own; another device): show what the server
   * kept of this conversation instead.
   */
  async function loadHistory(generation) {
    const r = await requestJson("/api/chat/history", { headers: authHeaders() });
    if (generation !== state.generation || state.entries.length || !r.ok || !Array.isArray(r.body)) return;
    const entries = [];
    for (const exchange of r.body) {
      if (!exchange || !isStr(exchange.user)) continue;
      const asked = cleanEntry({ role: "user", text: exchange.user });
      if (asked) entries.push(asked);
      entries.push(...entriesFrom(exchange.replies));
    }
    if (!entries.length) return;
    state.entries = entries.slice(-MAX_ENTRIES);
    saveTranscript();
    renderAll();
  }

  // ---------------------------------------------------------------------------------------------
  // Development mode

  async function setupDevPanel() {
    const users = await fetchDevUsers();
    if (!users) return;
    for (const u of users) {
      if (!u || !isStr(u.email)) continue;
      const option = document.createElement("option");
      option.value = u.email;
      const name = isStr(u.name) && u.name ? u.name : u.email;
      const details = [u.profile, u.account].filter((x) => x !== undefined && x !== null && x !== "").map(String);
      option.textContent = details.length ? `${name} — ${details.join(" · ")}` : name;
      option.dataset.name = name;
      option.dataset.profile = isStr(u.profile) ? u.profile : "";
      devSelect.appendChild(option);
    }
    devPanel.hidden = false;
    renderWhoami();
  }

  async function devSignIn(event) {
    event.preventDefault();
    devStatus.textContent = "";
    devStatus.classList.remove("visually-hidden");
    const email = devSelect.value;
    if (!email) {
      setIdentity("", null);
      devStatus.textContent = TEXTS.devAnonymous;
      input.focus();
      return;
    }
    const option = devSelect.selectedOptions[0];
    await devPanelSignIn(email, {
      button: devLogin,
      status: devStatus,
      networkText: TEXTS.network,
      refused: (status, body) => errorMessageFor(status, body) || TEXTS.devLoginFailed,
      signedIn: (token) => {
        setIdentity(token, {
          name: (option && option.dataset.name) || email,
          profile: (option && option.dataset.profile) || "",
          email,
        });
        devStatus.textContent = whoami.textContent;
        devStatus.classList.add("visually-hidden");
        devPanel.open = false;
        input.focus();
      },
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  function sendFromInput() {
    const text = input.value;
    if (!text.trim() || state.busy) return;
    input.value = "";
    updateComposer();
    autoGrow();
    submit(text);
  }

  bindComposer(form, input, sendFromInput);

  input.addEventListener("input", () => {
    updateComposer();
    autoGrow();
  });

  devForm.addEventListener("submit", devSignIn);

  // Another tab signed in or out: follow it.
  followStoredToken(TOKEN_KEY, () => state.token, (token) => adoptIdentity(token, false));

  /** Take a #token=<jwt> from the URL; returns whether it changed the identity. */
  function adoptHashToken() {
    const fromHash = tokenFromHash();
    if (fromHash === null || fromHash === getToken()) return false;
    storeToken(TOKEN_KEY, fromHash);
    store.remove(WHOAMI_KEY);
    adoptIdentity(fromHash, false);
    return true;
  }

  // The host may hand over a token later by changing the fragment.
  window.addEventListener("hashchange", adoptHashToken);

  // ---------------------------------------------------------------------------------------------
  // Embedded (the widget): the host page talks to this frame through postMessage only.
  //   host -> frame  {type: "asistente:token", token}   sign in with the host's JWT
  //                  {type: "asistente:signout"}        back to an anonymous conversation
  //                  {type: "asistente:config", greeting}
  //   frame -> host  {type: "asistente:ready"}          sent once listening
  // Messages are accepted only from the parent window, from a site in the server's EMBED_ORIGINS.

  async function setupEmbedding() {
    document.documentElement.classList.add("embedded");
    const r = await requestJson("/api/embed", { headers: { Accept: "application/json" } });
    const origins = r.ok && r.body && Array.isArray(r.body.origins) ? r.body.origins.filter(isStr) : [];
    window.addEventListener("message", (event) => {
      if (event.source !== window.parent || !origins.includes(event.origin)) return;
      const message = event.data;
      if (!message || typeof message !== "object") return;
      if (message.type === "asistente:token" && isStr(message.token) && message.token !== getToken()) {
        storeToken(TOKEN_KEY, message.token);
        store.remove(WHOAMI_KEY);
        adoptIdentity(message.token, false);
      } else if (message.type === "asistente:signout" && getToken()) {
        setIdentity("", null);
      } else if (message.type === "asistente:config" && isStr(message.greeting) && message.greeting.trim()) {
        welcomeText = message.greeting.trim().slice(0, 300);
        const welcome = log.querySelector(".welcome");
        if (welcome) welcome.lastChild.textContent = welcomeText;
      }
    });
    window.parent.postMessage({ type: "asistente:ready" }, "*"); // carries nothing: any origin may know
  }

  function init() {
    if (!adoptHashToken()) adoptIdentity(getToken(), false);
    updateComposer();
    autoGrow();
    setupDevPanel();
    if (EMBEDDED) setupEmbedding();
  }

  init();
})();
