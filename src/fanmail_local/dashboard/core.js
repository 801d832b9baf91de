// What every part of the dashboard shares: the admin API, elements, notices beside the action
// that caused them, busy buttons, confirmations, and times and figures in plain words.
// Every value from the API goes into the page as text (textContent), never as markup.

export function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

// What the console admits the dashboard's requests by: the token its page was served with, or
// (a console listening beyond this machine) the operator's, given once as #token=... in the URL.
function consoleToken() {
  const fragment = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fragment) {
    sessionStorage.setItem("fanmail-token", fragment);
    history.replaceState(null, "", location.pathname + location.search);
  }
  const served = document.querySelector('meta[name="fanmail-token"]').content;
  return served || sessionStorage.getItem("fanmail-token") || "";
}
const TOKEN = consoleToken();

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// One call to the admin API. `body` is JSON unless `contentType` says it is a file's bytes.
export async function api(method, path, body, contentType) {
  const init = { method, headers: { accept: "application/json", "x-fanmail-token": TOKEN } };
  if (body !== undefined) {
    init.headers["content-type"] = contentType || "application/json";
    init.body = contentType ? body : JSON.stringify(body);
  }
  const answer = await fetch(path, init);
  const text = await answer.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: { message: text } }; }
  if (!answer.ok) {
    const message = (data && data.error && data.error.message) || answer.statusText;
    throw new ApiError(answer.status, message);
  }
  return data;
}

export function path(...parts) {
  return parts.map((part, i) => (i % 2 ? encodeURIComponent(part) : part)).join("/");
}

// A notice shows beside the action that caused it: `where` is the id of its notice element.
export function say(where, message, isError) {
  const notice = byId(where);
  notice.textContent = message;
  notice.className = `notice ${isError ? "error" : "ok"}`;
  notice.hidden = false;
  clearTimeout(notice.timer);
  if (!isError) notice.timer = setTimeout(() => { notice.hidden = true; }, 8000);
}

// A notice that stays until the next one: what to do, not an error and not a success.
export function inform(where, message) {
  const notice = byId(where);
  clearTimeout(notice.timer);
  notice.textContent = message;
  notice.className = "notice info";
  notice.hidden = false;
  notice.scrollIntoView({ block: "nearest" });
}

// Runs `work` with the button disabled and marked busy: a double click does it once.
export async function busy(button, work) {
  if (button.disabled) return undefined;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  const label = button.textContent;
  button.dataset.label = label;
  button.textContent = `${label.replace(/…$/, "")}…`;
  try {
    return await work();
  } finally {
    button.textContent = label;
    button.removeAttribute("aria-busy");
    button.disabled = false;
  }
}

// The yes/no dialog; with `typed`, yes is only possible once that text is typed in.
export function ask(question, yes, typed) {
  const dialog = byId("confirm");
  const input = byId("confirm-typed");
  const yesButton = byId("confirm-yes");
  byId("confirm-text").textContent = question;
  yesButton.textContent = yes || "Yes";
  byId("confirm-typed-label").hidden = !typed;
  byId("confirm-typed-hint").textContent = typed ? `Type ${typed} to confirm` : "";
  input.value = "";
  yesButton.disabled = Boolean(typed);
  input.oninput = () => { yesButton.disabled = input.value.trim() !== typed; };
  dialog.returnValue = "";
  dialog.showModal();
  if (typed) input.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
}

const SHOWN_TIME = {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
};

// An instant (epoch seconds) in the browser's zone, or in `zone` (IANA name).
export function when(seconds, zone) {
  if (seconds === null || seconds === undefined) return "–";
  const options = zone ? { ...SHOWN_TIME, timeZone: zone } : SHOWN_TIME;
  return new Intl.DateTimeFormat(undefined, options).format(new Date(seconds * 1000));
}

export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function percent(fraction, digits = 1) {
  return `${(100 * Number(fraction || 0)).toFixed(digits)} %`;
}

export function count(n) {
  return Number(n || 0).toLocaleString();
}

// Plain words for the names the API uses; a name not here is shown with spaces.
const WORDS = {
  sent: "sent", failed: "failed", suppressed: "skipped (opted out)",
  invalid: "skipped (bad address)", already_sent: "sent by an earlier run",
  delivered: "delivered", bounced: "bounced", soft_bounced: "bounced for now",
  complained: "marked as spam", rejected: "refused by SES", delayed: "delayed",
  rendering_failed: "could not be rendered", opened: "opened", clicked: "clicked",
  waiting_for_quota: "waiting for the daily quota", waiting_for_ses: "waiting for SES to recover",
  subscribed: "subscribed",
  unsubscribed: "unsubscribed",
};

export function words(name) {
  return WORDS[name] || String(name).replaceAll("_", " ");
}

export function emptyRow(span, text) {
  const row = el("tr");
  const cell = el("td", text, "muted");
  cell.colSpan = span;
  row.append(cell);
  return row;
}

export function row(...cells) {
  const tr = el("tr");
  for (const cell of cells) tr.append(cell instanceof Node ? cell : el("td", cell));
  return tr;
}

// On a phone a table's rows stack as blocks: each cell says which column it is.
export function labelCells(table) {
  const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const tr of table.querySelectorAll("tbody tr")) {
    [...tr.children].forEach((cell, i) => {
      if (names[i] && cell.colSpan === 1) cell.dataset.label = names[i];
    });
  }
}

// A table body filled with `rows` (or one row saying `empty`), its cells labelled.
export function fillBody(table, rows, empty) {
  const body = table.querySelector("tbody");
  body.replaceChildren(...rows);
  if (!rows.length) body.append(emptyRow(table.querySelectorAll("thead th").length, empty));
  labelCells(table);
}

// An email shown in a card: HTML in an iframe sandboxed without scripts, text, headers.
export function showEmail(card, title, message) {
  card.hidden = false;
  card.querySelector(".email-title").textContent = title;
  const frame = card.querySelector("iframe");
  delete frame.dataset.loaded; // set again once this mail has loaded (what a screenshot waits for)
  frame.addEventListener("load", () => { frame.dataset.loaded = "true"; }, { once: true });
  frame.srcdoc = message.html;
  card.querySelector("pre").textContent = message.text;
  card.querySelector("tbody").replaceChildren(
    ...Object.entries(message.headers).map(([name, value]) => {
      const tr = el("tr");
      tr.append(el("th", name), el("td", value));
      return tr;
    }),
  );
}

export function wireTabs(card) {
  for (const tab of card.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => {
      for (const other of card.querySelectorAll("[role=tab]")) {
        other.setAttribute("aria-selected", String(other === tab));
      }
      card.querySelector("iframe").hidden = tab.dataset.tab !== "html";
      card.querySelector("pre").hidden = tab.dataset.tab !== "text";
      card.querySelector("table").hidden = tab.dataset.tab !== "headers";
    });
  }
}

// Options of a <select>, keeping the choice when it is still there.
export function fillSelect(select, options, empty) {
  const drawn = JSON.stringify([empty, options]);
  if (select.dataset.drawn === drawn) return; // unchanged: an open select stays as it is
  select.dataset.drawn = drawn;
  const chosen = select.value;
  select.replaceChildren(...(empty ? [new Option(empty, "")] : []),
    ...options.map(([value, label]) => new Option(label, value)));
  if (options.some(([value]) => value === chosen)) select.value = chosen;
}
