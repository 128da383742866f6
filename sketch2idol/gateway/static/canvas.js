// The drawing surface: pen and eraser strokes with Pointer Events, undo/redo snapshots,
// loading an image file, and exporting the strokes as a PNG on white.
//
// The visible canvas is transparent where nothing is drawn so that the guide image beneath it
// shows through; strokes are black with alpha. `toPngBlob()` composites onto white, so what is
// sent never contains the guide.

const HISTORY_LIMIT = 60;
// A pixel counts as ink when its alpha is at least this (ignores eraser anti-alias dust).
const INK_ALPHA = 24;

export class DrawingSurface extends EventTarget {
  /**
   * @param {HTMLCanvasElement} canvas
   */
  constructor(canvas) {
    super();
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.tool = "pen";
    this.width = 4;
    this.undoStack = [];   // snapshots before the current state
    this.redoStack = [];   // snapshots undone, most recent last
    this.current = this.snapshot();
    this.stroke = null;    // { pointerId, x, y, erasing }
    this._empty = true;
    this._bindPointer();
  }

  // ---- state ---------------------------------------------------------------------------------

  snapshot() {
    return this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }

  /** True when no pixel carries ink. Cached; recomputed on every committed change. */
  isEmpty() {
    return this._empty;
  }

  _computeEmpty() {
    const data = this.current.data;
    for (let i = 3; i < data.length; i += 4) {
      if (data[i] >= INK_ALPHA) return false;
    }
    return true;
  }

  get canUndo() { return this.undoStack.length > 0; }
  get canRedo() { return this.redoStack.length > 0; }

  /** Record the canvas as a new history state and announce the change. */
  _commit(reason) {
    this.undoStack.push(this.current);
    if (this.undoStack.length > HISTORY_LIMIT) this.undoStack.shift();
    this.redoStack = [];
    this.current = this.snapshot();
    this._changed(reason);
  }

  _changed(reason) {
    this._empty = this._computeEmpty();
    this.dispatchEvent(new CustomEvent("change", { detail: { reason } }));
  }

  undo() {
    if (!this.canUndo || this.stroke) return;
    this.redoStack.push(this.current);
    this.current = this.undoStack.pop();
    this.ctx.putImageData(this.current, 0, 0);
    this._changed("undo");
  }

  redo() {
    if (!this.canRedo || this.stroke) return;
    this.undoStack.push(this.current);
    this.current = this.redoStack.pop();
    this.ctx.putImageData(this.current, 0, 0);
    this._changed("redo");
  }

  clear() {
    if (this.stroke) this._endStroke(false);
    if (this.isEmpty() && !this.canUndo) return;
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this._commit("clear");
  }

  // ---- export --------------------------------------------------------------------------------

