// Importing a file into a list: read its header here, map its columns, send it, and follow
// the job in rows (rate and time left), then its rejected rows (line, address, why).
import { api, busy, byId, count, el, fillBody, path, row, say, words } from "./core.js";

const MAX_BODY = 4 * 1024 * 1024; // what one API call takes (API Gateway's payload, with room)
const ADDRESS = "__address__";
const OWN = "__own__"; // a column fanmail reads itself: not sent in the mapping
const state = { file: null, format: "csv", columns: [], rows: 0, job: null, timer: null, samples: [] };

export function setup() {
  byId("import-file").addEventListener("change", (event) => readFile(event.target.files[0]));
  byId("import-format").addEventListener("change", () => readFile(byId("import-file").files[0]));
  byId("import-form").addEventListener("submit", start);
  byId("rejects-download").addEventListener("click", (event) => busy(event.currentTarget, download));
}

// The first record of a CSV: fields split on commas outside quotes ("" is a quote).
export function csvRecord(text) {
  const fields = [];
  let field = "", quoted = false, i = 0;
  for (; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { fields.push(field); field = ""; }
    else if (c === "\n" || c === "\r") break;
    else field += c;
  }
  fields.push(field);
  while (text[i] === "\r" || text[i] === "\n") i += 1;
  return { fields, rest: text.slice(i) };
}

// What fanmail reads from a column an export writes (the import reads them back: opt-outs are
// kept), or null for an ordinary column. A status column of the file's own: map it or skip it.
function ownColumn(column) {
  const name = column.trim();
  if (name.toLowerCase() === "status") return "the status (subscribed; unsubscribed, bounced, complained kept)";
  if (name.toLowerCase().startsWith("topic:")) return "the topic choice (yes or no)";
  return null;
}

const RESERVED = ["email", "subscriber", "campaign", "list", "subject", "unsubscribe_url", "preferences_url"];

function attributeName(column) {
  const name = column.trim().toLowerCase().replace(/[^\p{L}\p{N}_]+/gu, "_").replace(/^_+|_+$/g, "");
  if (name === "status") return "member_status"; // what an import reads as the status: not an attribute
  if (RESERVED.includes(name)) return `my_${name}`; // names fanmail gives every template itself
  return /^\p{L}/u.test(name) ? name.slice(0, 64) : `field_${name}`.slice(0, 64);
}

async function readFile(file) {
  state.file = file || null;
  byId("mapping").hidden = true;
  if (!file) return;
  if (file.size > MAX_BODY) {
    say("import-notice", `${file.name} is ${count(file.size)} bytes: over 4 MB, import it with `
      + "fanmail import FILE --list ID (it uploads large files).", true);
    return;
  }
  const text = (await file.text()).replace(/^\uFEFF/, "");
  state.format = byId("import-format").value || guessFormat(file.name, text);
  if (state.format === "pinpoint") {
    state.rows = text.split(/\r?\n/).filter((line) => line.trim()).length;
    say("import-notice", `${file.name}: ${count(state.rows)} Pinpoint endpoints (email ones become `
      + "subscribers, one per address; others are skipped and counted)");
    return;
  }
  let columns, example;
  if (state.format === "csv") {
    const header = csvRecord(text);
    columns = header.fields;
    example = csvRecord(header.rest).fields;
    state.rows = text.split(/\r?\n/).filter((line) => line.trim()).length - 1;
  } else {
    const lines = text.split(/\r?\n/).filter((line) => line.trim());
    const first = JSON.parse(lines[0] || "{}");
    columns = Object.keys(first);
    example = columns.map((key) => first[key]);
    state.rows = lines.length;
  }
  state.columns = columns;
  fillBody(byId("mapping-table"), columns.map((column, i) => mappingRow(column, example[i])), "No columns");
  byId("mapping").hidden = false;
  say("import-notice", `${file.name}: ${count(state.rows)} rows, ${columns.length} columns`);
}

// By its name, and a JSON-lines file whose first record has Pinpoint's ChannelType is an
// endpoint export.
function guessFormat(name, text) {
  if (!/\.(jsonl|ndjson|json)$/i.test(name)) return "csv";
  try {
    const first = JSON.parse(text.split(/\r?\n/).find((line) => line.trim()) || "{}");
    return first && typeof first === "object" && "ChannelType" in first ? "pinpoint" : "jsonl";
  } catch {
    return "jsonl";
  }
}

function mappingRow(column, example) {
  const choice = el("select");
  choice.setAttribute("aria-label", `What ${column} becomes`);
  const own = ownColumn(column);
  choice.append(new Option("the address", ADDRESS), new Option("an attribute named…", "attribute"),
    new Option("nothing: skip it", "skip"));
  if (own) choice.prepend(new Option(own, OWN));
  const name = el("input");
  name.setAttribute("aria-label", `Attribute name for ${column}`);
  name.value = attributeName(column);
  const isAddress = /^(e-?mail|mail|email address|e-mail address)$/i.test(column.trim());
  choice.value = isAddress ? ADDRESS : own ? OWN : "attribute";
  name.hidden = choice.value !== "attribute";
  choice.addEventListener("change", () => { name.hidden = choice.value !== "attribute"; });
  const becomes = el("td");
  becomes.append(choice, name);
  const tr = row(el("td", column || "(no name)"), el("td", example ?? "", "muted wrap"), becomes);
  tr.dataset.column = column;
  return tr;
}

