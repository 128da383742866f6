// sketch2idol drawing page: wires the canvas, the sliders and the results to the gateway.

import { FaceRequester, fetchConfig } from "./api.js";
import { DrawingSurface } from "./canvas.js";

const $ = (id) => document.getElementById(id);

const els = {
  canvas: $("sketch"),
  stage: $("stage"),
  guide: $("guide"),
  guideToggle: $("guide-toggle"),
  pen: $("tool-pen"),
  eraser: $("tool-eraser"),
  width: $("pen-width"),
  widthValue: $("pen-width-value"),
  undo: $("undo"),
  redo: $("redo"),
  clear: $("clear"),
  load: $("load"),
  loadFile: $("load-file"),
  face: $("face"),
  refined: $("refined"),
  download: $("download"),
  status: $("status"),
  modelInfo: $("model-info"),
  blend: $("blend"),
  master: $("t-master"),
  componentSliders: $("t-components"),
  blendLoading: $("blend-loading"),
  lookChoices: $("look-choices"),
  lookLoading: $("look-loading"),
  lookShuffle: $("look-shuffle"),
  lookCaption: $("look-caption"),
  lookSwatches: $("look-swatches"),
  components: {},          // component -> its slider, built from GET /v1/config
};

const surface = new DrawingSurface(els.canvas);

// ---- status line ---------------------------------------------------------------------------

function setStatus(text, kind = "info") {
  if (els.status.textContent !== text) els.status.textContent = text;
  els.status.dataset.kind = kind;
}

function describeTimings(body) {
  const t = body.timings_ms || {};
  const ms = (v) => `${Math.round(Number(v))} ms`;
  if (t.total == null) return "Face ready.";
  const parts = [];
  if (t.decode != null) parts.push(`decode ${ms(t.decode)}`);
  if (t.triton != null) parts.push(`model ${ms(t.triton)}`);
  if (t.encode != null) parts.push(`encode ${ms(t.encode)}`);
  return `Face ready in ${ms(t.total)}${parts.length ? ` (${parts.join(" · ")})` : ""}.`;
}

function onStatus(state) {
  if (state.kind === "sending") {
    setStatus("generating…", "busy");
  } else if (state.kind === "retry") {
    const s = `${state.seconds}s`;
    if (state.error.status === 429) {
      setStatus(`The server is busy — retrying in ${s}`, "warn");
    } else {
      setStatus(`The model server is starting or down — retrying in ${s}`, "warn");
    }
  } else if (state.kind === "error") {
    const detail = state.error.detail || state.error.message;
    setStatus(`The sketch was rejected: ${detail}`, "error");
  }
}

// ---- results -------------------------------------------------------------------------------

function showImage(img, base64) {
  const frame = img.closest(".result-frame");
  if (base64) {
    img.src = `data:image/png;base64,${base64}`;
    frame?.classList.add("has-image");
  } else {
    img.removeAttribute("src");
    frame?.classList.remove("has-image");
  }
}

function setGuide(base64) {
  if (base64) {
    els.guide.src = `data:image/png;base64,${base64}`;
  } else {
    els.guide.removeAttribute("src");
  }
  updateGuideVisibility();
}

function updateGuideVisibility() {
  els.guide.hidden = !els.guideToggle.checked || !els.guide.getAttribute("src");
}

function onResult(body) {
  if (body.look) lookAnswered(body.look);
  showImage(els.face, body.face);
  if ("refined" in body) showImage(els.refined, body.refined);
  if (els.guideToggle.checked) setGuide(body.guide || null);
  els.download.href = els.face.src;
  els.download.removeAttribute("aria-disabled");
  setStatus(describeTimings(body), "ok");
  const m = body.model;
  if (m && m.name) {
    const bits = [`${m.name} v${m.version ?? "?"}`];
    if (m.precision) bits.push(m.precision);
    if (m.weights_id) bits.push(`weights ${m.weights_id}`);
    if (m.projection_version) bits.push(`bank v${m.projection_version}`);
    els.modelInfo.textContent = `Model: ${bits.join(" · ")}`;
    els.modelInfo.hidden = false;
  }
}

