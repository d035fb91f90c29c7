// The analysis page: a recording in (dropped, picked or recorded), POST /api/jobs, progress from
// GET /api/jobs/{id}, then the labels, waveform, log-mel, scores over time and events, all on one time axis
// with a cursor that follows playback. Nothing here computes a score: the page draws what the API returns.
"use strict";

const $ = (id) => document.getElementById(id);
const MARGIN = 110;  // px on the left of every track, for the class names: the time axes line up
const state = {models: [], job: null, result: null, duration: 0, audioUrl: null, recorder: null};

Tympan.nav("/");
loadModels();
wireInput();
for (const id of ["waveform", "logmel", "heatmap", "events"]) $(id).addEventListener("click", seek);
window.addEventListener("resize", () => state.result && draw(state.result));
$("audio").addEventListener("timeupdate", moveCursor);
$("audio").addEventListener("play", () => requestAnimationFrame(follow));

async function loadModels() {
  try {
    state.models = await Tympan.api.get("/api/models");
  } catch (error) {
    return showError(error.message);
  }
  const select = $("model");
  select.innerHTML = "";
  for (const m of state.models) {
    const option = new Option(m.error ? `${m.name} (unreadable)` : m.name, m.name);
    option.disabled = Boolean(m.error);
    select.add(option);
  }
  if (!state.models.some((m) => !m.error)) showError("No model to use: put .tympan files in the --models folder.");
  select.addEventListener("change", describeModel);
  describeModel();
}

function describeModel() {
  const m = state.models.find((x) => x.name === $("model").value);
  if (!m) return;
  const test = m.metrics && m.metrics.test;
  const score = test ? Object.entries(test).filter(([k, v]) => typeof v === "number" && k !== "loss" && k !== "n")[0]
    : null;
  $("model-info").textContent = m.error || `${m.task === "events" ? "event detector" : "clip classifier"}, ` +
    `${m.classes.length} classes, ${m.sr} Hz, ${m.clip_seconds} s clips` +
    (score ? `; test ${score[0]} ${(+score[1]).toFixed(3)}` : "");
}

function wireInput() {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) analyse(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", () => { if ($("file").files.length) analyse($("file").files[0]); });
  $("record").addEventListener("click", toggleRecording);
  $("cancel").addEventListener("click", () => state.job && Tympan.api.del(`/api/jobs/${state.job}`).catch(() => {}));
}

async function analyse(file) {
  showError("");
  $("results").hidden = true;
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("model", $("model").value);
  for (const id of ["top_k", "threshold", "window", "hop", "smooth", "min_duration"]) {
    if ($(id).value !== "") form.append(id, $(id).value);
  }
  if (state.audioUrl) URL.revokeObjectURL(state.audioUrl);
  state.audioUrl = URL.createObjectURL(file);
  setBusy(true, `Uploading ${file.name} (${(file.size / 1e6).toFixed(1)} MB)…`, 0);
  try {
    const job = await Tympan.api.form("/api/jobs", form);
    state.job = job.id;
    const done = await poll(job.id);
    state.result = done.result;
    show(done.result, file.name);
  } catch (error) {
    $("status").textContent = "";
    showError(error.message);
  } finally {
    setBusy(false, $("status").textContent);
  }
}

