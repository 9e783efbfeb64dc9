// Live progress for a running job: poll its progress URL, update the bar, reload when it ends.
(function () {
  const live = document.querySelector("[data-progress-url]");
  if (!live) return;
  const bar = live.querySelector("progress");
  const message = live.querySelector("[data-testid=progress-message]");
  async function poll() {
    try {
      const response = await fetch(live.dataset.progressUrl, { credentials: "same-origin" });
      if (response.ok) {
        const p = await response.json();
        if (bar && typeof p.percent === "number") bar.value = p.percent;
        if (message && p.message) message.textContent = p.message;
        if (!["pending", "running"].includes(p.status)) { window.location.reload(); return; }
      }
    } catch (e) { /* the server may be restarting: try again */ }
    setTimeout(poll, 1500);
  }
  setTimeout(poll, 1500);
})();
