/* The not-understood review of the "Asistente de planes y contratos" (Zenvia Customer Cloud), for
 * supervisors: messages the assistant did not understand, grouped by similarity; each group gets the right
 * intent (and each message its entities) or is set aside as out of scope, in a few clicks.
 *
 * Vanilla ES2020. Everything the server sends is inserted as text nodes, never as HTML. The token travels
 * in the Authorization header only.
 */
(() => {
  "use strict";

  const { isStr, requestJson, el } = window.zcc;
  const { errorBanner, refusal, claimedName, signIn, SUPERVISOR } = window.zcc.staff;

  const TEXTS = {
    loading: "Cargando mensajes…",
    waiting: (n) => (n === 1 ? "1 mensaje en espera de revisión" : `${n} mensajes en espera de revisión`),
    shownOf: (shown, n) => ` (se muestran los ${shown} más antiguos)`,
    none: "No hay mensajes en espera. ¡Todo revisado!",
    size: (n) => (n === 1 ? "1 mensaje" : `${n} mensajes`),
    channels: { webchat: "Webchat", whatsapp: "WhatsApp" },
    reasons: { fallback: "respuesta por defecto", handoff: "derivado tras no entender" },
    context: "Ver la conversación",
    user: "Cliente: ",
    bot: "Asistente: ",
    pickIntent: "Elige la intención…",
    intentLabel: "Intención del grupo",
    assign: "Asignar intención",
    outOfScope: "Fuera de alcance",
    entityLabel: "Entidad",
    entityWords: "Palabras del mensaje",
    addEntity: "Añadir entidad",
    removeEntity: (name, words) => `Quitar ${name}: ${words}`,
    notInText: (words) => `«${words}» no aparece en el mensaje.`,
    noneSelected: "Elige al menos un mensaje del grupo.",
    noIntent: "Elige una intención.",
    done: (n) => (n === 1 ? "1 mensaje revisado." : `${n} mensajes revisados.`),
    select: (text) => `Incluir «${text}»`,
  };

  const $ = (id) => document.getElementById(id);
  const waitingLine = $("review-waiting");
  const groupsBox = $("groups");

  const state = { token: "", generation: 0, lastDone: "" };

  const { show: showError, clear: clearError } = errorBanner("review");
  const refused = (r) => refusal(r, SUPERVISOR.needProfile);

  const headers = () => ({ Accept: "application/json", Authorization: `Bearer ${state.token}` });

  // ---------------------------------------------------------------------------------------------
  // Rendering

  function when(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : date.toLocaleString("es-MX", { dateStyle: "medium", timeStyle: "short" });
  }

  function renderContext(lines) {
    const box = el("details", "review-context");
    box.appendChild(el("summary", "", null, TEXTS.context));
    const list = el("ol");
    for (const line of Array.isArray(lines) ? lines : []) {
      if (!line || !isStr(line.text)) continue;
      const item = el("li", line.role === "user" ? "line-user" : "line-bot");
      item.appendChild(el("span", "visually-hidden", null, line.role === "user" ? TEXTS.user : TEXTS.bot));
      item.appendChild(document.createTextNode(line.text));
      list.appendChild(item);
    }
    box.appendChild(list);
    return box;
  }

  /** An item's entity controls: the chips added so far, a type and the words, "Añadir". */
  function renderEntities(item, entityNames, picked) {
    const box = el("div", "review-entities", { "data-testid": "review-entities" });
    const chips = el("span", "entity-chips");
    const type = el("select", "", { "aria-label": TEXTS.entityLabel, "data-testid": "entity-type" });
    for (const name of entityNames) type.appendChild(el("option", "", { value: name }, name));
    const words = el("input", "", { type: "text", "aria-label": TEXTS.entityWords, "data-testid": "entity-words", maxlength: "100" });
    const add = el("button", "secondary", { type: "button", "data-testid": "entity-add" }, TEXTS.addEntity);
    const redraw = () => {
      chips.replaceChildren();
      for (const [index, entity] of picked.entries()) {
        const chip = el("button", "entity-chip", { type: "button", "aria-label": TEXTS.removeEntity(entity.entity, entity.text) }, `${entity.entity}: ${entity.text}`);
        chip.addEventListener("click", () => {
          picked.splice(index, 1);
          redraw();
        });
        chips.appendChild(chip);
      }
    };
    add.addEventListener("click", () => {
      const text = words.value.trim();
      if (!text) return;
      if (!item.text.toLocaleLowerCase("es").includes(text.toLocaleLowerCase("es"))) {
        showError(TEXTS.notInText(text));
        return;
      }
      picked.push({ entity: type.value, text });
      words.value = "";
      redraw();
    });
    box.append(chips, type, words, add);
    return box;
  }

  function renderGroup(group, body) {
    const section = el("section", "review-group", { "data-testid": "review-group" });
    const title = el("h2");
    title.appendChild(document.createTextNode(`«${group.label}» `));
    title.appendChild(el("span", "review-group-size", null, `· ${TEXTS.size(group.size)}`));
    section.appendChild(title);

    const list = el("ul", "review-items");
    const rows = [];
    for (const item of group.items) {
      const li = el("li", "review-item", { "data-testid": "review-item", "data-id": String(item.id) });
      const head = el("label", "review-item-head");
      const box = el("input", "", { type: "checkbox", "data-testid": "review-select", "aria-label": TEXTS.select(item.text) });
      box.checked = true;
      head.append(box, el("span", "review-text", { "data-testid": "review-text" }, item.text));
      li.appendChild(head);
      const channel = TEXTS.channels[item.channel] || item.channel;
      const reason = TEXTS.reasons[item.reason] || item.reason;
      li.appendChild(el("p", "review-meta", null, `${channel} · ${when(item.received_at)} · ${reason}`));
      li.appendChild(renderContext(item.context));
      const picked = [];
      if (body.entities.length) li.appendChild(renderEntities(item, body.entities, picked));
      rows.push({ item, box, picked });
      list.appendChild(li);
    }
    section.appendChild(list);

    const actions = el("div", "review-actions");
    const intent = el("select", "", { "aria-label": TEXTS.intentLabel, "data-testid": "intent-select" });
    intent.appendChild(el("option", "", { value: "" }, TEXTS.pickIntent));
    for (const name of body.intents) intent.appendChild(el("option", "", { value: name }, name));
    const assign = el("button", "send", { type: "button", "data-testid": "assign" }, TEXTS.assign);
    const aside = el("button", "secondary", { type: "button", "data-testid": "out-of-scope" }, TEXTS.outOfScope);
    const chosen = () => rows.filter((r) => r.box.checked);
    assign.addEventListener("click", () => {
      const selected = chosen();
      if (!selected.length) return showError(TEXTS.noneSelected);
      if (!intent.value) return showError(TEXTS.noIntent);
      const entities = {};
      for (const r of selected) if (r.picked.length) entities[String(r.item.id)] = r.picked.slice();
      decide("/api/insights/review/label", { ids: selected.map((r) => r.item.id), intent: intent.value, entities }, [assign, aside]);
    });
    aside.addEventListener("click", () => {
      const selected = chosen();
      if (!selected.length) return showError(TEXTS.noneSelected);
      decide("/api/insights/review/out-of-scope", { ids: selected.map((r) => r.item.id) }, [assign, aside]);
    });
    actions.append(intent, assign);
    if (body.out_of_scope) actions.appendChild(aside);
    section.appendChild(actions);
    return section;
  }

  function render(body) {
    const count = typeof body.waiting === "number" ? body.waiting : 0;
    let line = count ? TEXTS.waiting(count) : TEXTS.none;
    if (count > body.shown) line += TEXTS.shownOf(body.shown, count);
    waitingLine.textContent = state.lastDone ? `${state.lastDone} ${line}` : line;
    waitingLine.dataset.count = String(count);
    groupsBox.replaceChildren(...(Array.isArray(body.groups) ? body.groups : []).map((g) => renderGroup(g, body)));
    document.body.dataset.loaded = "true";
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  async function load() {
    if (!state.token) return;
    const generation = ++state.generation;
    delete document.body.dataset.loaded;
    waitingLine.textContent = TEXTS.loading;
    const r = await requestJson("/api/insights/review", { headers: headers() });
    if (generation !== state.generation) return;
    if (!r.ok || !r.body) {
      waitingLine.textContent = "";
      showError(refused(r));
      return;
    }
    render(r.body);
  }

  async function decide(path, payload, buttons) {
    for (const b of buttons) b.disabled = true;
    const r = await requestJson(path, {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, headers()),
      body: JSON.stringify(payload),
    });
    for (const b of buttons) b.disabled = false;
    if (!r.ok || !r.body) {
      showError(refused(r));
      return;
    }
    clearError();
    state.lastDone = TEXTS.done(r.body.reviewed || 0);
    await load();
  }

  // ---------------------------------------------------------------------------------------------
  // Session

  const session = signIn({ ...SUPERVISOR, current: () => state.token, start: startSession });

  function startSession(token, name) {
    state.token = token;
    state.generation += 1;
    state.lastDone = "";
    session.show(token, name || claimedName(token, false));
    if (!token) {
      groupsBox.replaceChildren();
      waitingLine.textContent = "";
      showError(SUPERVISOR.needProfile);
      session.offer();
      return;
    }
    clearError();
    load();
  }

  session.begin();
})();
