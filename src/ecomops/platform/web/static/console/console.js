/* ecomops console behaviour. Loaded before Alpine (@alpinejs/csp): the Content-Security-Policy allows
   scripts from this origin only and no eval, so every Alpine component is registered here by name and
   templates refer to properties and methods, never to inline code.

   Changes go to the JSON API (/api/v1/t/{tenant}/…) with the session cookie and the X-CSRF-Token
   header. A 403 "step_up_required" sends the user to /step-up?next=<this page>; they come back and
   repeat the action with a fresh second factor. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function here() {
    return window.location.pathname + window.location.search;
  }

  function stepUp() {
    window.location.assign("/step-up?next=" + encodeURIComponent(here()));
  }

  /* fetch with the CSRF header; resolves to {ok, status, body} and handles step-up itself. */
  function api(method, url, body) {
    var headers = { "X-CSRF-Token": csrfToken(), "Accept": "application/json" };
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      var text = response.status === 204 ? Promise.resolve("") : response.text();
      return text.then(function (raw) {
        var parsed = null;
        try { parsed = raw ? JSON.parse(raw) : null; } catch (e) { parsed = null; }
        var code = parsed && parsed.error ? parsed.error.code : null;
        if (response.status === 403 && code === "step_up_required") {
          stepUp();
        }
        return { ok: response.ok, status: response.status, body: parsed, code: code };
      });
    });
  }

  function errorText(result) {
    if (result.body && result.body.error) {
      var e = result.body.error;
      var where = "";
      if (Array.isArray(e.details) && e.details.length && e.details[0].loc) {
        where = " (" + e.details.map(function (d) { return d.loc.join(".") + ": " + d.msg; }).join("; ") + ")";
      }
      return e.message + where;
    }
    return "HTTP " + result.status;
  }

  function showError(container, message) {
    var box = container.querySelector("[data-api-error]");
    if (!box) { window.alert(message); return; }
    box.textContent = message;
    box.hidden = false;
  }

  function clearError(container) {
    var box = container.querySelector("[data-api-error]");
    if (box) { box.hidden = true; box.textContent = ""; }
  }

  /* Form fields → JSON: data-type="int" → number (empty → omitted), "bool" → checkbox state. */
  function formJson(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.name === "csrf_token") { return; }
      var type = el.getAttribute("data-type");
      if (type === "bool") { out[el.name] = el.checked; return; }
      if (el.type === "radio" && !el.checked) { return; }
      if (type === "int") {
        if (el.value === "") { return; }
        out[el.name] = parseInt(el.value, 10);
        return;
      }
      out[el.name] = el.value;
    });
    return out;
  }

  /* Show a secret that the API returns once (API key, write key) and fill it into snippets. */
  function revealSecret(form, secret) {
    var target = document.getElementById(form.getAttribute("data-api-secret"));
    if (!target) { return; }
    target.hidden = false;
    var code = target.querySelector("[data-secret]");
    if (code) { code.textContent = secret; }
    document.querySelectorAll("[data-snippet]").forEach(function (pre) {
      var template = pre.getAttribute("data-snippet");
      pre.textContent = template.split(pre.getAttribute("data-placeholder")).join(secret);
    });
    target.focus();
  }

  function submitApiForm(form) {
    var method = form.getAttribute("data-api-method") || "POST";
    var url = form.getAttribute("data-api-url");
    var confirmText = form.getAttribute("data-confirm");
    if (confirmText && !window.confirm(confirmText)) { return; }
    clearError(form);
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    api(method, url, formJson(form)).then(function (result) {
      buttons.forEach(function (b) { b.disabled = false; });
      if (result.code === "step_up_required") { return; }
      if (!result.ok) { showError(form, errorText(result)); return; }
      var secretField = form.getAttribute("data-api-secret-field");
      if (secretField && result.body && result.body[secretField]) {
        revealSecret(form, result.body[secretField]);
        var list = document.getElementById(form.getAttribute("data-api-refresh") || "");
        if (list) { refreshFragment(list); }
        form.reset();
        return;
      }
      window.location.reload();
    }, function (err) {
      buttons.forEach(function (b) { b.disabled = false; });
      showError(form, String(err));
    });
  }

  /* Re-fetch this page and replace one element by id (keeps a just-shown secret on screen). */
  function refreshFragment(el) {
    fetch(here(), { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.getElementById(el.id);
      if (fresh) { el.replaceWith(fresh); }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("form[data-api-url]")) {
      event.preventDefault();
      submitApiForm(form);
    } else if (form.matches("form[data-import-form]")) {
      event.preventDefault();
      startImport(form);
    }
  });

  /* Selects that change something at once (a member's role). */
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches("select[data-api-change]")) {
      var container = el.closest("[data-api-row]") || document.body;
      clearError(container);
      var body = {};
      body[el.name] = el.value;
      api("PUT", el.getAttribute("data-api-change"), body).then(function (result) {
        if (result.code === "step_up_required") { return; }
        if (!result.ok) { showError(container, errorText(result)); el.value = el.getAttribute("data-current"); return; }
        window.location.reload();
      });
    }
  });

  /* Upload → 202 with the job → a progress element that HTMX polls until the job finishes. */
  function startImport(form) {
    clearError(form);
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    var data = new FormData(form);
    data.delete("csrf_token");
    if (!data.get("mapping") || !data.get("mapping").size) { data.delete("mapping"); }
    api("POST", form.getAttribute("data-import-url"), data).then(function (result) {
      if (button) { button.disabled = false; }
      if (!result.ok) { showError(form, errorText(result)); return; }
      var holder = document.getElementById("import-progress");
      var empty = document.getElementById("no-imports");
      if (empty) { empty.remove(); }
      var el = document.createElement("div");
      el.setAttribute("hx-get", form.getAttribute("data-progress-url").replace("__ID__", result.body.id));
      el.setAttribute("hx-trigger", "load");
      el.setAttribute("hx-swap", "outerHTML");
      el.textContent = "…";
      holder.prepend(el);
      if (window.htmx) { window.htmx.process(el); }
      form.reset();
    }, function (err) {
      if (button) { button.disabled = false; }
      showError(form, String(err));
    });
  }

  /* Buttons: copy text of a target element; close open menus on outside click or Escape. */
  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.getElementById(copy.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent).then(function () {
          var label = copy.textContent;
          copy.textContent = copy.getAttribute("data-copied") || "✓";
          window.setTimeout(function () { copy.textContent = label; }, 1200);
        });
      }
    }
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) { menu.removeAttribute("open"); }
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) { summary.focus(); }
    });
  });

  /* HTMX requests carry the CSRF header too (only GETs today, but a future hx-post is covered). */
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  /* Alpine components (CSP build: registered by name, referenced without inline code). */
  document.addEventListener("alpine:init", function () {
    window.Alpine.data("shell", function () {
      return {
        navOpen: false,
        toggleNav: function () { this.navOpen = !this.navOpen; },
        closeNav: function () { this.navOpen = false; },
        get sidebarClass() { return this.navOpen ? "open" : ""; },
        get navExpanded() { return this.navOpen ? "true" : "false"; }
      };
    });
    /* Tabs for the source snippets: tab buttons carry data-tab, panels data-panel. */
    window.Alpine.data("tabs", function () {
      return {
        current: "http",
        select: function (event) { this.current = event.currentTarget.getAttribute("data-tab"); },
        get showHttp() { return this.current === "http"; },
        get showJs() { return this.current === "js"; },
        get showPython() { return this.current === "python"; },
        get httpSelected() { return this.current === "http" ? "true" : "false"; },
        get jsSelected() { return this.current === "js" ? "true" : "false"; },
        get pythonSelected() { return this.current === "python" ? "true" : "false"; }
      };
    });
  });
})();