async function poll(id) {
  for (;;) {
    const job = await Tympan.api.get(`/api/jobs/${id}`);
    if (job.status === "done") return job;
    if (job.status === "failed") throw new Error(job.error);
    setBusy(true, job.status === "queued" ? "Waiting for a free worker…"
      : `Analysing ${job.file}: ${Math.round(job.progress * 100)}%`, job.progress);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function setBusy(busy, text = "", progress = 0) {
  $("progress").hidden = !busy;
  $("progress").value = progress;
  $("cancel").hidden = !busy || !state.job;
  $("status").textContent = text;
}

function showError(text) {
  $("error").textContent = text;
}

function show(result, name) {
  const item = result.report.files[0];
  state.duration = result.view.duration;
  $("results").hidden = false;
  $("file-name").textContent = name;
  $("file-info").textContent = `${item.duration.toFixed(2)} s, ${item.windows} window(s), model ` +
    `${result.report.model}`;
  $("status").textContent = `Done: ${name}`;
  $("download-csv").href = Tympan.withToken(`/api/jobs/${state.job}/predictions.csv`);
  $("download-json").href = Tympan.withToken(`/api/jobs/${state.job}/predictions.json`);
  const body = $("labels").tBodies[0];
  body.innerHTML = "";
  for (const t of item.top) {
    const row = body.insertRow();
    row.className = "label";
    row.insertCell().textContent = t.label;
    const bar = row.insertCell();
    bar.className = "bar";
    bar.innerHTML = `<div class="fill" style="width:${Math.round(t.score * 100)}%"></div>`;
    const score = row.insertCell();
    score.className = "num score";
    score.textContent = t.score.toFixed(3);
  }
  $("notes").textContent = item.notes.join("; ");
  $("audio").src = state.audioUrl;
  draw(result);
}

// ---- drawing: every track maps time t to MARGIN + t / duration * (width - MARGIN) ----

function fit(canvas, cssHeight) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(cssHeight * ratio);
  canvas.style.height = `${cssHeight}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, cssHeight);
  return {ctx, width, height: cssHeight, plot: width - MARGIN};
}

function draw(result) {
  const view = result.view;
  const item = result.report.files[0];
  const classes = result.report.classes;
  drawWaveform(view);
  drawLogmel(view);
  const scores = view.scores;
  $("heatmap-track").hidden = !scores;
  if (scores) drawHeatmap(scores, classes);
  const withEvents = Boolean(scores) || item.events.length > 0;
  $("events-track").hidden = !withEvents;
  if (withEvents) drawEvents(item.events, classes);
  $("events-note").textContent = withEvents ? `${item.events.length} event(s)` :
    "One clip: the labels above are the whole answer (a longer recording also gets scores over time and events).";
  drawAxis();
  moveCursor();
}

function drawWaveform(view) {
  const {ctx, height, plot} = fit($("waveform"), 80);
  const n = view.columns;
  const mid = height / 2;
  ctx.fillStyle = "#2a6fdb";
  for (let c = 0; c < n; c++) {
    const x = MARGIN + (c / n) * plot;
    const top = mid - view.waveform.max[c] * mid;
    const bottom = mid - view.waveform.min[c] * mid;
    ctx.fillRect(x, top, Math.max(1, plot / n), Math.max(1, bottom - top));
  }
}

function drawLogmel(view) {
  const {ctx, height, plot} = fit($("logmel"), 128);
  const mel = view.logmel;
  const bytes = Uint8Array.from(atob(mel.data), (ch) => ch.charCodeAt(0));
  const n = view.columns;
  const image = new ImageData(n, mel.n_mels);
  for (let band = 0; band < mel.n_mels; band++) {
    const y = mel.n_mels - 1 - band;  // low frequencies at the bottom
    for (let c = 0; c < n; c++) {
      const [r, g, b] = colour(bytes[band * n + c] / 255, MAGMA);
      const i = 4 * (y * n + c);
      image.data[i] = r; image.data[i + 1] = g; image.data[i + 2] = b; image.data[i + 3] = 255;
    }
  }
  const off = document.createElement("canvas");
  off.width = n; off.height = mel.n_mels;
  off.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, MARGIN, 0, plot, height);
  ctx.fillStyle = "#5b6475";
  ctx.font = "11px system-ui";
  ctx.fillText(`${(mel.fmax / 1000).toFixed(1)} kHz`, 4, 24);
  ctx.fillText("0 Hz", 4, height - 4);
}

function drawHeatmap(scores, classes) {
  const row = 16;
  const {ctx, plot} = fit($("heatmap"), row * classes.length + 18);
  const d = state.duration;
  classes.forEach((name, k) => {
    const y = 18 + k * row;
    ctx.fillStyle = "#1d2330";
    ctx.font = "11px system-ui";
    ctx.fillText(name.slice(0, 16), 4, y + 12);
    scores.starts.forEach((start, w) => {
      const [r, g, b] = colour(scores.scores[k][w], VIRIDIS);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      const x0 = MARGIN + (start / d) * plot;
      const x1 = MARGIN + (Math.min(scores.ends[w], d) / d) * plot;
      ctx.fillRect(x0, y, Math.max(1, x1 - x0 + 0.5), row - 1);
    });
  });
}

function drawEvents(events, classes) {
  const row = 16;
  const {ctx, plot} = fit($("events"), row * classes.length + 18);
  const d = state.duration;
  ctx.font = "11px system-ui";
  classes.forEach((name, k) => {
    const y = 18 + k * row;
    ctx.fillStyle = "#1d2330";
    ctx.fillText(name.slice(0, 16), 4, y + 12);
    ctx.fillStyle = "#eef0f4";
    ctx.fillRect(MARGIN, y, plot, row - 1);
  });
  for (const e of events) {
    const k = classes.indexOf(e.label);
    if (k < 0) continue;
    const x0 = MARGIN + (e.start / d) * plot;
    const x1 = MARGIN + (e.end / d) * plot;
    ctx.fillStyle = `hsl(${(k * 137) % 360}, 60%, 48%)`;
    ctx.fillRect(x0, 18 + k * row + 1, Math.max(2, x1 - x0), row - 3);
  }
}

function drawAxis() {
  const {ctx, plot} = fit($("axis"), 22);
  const d = state.duration;
  const step = niceStep(d / 10);
  ctx.fillStyle = "#5b6475";
  ctx.font = "11px system-ui";
  for (let t = 0; t <= d + 1e-9; t += step) {
    const x = MARGIN + (t / d) * plot;
    ctx.fillRect(x, 0, 1, 5);
    ctx.fillText(formatTime(t, step), x - 8, 17);
  }
  ctx.fillText("time (s)", 4, 17);
}

function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-3)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

function formatTime(t, step) {
  if (t >= 3600) return `${Math.floor(t / 3600)}:${String(Math.floor((t % 3600) / 60)).padStart(2, "0")}:` +
    String(Math.round(t % 60)).padStart(2, "0");
  if (t >= 60 && step >= 1) return `${Math.floor(t / 60)}:${String(Math.round(t % 60)).padStart(2, "0")}`;
  return step < 1 ? t.toFixed(1) : String(Math.round(t));
}

// ---- playback: the cursor follows the audio; a click seeks and plays ----

function seek(event) {
  const canvas = event.currentTarget;
  const rect = canvas.getBoundingClientRect();
  const fraction = (event.clientX - rect.left - MARGIN) / (rect.width - MARGIN);
  if (fraction < 0 || !state.duration) return;
  const audio = $("audio");
  audio.currentTime = Math.min(fraction, 1) * state.duration;
  moveCursor();
  audio.play().catch(() => {});  // a format the browser cannot play still seeks the cursor
}

function moveCursor() {
  const stack = $("stack");
  const cursor = $("cursor");
  if (!state.duration) return;
  const t = $("audio").currentTime || 0;
  const plot = stack.clientWidth - MARGIN;
  cursor.style.display = "block";
  cursor.style.left = `${MARGIN + (t / state.duration) * plot}px`;
  cursor.dataset.time = t.toFixed(3);
}

function follow() {
  moveCursor();
  if (!$("audio").paused) requestAnimationFrame(follow);
}

// ---- the microphone: raw samples through Web Audio, sent as a 16-bit WAV (which every decoder reads) ----

async function toggleRecording() {
  const button = $("record");
  if (state.recorder) {
    const {context, stream, chunks, node} = state.recorder;
    state.recorder = null;
    node.disconnect();
    stream.getTracks().forEach((t) => t.stop());
    button.classList.remove("recording");
    button.textContent = "● Record";
    const wav = encodeWav(chunks, context.sampleRate);
    context.close();
    analyse(new File([wav], `recording-${new Date().toISOString().slice(0, 19).replace(/:/g, "-")}.wav`,
                     {type: "audio/wav"}));
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({audio: true});
    const context = new AudioContext();
    const source = context.createMediaStreamSource(stream);
    const node = context.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    node.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    source.connect(node);
    node.connect(context.destination);
    state.recorder = {context, stream, chunks, node};
    button.classList.add("recording");
    button.textContent = "■ Stop and analyse";
  } catch (error) {
    showError(`The microphone is not available: ${error.message}`);
  }
}

function encodeWav(chunks, sr) {
  const n = chunks.reduce((sum, c) => sum + c.length, 0);
  const view = new DataView(new ArrayBuffer(44 + 2 * n));
  const text = (offset, s) => [...s].forEach((ch, i) => view.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * n, true); text(8, "WAVE"); text(12, "fmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, sr, true); view.setUint32(28, 2 * sr, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, 2 * n, true);
  let offset = 44;
  for (const c of chunks) {
    for (const v of c) { view.setInt16(offset, Math.max(-1, Math.min(1, v)) * 32767, true); offset += 2; }
  }
  return view.buffer;
}

// ---- colour maps: a few stops of matplotlib's magma and viridis, linearly interpolated ----

const MAGMA = [[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]];
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function colour(value, stops) {
  const v = Math.max(0, Math.min(1, value)) * (stops.length - 1);
  const i = Math.min(Math.floor(v), stops.length - 2);
  const f = v - i;
  return stops[i].map((a, k) => Math.round(a + f * (stops[i + 1][k] - a)));
}
