/* What the staff consoles share (agent.js, insights.js, review.js): the error banner, who is signed in,
 * the token (from the address's #access_token, this browser's storage or another tab) and the
 * development-mode panel that signs in as a demo user of the page's profile.
 *
 * Vanilla ES2020. Loaded after common.js and before the page's own script (all deferred, so they run in
 * document order); it only adds window.zcc.staff and touches nothing until a page calls it. Each page
 * has the same ids: whoami, sign-out, dev-panel, dev-form, dev-user, dev-login, dev-status.
 */
(() => {
  "use strict";

  const { isStr, store, storeToken, followStoredToken, tokenFromHash, decodeJwt, messageOf, el } = window.zcc;
  const { fetchDevUsers, devPanelSignIn } = window.zcc;

  const TEXTS = {
    network: "No pudimos conectar con el servidor. Revisa tu conexión e inténtalo de nuevo.",
    unavailable: "El servidor no está disponible en este momento. Inténtalo de nuevo en unos minutos.",
    signedInAs: (name) => `Conectado como ${name}`,
    signedIn: "Sesión iniciada",
  };

  /** The supervisors' pages (insights, review): one token, one profile, the same texts. */
  const SUPERVISOR = Object.freeze({
    tokenKey: "zcc.supervisor.token",
    profile: "supervisor",
    needProfile: "Necesitas iniciar sesión con un perfil de supervisor.",
    texts: Object.freeze({
      devNone: "No hay usuarios con perfil de supervisor.",
      devLoginFailed: "No se pudo iniciar sesión.",
    }),
  });

  const $ = (id) => document.getElementById(id);

  /** The page's error banner (`<prefix>-error-box`, `<prefix>-error`, `<prefix>-error-close`). */
  function errorBanner(prefix) {
    const box = $(`${prefix}-error-box`);
    const text = $(`${prefix}-error`);
    const banner = {
      show(message) {
        text.textContent = message;
        box.hidden = false;
      },
      clear() {
        box.hidden = true;
        text.textContent = "";
      },
    };
    $(`${prefix}-error-close`).addEventListener("click", banner.clear);
    return banner;
  }

  /** The message for a refused request: `needProfile` when the token is missing, expired or of another profile. */
  function refusal(r, needProfile) {
    if (r.status === 0) return TEXTS.network;
    if (r.status === 401 || r.status === 403) return messageOf(r.body, needProfile);
    if (r.status >= 500) return TEXTS.unavailable;
    return messageOf(r.body, TEXTS.unavailable);
  }

  /** The name a token's claims give, or "". */
  function claimedName(token, withEmail) {
    const claims = token ? decodeJwt(token) : null;
    if (!claims) return "";
    if (isStr(claims.name)) return claims.name;
    return withEmail && isStr(claims.email) ? claims.email : "";
  }

  /**
   * The sign-in of a console. `start(token, name)` is the page's own (re)start, with "" when signed out;
   * the page calls `session.show(token, name)` from it to update the header.
   *
   * options: {
   *   tokenKey, profile             where the token is kept; the demo users offered are those of this profile,
   *   current()                     the token the page holds,
   *   start(token, name),
   *   texts: {devNone, devLoginFailed},
   *   devLabel(user, name)          optional: an option's text (default "name — email"),
   *   wantsSignIn()                 optional: whether the panel opens by itself (default: no token held),
   *   signedOut(), devSignedIn()    optional: after the sign-out button, after a demo sign-in.
   * }
   */
  function signIn(options) {
    const whoami = $("whoami");
    const signOut = $("sign-out");
    const devPanel = $("dev-panel");
    const devSelect = $("dev-user");
    const devLogin = $("dev-login");
    const devStatus = $("dev-status");
    const wantsSignIn = options.wantsSignIn || (() => !options.current());
    const devLabel = options.devLabel || ((u, name) => `${name} — ${u.email}`);

    function show(token, name) {
      whoami.hidden = !token;
      whoami.textContent = token ? (name ? TEXTS.signedInAs(name) : TEXTS.signedIn) : "";
      signOut.hidden = !token;
    }

    /** Signed out: the development panel (where there is one) opens to sign in. */
    function offer() {
      if (!devPanel.hidden) devPanel.open = true;
    }

    function adoptHashToken() {
      const token = tokenFromHash();
      if (token === null) return false;
      storeToken(options.tokenKey, token);
      options.start(token, "");
      return true;
    }

    async function setupDevPanel() {
      const users = await fetchDevUsers();
      if (!users) return;
      const mine = users.filter((u) => u && isStr(u.email) && u.profile === options.profile);
      devSelect.replaceChildren();
      for (const u of mine) {
        const name = isStr(u.name) && u.name ? u.name : u.email;
        const option = el("option", "", { value: u.email }, devLabel(u, name));
        option.dataset.name = name;
        devSelect.appendChild(option);
      }
      if (!mine.length) {
        devSelect.appendChild(el("option", "", { value: "" }, options.texts.devNone));
        devSelect.disabled = true;
        devLogin.disabled = true;
      }
      devPanel.hidden = false;
      if (wantsSignIn()) devPanel.open = true;
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
        refused: (status, body) => messageOf(body, options.texts.devLoginFailed),
        signedIn: (token) => {
          store.set(options.tokenKey, token);
          options.start(token, (option && option.dataset.name) || email);
          devPanel.open = false;
          if (options.devSignedIn) options.devSignedIn();
        },
      });
    }

    signOut.addEventListener("click", () => {
      store.remove(options.tokenKey);
      options.start("", "");
      if (options.signedOut) options.signedOut();
    });
    $("dev-form").addEventListener("submit", devSignIn);
    window.addEventListener("hashchange", adoptHashToken);
    // Another tab signed in or out: follow it.
    followStoredToken(options.tokenKey, options.current, (token) => options.start(token, ""));

    return {
      show,
      offer,
      /** The first start: the address's token, else the stored one; then the development panel. */
      begin() {
        if (!adoptHashToken()) options.start(store.get(options.tokenKey) || "", "");
        setupDevPanel();
      },
    };
  }

  window.zcc = Object.freeze(Object.assign({}, window.zcc, { staff: Object.freeze({ TEXTS, SUPERVISOR, errorBanner, refusal, claimedName, signIn }) }));
})();
