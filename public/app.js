// certhub admin UI behaviour. No inline scripts anywhere (the CSP forbids them).
document.addEventListener("DOMContentLoaded", () => {
  if (window.htmx) {
    // htmx would otherwise inject an inline <style>, which the CSP blocks.
    htmx.config.includeIndicatorStyles = false;
  }
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

// Dialogs: <button data-open="#dialog-id">, <button data-close>
document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-open]");
  if (opener) document.querySelector(opener.getAttribute("data-open"))?.showModal();
  const closer = event.target.closest("[data-close]");
  if (closer) closer.closest("dialog")?.close();
});