function onEmpty() {
  showImage(els.face, null);
  showImage(els.refined, null);
  setGuide(null);
  els.download.removeAttribute("href");
  els.download.setAttribute("aria-disabled", "true");
  setStatus("Draw a face to begin.");
}

// ---- looks ---------------------------------------------------------------------------------
// The named looks come from the gateway (GET /v1/config's "looks", the body of GET /v1/looks);
// "Shuffle" asks for a random look with
// a new seed. The swatches show the chosen look's colours: a named look's from the list, a
// random look's from the answer that was painted in it.

const looks = {
  catalogue: null,        // {default, random, fields, looks: [{name, hair, ...}]}
  byName: new Map(),
  chosen: null,           // {name} or {name: <random>, seed}
  drawn: new Map(),       // seed -> the colours the gateway reported for that random look
};

/** The look's form fields for the next request ({} before the looks are loaded). */
function lookFields() {
  const chosen = looks.chosen;
  if (!chosen) return {};
  return chosen.seed == null ? { look: chosen.name } : { look: chosen.name, seed: chosen.seed };
}

function newSeed() {
  const value = new Uint32Array(1);
  crypto.getRandomValues(value);
  return value[0] >>> 1;   // [0, 2^31): exact in a JavaScript number, short to read
}

function fieldLabel(field) {
  return field.replace(/(\D)(\d+)$/, "$1 $2");   // background2 -> background 2
}

/** A strip of a look's colours, one band per field. */
function paletteGradient(colours, fields) {
  const step = 100 / fields.length;
  const stops = fields.map((f, i) =>
    `${colours[f]} ${(i * step).toFixed(2)}% ${((i + 1) * step).toFixed(2)}%`);
  return `linear-gradient(90deg, ${stops.join(", ")})`;
}

function renderSwatches(colours) {
  const fields = looks.catalogue ? looks.catalogue.fields : [];
  els.lookSwatches.replaceChildren(...fields.map((field) => {
    const item = document.createElement("li");
    item.className = "swatch-item";
    item.dataset.field = field;
    const chip = document.createElement("span");
    chip.className = "swatch";
    chip.setAttribute("aria-hidden", "true");
    const value = colours && colours[field];
    if (value) {
      chip.style.backgroundColor = value;
      item.dataset.colour = value;
      item.title = `${fieldLabel(field)} ${value}`;
    } else {
      chip.classList.add("unknown");
      item.title = `${fieldLabel(field)}: comes with the face`;
    }
    const label = document.createElement("span");
    label.textContent = fieldLabel(field);
    item.append(chip, label);
    return item;
  }));
}

function renderLook() {
  const chosen = looks.chosen;
  const random = chosen != null && chosen.seed != null;
  for (const button of els.lookChoices.querySelectorAll("button[data-look]")) {
    const pressed = chosen != null && !random && button.dataset.look === chosen.name;
    button.setAttribute("aria-pressed", String(pressed));
  }
  els.lookShuffle.classList.toggle("active", random);
  let colours = null;
  let caption = "";
  if (random) {
    colours = looks.drawn.get(chosen.seed) || null;
    caption = `Shuffled look, seed ${chosen.seed}`
      + (colours ? "" : " (its colours come with the face)");
  } else if (chosen) {
    colours = looks.byName.get(chosen.name) || null;
    caption = `Look: ${chosen.name}`;
  }
  els.lookCaption.textContent = caption;
  els.lookCaption.dataset.look = chosen ? chosen.name : "";
  els.lookCaption.dataset.seed = random ? String(chosen.seed) : "";
  renderSwatches(colours);
}

function chooseLook(choice) {
  looks.chosen = choice;
  renderLook();
  requester.changed();
}

