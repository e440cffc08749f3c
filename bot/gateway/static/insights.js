/* Insights page of the "Asistente de planes y contratos" (Zenvia Customer Cloud), for supervisors.
 *
 * Vanilla ES2020 plus Chart.js (served by the gateway, /static/vendor/chartjs). Everything the server
 * sends is inserted as text nodes, never as HTML. The token travels in the Authorization header only: the
 * CSV is fetched with it and saved from a blob.
 */
(() => {
  "use strict";

  const { requestJson, messageOf, el } = window.zcc;
  const { errorBanner, refusal, claimedName, signIn, SUPERVISOR, TEXTS: SHARED } = window.zcc.staff;

  const TEXTS = {
    badRange: "Elige la fecha inicial y la final del rango.",
    loading: "Cargando indicadores…",
    shown: (from, to, channel) => `Del ${from} al ${to} · ${channel}`,
    channels: { all: "todos los canales", webchat: "Webchat", whatsapp: "WhatsApp" },
    people: (signed, anonymous) => `${signed} con sesión iniciada · ${anonymous} anónimas`,
    ratings: (n) => (n === 1 ? "1 respuesta" : `${n} respuestas`),
    waiting: (n) => (n === 1 ? "1 mensaje en espera" : `${n} mensajes en espera`),
    containment: "Contención",
    notUnderstood: "No entendidos",
    handoffs: "Derivaciones",
    ratingsLabel: "Calificaciones",
    turns: "Mensajes",
    csvFailed: "No se pudo descargar el CSV.",
  };

  const $ = (id) => document.getElementById(id);
  const filters = $("filters");
  const periodSelect = $("period");
  const customRange = $("custom-range");
  const fromInput = $("from");
  const toInput = $("to");
  const channelSelect = $("channel");
  const downloadButton = $("download");
  const shownPeriod = $("shown-period");
  const reviewCount = $("review-count");
  const tableBody = $("figures-body");

  const state = { token: "", generation: 0, charts: {} };

  // ---------------------------------------------------------------------------------------------
  // Formatting

  const percent = (share) => (typeof share === "number" ? `${(share * 100).toFixed(1).replace(".", ",")} %` : "–");
  const number = (n) => (typeof n === "number" ? n.toLocaleString("es-MX") : "–");

  function duration(seconds) {
    if (typeof seconds !== "number") return "–";
    const total = Math.round(seconds);
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    if (hours) return `${hours} h ${minutes} min`;
    return minutes ? `${minutes} min ${total % 60} s` : `${total} s`;
  }

  const pair = (d) => `${duration(d.p50_seconds)} · ${duration(d.p90_seconds)}`;

  // ---------------------------------------------------------------------------------------------
  // Errors

  const { show: showError, clear: clearError } = errorBanner("insights");

  // ---------------------------------------------------------------------------------------------
  // The request the filters describe

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  function query() {
    const params = new URLSearchParams({ period: periodSelect.value, channel: channelSelect.value });
    if (periodSelect.value === "custom") {
      params.set("from", fromInput.value);
      params.set("to", toInput.value);
    }
    return params.toString();
  }

  function rangeMissing() {
    return periodSelect.value === "custom" && (!fromInput.value || !toInput.value);
  }

  // ---------------------------------------------------------------------------------------------
  // Charts (Chart.js, colours from the page's palette so dark mode follows)

  function palette() {
    const css = getComputedStyle(document.documentElement);
    const v = (name) => css.getPropertyValue(name).trim();
    return { primary: v("--primary"), agent: v("--agent-accent"), focus: v("--focus"), text: v("--text"), muted: v("--muted"), border: v("--border") };
  }

  function drawChart(id, type, labels, datasets, options) {
    const canvas = $(id);
    if (!window.Chart || !canvas) return;
    const colours = palette();
    const existing = state.charts[id];
    if (existing) existing.destroy();
    state.charts[id] = new window.Chart(canvas, {
      type,
      data: { labels, datasets },
      options: Object.assign(
        {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          plugins: { legend: { display: datasets.length > 1 || type === "doughnut", labels: { color: colours.text } } },
          scales:
            type === "doughnut"
              ? {}
              : {
                  x: { ticks: { color: colours.muted }, grid: { color: colours.border } },
                  y: { beginAtZero: true, ticks: { color: colours.muted, precision: 0 }, grid: { color: colours.border } },
                },
        },
        options || {},
      ),
    });
  }

  function drawCharts(data) {
    const c = palette();
    const days = data.containment.days.map((d) => d.day.slice(5));
    const pct = (d) => (typeof d.share === "number" ? Math.round(d.share * 1000) / 10 : null);
    drawChart(
      "chart-daily",
      "line",
      days,
      [
        { label: TEXTS.containment, data: data.containment.days.map(pct), borderColor: c.agent, backgroundColor: c.agent, spanGaps: true },
        { label: TEXTS.notUnderstood, data: data.not_understood.days.map(pct), borderColor: c.focus, backgroundColor: c.focus, spanGaps: true },
      ],
      { scales: { y: { min: 0, max: 100, ticks: { color: c.muted } }, x: { ticks: { color: c.muted } } } },
    );
    const bars = (id, items, colour, label) =>
      drawChart(id, "bar", items.map((i) => i.name), [{ label, data: items.map((i) => i.count), backgroundColor: colour }]);
    bars("chart-reasons", data.handoffs.groups, c.primary, TEXTS.handoffs);
    drawChart("chart-channels", "doughnut", data.handoffs.channels.map((i) => i.name), [
      { label: TEXTS.handoffs, data: data.handoffs.channels.map((i) => i.count), backgroundColor: [c.primary, c.agent, c.focus] },
    ]);
    const distribution = data.satisfaction.overall.distribution;
    drawChart("chart-csat", "bar", ["1", "2", "3", "4", "5"], [
      { label: TEXTS.ratingsLabel, data: ["1", "2", "3", "4", "5"].map((k) => distribution[k] || 0), backgroundColor: c.agent },
    ]);
    bars("chart-intents", data.top_intents, c.primary, TEXTS.turns);
    bars("chart-plans", data.top_plans, c.agent, TEXTS.turns);
  }

  // ---------------------------------------------------------------------------------------------
  // Rendering

  function setText(id, text) {
    $(id).textContent = text;
  }

  function renderCards(data) {
    const v = data.volume;
    setText("figure-conversations", number(v.conversations));
    setText("figure-people", TEXTS.people(number(v.signed_in), number(v.anonymous)));
    setText("figure-messages", number(v.user_messages));
    setText("figure-containment", percent(data.containment.share));
    setText("figure-not-understood", percent(data.not_understood.share));
    setText("figure-handoffs", number(data.handoffs.total));
    setText("figure-wait", pair(data.queue_wait));
    setText("figure-resolution", pair(data.resolution_time));
    const csat = data.satisfaction.overall;
    setText("figure-csat", typeof csat.average === "number" ? `${csat.average.toFixed(2).replace(".", ",")} / 5` : "–");
    setText("figure-csat-count", TEXTS.ratings(csat.count));
  }

  function renderTable(rows) {
    tableBody.replaceChildren();
    let previous = null;
    for (const row of rows) {
      const tr = el("tr", row.figure !== previous ? "group-start" : "");
      tr.appendChild(el("th", "", { scope: "row" }, row.figure));
      tr.appendChild(el("td", "", null, row.item));
      tr.appendChild(el("td", "num", null, row.shown));
      tableBody.appendChild(tr);
      previous = row.figure;
    }
  }

  function renderReview(review) {
    const waiting = review && Number.isInteger(review.waiting) ? review.waiting : null;
    reviewCount.hidden = waiting === null;
    reviewCount.textContent = waiting === null ? "" : TEXTS.waiting(waiting);
  }

  function render(data) {
    const p = data.period;
    shownPeriod.textContent = TEXTS.shown(p.from, p.to, TEXTS.channels[p.channel] || p.channel);
    document.body.dataset.loaded = `${p.from}/${p.to}/${p.channel}`;
    renderCards(data);
    renderReview(data.review);
    renderTable(data.rows || []);
    drawCharts(data);
  }

  // ---------------------------------------------------------------------------------------------
  // Loading

  const refused = (r) => refusal(r, SUPERVISOR.needProfile);

  async function load() {
    if (!state.token) return;
    if (rangeMissing()) {
      showError(TEXTS.badRange);
      return;
    }
    const generation = ++state.generation;
    shownPeriod.textContent = TEXTS.loading;
    delete document.body.dataset.loaded;
    const r = await requestJson(`/api/insights?${query()}`, {
      headers: { Accept: "application/json", Authorization: `Bearer ${state.token}` },
    });
    if (generation !== state.generation) return;
    if (!r.ok || !r.body) {
      shownPeriod.textContent = "";
      showError(refused(r));
      return;
    }
    clearError();
    render(r.body);
  }

  async function downloadCsv() {
    if (!state.token || rangeMissing()) {
      if (rangeMissing()) showError(TEXTS.badRange);
      return;
    }
    downloadButton.disabled = true;
    try {
      const response = await fetch(`/api/insights.csv?${query()}`, {
        headers: { Authorization: `Bearer ${state.token}` },
        credentials: "same-origin",
      });
      if (!response.ok) {
        let body = null;
        try {
          body = await response.json();
        } catch (_) {
          /* not JSON */
        }
        showError(messageOf(body, TEXTS.csvFailed));
        return;
      }
      const disposition = response.headers.get("Content-Disposition") || "";
      const match = /filename="([^"]+)"/.exec(disposition);
      const url = URL.createObjectURL(await response.blob());
      const link = el("a", "visually-hidden", { href: url, download: match ? match[1] : "indicadores.csv" });
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (_) {
      showError(SHARED.network);
    } finally {
      downloadButton.disabled = false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Session

  const session = signIn({ ...SUPERVISOR, current: () => state.token, start: startSession });

  function startSession(token, name) {
    state.token = token;
    state.generation += 1;
    session.show(token, name || claimedName(token, false));
    downloadButton.disabled = !token;
    if (!token) {
      showError(SUPERVISOR.needProfile);
      session.offer();
      return;
    }
    clearError();
    load();
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  function showRange() {
    customRange.hidden = periodSelect.value !== "custom";
    if (periodSelect.value === "custom" && !fromInput.value && !toInput.value) {
      const today = new Date();
      toInput.value = isoDay(today);
      fromInput.value = isoDay(new Date(today.getTime() - 6 * 86400000));
    }
  }

  periodSelect.addEventListener("change", () => {
    showRange();
    if (periodSelect.value !== "custom") load();
  });
  channelSelect.addEventListener("change", load);
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  downloadButton.addEventListener("click", downloadCsv);

  showRange();
  session.begin();
})();