  /** The strokes flattened onto white, as a PNG blob. */
  toPngBlob() {
    const { width, height } = this.canvas;
    const out = document.createElement("canvas");
    out.width = width;
    out.height = height;
    const octx = out.getContext("2d");
    octx.fillStyle = "#fff";
    octx.fillRect(0, 0, width, height);
    octx.drawImage(this.canvas, 0, 0);
    // Encoded synchronously (a few ms at 512²): Chromium runs toBlob/convertToBlob in an idle
    // period, which waits up to a second while the page has frames to draw.
    const dataUrl = out.toDataURL("image/png");
    const bytes = atob(dataUrl.slice(dataUrl.indexOf(",") + 1));
    const buf = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i += 1) buf[i] = bytes.charCodeAt(i);
    return new Blob([buf], { type: "image/png" });
  }

  // ---- loading a file ------------------------------------------------------------------------

  /**
   * Draw an image file onto the canvas: fitted and centred on white, then turned into ink
   * (darkness becomes black with alpha) so the guide can still show through.
   * @param {Blob} file
   */
  async loadImage(file) {
    const bitmap = await decodeImage(file);
    const w = this.canvas.width;
    const h = this.canvas.height;
    const work = document.createElement("canvas");
    work.width = w;
    work.height = h;
    const wctx = work.getContext("2d", { willReadFrequently: true });
    wctx.fillStyle = "#fff";
    wctx.fillRect(0, 0, w, h);
    const scale = Math.min(w / bitmap.width, h / bitmap.height);
    const dw = bitmap.width * scale;
    const dh = bitmap.height * scale;
    wctx.imageSmoothingQuality = "high";
    wctx.drawImage(bitmap, (w - dw) / 2, (h - dh) / 2, dw, dh);
    if (typeof bitmap.close === "function") bitmap.close();

    const img = wctx.getImageData(0, 0, w, h);
    const d = img.data;
    for (let i = 0; i < d.length; i += 4) {
      const lum = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      d[i] = d[i + 1] = d[i + 2] = 0;
      d[i + 3] = Math.round(255 - lum);
    }
    if (this.stroke) this._endStroke(false);
    this.ctx.putImageData(img, 0, 0);
    this._commit("load");
  }

  // ---- pointer drawing -----------------------------------------------------------------------

  _bindPointer() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => this._onDown(e));
    c.addEventListener("pointermove", (e) => this._onMove(e));
    c.addEventListener("pointerup", (e) => this._onUp(e));
    c.addEventListener("pointercancel", (e) => this._onUp(e));
    c.addEventListener("lostpointercapture", (e) => this._onUp(e));
    c.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  _point(e) {
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - rect.left) * this.canvas.width) / rect.width,
      y: ((e.clientY - rect.top) * this.canvas.height) / rect.height,
    };
  }

  _lineWidth(e) {
    // Pens report real pressure; mice report 0.5 while pressed, touch often 0 or 1.
    if (e.pointerType === "pen" && e.pressure > 0) return this.width * (0.4 + 1.2 * e.pressure);
    return this.width;
  }

  _onDown(e) {
    if (this.stroke) return;                       // one stroke at a time (ignore 2nd finger)
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    this.canvas.focus({ preventScroll: true });
    try { this.canvas.setPointerCapture(e.pointerId); } catch { /* pointer already gone */ }
    // Pen eraser end (button 5) or the eraser tool.
    const erasing = this.tool === "eraser" || e.button === 5 || (e.buttons & 32) !== 0;
    const p = this._point(e);
    this.stroke = { pointerId: e.pointerId, x: p.x, y: p.y, erasing, moved: false };
    this.dispatchEvent(new CustomEvent("strokestart"));
    this._dot(p.x, p.y, this._lineWidth(e), erasing);
  }

  _onMove(e) {
    const s = this.stroke;
    if (!s || e.pointerId !== s.pointerId) return;
    e.preventDefault();
    const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = this._point(ev);
      this._segment(s.x, s.y, p.x, p.y, this._lineWidth(ev), s.erasing);
      s.x = p.x;
      s.y = p.y;
      s.moved = true;
    }
  }

  _onUp(e) {
    const s = this.stroke;
    if (!s || e.pointerId !== s.pointerId) return;
    this._endStroke(true);
  }

  _endStroke(commit) {
    const s = this.stroke;
    this.stroke = null;
    try {
      if (this.canvas.hasPointerCapture(s.pointerId)) this.canvas.releasePointerCapture(s.pointerId);
    } catch { /* already released */ }
    if (commit) this._commit("stroke");
    else this.ctx.putImageData(this.current, 0, 0);
  }

  _style(width, erasing) {
    const ctx = this.ctx;
    ctx.globalCompositeOperation = erasing ? "destination-out" : "source-over";
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineWidth = erasing ? width * 3 : width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }

  _dot(x, y, width, erasing) {
    this._style(width, erasing);
    this.ctx.beginPath();
    this.ctx.arc(x, y, this.ctx.lineWidth / 2, 0, Math.PI * 2);
    this.ctx.fill();
    this.ctx.globalCompositeOperation = "source-over";
  }

  _segment(x0, y0, x1, y1, width, erasing) {
    this._style(width, erasing);
    this.ctx.beginPath();
    this.ctx.moveTo(x0, y0);
    this.ctx.lineTo(x1, y1);
    this.ctx.stroke();
    this.ctx.globalCompositeOperation = "source-over";
  }
}

async function decodeImage(file) {
  if (typeof createImageBitmap === "function") {
    try {
      return await createImageBitmap(file);
    } catch {
      // fall through to <img>, which knows a few more formats in some browsers
    }
  }
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } catch {
    throw new Error("That file is not an image this browser can read.");
  } finally {
    URL.revokeObjectURL(url);
  }
}