/** What the gateway says it painted: keeps a random look's colours for its swatches. */
function lookAnswered(look) {
  if (look.seed == null || !looks.catalogue) return;
  const colours = Object.fromEntries(looks.catalogue.fields.map((f) => [f, look[f]]));
  looks.drawn.set(look.seed, colours);
  if (looks.chosen && looks.chosen.seed === look.seed) renderLook();
}

function showCatalogue(catalogue) {
  looks.catalogue = catalogue;
  looks.byName = new Map(catalogue.looks.map((look) => [look.name, look]));
  const buttons = catalogue.looks.map((look) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "look-choice";
    button.dataset.look = look.name;
    button.setAttribute("aria-pressed", "false");
    button.title = catalogue.fields.map((f) => `${fieldLabel(f)} ${look[f]}`).join(", ");
    const strip = document.createElement("span");
    strip.className = "palette";
    strip.setAttribute("aria-hidden", "true");
    strip.style.backgroundImage = paletteGradient(look, catalogue.fields);
    const name = document.createElement("span");
    name.textContent = look.name;
    button.append(strip, name);
    button.addEventListener("click", () => chooseLook({ name: look.name }));
    return button;
  });
  els.lookChoices.replaceChildren(...buttons);
  els.lookShuffle.disabled = false;
  if (!looks.chosen) looks.chosen = { name: catalogue.default };
  renderLook();
  els.lookChoices.dataset.loaded = "true";
}

els.lookShuffle.addEventListener("click", () => {
  if (!looks.catalogue) return;
  chooseLook({ name: looks.catalogue.random, seed: newSeed() });
});

// ---- requests ------------------------------------------------------------------------------

function readT(input) {
  return Number(input.value);
}

const requester = new FaceRequester({
  isEmpty: () => surface.isEmpty(),
  build: () => {
    // Before the sliders are built the blend is left to the gateway's default.
    const components = Object.fromEntries(
      Object.entries(els.components).map(([c, input]) => [c, readT(input)]));
    const include = ["refined"];
    if (els.guideToggle.checked) include.push("guide");
    return {
      blob: surface.toPngBlob(), t: blendLoaded() ? readT(els.master) : null, components,
      include, look: lookFields(),
    };
  },
  onResult,
  onEmpty,
  onStatus,
});

// ---- drawing surface -----------------------------------------------------------------------

function updateHistoryButtons() {
  els.undo.disabled = !surface.canUndo;
  els.redo.disabled = !surface.canRedo;
}

surface.addEventListener("strokestart", () => {
  requester.hold();
  setStatus("drawing…", "busy");
});
surface.addEventListener("change", () => {
  updateHistoryButtons();
  requester.changed();
});

function selectTool(tool) {
  surface.tool = tool;
  els.pen.setAttribute("aria-pressed", String(tool === "pen"));
  els.eraser.setAttribute("aria-pressed", String(tool === "eraser"));
  els.canvas.dataset.tool = tool;
}

els.pen.addEventListener("click", () => selectTool("pen"));
els.eraser.addEventListener("click", () => selectTool("eraser"));
els.width.addEventListener("input", () => {
  surface.width = Number(els.width.value);
  els.widthValue.textContent = els.width.value;
});
surface.width = Number(els.width.value);
els.undo.addEventListener("click", () => surface.undo());
els.redo.addEventListener("click", () => surface.redo());
els.clear.addEventListener("click", () => surface.clear());

async function loadFile(file) {
  if (!file) return;
  try {
    await surface.loadImage(file);
  } catch (err) {
    setStatus(err.message || "Could not read that file.", "error");
  }
}

els.load.addEventListener("click", () => els.loadFile.click());
els.loadFile.addEventListener("change", () => {
  loadFile(els.loadFile.files && els.loadFile.files[0]);
  els.loadFile.value = "";
});
els.stage.addEventListener("dragover", (e) => {
  e.preventDefault();
  els.stage.classList.add("dragging");
});
els.stage.addEventListener("dragleave", () => els.stage.classList.remove("dragging"));
els.stage.addEventListener("drop", (e) => {
  e.preventDefault();
  els.stage.classList.remove("dragging");
  loadFile(e.dataTransfer && e.dataTransfer.files[0]);
});

