// The runs page: GET /api/runs as a table, one run a row, metrics side by side, sortable by any column.
"use strict";

const METRICS = [["accuracy", "accuracy"], ["balanced_accuracy", "balanced acc."], ["macro_f1", "macro F1"],
                 ["mAP", "mAP"], ["event_f1", "event F1"], ["segment_f1", "segment F1"], ["psds1", "PSDS1"]];
let runs = [];
let order = {key: "modified", descending: true};

Tympan.nav("/runs");
Tympan.api.get("/api/runs").then((found) => { runs = found; render(); })
  .catch((error) => { document.getElementById("error").textContent = error.message; });

function columns() {
  const shown = METRICS.filter(([key]) => runs.some((r) => r.test && r.test[key] !== undefined));
  return [
    ["name", "run", (r) => r.name],
    ["task", "task", (r) => r.task],
    ["dataset", "data", (r) => r.dataset ? `${r.dataset} (${r.layout})` : ""],
    ["network", "network", (r) => [r.frontend, r.network].filter(Boolean).join(" → ")],
    ["test_sources", "test sources", (r) => r.test_sources || ""],
    ...shown.map(([key, label]) => [key, label, (r) => r.test && r.test[key] !== undefined ? r.test[key] : null]),
    ["test_n", "test n", (r) => r.test_n],
    ["epochs", "epochs (best)", (r) => r.epochs],
    ["train_seconds", "training", (r) => r.train_seconds],
    ["modified", "finished", (r) => r.modified],
  ];
}

function render() {
  const table = document.getElementById("runs");
  document.getElementById("empty").hidden = runs.length > 0;
  table.hidden = runs.length === 0;
  const cols = columns();
  const head = table.tHead;
  head.innerHTML = "";
  const tr = head.insertRow();
  for (const [key, label] of cols) {
    const th = document.createElement("th");
    th.textContent = label + (order.key === key ? (order.descending ? " ▼" : " ▲") : "");
    th.dataset.key = key;
    th.onclick = () => {
      order = {key, descending: order.key === key ? !order.descending : true};
      render();
    };
    tr.appendChild(th);
  }
  const get = cols.find(([key]) => key === order.key)[2];
  const sorted = [...runs].sort((a, b) => {
    const x = get(a), y = get(b);
    const cmp = x === y ? 0 : x === null || x === undefined ? 1 : y === null || y === undefined ? -1 : x < y ? -1 : 1;
    return order.descending ? -cmp : cmp;
  });
  const body = table.tBodies[0];
  body.innerHTML = "";
  for (const run of sorted) {
    const row = body.insertRow();
    row.dataset.run = run.name;
    for (const [key, , value] of cols) {
      const cell = row.insertCell();
      const v = value(run);
      if (key === "name") {
        if (run.report) {
          const a = document.createElement("a");
          a.href = Tympan.withToken(`/runs/${run.name.split("/").map(encodeURIComponent).join("/")}/report.html`);
          a.textContent = v;
          cell.appendChild(a);
        } else {
          cell.textContent = v;
        }
        if (run.error) cell.title = run.error;
      } else if (key === "test_sources") {
        const group = run.group_name || "group";
        cell.textContent = {new: `new ${group}s (held out)`, known: `known ${group}s`, unknown: "sources unknown"}[v]
          || "";
        cell.className = `sources ${v === "new" ? "held-out" : v}`;
      } else if (key === "epochs") {
        cell.textContent = v ? `${v} (${run.best_epoch})` : "";
        cell.className = "num";
      } else if (key === "train_seconds") {
        cell.textContent = v ? (v < 120 ? `${v.toFixed(0)} s` : `${(v / 60).toFixed(1)} min`) : "";
        cell.className = "num";
      } else if (key === "modified") {
        cell.textContent = v ? new Date(v * 1000).toLocaleString() : "";
      } else if (typeof v === "number") {
        cell.textContent = Number.isInteger(v) ? String(v) : v.toFixed(3);
        cell.className = "num metric";
        cell.dataset.metric = key;
      } else {
        cell.textContent = v === null || v === undefined ? "–" : v;
      }
    }
  }
}
