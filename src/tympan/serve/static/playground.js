// The playground page: its controls change a session on the server (REST, /api/playground), which trains
// the network and streams what to draw (server-sent events): the points and the network's shape after each
// rebuild ("layout"), then the losses, the output over the plane, each neuron's output and the weights
// ("snapshot"). Nothing is computed here but colours and pixels: the numbers shown are the engine's.
"use strict";

(() => {
  const API = "/api/playground";
  const RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1, 3, 10, 100];
  const REGULARIZATION_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
  const LOSS_NAMES = {binary_cross_entropy: "cross-entropy (sigmoid)", sse: "SSE (sigmoid)",
                      cross_entropy: "cross-entropy (softmax of 2)"};
  const OPTIMIZER_NAMES = {sgd: "SGD", momentum: "momentum 0.9", adam: "Adam"};
  const ACTIVATION_NAMES = {linear: "linear", step: "step", sigmoid: "sigmoid", tanh: "tanh", arctan: "arctan",
                           relu: "ReLU", leaky_relu: "leaky ReLU", softplus: "softplus"};
  const ORANGE = [245, 147, 34], WHITE = [232, 234, 235], BLUE = [8, 119, 189];
  const $ = (id) => document.getElementById(id);

  const state = {options: null, presets: [], session: null, source: null, layout: null, snapshot: null,
                 config: null, hovered: null, links: [], biases: [], ended: false};

  // ------------------------------------------------------------------------------------------ colours

  function colour(value) {  // value in [-1, 1]: orange, white, blue
    const v = Math.max(-1, Math.min(1, value));
    const far = v < 0 ? ORANGE : BLUE, t = Math.abs(v);
    return WHITE.map((c, i) => Math.round(c + (far[i] - c) * t));
  }

  function css(rgb) { return `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`; }

  const offscreen = {};
  function drawHeatMap(canvas, values, size, toValue) {
    // each cell's colour at its own pixel, then scaled up smoothly onto the canvas
    const off = offscreen[size] || (offscreen[size] = document.createElement("canvas"));
    off.width = off.height = size;
    const ctx = off.getContext("2d"), image = ctx.createImageData(size, size);
    for (let i = 0; i < size * size; i++) {
      const rgb = colour(toValue(values[i]));
      image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
    }
    ctx.putImageData(image, 0, 0);
    const target = canvas.getContext("2d");
    target.imageSmoothingEnabled = true;
    target.drawImage(off, 0, 0, canvas.width, canvas.height);
  }

  // a heat map's values come as whole percents of its scale (1, or its largest |value| when that is more)
  const percent = (q) => q / 100;

  // ----------------------------------------------------------------------------------- requests

  function showError(error) { $("error").textContent = error ? String(error.message || error) : ""; }

  async function change(values) {
    if (!state.session) return;
    showError(null);
    try {
      const answer = await Tympan.api.put(`${API}/sessions/${state.session}`, values);
      showConfig(answer.config);
      return answer;
    } catch (error) {
      showError(error);
      if (state.config) showConfig(state.config);  // back to what the server holds
      return null;
    }
  }

  async function control(action) {
    if (!state.session) return;
    showError(null);
    try {
      const answer = await Tympan.api.post(`${API}/sessions/${state.session}/control`, {action});
      showPlaying(answer.playing);
    } catch (error) {
      showError(error);
    }
  }

  async function startSession(config) {
    showError(null);
    state.ended = false;
    try {
      const answer = await Tympan.api.post(`${API}/sessions`, config);
      state.session = answer.id;
    } catch (error) {
      showError(error);
      $("status").innerHTML = "";
      const retry = document.createElement("button");
      retry.textContent = "Try again";
      retry.onclick = () => startSession(config);
      $("status").appendChild(retry);
      return;
    }
    $("status").textContent = "";
    listen();
  }

  function listen() {
    if (state.source) state.source.close();
    const source = new EventSource(Tympan.withToken(`${API}/sessions/${state.session}/stream`));
    state.source = source;
    source.addEventListener("layout", (event) => showLayout(JSON.parse(event.data)));
    source.addEventListener("snapshot", (event) => {
      const snapshot = JSON.parse(event.data);
      if (state.layout && snapshot.revision === state.layout.revision) showSnapshot(snapshot);
    });
    source.addEventListener("end", (event) => {
      source.close();
      sessionEnded(JSON.parse(event.data).reason);
    });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED && !state.ended) sessionEnded("the connection was lost");
    };
  }

  function sessionEnded(reason) {
    state.ended = true;
    showPlaying(false);
    $("status").textContent = `This session ended: ${reason}. `;
    const again = document.createElement("button");
    again.textContent = "Start a new session";
    again.onclick = () => startSession(state.config || state.options.default);
    $("status").appendChild(again);
  }

  // ---------------------------------------------------------------------------------- controls

  function fillSelect(select, values, label) {
    select.innerHTML = "";
    for (const value of values) {
      const option = document.createElement("option");
      option.value = String(value);
      option.textContent = label ? label(value) : String(value);
      select.appendChild(option);
    }
  }

  function chooseIn(select, value, label) {
    // a preset may pick a value the list lacks (a rate of 0.05): add it in order
    if (![...select.options].some((o) => o.value === String(value))) {
      const option = document.createElement("option");
      option.value = String(value);
      option.textContent = label ? label(value) : String(value);
      const after = [...select.options].find((o) => Number(o.value) > Number(value));
      select.insertBefore(option, after || null);
    }
    select.value = String(value);
  }

  function buildControls() {
    const o = state.options;
    fillSelect($("learning-rate"), RATES);
    fillSelect($("activation"), o.activations, (a) => ACTIVATION_NAMES[a] || a);
    fillSelect($("output-activation"), o.activations, (a) => ACTIVATION_NAMES[a] || a);
    fillSelect($("regularization"), o.regularizations, (r) => r === "none" ? "none" : r.toUpperCase());
    fillSelect($("regularization-rate"), REGULARIZATION_RATES);
    fillSelect($("loss"), o.losses, (l) => LOSS_NAMES[l] || l);
    fillSelect($("optimizer"), o.optimizers, (name) => OPTIMIZER_NAMES[name] || name);

    const presets = $("preset");
    presets.innerHTML = '<option value="">(none)</option>';
    const groups = {};
    for (const preset of state.presets) {
      if (!groups[preset.lesson]) {
        groups[preset.lesson] = document.createElement("optgroup");
        groups[preset.lesson].label = `tympan lab ${preset.lesson}`;
        presets.appendChild(groups[preset.lesson]);
      }
      const option = document.createElement("option");
      option.value = preset.name;
      option.textContent = preset.title;
      groups[preset.lesson].appendChild(option);
    }

    const datasets = $("datasets");
    for (const d of o.data) {
      const button = document.createElement("button");
      button.dataset.name = d.name;
      button.title = d.description;
      button.setAttribute("role", "radio");
      const sketch = document.createElement("canvas");
      sketch.width = sketch.height = 48;
      drawSketch(sketch, d.name);
      const label = document.createElement("span");
      label.textContent = d.title;
      button.append(sketch, label);
      button.onclick = () => change({data: d.name});
      datasets.appendChild(button);
    }

    const number = (id, field, parse) => { $(id).onchange = () => change({[field]: parse($(id).value)}); };
    number("learning-rate", "learning_rate", Number);
    number("activation", "activation", String);
    number("output-activation", "output_activation", String);
    number("regularization", "regularization", String);
    number("regularization-rate", "regularization_rate", Number);
    number("loss", "loss", String);
    number("optimizer", "optimizer", String);
    $("train-fraction").onchange = () => change({train_fraction: Number($("train-fraction").value) / 100});
    $("noise").onchange = () => change({noise: Number($("noise").value) / 100});
    $("batch-size").oninput = () => { $("batch-size-value").textContent = $("batch-size").value; };
    $("batch-size").onchange = () => change({batch_size: Number($("batch-size").value)});
    $("batch-all").onchange = () => change({batch_size: $("batch-all").checked ? 0 : Number($("batch-size").value)});
    $("regenerate").onclick = () => change({seed: Math.floor(Math.random() * 1e6)});
    presets.onchange = () => applyPreset(presets.value);
    $("play").onclick = () => control(state.snapshot && state.snapshot.playing ? "pause" : "play");
    $("step").onclick = () => control("step");
    $("reset").onclick = () => control("reset");
    $("show-test").onchange = () => state.snapshot && drawOutput();
    $("discretize").onchange = () => state.snapshot && drawOutput();
  }

  async function applyPreset(name) {
    const preset = state.presets.find((p) => p.name === name);
    const note = $("preset-note");
    if (!preset) return;
    note.innerHTML = "";
    const title = document.createElement("h2");
    title.textContent = `${preset.title} (tympan lab ${preset.lesson})`;
    const what = document.createElement("p");
    what.textContent = preset.description;
    const matches = document.createElement("p");
    matches.className = "muted";
    matches.textContent = `At epoch ${preset.config.stop_at}, where playing stops, the numbers shown are ` +
      `${preset.matches}.`;
    note.append(title, what, matches);
    const answer = await change(preset.config);
    if (answer && !answer.rebuilt) control("reset");  // the same network as before: start it afresh all the same
  }

  function showConfig(config) {
    state.config = config;
    chooseIn($("learning-rate"), config.learning_rate);
    $("activation").value = config.activation;
    $("output-activation").value = config.output_activation;
    $("regularization").value = config.regularization;
    chooseIn($("regularization-rate"), config.regularization_rate);
    $("regularization-rate").disabled = config.regularization === "none";
    $("loss").value = config.loss;
    $("optimizer").value = config.optimizer;
    const dataset = state.options.data.find((d) => d.name === config.data);
    for (const button of $("datasets").children) {
      const selected = button.dataset.name === config.data;
      button.classList.toggle("selected", selected);
      button.setAttribute("aria-checked", String(selected));
    }
    $("data-description").textContent = dataset.description +
      (dataset.lesson ? ". A lesson's data: noise and the training share do not apply." : "");
    for (const [id, share, unit] of [["train-fraction", config.train_fraction, "%"], ["noise", config.noise, ""]]) {
      $(id).value = Math.round(100 * share);
      $(id).disabled = dataset.lesson;
      $(id).parentElement.classList.toggle("disabled", dataset.lesson);
      $(`${id}-value`).textContent = `${Math.round(100 * share)}${unit}`;
    }
    const all = config.batch_size === 0;
    $("batch-all").checked = all;
    $("batch-size").disabled = all;
    if (!all) $("batch-size").value = Math.min(config.batch_size, 32);
    $("batch-size-value").textContent = all ? "all" : String(config.batch_size);
    $("seed").textContent = String(config.seed);
  }

  function showPlaying(playing) {
    $("play").classList.toggle("playing", Boolean(playing));
    $("play").setAttribute("aria-label", playing ? "pause" : "play");
  }

  // ---------------------------------------------------------------------------------- the network

  function showLayout(layout) {
    state.layout = layout;
    state.snapshot = null;
    showConfig(layout.config);
    buildNetwork();
  }

  function button(text, title, onclick, disabled) {
    const b = document.createElement("button");
    b.textContent = text;
    b.title = title;
    b.disabled = disabled;
    b.onclick = onclick;
    return b;
  }

  function node(kind, label) {
    const box = document.createElement("div");
    box.className = `pg-node ${kind}`;
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = state.layout.thumbnail_size;
    box.appendChild(canvas);
    if (label) box.dataset.label = label;
    return box;
  }

  function buildNetwork() {
    const layout = state.layout, config = layout.config, limits = state.options.limits;
    const network = $("network"), head = $("network-head");
    network.querySelectorAll(".pg-column").forEach((c) => c.remove());
    const hidden = config.hidden.slice();

    head.innerHTML = "";
    const layers = document.createElement("div");
    layers.className = "pg-layers";
    layers.append(
      button("+", "add a hidden layer", () => change({hidden: [...hidden, 2]}), hidden.length >= limits.hidden_layers),
      button("\u2212", "remove the last hidden layer", () => change({hidden: hidden.slice(0, -1)}), !hidden.length),
      document.createTextNode(`${hidden.length} hidden layer${hidden.length === 1 ? "" : "s"}`));
    head.append(Object.assign(document.createElement("span"), {textContent: "Features", className: "muted"}),
                layers, Object.assign(document.createElement("span"), {textContent: "Output", className: "muted"}));

    state.columns = [];
    // the inputs: every feature the playground offers, those the network takes drawn from the layout
    const inputs = column("Which inputs?");
    const chosen = new Set(config.inputs), byName = {};
    for (const feature of state.options.inputs) {
      const box = node(`input${chosen.has(feature.name) ? "" : " off"}`, feature.label);
      box.title = `${feature.label}: click to ${chosen.has(feature.name) ? "leave out" : "use"}`;
      box.onclick = () => {
        const next = state.options.inputs.map((f) => f.name)
          .filter((n) => (n === feature.name ? !chosen.has(n) : chosen.has(n)));
        change({inputs: next});
      };
      const drawn = layout.inputs.find((i) => i.name === feature.name);
      if (drawn) drawHeatMap(box.firstChild, drawn.thumbnail.values, layout.thumbnail_size, percent);
      else drawInputSketch(box.firstChild, feature.name);
      byName[feature.name] = box;
      inputs.appendChild(box);
    }
    inputs.nodes = config.inputs.map((name) => byName[name]);  // in the order of the first layer's weights

    const resize = (layer, by) => change({hidden: hidden.map((units, i) => i === layer ? units + by : units)});
    hidden.forEach((units, l) => {
      const col = column("");
      col.firstChild.append(
        button("+", "add a neuron", () => resize(l, +1), units >= limits.units),
        button("\u2212", "remove a neuron", () => resize(l, -1), units <= 1),
        Object.assign(document.createElement("div"), {textContent: `${units} neuron${units === 1 ? "" : "s"}`}));
      for (let u = 0; u < units; u++) col.appendChild(neuron(l, u));
      col.appendChild(Object.assign(document.createElement("div"), {className: "pg-gradient"}));
    });

    const out = column("output");
    for (let u = 0; u < layout.outputs; u++) out.appendChild(neuron(hidden.length, u));
    out.appendChild(Object.assign(document.createElement("div"), {className: "pg-gradient"}));

    for (const col of state.columns) network.appendChild(col);
    buildLinks();
  }

  function column(title) {
    const col = document.createElement("div");
    col.className = "pg-column";
    col.nodes = [];
    const head = document.createElement("div");
    head.className = "pg-column-head";
    head.textContent = title;
    col.appendChild(head);
    state.columns.push(col);
    return col;
  }

  function neuron(layer, unit) {
    const box = node("neuron");
    const bias = document.createElement("div");
    bias.className = "pg-bias";
    box.appendChild(bias);
    box.onmouseenter = () => { state.hovered = {layer, unit}; drawOutput(); };
    box.onmouseleave = () => { state.hovered = null; drawOutput(); };
    state.columns[state.columns.length - 1].nodes.push(box);
    return box;
  }

  function buildLinks() {
    const svg = $("links");
    svg.innerHTML = "";
    state.links = [];
    const base = $("network").getBoundingClientRect();
    const at = (box, side) => {
      const r = box.getBoundingClientRect();
      return [side === "right" ? r.right - base.left : r.left - base.left, r.top - base.top + r.height / 2];
    };
    for (let l = 0; l + 1 < state.columns.length; l++) {
      const from = state.columns[l].nodes, to = state.columns[l + 1].nodes, rows = [];
      for (let j = 0; j < to.length; j++) {
        const row = [];
        for (let i = 0; i < from.length; i++) {
          const [x1, y1] = at(from[i], "right"), [x2, y2] = at(to[j], "left"), mid = (x1 + x2) / 2;
          const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
          path.setAttribute("d", `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`);
          path.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "title"));
          svg.appendChild(path);
          row.push(path);
        }
        rows.push(row);
      }
      state.links.push(rows);
    }
    if (state.snapshot) drawWeights(state.snapshot);
  }

  function drawWeights(snapshot) {
    snapshot.weights.forEach((matrix, l) => {
      const rows = state.links[l] || [];
      matrix.forEach((row, j) => row.forEach((w, i) => {
        const path = rows[j] && rows[j][i];
        if (!path) return;
        path.setAttribute("stroke", css(colour(w >= 0 ? 1 : -1)));
        path.setAttribute("stroke-width", Math.min(6, 0.3 + 1.5 * Math.abs(w)).toFixed(2));
        path.setAttribute("stroke-opacity", Math.min(1, 0.25 + Math.abs(w)).toFixed(2));
        path.firstChild.textContent = `weight ${w}`;
      }));
      const col = state.columns[l + 1];
      snapshot.biases[l].forEach((b, j) => {
        const box = col.nodes[j];
        box.querySelector(".pg-bias").style.background = css(colour(Math.tanh(b)));
        box.title = `bias ${b}`;
      });
      const norm = snapshot.gradient_norms[l];
      const gradient = col.querySelector(".pg-gradient");
      gradient.textContent = norm === undefined ? "" : `\u2016\u2207W\u2016 ${formatSmall(norm)}`;
      gradient.title = "the norm of the gradient of the training loss with respect to this layer's weights, now";
    });
  }

  function formatSmall(x) { return x === 0 ? "0" : (x >= 0.01 && x < 1000 ? x.toFixed(3) : x.toExponential(1)); }

  // ----------------------------------------------------------------------------------- a snapshot

  function showSnapshot(snapshot) {
    state.snapshot = snapshot;
    showPlaying(snapshot.playing);
    $("epoch").textContent = String(snapshot.epoch);
    $("train-loss").textContent = snapshot.train_loss.toFixed(3);
    $("test-loss").textContent = snapshot.test_loss.toFixed(3);
    $("train-accuracy").textContent = `${(100 * snapshot.train_accuracy).toFixed(1)}%`;
    $("test-accuracy").textContent = `${(100 * snapshot.test_accuracy).toFixed(1)}%`;
    $("notice").textContent = snapshot.notice;
    const size = state.layout.thumbnail_size;
    snapshot.neurons.forEach((units, l) => units.forEach((map, u) => {
      const box = state.columns[l + 1].nodes[u];
      if (box) drawHeatMap(box.firstChild, map.values, size, percent);
    }));
    const outputs = state.columns[state.columns.length - 1].nodes;
    outputs.forEach((box, u) => {  // the output unit(s): the probability of class 1 (of class 0 for a first of two)
      const flip = outputs.length === 2 && u === 0 ? -1 : 1;
      drawHeatMap(box.firstChild, snapshot.boundary, state.layout.boundary_size, (p) => flip * (p / 500 - 1));
    });
    drawWeights(snapshot);
    drawLossChart(snapshot.history);
    drawOutput();
  }

  function drawLossChart(history) {
    const canvas = $("loss-chart"), ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    const epochs = history.epochs, last = Math.max(1, epochs[epochs.length - 1]);
    const top = Math.max(1e-9, ...history.train, ...history.test);
    for (const [values, stroke] of [[history.train, "#999"], [history.test, "#000"]]) {
      ctx.beginPath();
      values.forEach((v, i) => {
        const x = (epochs[i] / last) * (w - 2) + 1, y = h - 2 - (v / top) * (h - 6);
        if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      });
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
    const label = top.toPrecision(3);  // the top of the scale, on a white patch over the curves
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
    ctx.fillRect(0, 0, ctx.measureText(label).width + 6, 13);
    ctx.fillStyle = "#5b6475";
    ctx.fillText(label, 3, 10);
  }

  function drawOutput() {
    const canvas = $("boundary"), ctx = canvas.getContext("2d"), snapshot = state.snapshot, layout = state.layout;
    if (!snapshot || !layout) return;
    const hovered = state.hovered, hidden = layout.config.hidden.length;
    const discrete = $("discretize").checked;
    if (hovered && hovered.layer < hidden) {
      const map = snapshot.neurons[hovered.layer][hovered.unit];
      drawHeatMap(canvas, map.values, layout.thumbnail_size, percent);
      $("boundary-caption").textContent = `hidden layer ${hovered.layer + 1}, neuron ${hovered.unit + 1}: its ` +
        `output over the plane (colours to \u00b1${map.scale})`;
    } else {
      drawHeatMap(canvas, snapshot.boundary, layout.boundary_size,
                  (p) => discrete ? (p > 500 ? 1 : -1) : p / 500 - 1);
      $("boundary-caption").textContent = "the network's probability of class 1 (blue) over the plane; x\u2081 " +
        `across, x\u2082 up, from ${layout.domain[0]} to ${layout.domain[1]}`;
    }
    ctx.fillStyle = "rgba(255, 255, 255, 0.3)";  // lighter than the points, which keep full colour
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const [low, high] = layout.domain, scale = canvas.width / (high - low);
    const draw = (points, edge) => {
      for (const [x1, x2, label] of points) {
        const x = Math.max(2, Math.min(canvas.width - 2, (x1 - low) * scale));
        const y = Math.max(2, Math.min(canvas.height - 2, (high - x2) * scale));
        ctx.beginPath();
        ctx.arc(x, y, layout.train.length < 20 ? 7 : 3.2, 0, 2 * Math.PI);
        ctx.fillStyle = css(label ? BLUE : ORANGE);
        ctx.fill();
        ctx.strokeStyle = edge;
        ctx.lineWidth = 1;
        ctx.stroke();
      }
    };
    draw(layout.train, "#fff");
    if ($("show-test").checked) draw(layout.test, "#000");
  }

  // ------------------------------------------------------------------------------------- sketches

  function drawSketch(canvas, name) {  // the data sets' icons: what each problem looks like, drawn by hand
    const ctx = canvas.getContext("2d"), s = canvas.width, c = s / 2;
    const dot = (x, y, blue) => { ctx.fillStyle = css(blue ? BLUE : ORANGE); ctx.fillRect(x - 1.5, y - 1.5, 3, 3); };
    ctx.fillStyle = css(WHITE);
    ctx.fillRect(0, 0, s, s);
    let seed = 7;
    const random = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
    if (name === "xor") for (let i = 0; i < 80; i++) {
      const x = random() * s, y = random() * s;
      dot(x, y, (x - c) * (y - c) < 0);
    } else if (name === "circles") for (let i = 0; i < 80; i++) {
      const inner = i % 2, r = inner ? random() * 10 : 14 + random() * 8, a = random() * 6.28;
      dot(c + r * Math.cos(a), c + r * Math.sin(a), inner);
    } else if (name === "spirals") for (let i = 0; i < 50; i++) {
      const t = i / 50, a = 1.75 * t * 6.28;
      dot(c + 21 * t * Math.sin(a), c + 21 * t * Math.cos(a), true);
      dot(c - 21 * t * Math.sin(a), c - 21 * t * Math.cos(a), false);
    } else if (name === "gaussians") for (let i = 0; i < 80; i++) {
      const blue = i % 2, g = () => (random() + random() + random() - 1.5) * 9;
      dot((blue ? c + 10 : c - 10) + g(), (blue ? c - 10 : c + 10) + g(), blue);
    } else if (name === "xor_table") {
      for (const [x, y, blue] of [[12, 36, 0], [12, 12, 1], [36, 36, 1], [36, 12, 0]]) {
        ctx.beginPath(); ctx.arc(x, y, 5, 0, 6.28); ctx.fillStyle = css(blue ? BLUE : ORANGE); ctx.fill();
      }
    } else if (name === "logistic") for (let i = 0; i < 80; i++) {
      const x = random() * s, y = 8 + random() * (s - 16);
      dot(x, y, random() < 1 / (1 + Math.exp(-(x - c) / 4)));
    } else if (name === "moons") for (let i = 0; i < 40; i++) {
      const a = Math.PI * i / 40;
      dot(c - 7 + 13 * Math.cos(a), c + 4 - 13 * Math.sin(a), false);
      dot(c + 7 - 13 * Math.cos(a), c - 4 + 13 * Math.sin(a), true);
    } else if (name === "audio") {  // a chirp (birdsong) over noise (rain)
      for (let x = 0; x < s; x++) {
        dot(x, c + 8 + 10 * (random() - 0.5), false);
        dot(x, c - 10 + 7 * Math.sin(x * x / 60), true);
      }
    }
  }

  function drawInputSketch(canvas, name) {  // an unused input, drawn over [-6, 6] for a glance at its shape
    const size = canvas.width, values = [];
    const f = {x1: (a) => a, x2: (a, b) => b, x1_squared: (a) => a * a, x2_squared: (a, b) => b * b,
               x1_x2: (a, b) => a * b, sin_x1: (a) => Math.sin(a), sin_x2: (a, b) => Math.sin(b)}[name];
    let scale = 1;
    for (let r = 0; r < size; r++) for (let k = 0; k < size; k++) {
      const v = f(-6 + (k + 0.5) * 12 / size, 6 - (r + 0.5) * 12 / size);
      values.push(v);
      scale = Math.max(scale, Math.abs(v));
    }
    drawHeatMap(canvas, values, size, (v) => v / scale);
  }

  // ------------------------------------------------------------------------------------------- start

  async function main() {
    Tympan.nav("/playground");
    try {
      [state.options, state.presets] = await Promise.all([Tympan.api.get(`${API}/options`),
                                                          Tympan.api.get(`${API}/presets`)]);
    } catch (error) {
      showError(error);
      return;
    }
    buildControls();
    const wanted = new URLSearchParams(location.search).get("preset");
    const preset = state.presets.find((p) => p.name === wanted);
    await startSession(preset ? {...state.options.default, ...preset.config} : state.options.default);
    if (preset) { $("preset").value = preset.name; applyPreset(preset.name); }
    window.addEventListener("resize", () => state.layout && buildLinks());
    window.addEventListener("pagehide", () => {
      if (!state.session || state.ended) return;
      navigator.sendBeacon(Tympan.withToken(`${API}/sessions/${state.session}/close`));
    });
  }

  main();
})();