function mapping() {
  let emailColumn = null;
  const columns = {};
  for (const tr of byId("mapping-table").querySelectorAll("tbody tr")) {
    const [choice, name] = tr.querySelectorAll("select, input");
    const column = tr.dataset.column;
    if (choice.value === ADDRESS) {
      if (emailColumn !== null) throw new Error(`Two address columns: ${emailColumn} and ${column}`);
      emailColumn = column;
    } else if (choice.value === OWN) continue;
    else if (choice.value === "skip") columns[column] = "";
    else if (name.value.trim() !== column) columns[column] = name.value.trim();
  }
  if (emailColumn === null) throw new Error("Pick the column that holds the addresses");
  return { emailColumn, columns };
}

async function start(event) {
  event.preventDefault();
  const form = event.target;
  await busy(byId("import-start"), async () => {
    try {
      if (!state.file) throw new Error("Choose a file first");
      const query = new URLSearchParams({
        format: state.format, mode: form.elements.mode.value, file_name: state.file.name,
      });
      if (state.format !== "pinpoint") {
        const { emailColumn, columns } = mapping();
        query.set("email_column", emailColumn);
        query.set("columns", JSON.stringify(columns));
      }
      const media = state.format === "csv" ? "text/csv" : "application/x-ndjson";
      const listId = byId("import-list").value;
      const job = await api("POST", `${path("/lists", listId)}/imports?${query}`, await state.file.arrayBuffer(), media);
      say("import-notice", `Importing ${state.file.name} into ${listId}`);
      follow(job);
    } catch (error) {
      say("import-notice", error.message, true);
    }
  });
}

function follow(job) {
  state.job = job;
  state.samples = [];
  byId("import-progress").hidden = false;
  byId("rejects").hidden = true;
  clearInterval(state.timer);
  state.timer = setInterval(() => poll().catch((error) => say("import-notice", error.message, true)), 500);
  showJob(job);
}

async function poll() {
  const job = await api("GET", path("/imports", state.job.import_id));
  state.job = job;
  showJob(job);
  if (["done", "failed"].includes(job.status)) {
    clearInterval(state.timer);
    const failed = job.status === "failed";
    say("import-notice", `${failed ? "Could not import" : "Imported"} ${job.file_name} into ${job.list_id}`, failed);
    if (job.counts.rejected) await showRejects(job);
  }
}

// Rows read so far, their rate over the last seconds and the time left at that rate.
function showJob(job) {
  const rows = job.counts.rows;
  const total = Math.max(state.rows, rows);
  const now = Date.now() / 1000;
  state.samples.push([now, rows]);
  state.samples = state.samples.filter(([t]) => now - t <= 5);
  const [t0, r0] = state.samples[0];
  const rate = now - t0 >= 0.5 ? (rows - r0) / (now - t0) : 0;
  const share = total ? Math.floor((100 * rows) / total) : 0;
  const bar = byId("import-bar");
  bar.setAttribute("aria-valuenow", String(job.status === "done" ? 100 : share));
  bar.firstElementChild.style.width = `${job.status === "done" ? 100 : share}%`;
  let text = `${count(rows)} of ${count(total)} rows (${share} %)`;
  if (job.status === "done") text = `Done: ${count(rows)} rows read`;
  else if (job.status === "failed") text = `Failed: ${job.error}`;
  else if (rate > 0) text += ` · ${count(Math.round(rate))} rows a second · about ${Math.ceil((total - rows) / rate)} s left`;
  else if (job.status === "queued") text += " · waiting for the importer";
  byId("import-text").textContent = [text, ...(job.notes || [])].join(" · ");
  const figures = byId("import-counts");
  figures.replaceChildren(...["created", "updated", "unchanged", "merged", "unsubscribed", "skipped", "rejected"]
    .filter((key) => key === "rejected" || job.counts[key])
    .map((key) => {
      const box = el("div", null, "figure");
      box.dataset.name = key;
      box.append(el("strong", count(job.counts[key])), el("span", key === "rejected" ? "rejected rows" : words(key)));
      return box;
    }));
}

async function allRejects(job) {
  const found = [];
  let cursor = 0;
  while (cursor !== null && found.length < 100000) {
    const page = await api("GET", `${path("/imports", job.import_id)}/rejects?cursor=${cursor}&limit=1000`);
    found.push(...page.rejects);
    cursor = page.next_cursor;
  }
  return found;
}

async function showRejects(job) {
  const rejects = await allRejects(job);
  state.rejects = rejects;
  fillBody(byId("rejects-table"), rejects.slice(0, 100).map((r) =>
    row(String(r.line), el("td", r.email || "–", "wrap"), el("td", r.reason, "wrap"))), "None");
  byId("rejects").hidden = false;
}

// The rejected rows as CSV. A cell a spreadsheet would take as a formula (the file's own text:
// anyone's) gets a leading apostrophe, as the CLI's file and exports do (spreadsheet_safe).
const FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r"];
export function rejectedCsv(rejects) {
  const cell = (value) => {
    const text = String(value ?? "");
    const safe = FORMULA_STARTS.some((start) => text.startsWith(start)) ? `'${text}` : text;
    return `"${safe.replaceAll('"', '""')}"`;
  };
  const lines = ["line,email,reason", ...rejects.map((r) => [r.line, r.email, r.reason].map(cell).join(","))];
  return `${lines.join("\r\n")}\r\n`;
}

async function download() {
  const link = el("a");
  link.href = URL.createObjectURL(new Blob([rejectedCsv(state.rejects || [])], { type: "text/csv" }));
  link.download = `${(state.file && state.file.name) || "import"}.rejected.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