document.addEventListener("keydown", (e) => {
  const target = e.target;
  const typing = target instanceof HTMLElement
    && (target.isContentEditable || target.tagName === "TEXTAREA"
      || (target.tagName === "INPUT" && !["range", "checkbox", "button"].includes(target.type)));
  if (typing) return;
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key.toLowerCase();
  if (mod && key === "z") {
    e.preventDefault();
    if (e.shiftKey) surface.redo(); else surface.undo();
  } else if (mod && key === "y") {
    e.preventDefault();
    surface.redo();
  } else if (!mod && !e.altKey && key === "p") {
    selectTool("pen");
  } else if (!mod && !e.altKey && key === "e") {
    selectTool("eraser");
  }
});

// ---- sliders -------------------------------------------------------------------------------
// The components, the default t, its range and step come from the gateway (GET /v1/config):
// one slider per component, all at the gateway's default (S2I_DEFAULT_T), and the master.
// The same answer lists the looks: one request sets up the whole page.

const CONFIG_RETRY_MS = 3000;
let valueDigits = 2;

function blendLoaded() {
  return els.blend.dataset.loaded === "true";
}

function showValue(input) {
  const out = document.querySelector(`output[data-for="${input.id}"]`);
  if (out) out.textContent = Number(input.value).toFixed(valueDigits);
}

function componentLabel(name) {
  const words = name.replaceAll("_", " ");   // left_eye -> Left eye
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function setRange(input, t) {
  input.min = String(t.minimum);
  input.max = String(t.maximum);
  input.step = String(t.step);
  input.value = String(t.default);
}

function componentSlider(name, t) {
  const row = document.createElement("div");
  row.className = "slider";
  const label = document.createElement("label");
  label.htmlFor = `t-${name}`;
  label.textContent = componentLabel(name);
  const input = document.createElement("input");
  input.type = "range";
  input.id = `t-${name}`;
  input.className = "component";
  input.dataset.component = name;
  setRange(input, t);
  const out = document.createElement("output");
  out.htmlFor = input.id;
  out.dataset.for = input.id;
  row.append(label, input, out);
  input.addEventListener("input", () => {
    showValue(input);
    requester.changed();
  });
  return [row, input];
}

function buildSliders(config) {
  const t = config.t;
  valueDigits = Math.max(2, (String(t.step).split(".")[1] || "").length);
  setRange(els.master, t);
  const rows = config.components.map((name) => {
    const [row, input] = componentSlider(name, t);
    els.components[name] = input;
    return row;
  });
  els.componentSliders.replaceChildren(...rows);
  for (const input of [els.master, ...Object.values(els.components)]) showValue(input);
  els.blend.disabled = false;
  els.blend.dataset.loaded = "true";
}

async function loadConfig() {
  let config;
  try {
    config = await fetchConfig();
  } catch {
    els.blendLoading.textContent = "The sliders could not be loaded; retrying…";
    els.lookLoading.textContent = "The looks could not be loaded; retrying…";
    setTimeout(loadConfig, CONFIG_RETRY_MS);
    return;
  }
  // A face drawn meanwhile was asked for without t, at the gateway's default: the blend the
  // sliders now show, so nothing needs sending again.
  buildSliders(config);
  showCatalogue(config.looks);
  document.documentElement.dataset.ready = "true";
}

els.master.addEventListener("input", () => {
  showValue(els.master);
  for (const input of Object.values(els.components)) {
    input.value = els.master.value;
    showValue(input);
  }
  requester.changed();
});

els.guideToggle.addEventListener("change", () => {
  updateGuideVisibility();
  // Turning it on needs a guide for the current drawing.
  if (els.guideToggle.checked && !surface.isEmpty()) requester.changed();
});

els.widthValue.textContent = els.width.value;
selectTool("pen");
updateHistoryButtons();
updateGuideVisibility();
loadConfig();   // sets html[data-ready] once the sliders and the looks are built
