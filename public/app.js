// certhub admin UI behaviour. No inline scripts anywhere (the CSP forbids them).

// htmx configuration. This file is deferred after htmx.min.js, so this runs before htmx's
// own DOMContentLoaded set-up — which is when it would inject its inline <style> (blocked by
// the CSP, a console error on every page).
if (window.htmx) {
  htmx.config.includeIndicatorStyles = false;
  // The CSP forbids eval; fail loudly in development rather than silently in htmx.
  htmx.config.allowEval = false;
  // Pages answer htmx requests for one element with a fragment (keyed on HX-Target), so a
  // history-restore must get the full page.
  htmx.config.historyRestoreAsHxRequest = false;
  // No page snapshots in the tab's sessionStorage: they would outlive sign-out (admin data
  // readable by the next person at this browser). Back/forward re-fetches the page instead
  // (answered with Cache-Control: no-store).
  htmx.config.historyCacheSize = 0;
  // 422 = form with validation errors: swap it in so the errors show next to the fields.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "422", swap: true },
    { code: "[45]..", swap: false, error: true },
  ];
}

// Sign-out: drop anything htmx (or an older app.js) kept in this tab's storage.
const HTMX_HISTORY_KEY = "htmx-history-cache";
function clearHtmxHistory() {
  try {
    sessionStorage.removeItem(HTMX_HISTORY_KEY);
    localStorage.removeItem(HTMX_HISTORY_KEY);
  } catch {
    // storage disabled: nothing to clear
  }
}
clearHtmxHistory(); // a snapshot left by an earlier version of this file
document.addEventListener("submit", (event) => {
  if (event.target.matches && event.target.matches("form[action='/logout']")) clearHtmxHistory();
});

// Copy buttons: <button data-copy="#id-of-element">Copy</button>
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.getAttribute("data-copy"));
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = label), 1500);
  } catch {
    window.getSelection().selectAllChildren(source);
  }
});

// Dialogs: <button data-open="#dialog-id">, <button data-close>. A link with data-open
// (href = the same form as a page, for use without JavaScript) opens the dialog instead.
document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-open]");
  if (opener) {
    const dialog = document.querySelector(opener.getAttribute("data-open"));
    if (dialog) {
      if (opener.tagName === "A") event.preventDefault();
      // A dialog whose body htmx is about to load must not show the previous one meanwhile.
      const body = dialog.querySelector("[data-dialog-body]");
      if (body && opener.hasAttribute("hx-get")) body.textContent = "Loading…";
      if (dialog.open) dialog.close(); // opened without script (open attribute): reopen as modal
      dialog.showModal();
    }
  }
  const closer = event.target.closest("[data-close]");
  const dialog = closer?.closest("dialog");
  if (dialog) {
    if (closer.tagName === "A") event.preventDefault();
    dialog.close();
  }
});

// Server says "done" (HX-Trigger: close-dialog) after a successful dialog form.
document.addEventListener("close-dialog", () => {
  document.querySelectorAll("dialog[open]").forEach((d) => d.close());
});

// Focus the first field of a form htmx just loaded into an open dialog.
document.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail.target;
  if (target && target.closest && target.closest("dialog[open]")) {
    target.querySelector("[aria-invalid='true'], input:not([type=hidden]):not([disabled]), select, textarea")?.focus();
  }
});

// Failed htmx requests (403 for read-only users, 404, 500, network) would otherwise fail silently.
function toast(text) {
  let el = document.getElementById("toast");
  if (!el) {
    el = document.createElement("div");
    el.id = "toast";
    el.className = "toast";
    el.setAttribute("role", "alert");
    document.body.appendChild(el);
  }
  el.textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.remove(), 8000);
}
document.addEventListener("htmx:responseError", (event) => {
  const xhr = event.detail.xhr;
  let text = "";
  try {
    text = JSON.parse(xhr.responseText).error || "";
  } catch {
    text = new DOMParser().parseFromString(xhr.responseText || "", "text/html").body.textContent || "";
  }
  text = text.trim().slice(0, 300);
  toast(text || `Request failed (${xhr.status}).`);
});
document.addEventListener("htmx:sendError", () => toast("The hub did not answer. Check your connection and try again."));

// <button data-dismiss> removes its [data-dismissable] container (e.g. a shown-once secret).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-dismiss]");
  if (button) button.closest("[data-dismissable]")?.remove();
});

// Narrow screens: the top navigation folds behind a "Menu" button (see .menu-toggle in app.css).
document.documentElement.classList.add("js");
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-toggle-nav]");
  if (!toggle) return;
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  toggle.closest(".topbar").classList.toggle("nav-open", open);
});

// Narrow screens: the settings sub-navigation scrolls sideways; bring the current page's entry into view.
document.addEventListener("DOMContentLoaded", () => {
  const current = document.querySelector(".subnav a[aria-current='page']");
  const nav = current && current.parentElement;
  if (nav && nav.scrollWidth > nav.clientWidth) nav.scrollLeft = current.offsetLeft - (nav.clientWidth - current.offsetWidth) / 2;
});
