/* Agent console of the "Asistente de planes y contratos" (Zenvia Customer Cloud).
 *
 * Vanilla ES2020, no dependencies. Everything the server sends is inserted as text nodes
 * (textContent / createTextNode), never as HTML.
 */
(() => {
  "use strict";

  // Helpers shared with the webchat (common.js).
  const { isStr, store, storeToken, followStoredToken, tokenFromHash, decodeJwt, requestJson, messageOf } = window.zcc;
  const { el, srOnly, appendText, bindComposer, fitTextarea, eventStream, fetchDevUsers, devPanelSignIn } = window.zcc;

  const TOKEN_KEY = "zcc.agent.token";
  const MAX_REPLY = 2000;
  const POLL_MS = 20000; // queue refresh while the live stream is down
  const NARROW = "(max-width: 859px)";

  const TEXTS = {
    needAgent: "Necesitas iniciar sesión con un perfil de agente.",
    network: "No pudimos conectar con el servidor. Revisa tu conexión e inténtalo de nuevo.",
    unavailable: "El servidor no está disponible en este momento. Inténtalo de nuevo en unos minutos.",
    alreadyTaken: "Otro agente ya tomó esta conversación.",
    notMine: "Esta conversación no está asignada a ti.",
    notFound: "Esta conversación ya no existe.",
    anonymous: "Visitante anónimo",
    loading: "Cargando conversación…",
    noMessages: "Todavía no hay mensajes en esta conversación.",
    take: "Tomar",
    takeLong: "Tomar conversación",
    waiting: (t) => `Esperando ${t}`,
    newMessages: "Mensajes nuevos",
    queued: "En espera",
    queuedAt: (n) => `En espera · posición ${n}`,
    assignedToMe: "Asignada a ti",
    assignedTo: (name) => (name ? `Asignada a ${name}` : "Asignada a otro agente"),
    stale: (name) => (name ? `${name} está inactivo: puedes tomarla` : "Agente inactivo: puedes tomarla"),
    resolved: "Resuelta",
    hintMine: "Enter envía · Mayús+Enter nueva línea",
    hintTake: "Toma la conversación para poder responder.",
    hintOther: "Otro agente atiende esta conversación.",
    hintResolved: "Conversación resuelta: la atiende de nuevo el asistente.",
    taken: "Conversación asignada a ti.",
    resolvedNotice: "Conversación resuelta y devuelta al asistente.",
    signedInAs: (name) => `Conectado como ${name}`,
    signedIn: "Sesión iniciada",
    signedOut: "Sesión cerrada.",
    live: "En directo",
    reconnecting: "Reconectando…",
    offline: "Sin conexión",
    devNoAgents: "No hay usuarios con perfil de agente.",
    devLoginFailed: "No se pudo iniciar la sesión de prueba.",
    roles: { user: "Cliente", bot: "Asistente", agent: "Agente", system: "Sistema" },
    channels: { webchat: "Webchat", whatsapp: "WhatsApp" },
    profiles: { admin: "Administrador", member: "Miembro", agent: "Agente" },
    ctx: {
      client: "Cliente",
      email: "Email",
      account: "Cuenta",
      contracts: "Contratos",
      noContracts: "Sin contratos",
      channel: "Canal",
      reason: "Motivo",
      started: "Inicio",
      noSession: "Sin sesión iniciada",
    },
    conversationWith: (name) => `Conversación con ${name}`,
    takeLabel: (name) => `Tomar la conversación de ${name}`,
  };

  // ---------------------------------------------------------------------------------------------
  // Elements

  const $ = (id) => document.getElementById(id);
  const queueList = $("agent-queue");
  const queueEmpty = $("queue-empty");
  const queueCount = $("queue-count");
  const queueRefresh = $("queue-refresh");
  const conversation = $("agent-conversation");
  const conversationEmpty = $("conversation-empty");
  const conversationBody = $("conversation-body");
  const conversationUser = $("conversation-user");
  const conversationStatus = $("conversation-status");
  const conversationContext = $("conversation-context");
  const contextDetails = $("context-details");
  const conversationTake = $("conversation-take");
  const resolveButton = $("resolve");
  const transcript = $("agent-transcript");
  const replyForm = $("reply-form");
  const reply = $("agent-reply");
  const sendButton = $("agent-send");
  const replyHint = $("reply-hint");
  const backButton = $("back-to-queue");
  const errorBox = $("agent-error-box");
  const errorText = $("agent-error");
  const errorClose = $("agent-error-close");
  const notice = $("agent-notice");
  const whoami = $("whoami");
  const signOut = $("sign-out");
  const connection = $("connection");
  const connectionText = $("connection-text");
  const devPanel = $("dev-panel");
  const devForm = $("dev-form");
  const devSelect = $("dev-user");
  const devLogin = $("dev-login");
  const devStatus = $("dev-status");

  // ---------------------------------------------------------------------------------------------
  // Small helpers (more in common.js: storage, tokens, requests, rendering of text)

  const idOf = (v) => (v === null || v === undefined ? "" : String(v));

  /** 135 -> "02:15"; an hour or more -> "1:02:15". */
  function clock(totalSeconds) {
    const s = Math.max(0, Math.floor(totalSeconds));
    const h = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  function parseDate(value) {
    if (!isStr(value) || !value) return null;
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function formatTime(value, withDate) {
    const d = parseDate(value);
    if (!d) return "";
    const today = new Date();
    const sameDay = d.toDateString() === today.toDateString();
    const opts = { hour: "2-digit", minute: "2-digit" };
    if (withDate || !sameDay) Object.assign(opts, { day: "2-digit", month: "2-digit" });
    try {
      return d.toLocaleString("es", opts);
    } catch (_) {
      return d.toISOString();
    }
  }

  const isNarrow = () => Boolean(window.matchMedia && window.matchMedia(NARROW).matches);

  // ---------------------------------------------------------------------------------------------
  // State

  const state = {
    token: "",
    generation: 0, // bumped on sign-in / sign-out so that late answers are dropped
    me: { agentId: "", name: "" },
    authFailed: false,
    queue: [], // handoffs as received, each with _base {seconds, at} for the waiting clock
    queueLoaded: false,
    unread: new Set(), // handoff ids (strings) with messages the agent has not seen
    openId: "",
    open: null, // {handoff, messages, context, seen: Set}
    loading: false,
    pending: [], // messages of the open conversation that arrived while it was loading
    busy: { take: new Set(), reply: false, resolve: false },
    contextOpen: null, // whether the agent last unfolded the customer's data (null: not chosen)
  };

  // ---------------------------------------------------------------------------------------------
  // Messages to the agent

  function showError(message) {
    errorText.textContent = message;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.hidden = true;
    errorText.textContent = "";
  }

  let noticeTimer = 0;
  function showNotice(message) {
    window.clearTimeout(noticeTimer);
    notice.textContent = message;
    noticeTimer = window.setTimeout(() => {
      notice.textContent = "";
    }, 6000);
  }

  // ---------------------------------------------------------------------------------------------
  // API

  /** A call to the API: {ok, status, body, stale}; status 0 for network errors. Handles 401/403. */
  async function api(method, path, payload) {
    const generation = state.generation;
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const r = await requestJson(path, {
      method,
      headers,
      cache: "no-store",
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    const stale = generation !== state.generation;
    if (r.status === 0) return { ok: false, status: 0, body: null, stale };
    if (!stale && (r.status === 401 || r.status === 403)) authFailed();
    return { ok: r.ok, status: r.status, body: r.body, stale };
  }

  function authFailed() {
    state.authFailed = true;
    closeEvents();
    setConnection("off");
    showError(TEXTS.needAgent);
    state.queue = [];
    state.queueLoaded = false;
    closeConversation();
    renderQueue();
    if (!devPanel.hidden) devPanel.open = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Handoffs

  function cleanHandoff(h) {
    if (!h || typeof h !== "object" || h.id === undefined || h.id === null) return null;
    return h;
  }

  function userName(h, context) {
    if (context && context.user && isStr(context.user.name) && context.user.name.trim()) return context.user.name;
    return isStr(h.user_name) && h.user_name.trim() ? h.user_name : TEXTS.anonymous;
  }

  function isMine(h) {
    return Boolean(h && h.status === "assigned" && state.me.agentId && idOf(h.agent_id) === state.me.agentId);
  }

  function canTake(h) {
    if (!h) return false;
    return h.status === "queued" || (h.status === "assigned" && Boolean(h.stale) && !isMine(h));
  }

  function statusText(h) {
    if (!h) return "";
    if (h.status === "queued") {
      return Number.isInteger(h.position) && h.position > 0 ? TEXTS.queuedAt(h.position) : TEXTS.queued;
    }
    if (h.status === "assigned") {
      if (isMine(h)) return TEXTS.assignedToMe;
      const name = isStr(h.agent_name) ? h.agent_name : "";
      return h.stale ? TEXTS.stale(name) : TEXTS.assignedTo(name);
    }
    if (h.status === "resolved") return TEXTS.resolved;
    return isStr(h.status) ? h.status : "";
  }

  function statusKind(h) {
    if (!h) return "";
    if (h.status === "assigned") return isMine(h) ? "mine" : h.stale ? "stale" : "assigned";
    return isStr(h.status) ? h.status : "";
  }

  const channelText = (c) => TEXTS.channels[c] || (isStr(c) ? c : "");

  /** Seconds waited by a handoff, now. */
  function waited(h) {
    const base = h._base;
    if (base) return base.seconds + (Date.now() - base.at) / 1000;
    const created = parseDate(h.created_at);
    return created ? (Date.now() - created.getTime()) / 1000 : 0;
  }

  function withBase(h, at) {
    const seconds = Number(h.waiting_seconds);
    const copy = Object.assign({}, h);
    Object.defineProperty(copy, "_base", {
      value: Number.isFinite(seconds) ? { seconds, at } : null,
      enumerable: false,
      writable: true,
    });
    return copy;
  }

  function findQueued(id) {
    return state.queue.find((h) => idOf(h.id) === idOf(id)) || null;
  }

  // ---------------------------------------------------------------------------------------------
  // Queue

  /** Replace the queue with a list from the server (GET or the live stream). */
  function setQueue(list) {
    const at = Date.now();
    const previous = state.queue;
    state.queue = (Array.isArray(list) ? list : []).map(cleanHandoff).filter(Boolean).map((h) => withBase(h, at));
    state.queueLoaded = true;
    const ids = new Set(state.queue.map((h) => idOf(h.id)));
    for (const id of Array.from(state.unread)) if (!ids.has(id)) state.unread.delete(id);
    // Keep the open conversation's status in step with the queue.
    if (state.open) {
      const fresh = findQueued(state.openId);
      if (fresh) {
        state.open.handoff = Object.assign({}, state.open.handoff, fresh);
        renderConversationHead();
      } else if (state.open.handoff.status !== "resolved" && previous.some((h) => idOf(h.id) === state.openId)) {
        // It left the queue (resolved, or gone): ask for its current state.
        refreshOpen();
      }
    }
    renderQueue();
  }

  /** Put one handoff (from take/resolve answers) into the queue in place. */
  function upsertQueued(h) {
    const at = Date.now();
    const i = state.queue.findIndex((q) => idOf(q.id) === idOf(h.id));
    if (h.status === "resolved") {
      if (i >= 0) state.queue.splice(i, 1);
    } else if (i >= 0) {
      const merged = withBase(Object.assign({}, state.queue[i], h), at);
      if (!Number.isFinite(Number(h.waiting_seconds))) merged._base = state.queue[i]._base;
      state.queue[i] = merged;
    } else {
      state.queue.push(withBase(h, at));
    }
    renderQueue();
  }

  async function loadQueue() {
    if (!state.token) return;
    const r = await api("GET", "/api/agent/queue");
    if (r.stale || r.status === 401 || r.status === 403) return;
    if (!r.ok || !r.body || !Array.isArray(r.body.handoffs)) {
      if (!state.queueLoaded) showError(r.status === 0 ? TEXTS.network : messageOf(r.body, TEXTS.unavailable));
      return;
    }
    if (errorText.textContent === TEXTS.network || errorText.textContent === TEXTS.unavailable) clearError();
    setQueue(r.body.handoffs);
  }

  /** Which queue control has the focus, to give it back after re-rendering. */
  function focusedQueueControl() {
    const active = document.activeElement;
    if (!active || !queueList.contains(active)) return null;
    const item = active.closest("[data-id]");
    return item ? { id: item.dataset.id, role: active.dataset.role || "" } : null;
  }

  function restoreQueueFocus(saved) {
    if (!saved) return;
    const item = queueList.querySelector(`[data-id="${CSS.escape(saved.id)}"]`);
    if (!item) {
      queueList.focus();
      return;
    }
    const target = item.querySelector(`[data-role="${saved.role}"]`) || item.querySelector('[data-role="open"]');
    if (target && !target.disabled) target.focus();
    else item.querySelector('[data-role="open"]').focus();
  }

  function renderQueueItem(h) {
    const id = idOf(h.id);
    const name = userName(h);
    const open = id === state.openId;
    const unread = state.unread.has(id);
    const li = el("li", `queue-item status-${statusKind(h)}`, { "data-testid": "queue-item", "data-id": id });
    li.classList.toggle("is-open", open);
    li.classList.toggle("is-unread", unread);

    const openButton = el("button", "queue-open", { type: "button", "data-role": "open", "data-testid": "queue-open" });
    if (open) openButton.setAttribute("aria-current", "true");

    const top = el("span", "queue-line queue-top");
    top.appendChild(el("span", "queue-name", { "data-testid": "queue-name" }, name));
    top.appendChild(el("span", `channel channel-${isStr(h.channel) ? h.channel : "other"}`, { "data-testid": "queue-channel" }, channelText(h.channel)));
    openButton.appendChild(top);

    if (isStr(h.reason_text) && h.reason_text) {
      openButton.appendChild(el("span", "queue-line queue-reason", { "data-testid": "queue-reason" }, h.reason_text));
    }

    const bottom = el("span", "queue-line queue-bottom");
    const wait = el("span", "queue-wait", { "data-testid": "queue-wait" }, TEXTS.waiting(clock(waited(h))));
    bottom.appendChild(wait);
    bottom.appendChild(el("span", `status-pill status-${statusKind(h)}`, { "data-testid": "queue-status" }, statusText(h)));
    openButton.appendChild(bottom);

    if (unread) openButton.appendChild(el("span", "badge", { "data-testid": "queue-unread" }, TEXTS.newMessages));

    openButton.addEventListener("click", () => openHandoff(id, { focus: isNarrow() }));
    li.appendChild(openButton);

    if (canTake(h)) {
      const take = el("button", "send take", {
        type: "button",
        "data-role": "take",
        "data-testid": "take",
        "aria-label": TEXTS.takeLabel(name),
      }, TEXTS.take);
      take.disabled = state.busy.take.has(id);
      take.addEventListener("click", () => takeHandoff(id));
      li.appendChild(take);
    }
    return li;
  }

  function renderQueue() {
    const saved = focusedQueueControl();
    const items = state.queue.map(renderQueueItem);
    queueList.replaceChildren(...items);
    queueEmpty.hidden = !(state.queueLoaded && state.queue.length === 0);
    queueCount.textContent = state.queueLoaded ? `(${state.queue.length})` : "";
    restoreQueueFocus(saved);
    updateTitle();
  }

  function tickQueue() {
    for (const item of queueList.querySelectorAll(".queue-item")) {
      const h = findQueued(item.dataset.id);
      const wait = item.querySelector(".queue-wait");
      if (h && wait) {
        const text = TEXTS.waiting(clock(waited(h)));
        if (wait.textContent !== text) wait.textContent = text;
      }
    }
  }

  const BASE_TITLE = document.title;
  function updateTitle() {
    const waiting = state.queue.filter((h) => h.status === "queued").length;
    const marks = state.unread.size + waiting;
    document.title = marks > 0 ? `(${marks}) ${BASE_TITLE}` : BASE_TITLE;
  }

  // Arrow keys move between the queue's items.
  queueList.addEventListener("keydown", (event) => {
    if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(event.key)) return;
    const buttons = Array.from(queueList.querySelectorAll('[data-role="open"]'));
    if (!buttons.length) return;
    const current = buttons.indexOf(document.activeElement.closest(".queue-item")?.querySelector('[data-role="open"]'));
    let next = current;
    if (event.key === "ArrowDown") next = Math.min(buttons.length - 1, current + 1);
    else if (event.key === "ArrowUp") next = Math.max(0, current - 1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = buttons.length - 1;
    if (next < 0) next = 0;
    event.preventDefault();
    buttons[next].focus();
  });

  // ---------------------------------------------------------------------------------------------
  // The open conversation

  function closeConversation() {
    state.openId = "";
    state.open = null;
    state.loading = false;
    state.pending = [];
    conversationBody.hidden = true;
    conversationEmpty.hidden = false;
    document.body.classList.remove("show-conversation");
  }

  async function openHandoff(id, options) {
    const focus = Boolean(options && options.focus);
    const same = id === state.openId && state.open;
    state.openId = id;
    state.unread.delete(id);
    if (!same) {
      state.open = null;
      state.pending = [];
      // The customer's data stays as the agent last left it; on small screens it starts folded.
      contextDetails.open = state.contextOpen === null ? !isNarrow() : state.contextOpen;
      renderLoading(id);
    }
    document.body.classList.add("show-conversation");
    renderQueue();
    if (focus) conversationUser.focus();
    await loadOpen(id);
  }

  function renderLoading(id) {
    const h = findQueued(id);
    conversationEmpty.hidden = true;
    conversationBody.hidden = false;
    conversationUser.textContent = h ? userName(h) : TEXTS.loading;
    conversationStatus.textContent = h ? statusText(h) : "";
    conversationStatus.className = `status-pill status-${statusKind(h)}`;
    conversationContext.replaceChildren();
    transcript.replaceChildren(el("p", "transcript-note", null, TEXTS.loading));
    transcript.setAttribute("aria-busy", "true");
    state.loading = true;
    updateControls();
  }

  async function loadOpen(id) {
    state.loading = true;
    const r = await api("GET", `/api/agent/handoffs/${encodeURIComponent(id)}`);
    if (r.stale || state.openId !== id) return;
    if (r.status === 401 || r.status === 403) return;
    state.loading = false;
    transcript.setAttribute("aria-busy", "false");
    if (!r.ok || !r.body || !cleanHandoff(r.body.handoff)) {
      if (r.status === 404) showError(messageOf(r.body, TEXTS.notFound));
      else showError(r.status === 0 ? TEXTS.network : messageOf(r.body, TEXTS.unavailable));
      if (state.open) {
        // A reload failed: keep what is shown, plus what arrived meanwhile.
        const pending = state.pending;
        state.pending = [];
        for (const m of pending) appendMessage(m);
      } else {
        transcript.replaceChildren();
        updateControls();
      }
      return;
    }
    const messages = Array.isArray(r.body.messages) ? r.body.messages.filter((m) => m && typeof m === "object") : [];
    const open = {
      handoff: r.body.handoff,
      messages: [],
      context: r.body.context && typeof r.body.context === "object" ? r.body.context : {},
      seen: new Set(),
    };
    for (const m of messages.concat(state.pending)) {
      const key = idOf(m.id);
      if (key && open.seen.has(key)) continue;
      if (key) open.seen.add(key);
      open.messages.push(m);
    }
    state.pending = [];
    state.open = open;
    renderConversation();
  }

  /** Reload the open conversation (after a conflict, or when it left the queue). */
  function refreshOpen() {
    if (state.openId && !state.loading) loadOpen(state.openId);
  }

  function contextRow(term, value, testid) {
    const row = el("div", "context-row");
    const dt = el("dt", "", null, term);
    const dd = el("dd", "", testid ? { "data-testid": testid } : null);
    if (value instanceof Node) dd.appendChild(value);
    else dd.textContent = value;
    row.append(dt, dd);
    return row;
  }

  function contractText(c) {
    return [c.number, c.status_text, c.plan].filter((x) => x !== undefined && x !== null && x !== "").map(String).join(" · ");
  }

  function renderConversationHead() {
    const open = state.open;
    if (!open) return;
    const h = open.handoff;
    const ctx = open.context || {};
    const name = userName(h, ctx);
    conversationUser.textContent = name;
    conversation.setAttribute("aria-label", TEXTS.conversationWith(name));
    conversationStatus.textContent = statusText(h);
    conversationStatus.className = `status-pill status-${statusKind(h)}`;

    const rows = [];
    const user = ctx.user && typeof ctx.user === "object" ? ctx.user : null;
    if (user) {
      const profile = isStr(user.profile) && user.profile ? TEXTS.profiles[user.profile] || user.profile : "";
      if (isStr(user.email) && user.email) rows.push(contextRow(TEXTS.ctx.email, user.email, "context-email"));
      if (profile) rows.push(contextRow("Perfil", profile, "context-profile"));
    } else {
      rows.push(contextRow(TEXTS.ctx.client, TEXTS.ctx.noSession, "context-user"));
    }
    const account = ctx.account && typeof ctx.account === "object" ? ctx.account : null;
    if (account && isStr(account.name) && account.name) rows.push(contextRow(TEXTS.ctx.account, account.name, "context-account"));
    if (user || account) {
      const contracts = Array.isArray(ctx.contracts) ? ctx.contracts.filter((c) => c && typeof c === "object") : [];
      let value;
      if (contracts.length) {
        value = el("ul", "contracts");
        for (const c of contracts) value.appendChild(el("li", "", { "data-testid": "context-contract" }, contractText(c)));
      } else {
        value = TEXTS.ctx.noContracts;
      }
      rows.push(contextRow(TEXTS.ctx.contracts, value, "context-contracts"));
    }
    rows.push(contextRow(TEXTS.ctx.channel, channelText(h.channel), "context-channel"));
    if (isStr(h.reason_text) && h.reason_text) rows.push(contextRow(TEXTS.ctx.reason, h.reason_text, "context-reason"));
    const started = formatTime(h.created_at, true);
    if (started) rows.push(contextRow(TEXTS.ctx.started, started, "context-started"));
    conversationContext.replaceChildren(...rows);
    updateControls();
  }

  function renderMessage(m) {
    const role = TEXTS.roles[m.role] ? m.role : "system";
    const bubble = el("div", `msg ${role}`, { "data-testid": `transcript-${role}` });
    if (m.id !== undefined && m.id !== null) bubble.dataset.id = idOf(m.id);
    const meta = el("span", "msg-meta");
    meta.appendChild(el("span", "msg-label", null, TEXTS.roles[role]));
    const time = formatTime(m.created_at);
    if (time) {
      const t = el("time", "msg-time", null, time);
      if (isStr(m.created_at)) t.dateTime = m.created_at;
      meta.appendChild(t);
    }
    bubble.appendChild(meta);
    bubble.appendChild(srOnly(": "));
    const body = el("span", "msg-body");
    appendText(body, isStr(m.text) ? m.text : "");
    bubble.appendChild(body);
    return bubble;
  }

  function scrollTranscript() {
    transcript.scrollTop = transcript.scrollHeight;
  }

  function renderConversation() {
    const open = state.open;
    if (!open) return;
    conversationEmpty.hidden = true;
    conversationBody.hidden = false;
    renderConversationHead();
    const nodes = open.messages.map(renderMessage);
    if (!nodes.length) nodes.push(el("p", "transcript-note", null, TEXTS.noMessages));
    transcript.replaceChildren(...nodes);
    transcript.setAttribute("aria-busy", "false");
    scrollTranscript();
  }

  /** A message for the open conversation (live stream or our own reply), once per id. */
  function appendMessage(m) {
    if (!state.open || !m || typeof m !== "object") return;
    const key = idOf(m.id);
    if (key) {
      if (state.open.seen.has(key)) return;
      state.open.seen.add(key);
    }
    state.open.messages.push(m);
    const empty = transcript.querySelector(".transcript-note");
    if (empty) empty.remove();
    const nearBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
    transcript.appendChild(renderMessage(m));
    if (nearBottom || m.role === "agent") scrollTranscript();
  }

  function updateControls() {
    // Until the conversation is loaded nothing is enabled; a reload keeps what is known.
    const h = state.open ? state.open.handoff : null;
    const mine = isMine(h);
    reply.disabled = !mine;
    sendButton.disabled = !mine || state.busy.reply;
    resolveButton.disabled = !mine || state.busy.resolve;
    const takeable = canTake(h);
    conversationTake.hidden = !takeable;
    conversationTake.disabled = !takeable || state.busy.take.has(state.openId);
    let hint = TEXTS.hintMine;
    if (!h) hint = state.loading ? TEXTS.loading : "";
    else if (!mine) {
      if (h.status === "resolved") hint = TEXTS.hintResolved;
      else if (takeable) hint = TEXTS.hintTake;
      else hint = TEXTS.hintOther;
    }
    replyHint.textContent = hint;
    replyForm.classList.toggle("is-locked", !mine);
  }

  // ---------------------------------------------------------------------------------------------
  // Actions

  /** The agent id of the signed-in agent, learnt from a successful take when it differs from sub. */
  function learnMe(h) {
    if (h && h.status === "assigned" && h.agent_id !== null && h.agent_id !== undefined) {
      state.me.agentId = idOf(h.agent_id);
    }
  }

  async function takeHandoff(id) {
    if (state.busy.take.has(id)) return;
    clearError();
    state.busy.take.add(id);
    renderQueue();
    updateControls();
    const r = await api("POST", `/api/agent/handoffs/${encodeURIComponent(id)}/take`);
    state.busy.take.delete(id);
    if (r.stale) return;
    if (r.ok && r.body && cleanHandoff(r.body.handoff)) {
      const h = r.body.handoff;
      learnMe(h);
      upsertQueued(h);
      showNotice(TEXTS.taken);
      if (state.openId === id && state.open) {
        state.open.handoff = Object.assign({}, state.open.handoff, h);
        renderConversationHead();
      } else {
        await openHandoff(id, { focus: false });
      }
      if (state.openId === id && !reply.disabled) reply.focus();
      return;
    }
    renderQueue();
    updateControls();
    if (r.status === 401 || r.status === 403) return;
    if (r.status === 409) {
      showError(messageOf(r.body, TEXTS.alreadyTaken));
      loadQueue();
      if (state.openId === id) refreshOpen();
      return;
    }
    showError(r.status === 0 ? TEXTS.network : messageOf(r.body, TEXTS.unavailable));
  }

  async function sendReply() {
    if (!state.open || state.busy.reply || !isMine(state.open.handoff)) return;
    const text = reply.value.trim();
    if (!text) return;
    const id = state.openId;
    clearError();
    state.busy.reply = true;
    updateControls();
    const r = await api("POST", `/api/agent/handoffs/${encodeURIComponent(id)}/reply`, { text });
    state.busy.reply = false;
    if (r.stale) return;
    updateControls();
    if (r.ok && r.body && r.body.message) {
      if (state.openId === id) {
        // Keep whatever was typed meanwhile after the text that was sent.
        if (reply.value.trim() === text) reply.value = "";
        appendMessage(r.body.message);
        autoGrow();
        reply.focus();
      }
      return;
    }
    ownActionFailed(r, id);
  }

  async function resolveOpen() {
    if (!state.open || state.busy.resolve || !isMine(state.open.handoff)) return;
    const id = state.openId;
    clearError();
    state.busy.resolve = true;
    updateControls();
    const r = await api("POST", `/api/agent/handoffs/${encodeURIComponent(id)}/resolve`);
    state.busy.resolve = false;
    if (r.stale) return;
    if (r.ok) {
      const h = r.body && cleanHandoff(r.body.handoff) ? r.body.handoff : { id, status: "resolved" };
      if (h.status !== "resolved") h.status = "resolved";
      upsertQueued(h);
      if (state.openId === id && state.open) {
        state.open.handoff = Object.assign({}, state.open.handoff, h);
        renderConversationHead();
      }
      showNotice(TEXTS.resolvedNotice);
      const first = queueList.querySelector('[data-role="open"]');
      if (first && !isNarrow()) first.focus();
      else conversationUser.focus();
      return;
    }
    updateControls();
    ownActionFailed(r, id);
  }

  /** A reply or a resolve refused: on a conflict (no longer the agent's) reload the conversation and the queue. */
  function ownActionFailed(r, id) {
    if (r.status === 401 || r.status === 403) return;
    if (r.status === 409) {
      showError(messageOf(r.body, TEXTS.notMine));
      if (state.openId === id) refreshOpen();
      loadQueue();
      return;
    }
    showError(r.status === 0 ? TEXTS.network : messageOf(r.body, TEXTS.unavailable));
  }

  // ---------------------------------------------------------------------------------------------
  // Live events

  const events = eventStream({
    on: {
      queue: (data) => {
        if (Array.isArray(data.handoffs)) setQueue(data.handoffs);
      },
      message: (data) => onLiveMessage(data),
    },
    opened: () => setConnection("live"),
    interrupted: () => setConnection("retry"),
    // Refused for good (e.g. an expired token): check with a plain request, then retry later.
    closed: () => setConnection("off"),
    reconnect: async (isCurrent) => {
      await loadQueue();
      if (isCurrent() && !state.authFailed) openEvents();
    },
  });
  let pollTimer = 0;

  function setConnection(kind) {
    connection.dataset.state = kind;
    connectionText.textContent = kind === "live" ? TEXTS.live : kind === "retry" ? TEXTS.reconnecting : TEXTS.offline;
  }

  function closeEvents() {
    events.close();
    window.clearInterval(pollTimer);
    pollTimer = 0;
  }

  function startPolling() {
    if (pollTimer) return;
    pollTimer = window.setInterval(() => {
      if (!events.source || events.source.readyState !== 1) loadQueue();
    }, POLL_MS);
  }

  function onLiveMessage(data) {
    const id = idOf(data.handoff_id);
    const m = data.message;
    if (!id || !m || typeof m !== "object") return;
    if (id === state.openId) {
      if (state.loading || !state.open) state.pending.push(m);
      else appendMessage(m);
      return;
    }
    // Only the customer's and the system's messages need the agent's attention.
    if (m.role === "agent" || m.role === "bot") return;
    state.unread.add(id);
    renderQueue();
  }

  /** The live stream, with the queue polled while it is not open (or when the browser has no EventSource). */
  function openEvents() {
    closeEvents();
    if (!state.token || state.authFailed) return;
    startPolling();
    if (events.open(`/api/agent/events?access_token=${encodeURIComponent(state.token)}`)) setConnection("retry");
  }

  // ---------------------------------------------------------------------------------------------
  // Session

  function renderWhoami(name) {
    if (!state.token) {
      whoami.hidden = true;
      whoami.textContent = "";
      signOut.hidden = true;
      return;
    }
    whoami.textContent = name ? TEXTS.signedInAs(name) : TEXTS.signedIn;
    whoami.hidden = false;
    signOut.hidden = false;
  }

  function startSession(token, name) {
    state.generation += 1;
    state.token = token;
    state.authFailed = false;
    state.queue = [];
    state.queueLoaded = false;
    state.unread.clear();
    state.busy = { take: new Set(), reply: false, resolve: false };
    closeEvents();
    closeConversation();
    clearError();
    const claims = token ? decodeJwt(token) : null;
    state.me.agentId = claims && claims.sub !== undefined ? idOf(claims.sub) : "";
    const displayName = name || (claims && (isStr(claims.name) ? claims.name : isStr(claims.email) ? claims.email : "")) || "";
    state.me.name = displayName;
    renderWhoami(displayName);
    renderQueue();
    if (!token) {
      setConnection("off");
      showError(TEXTS.needAgent);
      if (!devPanel.hidden) devPanel.open = true;
      return;
    }
    loadQueue().then(() => {
      if (state.token === token && !state.authFailed) openEvents();
    });
  }

  function adoptHashToken() {
    const token = tokenFromHash();
    if (token === null) return false;
    storeToken(TOKEN_KEY, token);
    startSession(token, "");
    return true;
  }

  async function setupDevPanel() {
    const users = await fetchDevUsers();
    if (!users) return;
    const agents = users.filter((u) => u && isStr(u.email) && u.profile === "agent");
    devSelect.replaceChildren();
    for (const u of agents) {
      const name = isStr(u.name) && u.name ? u.name : u.email;
      const option = el("option", "", { value: u.email }, u.account ? `${name} — ${u.email}` : name);
      option.dataset.name = name;
      devSelect.appendChild(option);
    }
    if (!agents.length) {
      devSelect.appendChild(el("option", "", { value: "" }, TEXTS.devNoAgents));
      devSelect.disabled = true;
      devLogin.disabled = true;
    }
    devPanel.hidden = false;
    if (!state.token || state.authFailed) devPanel.open = true;
  }

  async function devSignIn(event) {
    event.preventDefault();
    devStatus.textContent = "";
    const email = devSelect.value;
    if (!email) return;
    const option = devSelect.selectedOptions[0];
    await devPanelSignIn(email, {
      button: devLogin,
      status: devStatus,
      networkText: TEXTS.network,
      refused: (status, body) => messageOf(body, TEXTS.devLoginFailed),
      signedIn: (token) => {
        store.set(TOKEN_KEY, token);
        startSession(token, (option && option.dataset.name) || email);
        devPanel.open = false;
        queueList.focus();
      },
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  function autoGrow() {
    fitTextarea(reply, 200);
  }

  bindComposer(replyForm, reply, sendReply);
  reply.addEventListener("input", autoGrow);
  reply.maxLength = MAX_REPLY;

  resolveButton.addEventListener("click", resolveOpen);
  contextDetails.querySelector("summary").addEventListener("click", () => {
    // Runs before the toggle: remember the state the agent is choosing.
    state.contextOpen = !contextDetails.open;
  });
  conversationTake.addEventListener("click", () => {
    if (state.openId) takeHandoff(state.openId);
  });
  queueRefresh.addEventListener("click", () => {
    clearError();
    loadQueue();
  });
  errorClose.addEventListener("click", () => {
    clearError();
  });

  function backToQueue() {
    document.body.classList.remove("show-conversation");
    const item = state.openId && queueList.querySelector(`[data-id="${CSS.escape(state.openId)}"] [data-role="open"]`);
    if (item) item.focus();
    else queueList.focus();
  }

  backButton.addEventListener("click", backToQueue);
  conversation.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && isNarrow() && document.body.classList.contains("show-conversation")) backToQueue();
  });

  signOut.addEventListener("click", () => {
    store.remove(TOKEN_KEY);
    startSession("", "");
    showNotice(TEXTS.signedOut);
  });

  devForm.addEventListener("submit", devSignIn);
  window.addEventListener("hashchange", adoptHashToken);

  // Another tab signed in or out: follow it.
  followStoredToken(TOKEN_KEY, () => state.token, (token) => startSession(token, ""));

  window.setInterval(tickQueue, 1000);

  function init() {
    if (!adoptHashToken()) startSession(store.get(TOKEN_KEY) || "", "");
    updateControls();
    setupDevPanel();
  }

  init();
})();
