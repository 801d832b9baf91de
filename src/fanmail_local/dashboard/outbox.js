// The local outbox: every message the stand-in sent (campaigns, tests, the CLI's too); one
// opened shows above the list, scrolled to where the user is looking.
import { api, byId, fillBody, path, row, say, showEmail, wireTabs } from "./core.js";

const state = { seen: -1, enabled: false };

export function setup(config) {
  state.enabled = config.outbox;
  wireTabs(byId("outbox-email"));
}

export async function show() {
  state.seen = -1;
  await refresh();
}

export async function refresh() {
  if (!state.enabled) return;
  const page = await api("GET", "/outbox");
  byId("outbox-total").textContent = `(${page.total.toLocaleString()})`;
  if (page.total === state.seen) return;
  state.seen = page.total;
  fillBody(byId("outbox"), page.messages.slice(0, 50).map((message) => {
    const tr = row(message.to, message.subject);
    tr.tabIndex = 0;
    tr.dataset.name = message.name;
    tr.addEventListener("click", () => open(message));
    tr.addEventListener("keydown", (event) => { if (event.key === "Enter") open(message); });
    return tr;
  }), "Nothing sent yet");
}

async function open(message) {
  try {
    const shown = await api("GET", path("/outbox", message.name));
    const card = byId("outbox-email");
    showEmail(card, `Sent to ${message.to}`, shown);
    card.scrollIntoView({ block: "start" });
    card.focus({ preventScroll: true });
  } catch (error) {
    say("outbox-notice", error.message, true);
  }
}
