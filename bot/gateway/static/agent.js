/* Agent console of the "Asistente de planes y contratos" (Zenvia Customer Cloud).
 *
 * Vanilla ES2020, no dependencies. Everything the server sends is inserted as text nodes
 * (textContent / createTextNode), never as HTML.
 */
(() => {
  "use strict";

  // Helpers shared with the webchat (common.js).
  const { isStr, decodeJwt, requestJson, messageOf } = window.zcc;
  const { el, srOnly, appendText, bindComposer, fitTextarea, eventStream } = window.zcc;
  // Sign-in and the error banner, shared with the supervisors' pages (console.js).
  const { errorBanner, claimedName, signIn } = window.zcc.staff;

  const MAX_REPLY = 2000;
  const POLL_MS = 20000; // queue refresh while the live stream is down
  const NARROW = "(max-width: 859px)";
  // A burst of delivery events (or messages) reloads the open conversation at most once per this delay.
  const REFRESH_MS = 500;
  // A text the provider refuses at once is known shortly after the reply: look again after this delay.
  const AFTER_SEND_MS = 2500;
  // How often the WhatsApp window's countdown is redrawn.
  const WINDOW_TICK_MS = 30000;
  // What WhatsApp delivers (bot/gateway/attachments.py checks the same on the server) and its caps.
  const MB = 1024 * 1024;
  const ATTACH_TYPES = new Set([
    "image/jpeg", "image/png", "application/pdf", "audio/mpeg", "audio/ogg", "audio/aac", "audio/mp4", "audio/amr", "video/mp4",
  ]);
  const IMAGE_MAX_BYTES = 5 * MB;
  const FILE_MAX_BYTES = 16 * MB;
  // Files on transcript lines: a customer's (agents only, fetched with the token) or an agent's (public).
  const PRIVATE_MEDIA = /^\/api\/agent\/media\/\d+\/\d+$/;
  const PUBLIC_MEDIA = /^\/media\/[0-9A-Za-z]+$/;
  // The extension of a saved file that came without a name (a customer's), by its type.
  const EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf", "audio/mpeg": "mp3",
    "audio/ogg": "ogg", "audio/aac": "aac", "audio/mp4": "m4a", "audio/amr": "amr", "video/mp4": "mp4",
  };
  const DELIVERY_ICONS = {
    pending: "◷",
    held: "‖",
    suppressed: "⊘",
    failed: "⚠",
    sent: "✓",
    delivered: "✓✓",
    read: "✓✓",
  };

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
    // WhatsApp: who writes (their number masked by the server), deliveries, the 24-hour window, files.
    whatsappWriter: (profile, number) => (profile ? `${profile} · ${number} (WhatsApp)` : `${number} (WhatsApp)`),
    writerVerified: (number) => `WhatsApp ${number} · número verificado`,
    writerUnverified: (number, profile) =>
      profile ? `WhatsApp ${number} · nombre de perfil: ${profile} · número sin verificar` : `WhatsApp ${number} · número sin verificar`,
    delivery: {
      pending: "En cola",
      held: "Esperando que el cliente escriba (ventana cerrada)",
      suppressed: "No enviado: el cliente pidió la baja",
      failed: "No entregado",
      sent: "Enviado",
      delivered: "Entregado",
      read: "Leído",
    },
    deliveryPrefix: "Estado de entrega: ",
    errorCode: (code) => `código ${code}`,
    windowLeft: (left) => `Ventana de WhatsApp: quedan ${left}`,
    windowClosed:
      "La ventana de 24 horas de WhatsApp está cerrada: el cliente no recibirá mensajes libres hasta que vuelva a escribir.",
    reopenOffer:
      "Puedes enviarle la plantilla aprobada que lo invita a retomar la conversación; lo que escribas después le llegará cuando responda.",
    reopenTake: "Toma la conversación para poder enviarle la plantilla.",
    noTemplate:
      "No hay una plantilla aprobada configurada para retomar la conversación: no podrás escribirle hasta que el cliente vuelva a escribir.",
    templateSent: (time) =>
      time
        ? `Plantilla enviada (${time}); lo que escribas llegará cuando el cliente responda.`
        : "Plantilla enviada; lo que escribas llegará cuando el cliente responda.",
    reopenSending: "Enviando la plantilla…",
    reopenSent: "Plantilla enviada.",
    reopenFailed: "No se pudo enviar la plantilla.",
    hintOptedOut: "No puedes escribirle: el cliente pidió la baja.",
    hintHeld: "Ventana cerrada: tus mensajes esperarán a que el cliente responda.",
    media: {
      loading: "Cargando archivo…",
      failed: "No se pudo cargar el archivo.",
      customerImage: "Imagen enviada por el cliente",
      agentImage: "Imagen adjunta",
      newTab: " (se abre en una pestaña nueva)",
      open: (kind) => (kind ? `Abrir archivo (${kind})` : "Abrir archivo"),
      download: "Descargar",
      downloadNamed: (name) => `Descargar ${name}`,
    },
    attach: {
      badType:
        "WhatsApp no admite ese tipo de archivo. Envía una imagen JPG o PNG, un PDF, un audio (MP3, OGG, AAC, M4A o AMR) o un video MP4.",
      imageTooBig: "La imagen supera el máximo de 5 MB que admite WhatsApp.",
      tooBig: "El archivo supera el máximo de 16 MB.",
      empty: "El archivo está vacío.",
      remove: (name) => `Quitar el archivo ${name}`,
      refused: "No se pudo enviar el archivo.",
    },
    failedCount: (n) => (n === 1 ? "1 mensaje sin entregar (24 h)" : `${n} mensajes sin entregar (24 h)`),
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
  const errorText = $("agent-error");
  const notice = $("agent-notice");
  const connection = $("connection");
  const connectionText = $("connection-text");
  const failedCount = $("failed-count");
  const conversationChannel = $("conversation-channel");
  const conversationWriter = $("conversation-writer");
  const conversationWindow = $("conversation-window");
  const lastAnswer = $("last-answer");
  const lastAnswerDelivery = $("last-answer-delivery");
  const windowPanel = $("window-closed");
  const windowPanelText = $("window-closed-text");
  const reopenButton = $("reopen-template");
  const reopenStatus = $("reopen-status");
  const optedOutNote = $("opted-out");
  const attachInput = $("attach-file");
  const attachmentChip = $("attachment");
  const attachmentName = $("attachment-name");
  const attachmentSize = $("attachment-size");
  const attachmentRemove = $("attachment-remove");
  const attachError = $("attach-error");

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

  /** 1234567 -> "1,2 MB"; 2048 -> "2 KB". */
  function formatSize(bytes) {
    const n = Number(bytes);
    if (!Number.isFinite(n) || n < 0) return "";
    if (n < 1024) return `${n} B`;
    const [value, unit] = n < MB ? [n / 1024, "KB"] : [n / MB, "MB"];
    try {
      return `${value.toLocaleString("es", { maximumFractionDigits: value < 10 ? 1 : 0 })} ${unit}`;
    } catch (_) {
      return `${Math.round(value)} ${unit}`;
    }
  }

  /** What is left of a window: "3 h 12 min", "45 min", "menos de 1 min" (minutes rounded down). */
  function formatLeft(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (h > 0) return `${h} h ${m} min`;
    return m > 0 ? `${m} min` : "menos de 1 min";
  }

  /** The bare MIME type of a file ("image/jpeg; x=y" -> "image/jpeg"), lower case. */
  const mimeOf = (value) => (isStr(value) ? value.split(";", 1)[0].trim().toLowerCase() : "");

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
    busy: { take: new Set(), reply: false, resolve: false, reopen: false },
    contextOpen: null, // whether the agent last unfolded the customer's data (null: not chosen)
    attachment: null, // the File the agent chose for their next reply
    reopenStatus: "", // what became of the last template sent from the open conversation
  };

  // ---------------------------------------------------------------------------------------------
  // Messages to the agent

  const { show: showError, clear: clearError } = errorBanner("agent");

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
    // A FormData body (a file) goes as multipart: the browser writes its Content-Type and boundary.
    const multipart = typeof FormData === "function" && payload instanceof FormData;
    if (payload !== undefined && !multipart) headers["Content-Type"] = "application/json";
    const r = await requestJson(path, {
      method,
      headers,
      cache: "no-store",
      body: payload === undefined ? undefined : multipart ? payload : JSON.stringify(payload),
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
    session.offer();
  }

  // ---------------------------------------------------------------------------------------------
  // Handoffs

  function cleanHandoff(h) {
    if (!h || typeof h !== "object" || h.id === undefined || h.id === null) return null;
    return h;
  }

  /** Who writes on WhatsApp: {channel, number (masked), profile_name, verified}, or null (webchat). */
  function writerOf(h) {
    const w = h && h.writer;
    return w && typeof w === "object" && isStr(w.number) && w.number ? w : null;
  }

  const hasUserName = (h) => isStr(h.user_name) && Boolean(h.user_name.trim());

  function userName(h, context) {
    if (context && context.user && isStr(context.user.name) && context.user.name.trim()) return context.user.name;
    if (hasUserName(h)) return h.user_name;
    // An unverified WhatsApp sender is known by the name their profile shows and their (masked) number.
    const w = writerOf(h);
    if (w) return TEXTS.whatsappWriter(isStr(w.profile_name) && w.profile_name.trim() ? w.profile_name.trim() : "", w.number);
    return TEXTS.anonymous;
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

  /** A hand-off from a take or resolve answer over what is known: those answers name nobody (no user or agent
   * name, no writer), so the names already known stay. */
  function mergeAnswer(known, h) {
    const merged = Object.assign({}, known, h);
    for (const key of ["user_name", "agent_name", "writer"]) {
      if ((h[key] === null || h[key] === undefined) && known && known[key] !== undefined) merged[key] = known[key];
    }
    return merged;
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
      const merged = withBase(mergeAnswer(state.queue[i], h), at);
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
    if (Number.isInteger(r.body.failed)) renderFailedCount(r.body.failed);
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
    const writer = writerOf(h);
    if (writer && hasUserName(h)) top.appendChild(el("span", "queue-number", { "data-testid": "queue-number" }, writer.number));
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
    leaveConversation();
    conversationBody.hidden = true;
    conversationEmpty.hidden = false;
    document.body.classList.remove("show-conversation");
  }

  /** What belongs to one conversation only: its files' object URLs, a chosen file, pending reloads. */
  function leaveConversation() {
    resetMedia();
    clearAttachment();
    state.reopenStatus = "";
    window.clearTimeout(refresh.timer);
    refresh.timer = 0;
    refresh.again = false;
    window.clearTimeout(windowEndTimer);
    windowEndTimer = 0;
  }

  async function openHandoff(id, options) {
    const focus = Boolean(options && options.focus);
    const same = id === state.openId && state.open;
    if (id !== state.openId) leaveConversation();
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
    conversationChannel.hidden = true;
    conversationWriter.hidden = true;
    conversationWindow.hidden = true;
    lastAnswer.hidden = true;
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
      afterLoad();
      return;
    }
    const reload = Boolean(state.open);
    const messages = Array.isArray(r.body.messages) ? r.body.messages.filter((m) => m && typeof m === "object") : [];
    const contact = cleanContact(r.body.contact);
    const open = {
      handoff: withWriter(r.body.handoff, contact, findQueued(id)),
      messages: [],
      context: r.body.context && typeof r.body.context === "object" ? r.body.context : {},
      contact,
      lastAnswer: cleanDelivery(r.body.last_answer),
      // The window counts down from what the server said it had left when it answered (the agent's clock
      // may be off; the server's is the one that decides).
      windowBase: contact && contact.window ? windowBase(contact.window) : null,
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
    renderConversation(reload);
    scheduleWindowEnd();
    afterLoad();
  }

  /** Reload the open conversation (after a conflict, or when it left the queue); after the current load when
   * one runs, as it may have been answered before the change. */
  function refreshOpen() {
    if (!state.openId) return;
    if (state.loading) refresh.again = true;
    else loadOpen(state.openId);
  }

  // Reloads asked for by live events (deliveries, a customer's message that reopens the window, a file whose
  // address only the detail has): one at a time, at most one per REFRESH_MS, none lost while one runs.
  const refresh = { timer: 0, last: 0, again: false };

  function refreshSoon(delay) {
    if (!state.openId || refresh.timer) return;
    const wait = Math.max(delay || 0, refresh.last + REFRESH_MS - Date.now(), 0);
    refresh.timer = window.setTimeout(runRefresh, wait);
  }

  function runRefresh() {
    refresh.timer = 0;
    if (!state.openId) return;
    if (state.loading) {
      refresh.again = true;
      return;
    }
    refresh.last = Date.now();
    loadOpen(state.openId);
  }

  function afterLoad() {
    if (!refresh.again) return;
    refresh.again = false;
    refreshSoon();
  }

  // ---------------------------------------------------------------------------------------------
  // WhatsApp: the contact, its 24-hour window and the deliveries of texts

  /** The detail's `contact` (null for the webchat), or null when malformed. */
  function cleanContact(c) {
    if (!c || typeof c !== "object" || !isStr(c.number)) return null;
    const w = c.window && typeof c.window === "object" ? c.window : null;
    return {
      number: c.number,
      profile_name: isStr(c.profile_name) && c.profile_name.trim() ? c.profile_name.trim() : null,
      opted_out: c.opted_out === true,
      window: w && (isStr(w.closes_at) || Number.isFinite(w.seconds_left)) ? w : null,
      template: c.template === true,
      template_sent_at: isStr(c.template_sent_at) && c.template_sent_at ? c.template_sent_at : null,
    };
  }

  /** The detail's hand-off with who writes: its contact says it (the latest profile name), else the queue. */
  function withWriter(h, contact, queued) {
    const copy = Object.assign({}, h);
    const fromQueue = writerOf(queued);
    if (contact) {
      copy.writer = {
        channel: isStr(h.channel) ? h.channel : "whatsapp",
        number: contact.number,
        profile_name: contact.profile_name,
        verified: fromQueue ? Boolean(fromQueue.verified) : h.user_id !== null && h.user_id !== undefined,
      };
    } else if (fromQueue && !writerOf(copy)) {
      copy.writer = fromQueue;
    }
    return copy;
  }

  function windowBase(w) {
    if (Number.isFinite(w.seconds_left)) return { deadline: Date.now() + w.seconds_left * 1000 };
    const closes = parseDate(w.closes_at);
    return closes ? { deadline: closes.getTime() } : null;
  }

  /** The open conversation's window now: null (not WhatsApp, or unknown), else {open, left (seconds)}. */
  function windowNow() {
    const open = state.open;
    if (!open || !open.contact || !open.contact.window || !open.windowBase) return null;
    const left = Math.max(0, (open.windowBase.deadline - Date.now()) / 1000);
    return { open: open.contact.window.open !== false && left > 0, left };
  }

  let windowEndTimer = 0;

  /** Redraw the moment the window closes (the countdown itself only moves every WINDOW_TICK_MS). */
  function scheduleWindowEnd() {
    window.clearTimeout(windowEndTimer);
    windowEndTimer = 0;
    const w = windowNow();
    // setTimeout takes at most 2^31-1 ms: a window is 24 hours at most.
    if (w && w.open) windowEndTimer = window.setTimeout(tickWindow, Math.min(w.left * 1000 + 250, 2 ** 31 - 1));
  }

  function tickWindow() {
    const open = state.open;
    if (!open || !open.contact || !open.contact.window) return;
    const w = windowNow();
    renderWindow();
    updateControls();
    // Closed by the clock here: ask the server what is true now (a template, a customer who wrote).
    if (w && !w.open && open.contact.window.open !== false) {
      open.contact.window = Object.assign({}, open.contact.window, { open: false });
      refreshSoon();
    }
  }

  function renderWindow() {
    const w = windowNow();
    conversationWindow.hidden = !w;
    if (!w) {
      conversationWindow.textContent = "";
      return;
    }
    const text = w.open ? TEXTS.windowLeft(formatLeft(w.left)) : TEXTS.windowClosed;
    if (conversationWindow.textContent !== text) conversationWindow.textContent = text;
    // Under an hour left: the agent should know before the conversation is cut.
    conversationWindow.dataset.state = !w.open ? "closed" : w.left < 3600 ? "closing" : "open";
  }

  function renderWriter(h) {
    const w = writerOf(h);
    conversationWriter.hidden = !w;
    if (!w) {
      conversationWriter.textContent = "";
      return;
    }
    const profile = isStr(w.profile_name) && w.profile_name.trim() ? w.profile_name.trim() : "";
    conversationWriter.textContent = w.verified ? TEXTS.writerVerified(w.number) : TEXTS.writerUnverified(w.number, profile);
  }

  /** A delivery as the server gives it ({state, error_code, error, error_text}), or null. */
  function cleanDelivery(d) {
    return d && typeof d === "object" && isStr(d.state) && d.state ? d : null;
  }

  const deliverySig = (d) => (d ? JSON.stringify([d.state, d.error_code || null, d.error_text || d.error || null]) : "");

  /** The explanation of a delivery that did not go well: what the provider's error means, and its code. */
  function deliveryDetail(d, kind) {
    if (kind === "sent" || kind === "delivered" || kind === "read") return "";
    const code = isStr(d.error_code) && d.error_code ? d.error_code : "";
    let text = isStr(d.error_text) && d.error_text ? d.error_text : "";
    // The provider's (or the outbox's) own words, not always Spanish: only where nothing else says why.
    if (!text && kind === "failed" && isStr(d.error) && d.error) text = d.error;
    if (!text && !code) return "";
    if (!code) return text;
    // error_text for a code not listed already names it ("Error 63099 de Twilio…").
    if (text.includes(code)) return text;
    return text ? `${text} (${TEXTS.errorCode(code)})` : `(${TEXTS.errorCode(code)})`;
  }

  /** The label of a delivery: an icon (decorative), the state in words and, when it failed, why. */
  function renderDelivery(d, testid) {
    const kind = Object.prototype.hasOwnProperty.call(TEXTS.delivery, d.state) ? d.state : "";
    const label = el("span", `delivery delivery-${kind || "other"}`, { "data-testid": testid, "data-state": d.state });
    label.appendChild(srOnly(TEXTS.deliveryPrefix));
    label.appendChild(el("span", "delivery-icon", { "aria-hidden": "true" }, DELIVERY_ICONS[kind] || "◷"));
    label.appendChild(el("span", "delivery-state", null, kind ? TEXTS.delivery[kind] : d.state));
    const detail = deliveryDetail(d, kind);
    if (detail) label.appendChild(el("span", "delivery-detail", null, detail));
    return label;
  }

  function renderLastAnswer() {
    const d = state.open ? state.open.lastAnswer : null;
    lastAnswer.hidden = !d;
    const sig = deliverySig(d);
    if (lastAnswerDelivery.dataset.sig === sig) return;
    lastAnswerDelivery.dataset.sig = sig;
    lastAnswerDelivery.replaceChildren();
    if (d) {
      const label = renderDelivery(d, "");
      // The label goes in the element that carries the test id (kept in the page).
      lastAnswerDelivery.className = label.className;
      lastAnswerDelivery.dataset.state = d.state;
      lastAnswerDelivery.append(...label.childNodes);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Files on transcript lines. A customer's file needs the agent's token, so it is fetched into a Blob shown
  // through an object URL; those URLs are revoked when the conversation changes. An agent's attachment is
  // public (the provider fetches it too) and loads directly.

  let media = { cache: new Map(), urls: [] };

  function resetMedia() {
    for (const url of media.urls) URL.revokeObjectURL(url);
    media = { cache: new Map(), urls: [] };
  }

  /** A customer's file as {url} (an object URL) or {error}; each address is fetched once per conversation. */
  function privateMedia(path) {
    let found = media.cache.get(path);
    if (!found) {
      found = fetchMedia(path, media);
      media.cache.set(path, found);
    }
    return found;
  }

  async function fetchMedia(path, owner) {
    const forget = () => owner.cache.delete(path); // a failure is tried again next time
    let response;
    try {
      response = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` }, cache: "no-store", credentials: "same-origin" });
    } catch (_) {
      forget();
      return { error: TEXTS.network };
    }
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch (_) {
        /* not JSON */
      }
      forget();
      return { error: messageOf(body, TEXTS.media.failed) };
    }
    let blob;
    try {
      blob = await response.blob();
    } catch (_) {
      forget();
      return { error: TEXTS.media.failed };
    }
    if (owner !== media) return { error: "" }; // the conversation changed meanwhile: nothing to keep
    const url = URL.createObjectURL(blob);
    owner.urls.push(url);
    return { url };
  }

  /** "Abrir archivo (PDF)": the kind from the type, else from the name's extension. */
  function fileKind(type, name) {
    if (type === "application/pdf") return "PDF";
    const ext = isStr(name) ? /\.([A-Za-z0-9]{1,5})$/.exec(name) : null;
    if (ext) return ext[1].toUpperCase();
    const sub = type.split("/")[1] || "";
    return /^[a-z0-9]{1,5}$/.test(sub) ? sub.toUpperCase() : "";
  }

  function renderMedia(m) {
    const items = Array.isArray(m.media) ? m.media : [];
    if (!items.length) return null;
    const box = el("div", "msg-media");
    items.forEach((item, index) => box.appendChild(renderMediaItem(m, item, index)));
    return box;
  }

  function renderMediaItem(m, item, index) {
    const slot = el("div", "media-item", { "data-testid": `media-${idOf(m.id)}-${index}` });
    const path = item && typeof item === "object" && isStr(item.url) ? item.url : "";
    const info = {
      type: mimeOf(item && item.content_type),
      name: item && isStr(item.name) && item.name.trim() ? item.name.trim() : "",
      size: item ? item.size : undefined,
      fromCustomer: m.role === "user",
    };
    // Saved under a name the agent can find again: "archivo-123-0.pdf" when the file came without one.
    info.saveAs = info.name || `archivo-${idOf(m.id)}-${index}${EXTENSIONS[info.type] ? `.${EXTENSIONS[info.type]}` : ""}`;
    if (PUBLIC_MEDIA.test(path)) {
      showMedia(slot, path, info);
    } else if (PRIVATE_MEDIA.test(path)) {
      slot.appendChild(el("span", "media-note", null, TEXTS.media.loading));
      slot.setAttribute("aria-busy", "true");
      privateMedia(path).then((found) => {
        slot.setAttribute("aria-busy", "false");
        if (found.url) showMedia(slot, found.url, info);
        else if (found.error) slot.replaceChildren(el("span", "media-error", null, found.error));
      });
    } else {
      // A live line carries no address for its files yet: the reload it triggers brings them.
      slot.appendChild(el("span", "media-note", null, TEXTS.media.loading));
    }
    return slot;
  }

  function showMedia(slot, src, info) {
    const nodes = [];
    if (info.type.startsWith("image/")) {
      const alt = info.name || (info.fromCustomer ? TEXTS.media.customerImage : TEXTS.media.agentImage);
      const link = el("a", "media-thumb", { href: src, target: "_blank", rel: "noopener" });
      const img = el("img", "", { src, alt });
      img.addEventListener("load", keepEnd, { once: true });
      link.appendChild(img);
      link.appendChild(srOnly(TEXTS.media.newTab));
      nodes.push(link);
    } else if (info.type.startsWith("audio/") || info.type.startsWith("video/")) {
      const player = el(info.type.startsWith("audio/") ? "audio" : "video", "media-player", { controls: "", preload: "metadata", src });
      player.addEventListener("loadedmetadata", keepEnd, { once: true });
      nodes.push(player, downloadLine(src, info));
    } else {
      const line = el("span", "media-file");
      const link = el("a", "media-open", { href: src, target: "_blank", rel: "noopener" }, TEXTS.media.open(fileKind(info.type, info.name)));
      link.appendChild(srOnly(TEXTS.media.newTab));
      line.appendChild(link);
      nodes.push(line, downloadLine(src, info));
    }
    slot.replaceChildren(...nodes);
    keepEnd();
  }

  /** The file's name and size, and a link that saves it (a player cannot play every format WhatsApp sends). */
  function downloadLine(src, info) {
    const line = el("span", "media-meta");
    const about = [info.name, formatSize(info.size)].filter(Boolean).join(" · ");
    if (about) line.appendChild(el("span", "media-about", null, about));
    const link = el("a", "media-download", { href: src, download: info.saveAs }, TEXTS.media.download);
    if (info.name) link.setAttribute("aria-label", TEXTS.media.downloadNamed(info.name));
    line.appendChild(link);
    return line;
  }

  // ---------------------------------------------------------------------------------------------
  // The conversation's head and transcript

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
    renderWriter(h);
    renderWindow();
    renderLastAnswer();
    conversationChannel.hidden = conversationWriter.hidden && conversationWindow.hidden && lastAnswer.hidden;

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

  /** What a line shows besides its delivery: when it changes the line is drawn again. */
  function contentSig(m) {
    const files = Array.isArray(m.media) ? m.media.map((f) => (f && typeof f === "object" ? [f.url, f.content_type] : null)) : [];
    return JSON.stringify([m.role, m.text, m.created_at, files]);
  }

  function renderMessage(m) {
    const role = TEXTS.roles[m.role] ? m.role : "system";
    const bubble = el("div", `msg ${role}`, { "data-testid": `transcript-${role}` });
    if (m.id !== undefined && m.id !== null) bubble.dataset.id = idOf(m.id);
    bubble.dataset.sig = contentSig(m);
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
    const text = isStr(m.text) ? m.text : "";
    const files = renderMedia(m);
    if (text || !files) {
      const body = el("span", "msg-body");
      appendText(body, text);
      bubble.appendChild(body);
    }
    if (files) bubble.appendChild(files);
    syncDelivery(bubble, m);
    return bubble;
  }

  /** Put a line's delivery label in its bubble, or update it in place (the rest of the bubble stays). */
  function syncDelivery(bubble, m) {
    const d = cleanDelivery(m.delivery);
    const sig = deliverySig(d);
    if ((bubble.dataset.delivery || "") === sig) return;
    bubble.dataset.delivery = sig;
    const old = bubble.querySelector(":scope > .delivery");
    const label = d ? renderDelivery(d, `delivery-${idOf(m.id)}`) : null;
    if (old && label) old.replaceWith(label);
    else if (old) old.remove();
    else if (label) bubble.appendChild(label);
    bubble.classList.toggle("is-failed", Boolean(d && d.state === "failed"));
  }

  const nearBottom = () => transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;

  // Whether the agent reads the end of the transcript (updated as they scroll): a file that loads later makes
  // the lines taller, and must not push the latest message out of sight.
  let atEnd = true;
  transcript.addEventListener("scroll", () => {
    atEnd = nearBottom();
  }, { passive: true });

  function scrollTranscript() {
    transcript.scrollTop = transcript.scrollHeight;
    atEnd = true;
  }

  function keepEnd() {
    if (atEnd) scrollTranscript();
  }

  /**
   * Draw the open conversation. A reload (`keepPlace`) changes only the lines that changed and keeps the
   * scroll position unless the agent was at the bottom: a burst of delivery updates neither moves what the
   * agent reads nor stops a recording they play.
   */
  function renderConversation(keepPlace) {
    const open = state.open;
    if (!open) return;
    conversationEmpty.hidden = true;
    conversationBody.hidden = false;
    renderConversationHead();
    const atBottom = nearBottom();
    if (!open.messages.length) transcript.replaceChildren(el("p", "transcript-note", null, TEXTS.noMessages));
    else syncTranscript(open.messages);
    transcript.setAttribute("aria-busy", "false");
    if (!keepPlace || atBottom) scrollTranscript();
  }

  function syncTranscript(messages) {
    const old = new Map();
    for (const node of transcript.children) if (node.dataset.id) old.set(node.dataset.id, node);
    const nodes = messages.map((m) => {
      const node = old.get(idOf(m.id));
      if (node && node.dataset.sig === contentSig(m)) {
        syncDelivery(node, m);
        return node;
      }
      return renderMessage(m);
    });
    const keep = new Set(nodes);
    for (const node of Array.from(transcript.children)) if (!keep.has(node)) node.remove();
    nodes.forEach((node, i) => {
      const at = transcript.children[i];
      if (at !== node) transcript.insertBefore(node, at || null);
    });
  }

  /** A message for the open conversation (live stream or our own reply), once per id. */
  function appendMessage(m) {
    if (!state.open || !m || typeof m !== "object") return;
    const key = idOf(m.id);
    if (key) {
      if (state.open.seen.has(key)) return;
      state.open.seen.add(key);
    }
    // An agent's text on WhatsApp waits in the outbox first; the reload that follows tells how it went.
    if (m.role === "agent" && state.open.contact && !cleanDelivery(m.delivery)) m = Object.assign({}, m, { delivery: { state: "pending" } });
    state.open.messages.push(m);
    const empty = transcript.querySelector(".transcript-note");
    if (empty) empty.remove();
    const atBottom = nearBottom();
    transcript.appendChild(renderMessage(m));
    if (atBottom || m.role === "agent") scrollTranscript();
  }

  function updateControls() {
    // Until the conversation is loaded nothing is enabled; a reload keeps what is known.
    const h = state.open ? state.open.handoff : null;
    const mine = isMine(h);
    const contact = state.open ? state.open.contact : null;
    const optedOut = Boolean(contact && contact.opted_out);
    const w = windowNow();
    const closed = Boolean(w && !w.open);
    const templateSent = Boolean(contact && contact.template_sent_at);
    // Past the window nothing free-form reaches the customer: until a template invites them back the panel
    // takes the composer's place; after it, what the agent writes waits for the customer ("held").
    const panel = Boolean(h && h.status !== "resolved" && closed && !optedOut);
    const blocked = optedOut || (closed && !templateSent);
    const canWrite = mine && !blocked;
    reply.disabled = !canWrite;
    sendButton.disabled = !canWrite || state.busy.reply;
    attachInput.disabled = !canWrite || state.busy.reply;
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
    } else if (optedOut) hint = TEXTS.hintOptedOut;
    else if (closed) hint = TEXTS.hintHeld;
    replyHint.textContent = hint;
    replyForm.classList.toggle("is-locked", !canWrite);
    optedOutNote.hidden = !optedOut;
    renderWindowPanel(panel, mine, contact, templateSent);
    const hideForm = panel && !templateSent;
    if (hideForm && replyForm.contains(document.activeElement)) {
      // The composer the agent was in goes away: give the focus to what replaces it.
      (reopenButton.hidden || reopenButton.disabled ? conversationUser : reopenButton).focus();
    }
    replyForm.hidden = hideForm;
  }

  function renderWindowPanel(shown, mine, contact, templateSent) {
    windowPanel.hidden = !shown;
    if (!shown) {
      reopenButton.hidden = true;
      state.reopenStatus = ""; // about a window that is no longer closed
      return;
    }
    let text = TEXTS.noTemplate;
    if (templateSent) text = TEXTS.templateSent(formatTime(contact.template_sent_at));
    else if (contact.template) text = mine ? TEXTS.reopenOffer : `${TEXTS.reopenOffer} ${TEXTS.reopenTake}`;
    if (windowPanelText.textContent !== text) windowPanelText.textContent = text;
    reopenButton.hidden = !contact.template || templateSent;
    reopenButton.disabled = !mine || state.busy.reopen;
    if (reopenStatus.textContent !== state.reopenStatus) reopenStatus.textContent = state.reopenStatus;
  }

  // ---------------------------------------------------------------------------------------------
  // The file attached to the next reply

  /** Why WhatsApp would refuse this file, in the agent's words; "" when it may go. */
  function attachmentRefusal(file) {
    const type = mimeOf(file.type);
    if (!ATTACH_TYPES.has(type)) return TEXTS.attach.badType;
    if (!file.size) return TEXTS.attach.empty;
    if (type.startsWith("image/") && file.size > IMAGE_MAX_BYTES) return TEXTS.attach.imageTooBig;
    if (file.size > FILE_MAX_BYTES) return TEXTS.attach.tooBig;
    return "";
  }

  function chooseAttachment(file) {
    const refusal = attachmentRefusal(file);
    if (refusal) {
      showAttachError(refusal);
      return;
    }
    showAttachError("");
    state.attachment = file;
    renderAttachment();
  }

  function clearAttachment() {
    state.attachment = null;
    showAttachError("");
    renderAttachment();
  }

  function renderAttachment() {
    const file = state.attachment;
    attachmentChip.hidden = !file;
    attachmentName.textContent = file ? file.name : "";
    attachmentSize.textContent = file ? `(${formatSize(file.size)})` : "";
    attachmentRemove.setAttribute("aria-label", file ? TEXTS.attach.remove(file.name) : "");
  }

  function showAttachError(message) {
    attachError.textContent = message;
    attachError.hidden = !message;
  }

  /** The count of texts not delivered in the last 24 hours, in the queue's header (hidden at 0). The API for
   * it does not exist yet: call this with its number once it does (the queue or its own endpoint). */
  function renderFailedCount(n) {
    const count = Number.isInteger(n) && n > 0 ? n : 0;
    failedCount.hidden = count === 0;
    failedCount.textContent = count ? TEXTS.failedCount(count) : "";
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
        state.open.handoff = mergeAnswer(state.open.handoff, h);
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
    if (!state.open || state.busy.reply || !isMine(state.open.handoff) || reply.disabled) return;
    const text = reply.value.trim();
    const file = state.attachment;
    if (!text && !file) return;
    const id = state.openId;
    clearError();
    state.busy.reply = true;
    updateControls();
    const path = `/api/agent/handoffs/${encodeURIComponent(id)}`;
    let r;
    if (file) {
      // A file goes with the text as its caption (which may be empty), in one message.
      const form = new FormData();
      form.append("file", file, file.name);
      form.append("text", text);
      r = await api("POST", `${path}/attachments`, form);
    } else {
      r = await api("POST", `${path}/reply`, { text });
    }
    state.busy.reply = false;
    if (r.stale) return;
    updateControls();
    if (r.ok && r.body && r.body.message) {
      if (state.openId === id) {
        // Keep whatever was typed (or chosen) meanwhile after what was sent.
        if (reply.value.trim() === text) reply.value = "";
        if (state.attachment === file) clearAttachment();
        appendMessage(r.body.message);
        autoGrow();
        reply.focus();
        // The line's file has its address in the detail only; on WhatsApp, a text the provider refuses at
        // once is known shortly after: show both on the line.
        if (file) refreshSoon();
        if (state.open && state.open.contact) {
          window.setTimeout(() => {
            if (state.openId === id) refreshSoon();
          }, AFTER_SEND_MS);
        }
      }
      return;
    }
    if (file && (r.status === 400 || r.status === 413 || r.status === 415) && state.openId === id) {
      // The file was refused (type, size, contents): say why next to it, and keep it to be replaced.
      showAttachError(messageOf(r.body, TEXTS.attach.refused));
      return;
    }
    ownActionFailed(r, id);
  }

  /** The approved template that invites a customer whose window closed to write again. */
  async function reopenConversation() {
    if (!state.open || state.busy.reopen || !isMine(state.open.handoff)) return;
    const id = state.openId;
    clearError();
    state.busy.reopen = true;
    state.reopenStatus = TEXTS.reopenSending;
    updateControls();
    const r = await api("POST", `/api/agent/handoffs/${encodeURIComponent(id)}/reopen`);
    state.busy.reopen = false;
    if (r.stale || state.openId !== id || !state.open) return;
    if (r.ok && r.body && r.body.message) {
      state.reopenStatus = "";
      appendMessage(r.body.message);
      if (state.open.contact) state.open.contact.template_sent_at = new Date().toISOString();
      updateControls();
      showNotice(TEXTS.reopenSent);
      if (!reply.disabled) reply.focus();
      refreshSoon(AFTER_SEND_MS);
      return;
    }
    state.reopenStatus = r.status === 0 ? TEXTS.network : messageOf(r.body, TEXTS.reopenFailed);
    updateControls();
    if (r.status === 401 || r.status === 403) return;
    // Refused (the customer wrote, a template already went, they opted out, not ours): show what is true now.
    if (r.status === 409) {
      refreshSoon();
      if (r.body && r.body.error === "not_assigned") loadQueue();
    }
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
        state.open.handoff = mergeAnswer(state.open.handoff, h);
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
        if (Number.isInteger(data.failed)) renderFailedCount(data.failed);
      },
      message: (data) => onLiveMessage(data),
      delivery: (data) => onDelivery(data),
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
      // Live lines carry no addresses for their files; on WhatsApp a customer's message reopens the window
      // and a notice may say they opted out: the detail has all of it.
      if (Array.isArray(m.media) ? m.media.length > 0 : state.open && state.open.contact) refreshSoon();
      return;
    }
    // Only the customer's and the system's messages need the agent's attention.
    if (m.role === "agent" || m.role === "bot") return;
    state.unread.add(id);
    renderQueue();
  }

  /** A text's delivery changed (a status callback): the open conversation's lines show it after a reload. */
  function onDelivery(data) {
    if (idOf(data.handoff_id) === state.openId && state.openId) refreshSoon();
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

  const session = signIn({
    tokenKey: "zcc.agent.token",
    profile: "agent",
    current: () => state.token,
    start: startSession,
    texts: { devNone: TEXTS.devNoAgents, devLoginFailed: TEXTS.devLoginFailed },
    devLabel: (u, name) => (u.account ? `${name} — ${u.email}` : name),
    wantsSignIn: () => !state.token || state.authFailed,
    signedOut: () => showNotice(TEXTS.signedOut),
    devSignedIn: () => queueList.focus(),
  });

  function startSession(token, name) {
    state.generation += 1;
    state.token = token;
    state.authFailed = false;
    state.queue = [];
    state.queueLoaded = false;
    state.unread.clear();
    state.busy = { take: new Set(), reply: false, resolve: false, reopen: false };
    closeEvents();
    closeConversation();
    clearError();
    renderFailedCount(0);
    const claims = token ? decodeJwt(token) : null;
    state.me.agentId = claims && claims.sub !== undefined ? idOf(claims.sub) : "";
    const displayName = name || claimedName(token, true);
    state.me.name = displayName;
    session.show(token, displayName);
    renderQueue();
    if (!token) {
      setConnection("off");
      showError(TEXTS.needAgent);
      session.offer();
      return;
    }
    loadQueue().then(() => {
      if (state.token === token && !state.authFailed) openEvents();
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
  reopenButton.addEventListener("click", reopenConversation);
  attachInput.addEventListener("change", () => {
    const file = attachInput.files && attachInput.files[0];
    // Emptied so that the same file can be chosen again after removing it.
    attachInput.value = "";
    if (file) chooseAttachment(file);
  });
  attachmentRemove.addEventListener("click", () => {
    clearAttachment();
    attachInput.focus();
  });
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

  window.setInterval(tickQueue, 1000);
  window.setInterval(tickWindow, WINDOW_TICK_MS);

  function init() {
    session.begin();
    updateControls();
  }

  init();
})();
