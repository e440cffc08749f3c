/*
 * The assistant on any site with one tag:
 *
 *   <script src="https://ASSISTANT_HOST/widget.js" defer
 *           data-position="right" data-color="#0b5cab" data-text-color="#ffffff"
 *           data-title="Asistente" data-greeting="¡Hola! ¿En qué te ayudo?" data-lang="es"></script>
 *
 * It adds a launcher button to the host page and opens the chat in a panel: an iframe of the assistant's
 * own page, so the host's styles and scripts cannot reach the conversation. The host's site must be in the
 * assistant's EMBED_ORIGINS.
 *
 * A signed-in host hands over the user's token (the same JWT as the webchat's) through postMessage, never
 * in a URL:   window.AsistenteWidget.signIn(token)   ·   window.AsistenteWidget.signOut()
 * Also: AsistenteWidget.open(), .close(), .toggle().
 */
(function () {
  "use strict";
  if (window.AsistenteWidget) return; // loaded twice: keep the first

  var script = document.currentScript;
  if (!script || !script.src) return;
  var base = new URL(script.src, window.location.href);
  var origin = base.origin;
  var data = script.dataset || {};

  var LABELS = {
    es: { open: "¿Necesitas ayuda?", close: "Cerrar el chat", title: "Asistente" },
    pt: { open: "Precisa de ajuda?", close: "Fechar o chat", title: "Assistente" },
    en: { open: "Need help?", close: "Close the chat", title: "Assistant" },
  };
  var lang = LABELS[data.lang] ? data.lang : "es";
  var labels = LABELS[lang];
  var color = /^#[0-9a-fA-F]{3,8}$/.test(data.color || "") ? data.color : "#0b5cab";
  var textColor = /^#[0-9a-fA-F]{3,8}$/.test(data.textColor || "") ? data.textColor : "#ffffff";
  var side = data.position === "left" ? "left" : "right";
  var title = (data.title || labels.title).slice(0, 60);
  var greeting = (data.greeting || "").slice(0, 300);

  // Everything lives in a shadow root: the host's CSS cannot restyle it, and ours cannot leak out.
  var host = document.createElement("div");
  host.setAttribute("data-asistente-widget", "");
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;

  var style = document.createElement("style");
  style.textContent =
    ":host{all:initial}" +
    ".launcher{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;border:0;border-radius:28px;" +
    "padding:14px 20px;font:600 15px/1 system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 16px rgba(0,0,0,.25);" +
    "background:" + color + ";color:" + textColor + "}" +
    ".launcher:focus-visible{outline:3px solid " + textColor + ";outline-offset:2px}" +
    ".panel{position:fixed;bottom:84px;" + side + ":20px;z-index:2147483000;width:380px;height:600px;" +
    "max-width:calc(100vw - 24px);max-height:calc(100vh - 104px);display:none;flex-direction:column;" +
    "border-radius:14px;overflow:hidden;box-shadow:0 8px 32px rgba(0,0,0,.3);background:#fff}" +
    ".panel.open{display:flex}" +
    ".bar{display:flex;align-items:center;justify-content:space-between;padding:10px 14px;" +
    "font:600 15px/1.2 system-ui,sans-serif;background:" + color + ";color:" + textColor + "}" +
    ".bar button{border:0;background:transparent;color:inherit;font:700 20px/1 system-ui,sans-serif;cursor:pointer}" +
    "iframe{flex:1 1 auto;width:100%;border:0}" +
    "@media (max-width:480px){.panel{bottom:0;" + side + ":0;width:100vw;height:100%;max-width:none;max-height:none;border-radius:0}}";
  root.appendChild(style);

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("data-testid", "widget-launcher");
  launcher.textContent = labels.open;

  var panel = document.createElement("div");
  panel.className = "panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  panel.setAttribute("data-testid", "widget-panel");

  var bar = document.createElement("div");
  bar.className = "bar";
  var heading = document.createElement("span");
  heading.textContent = title;
  var closer = document.createElement("button");
  closer.type = "button";
  closer.setAttribute("aria-label", labels.close);
  closer.textContent = "×";
  bar.appendChild(heading);
  bar.appendChild(closer);
  panel.appendChild(bar);

  var frame = null; // created on first open: a host page that never opens the chat costs nothing
  var pending = []; // messages for the chat page, sent once it says it is ready
  var ready = false;
  var token = null;

  function post(message) {
    if (frame && ready) frame.contentWindow.postMessage(message, origin);
    else pending.push(message);
  }

  function ensureFrame() {
    if (frame) return;
    frame = document.createElement("iframe");
    frame.title = title;
    frame.setAttribute("data-testid", "widget-frame");
    frame.setAttribute("allow", "clipboard-write");
    frame.src = origin + "/?embed=1&lang=" + encodeURIComponent(lang);
    panel.appendChild(frame);
  }

  window.addEventListener("message", function (event) {
    if (!frame || event.origin !== origin || event.source !== frame.contentWindow) return;
    var message = event.data;
    if (!message || message.type !== "asistente:ready") return;
    ready = true;
    var config = { type: "asistente:config", greeting: greeting };
    frame.contentWindow.postMessage(config, origin);
    if (token !== null) frame.contentWindow.postMessage({ type: "asistente:token", token: token }, origin);
    pending.splice(0).forEach(function (queued) {
      if (queued.type !== "asistente:token") frame.contentWindow.postMessage(queued, origin);
    });
  });

  function open() {
    ensureFrame();
    panel.classList.add("open");
    launcher.setAttribute("aria-expanded", "true");
    if (frame) frame.focus();
  }

  function close() {
    panel.classList.remove("open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (panel.classList.contains("open")) close();
    else open();
  });
  closer.addEventListener("click", close);
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && panel.classList.contains("open")) close();
  });

  root.appendChild(panel);
  root.appendChild(launcher);

  function mount() {
    document.body.appendChild(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.AsistenteWidget = {
    open: open,
    close: close,
    toggle: function () {
      if (panel.classList.contains("open")) close();
      else open();
    },
    /** Hand the signed-in user's token to the chat (postMessage to the assistant's origin only). */
    signIn: function (jwt) {
      if (typeof jwt !== "string" || !jwt) return;
      token = jwt;
      if (frame && ready) frame.contentWindow.postMessage({ type: "asistente:token", token: jwt }, origin);
    },
    signOut: function () {
      token = null;
      post({ type: "asistente:signout" });
    },
  };
})();
