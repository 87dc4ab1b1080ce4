// Live updates: the server says when its view changed (server-sent events); the list is fetched again with
// the page's own filters, and the stories of new alerts are highlighted for a minute.
(() => {
  "use strict";
  const list = document.getElementById("stories");
  const banner = document.getElementById("alert-banner");
  if (!list) return;
  const HIGHLIGHT_MS = 60000;
  const fresh = new Map();
  let pending = null;

  const highlight = () => {
    const now = Date.now();
    for (const [id, until] of fresh) {
      if (until < now) { fresh.delete(id); continue; }
      const card = list.querySelector(`[data-story-id="${CSS.escape(id)}"]`);
      if (card) card.classList.add("new-alert");
    }
  };

  const refresh = async () => {
    pending = null;
    const response = await fetch("/fragments/stories" + window.location.search);
    if (response.ok) {
      list.innerHTML = await response.text();
      highlight();
    }
  };

  const announce = (alerts) => {
    if (!alerts.length || !banner) return;
    banner.textContent = "هشدار تازه: " + alerts.map((alert) => alert.headline).join(" | ");
    banner.hidden = false;
  };

  const body = document.body.dataset;
  const events = new EventSource(`/events?alerts=${body.alertCount}&version=${body.version}`);
  events.addEventListener("update", (message) => {
    const update = JSON.parse(message.data);
    for (const alert of update.alerts) fresh.set(alert.story_id, Date.now() + HIGHLIGHT_MS);
    announce(update.alerts);
    if (!pending) pending = setTimeout(refresh, 250);
  });
})();
