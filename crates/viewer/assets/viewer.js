/*
 * tsne-viewer: the interactive map page. No framework, no build step, no request: the data is
 * the base64 text of the element #tsne-data, raw-deflated (decompressed with the browser's own
 * DecompressionStream), written by the Rust crate `tsne-viewer` (crates/viewer/src/encode.rs
 * describes the layout).
 *
 * Interface for tests and tools (stable):
 *
 *   window.tsneView = {
 *     ready: Promise,          resolves (to tsneView) after the first frame has been drawn;
 *                              rejects if the data cannot be read
 *     renderer: "webgl" | "canvas2d"   (canvas2d where WebGL is missing, or is a software
 *                              rasteriser and n > 100,000; the URL hash #renderer=canvas2d
 *                              or #renderer=webgl forces one)
 *     n: number,               the number of points
 *     toScreen(i) -> [x, y],   viewport (client) CSS pixels of row i's centre as drawn now
 *     visibleExtent() -> {xmin, xmax, ymin, ymax},   data units shown by the canvas
 *     firstFrameMs: number,    performance.now() when the first frame was drawn (ms from
 *                              navigation start)
 *     lastFrameMs: number,     wall ms of the latest draw, the GPU's work included (it ends
 *                              with a 1-pixel readPixels)
 *     colors: {class: "#rrggbb"}   each class of the colour-by column (categorical; {} for a
 *                              numeric column or a single colour); classes past the 39 most
 *                              frequent of more than 40 share the grey TAIL colour
 *   }
 *
 * DOM: canvas #map (drawn on plain white, points as opaque discs without antialiasing while
 * n <= 20,000, so each class keeps its exact colour), tooltip #tooltip (shown only while the
 * pointer is within a few pixels of a visible point; its text holds `row <i>`, `id: <id>` when
 * the map has ids, `label: <label>` and `<column>: <value>` for each metadata column, numbers
 * with up to 7 significant digits, a missing number as `NA`), colour-by select #color-by
 * (option values `labels`, `column:<k>` for metadata column k from 0, `none`), legend #legend
 * (entries .legend-item with data-class="<class>"; a click hides or shows that class, a
 * shift-click or double-click isolates it, or shows all again when it is already alone; a
 * numeric column shows a colour bar instead), reset button #reset, search input #search and
 * its count #search-count (a query, case-insensitive, finds the rows whose id or label equals
 * it, or when none does, the rows whose id or label starts with it; `id:` or `label:` before
 * it searches only that; the text is "<k> rows" / "1 row" / "no match"), drag modes
 * #mode-pan, #mode-box, #mode-lasso (a box or lasso selects the visible rows drawn inside it;
 * shift adds to the selection; a click without dragging or Escape clears it), #download (a
 * CSV `row,id,label` of the selected rows, or of the rows found when nothing is selected),
 * and, only when the map has frames, the slider #frame (0 .. frames, the last being the final
 * map) and #play.
 */
'use strict';

(function () {
  // ---------------------------------------------------------------------------------------
  // Constants

  /** The categorical palette (Tableau 10, then Glasbey colours readable on white; 40
   *  colours) and viridis at ten stops: the colours of the CLI's plots, filled in from the
   *  tsne-viewer crate's `colours` module when the page is made. */
  const PALETTE = JSON.parse('{{PALETTE}}');
  const VIRIDIS = JSON.parse('{{VIRIDIS}}');
  /** The colour of classes past the palette and of missing numbers. */
  const TAIL = [200, 200, 200];
  /** The most classes coloured one by one. */
  const MAX_CLASSES = 40;
  /** Up to this many points, points are opaque whatever the zoom. */
  const OPAQUE_UP_TO = 20000;
  /** Alpha of the points that are neither found nor selected while some are (of 255). */
  const DIMMED = 60;
  /** Above this many points, a software WebGL (no GPU) gives way to the canvas-2D renderer. */
  const SOFTWARE_GL_MAX = 100000;
  /** How far (CSS px) beyond a point's edge the pointer still hovers it. */
  const HOVER_SLACK = 4;

  // The interface object exists at once; its fields are filled when the data is read.
  let resolveReady, rejectReady;
  const api = {
    ready: new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; }),
    renderer: null,
    n: 0,
    toScreen: () => [NaN, NaN],
    visibleExtent: () => null,
    firstFrameMs: NaN,
    lastFrameMs: NaN,
    colors: {},
  };
  window.tsneView = api;

  const $ = (id) => document.getElementById(id);
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const hex = (c) => '#' + c.map((v) => v.toString(16).padStart(2, '0')).join('');

  // ---------------------------------------------------------------------------------------
  // Data: base64 -> raw deflate -> `TSNV`, manifest length, manifest JSON, arrays.

  /** The bytes of standard base64 `text`. */
  function base64Bytes(text) {
    if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(text);
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  /** Inflates raw-deflate `bytes` with the browser's DecompressionStream (no request). */
  async function inflate(bytes) {
    if (typeof DecompressionStream !== 'function') {
      throw new Error('this browser cannot decompress the map (no DecompressionStream): ' +
        'open the page in a current Chrome, Edge, Firefox or Safari');
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  const TYPES = { u8: [1, Uint8Array], u16: [2, Uint16Array], u32: [4, Uint32Array], f32: [4, Float32Array] };

  /** The typed array that descriptor `d` names in `data`, un-shuffled (byte planes back into
   *  little-endian elements). */
  function readArray(data, d) {
    const [width, Type] = TYPES[d.type];
    const n = d.length;
    const src = data.subarray(d.offset, d.offset + width * n);
    if (src.length !== width * n) throw new Error('the map data is cut short');
    if (width === 1) return new Uint8Array(src);
    const out = new Uint8Array(width * n);
    for (let p = 0; p < width; p++) {
      const plane = src.subarray(p * n, (p + 1) * n);
      for (let i = 0, j = p; i < n; i++, j += width) out[j] = plane[i];
    }
    return new Type(out.buffer);
  }

  /** The map's data as typed arrays and strings. */
  async function loadData() {
    const text = $('tsne-data').textContent.trim();
    const blob = await inflate(base64Bytes(text));
    const magic = String.fromCharCode(blob[0], blob[1], blob[2], blob[3]);
    if (magic !== 'TSNV') throw new Error('the map data is not a tsne-viewer blob');
    const len = new DataView(blob.buffer, blob.byteOffset).getUint32(4, true);
    const m = JSON.parse(new TextDecoder().decode(blob.subarray(8, 8 + len)));
    if (m.format !== 'tsne-viewer' || m.version !== 1) throw new Error('unknown map data version ' + m.version);
    const data = blob.subarray(Math.ceil((8 + len) / 4) * 4);
    const classes = (c) => ({ codes: readArray(data, c.codes), classes: c.classes });
    return {
      n: m.n,
      title: m.title,
      positions: readArray(data, m.positions),
      labels: m.labels ? classes(m.labels) : null,
      ids: m.ids,
      columns: m.columns.map((c) => c.kind === 'numeric'
        ? { name: c.name, kind: 'numeric', values: readArray(data, c.values) }
        : Object.assign({ name: c.name, kind: 'categorical' }, classes(c))),
      frames: m.frames.map((f) => ({ iteration: f.iteration, positions: readArray(data, f.positions) })),
    };
  }

  // ---------------------------------------------------------------------------------------
  // Geometry

  /** The bounding box of row-major n x 2 `pos`. */
  function extentOf(pos) {
    let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
    for (let i = 0; i < pos.length; i += 2) {
      const x = pos[i], y = pos[i + 1];
      if (x < xmin) xmin = x;
      if (x > xmax) xmax = x;
      if (y < ymin) ymin = y;
      if (y > ymax) ymax = y;
    }
    return { xmin, xmax, ymin, ymax };
  }

  /**
   * A uniform grid over the points, for nearest-point queries: each point's cell by a counting
   * sort, `order` the points cell by cell, `start[c]` where cell c's points begin. Built once
   * per set of positions; a query reads only the cells within its radius.
   */
  function buildGrid(pos, n) {
    const e = extentOf(pos);
    const w = Math.max(e.xmax - e.xmin, 1e-12), h = Math.max(e.ymax - e.ymin, 1e-12);
    const cells = clamp(Math.floor(n / 2), 1, 1 << 22);
    const size = Math.max(Math.sqrt((w * h) / cells), w / 4096, h / 4096);
    const nx = clamp(Math.ceil(w / size), 1, 4096), ny = clamp(Math.ceil(h / size), 1, 4096);
    const cellOf = new Int32Array(n);
    const start = new Int32Array(nx * ny + 1);
    for (let i = 0; i < n; i++) {
      const cx = Math.min(nx - 1, Math.floor((pos[2 * i] - e.xmin) / size));
      const cy = Math.min(ny - 1, Math.floor((pos[2 * i + 1] - e.ymin) / size));
      const c = cy * nx + cx;
      cellOf[i] = c;
      start[c + 1]++;
    }
    for (let c = 0; c < nx * ny; c++) start[c + 1] += start[c];
    const fill = start.slice(0, nx * ny);
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[fill[cellOf[i]]++] = i;
    return { e, size, nx, ny, start, order, pos };
  }

  /** The visible point nearest to (x, y) within `r` data units (ties: the one drawn last,
   *  on top), or -1. */
  function nearest(grid, x, y, r, visible) {
    const { e, size, nx, ny, start, order, pos } = grid;
    const x0 = clamp(Math.floor((x - r - e.xmin) / size), 0, nx - 1);
    const x1 = clamp(Math.floor((x + r - e.xmin) / size), 0, nx - 1);
    const y0 = clamp(Math.floor((y - r - e.ymin) / size), 0, ny - 1);
    const y1 = clamp(Math.floor((y + r - e.ymin) / size), 0, ny - 1);
    if (x + r < e.xmin || x - r > e.xmax || y + r < e.ymin || y - r > e.ymax) return -1;
    let best = -1, bestD = r * r;
    for (let cy = y0; cy <= y1; cy++) {
      for (let c = cy * nx + x0, end = cy * nx + x1; c <= end; c++) {
        for (let k = start[c]; k < start[c + 1]; k++) {
          const i = order[k];
          const dx = pos[2 * i] - x, dy = pos[2 * i + 1] - y;
          const d = dx * dx + dy * dy;
          if ((d < bestD || (d === bestD && i > best)) && visible(i)) {
            best = i;
            bestD = d;
          }
        }
      }
    }
    return best;
  }

  // ---------------------------------------------------------------------------------------
  // Colours

  /** Viridis at t in [0, 1], linear between stops. */
  function viridis(t) {
    const s = clamp(t, 0, 1) * (VIRIDIS.length - 1);
    const i = Math.min(Math.floor(s), VIRIDIS.length - 2), f = s - i;
    const a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f));
  }

  /**
   * How a column colours: for classes, each class's colour (the palette in class order; with
   * more than 40 classes the 39 most frequent keep colours, the rest share TAIL) and counts;
   * for numbers, the range and the count of missing values.
   */
  function coloring(column, n) {
    if (!column) return { kind: 'none' };
    if (column.kind === 'numeric') {
      let lo = Infinity, hi = -Infinity, missing = 0;
      for (const v of column.values) {
        if (Number.isNaN(v)) missing++;
        else { if (v < lo) lo = v; if (v > hi) hi = v; }
      }
      return { kind: 'numeric', name: column.name, values: column.values, lo, hi, missing };
    }
    const k = column.classes.length;
    const counts = new Int32Array(k);
    for (let i = 0; i < n; i++) counts[column.codes[i]]++;
    const colored = new Uint8Array(k);
    if (k <= MAX_CLASSES) colored.fill(1);
    else {
      const bySize = Array.from(counts.keys()).sort((a, b) => counts[b] - counts[a] || a - b);
      bySize.slice(0, MAX_CLASSES - 1).forEach((c) => { colored[c] = 1; });
    }
    const rgb = new Uint8Array(3 * k);
    for (let c = 0, next = 0; c < k; c++) rgb.set(colored[c] ? PALETTE[next++ % PALETTE.length] : TAIL, 3 * c);
    return { kind: 'categorical', name: column.name, codes: column.codes, classes: column.classes,
      counts, colored, rgb, hidden: new Uint8Array(k) };
  }

  /** The RGBA of every point: its colour, alpha 0 when hidden, DIMMED when others are marked. */
  function pointColors(by, n, marked, anyMarked, out) {
    for (let i = 0; i < n; i++) {
      let r = PALETTE[0][0], g = PALETTE[0][1], b = PALETTE[0][2], a = 255;
      if (by.kind === 'categorical') {
        const c = by.codes[i];
        r = by.rgb[3 * c]; g = by.rgb[3 * c + 1]; b = by.rgb[3 * c + 2];
        if (by.hidden[c]) a = 0;
      } else if (by.kind === 'numeric') {
        const v = by.values[i];
        const rgb = Number.isNaN(v) ? TAIL : viridis(by.hi > by.lo ? (v - by.lo) / (by.hi - by.lo) : 0.5);
        r = rgb[0]; g = rgb[1]; b = rgb[2];
      }
      if (anyMarked && a && !marked[i]) a = DIMMED;
      out[4 * i] = r; out[4 * i + 1] = g; out[4 * i + 2] = b; out[4 * i + 3] = a;
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------
  // Renderers: setPoints(pos, rgba, count) for the map and setMarks(...) for the marked points
  // drawn over it with a dark ring; draw(view) with view = {cx, cy, scale, size, alpha, dpr}.

  const VERTEX = `
    attribute vec2 a_pos;
    attribute vec4 a_color;
    uniform vec2 u_center;
    uniform vec2 u_clip;
    uniform float u_size;
    uniform float u_alpha;
    varying vec4 v_color;
    void main() {
      if (a_color.a == 0.0) {
        gl_Position = vec4(2.0, 2.0, 2.0, 1.0);
        gl_PointSize = 0.0;
        return;
      }
      gl_Position = vec4((a_pos - u_center) * u_clip, 0.0, 1.0);
      gl_PointSize = u_size;
      v_color = vec4(a_color.rgb, a_color.a * u_alpha);
    }`;
  const FRAGMENT = `
    precision mediump float;
    varying vec4 v_color;
    uniform float u_round;
    uniform float u_ring;
    void main() {
      vec2 d = gl_PointCoord - vec2(0.5);
      float r2 = dot(d, d);
      if (u_round > 0.0 && r2 > 0.25) discard;
      if (u_ring > 0.0 && r2 > u_ring) { gl_FragColor = vec4(0.1, 0.1, 0.1, 1.0); return; }
      gl_FragColor = v_color;
    }`;

  /**
   * Whether to draw `n` points with WebGL: unless the URL hash says `renderer=canvas2d`, and
   * unless WebGL runs on a software rasteriser (SwiftShader, llvmpipe: no GPU) and n is above
   * SOFTWARE_GL_MAX, where the canvas-2D renderer is the faster one (measured in headless
   * Chromium with SwiftShader on 2 cores: 1,000,000 points take about 800 ms a frame in
   * WebGL, 30 ms in canvas 2D). `renderer=webgl` in the hash forces WebGL.
   */
  function wantsWebgl(n) {
    const hash = location.hash;
    if (/(^|[#&])renderer=canvas2d(&|$)/.test(hash)) return false;
    if (/(^|[#&])renderer=webgl(&|$)/.test(hash) || n <= SOFTWARE_GL_MAX) return true;
    const probe = document.createElement('canvas').getContext('webgl');
    if (!probe) return false;
    const info = probe.getExtension('WEBGL_debug_renderer_info');
    const name = String(probe.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : probe.RENDERER));
    const lose = probe.getExtension('WEBGL_lose_context');
    if (lose) lose.loseContext();
    return !/swiftshader|llvmpipe|softpipe|software|basic render/i.test(name);
  }

  /** The WebGL renderer of `canvas`, or null where WebGL is missing. */
  function webglRenderer(canvas) {
    const options = { antialias: false, alpha: false, depth: false, stencil: false,
      premultipliedAlpha: false, preserveDrawingBuffer: true };
    const gl = canvas.getContext('webgl2', options) || canvas.getContext('webgl', options);
    if (!gl) return null;
    const shader = (type, source) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, source);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
      return s;
    };
    const prog = gl.createProgram();
    gl.attachShader(prog, shader(gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(prog, shader(gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
    const loc = {};
    for (const u of ['u_center', 'u_clip', 'u_size', 'u_alpha', 'u_round', 'u_ring']) loc[u] = gl.getUniformLocation(prog, u);
    const aPos = gl.getAttribLocation(prog, 'a_pos'), aColor = gl.getAttribLocation(prog, 'a_color');
    const maxSize = gl.getParameter(gl.ALIASED_POINT_SIZE_RANGE)[1];
    const pixel = new Uint8Array(4);
    const layer = () => ({ pos: gl.createBuffer(), color: gl.createBuffer(), count: 0 });
    const points = layer(), marks = layer();
    const upload = (l, pos, rgba, count) => {
      if (pos) { gl.bindBuffer(gl.ARRAY_BUFFER, l.pos); gl.bufferData(gl.ARRAY_BUFFER, pos, gl.STATIC_DRAW); }
      if (rgba) { gl.bindBuffer(gl.ARRAY_BUFFER, l.color); gl.bufferData(gl.ARRAY_BUFFER, rgba, gl.DYNAMIC_DRAW); }
      l.count = count;
    };
    const drawLayer = (l, size, alpha, ring) => {
      if (!l.count) return;
      gl.uniform1f(loc.u_size, Math.min(size, maxSize));
      gl.uniform1f(loc.u_alpha, alpha);
      gl.uniform1f(loc.u_round, size >= 2.5 ? 1 : 0);
      gl.uniform1f(loc.u_ring, ring);
      gl.bindBuffer(gl.ARRAY_BUFFER, l.pos);
      gl.enableVertexAttribArray(aPos);
      gl.vertexAttribPointer(aPos, 2, gl.FLOAT, false, 0, 0);
      gl.bindBuffer(gl.ARRAY_BUFFER, l.color);
      gl.enableVertexAttribArray(aColor);
      gl.vertexAttribPointer(aColor, 4, gl.UNSIGNED_BYTE, true, 0, 0);
      gl.drawArrays(gl.POINTS, 0, l.count);
    };
    return {
      name: 'webgl',
      setPoints: (pos, rgba, count) => upload(points, pos, rgba, count),
      setMarks: (pos, rgba, count) => upload(marks, pos, rgba, count),
      draw(v) {
        gl.viewport(0, 0, canvas.width, canvas.height);
        gl.clearColor(1, 1, 1, 1);
        gl.clear(gl.COLOR_BUFFER_BIT);
        gl.useProgram(prog);
        gl.enable(gl.BLEND);
        gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
        gl.uniform2f(loc.u_center, v.cx, v.cy);
        gl.uniform2f(loc.u_clip, (2 * v.scale * v.dpr) / canvas.width, (2 * v.scale * v.dpr) / canvas.height);
        drawLayer(points, v.size * v.dpr, v.alpha, 0);
        drawLayer(marks, v.markSize * v.dpr, 1, 0.13);
        // Reading one pixel waits for the GPU (Chromium's finish() does not).
        gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel);
      },
    };
  }

  /** The canvas-2D renderer: points stamped as discs into an ImageData, blended in JS. */
  function canvasRenderer(canvas) {
    const ctx = canvas.getContext('2d', { alpha: false });
    const layers = { points: null, marks: null };
    let image = null;
    /** Offsets (dx, dy) of the pixels of a disc of diameter `size` device pixels. */
    const disc = (size) => {
      const r = Math.max(size / 2, 0.5), out = [];
      const reach = Math.ceil(r - 0.5);
      for (let dy = -reach; dy <= reach; dy++) {
        for (let dx = -reach; dx <= reach; dx++) if (dx * dx + dy * dy <= r * r || reach === 0) out.push(dx, dy);
      }
      return out;
    };
    const stamp = (img, w, h, l, v, size, alpha, ring) => {
      const offsets = disc(size), inner = ring ? disc(size * 0.72) : null;
      const k = (v.scale * v.dpr), ox = w / 2 - v.cx * k, oy = h / 2 + v.cy * k;
      for (let i = 0; i < l.count; i++) {
        const a = (l.rgba[4 * i + 3] / 255) * alpha;
        if (a === 0) continue;
        const px = Math.floor(ox + l.pos[2 * i] * k), py = Math.floor(oy - l.pos[2 * i + 1] * k);
        if (px < -size || py < -size || px > w + size || py > h + size) continue;
        if (ring) blend(img, w, h, px, py, offsets, 26, 26, 26, 1);
        blend(img, w, h, px, py, inner || offsets, l.rgba[4 * i], l.rgba[4 * i + 1], l.rgba[4 * i + 2], a);
      }
    };
    const blend = (img, w, h, px, py, offsets, r, g, b, a) => {
      for (let t = 0; t < offsets.length; t += 2) {
        const x = px + offsets[t], y = py + offsets[t + 1];
        if (x < 0 || y < 0 || x >= w || y >= h) continue;
        const j = 4 * (y * w + x);
        img[j] += (r - img[j]) * a; img[j + 1] += (g - img[j + 1]) * a; img[j + 2] += (b - img[j + 2]) * a;
      }
    };
    return {
      name: 'canvas2d',
      setPoints(pos, rgba, count) { layers.points = { pos: pos || layers.points.pos, rgba: rgba || layers.points.rgba, count }; },
      setMarks(pos, rgba, count) { layers.marks = { pos: pos || (layers.marks && layers.marks.pos), rgba: rgba || (layers.marks && layers.marks.rgba), count }; },
      draw(v) {
        const w = canvas.width, h = canvas.height;
        if (!image || image.width !== w || image.height !== h) image = ctx.createImageData(w, h);
        const img = image.data;
        img.fill(255);
        if (layers.points) stamp(img, w, h, layers.points, v, v.size * v.dpr, v.alpha, false);
        if (layers.marks && layers.marks.count) stamp(img, w, h, layers.marks, v, v.markSize * v.dpr, 1, true);
        ctx.putImageData(image, 0, 0);
      },
    };
  }

  // ---------------------------------------------------------------------------------------
  // The page

  /** Number `v` as shown: up to 7 significant digits (single precision), NaN as `NA`. */
  function formatNumber(v) {
    if (Number.isNaN(v)) return 'NA';
    return String(Number(v.toPrecision(7)));
  }

  /** One CSV field, quoted when it must be. */
  function csvField(s) {
    s = String(s);
    return /[",\r\n]|^\s|\s$/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function start(data) {
    const n = data.n;
    const stage = $('stage'), canvas = $('map'), overlay = $('overlay'), tooltip = $('tooltip');
    const renderer = (wantsWebgl(n) && webglRenderer(canvas)) || canvasRenderer(canvas);
    const octx = overlay.getContext('2d');
    const final = data.positions;
    const state = {
      frame: data.frames.length, // index into frames; frames.length is the final map
      pos: final,
      grid: null,
      view: { cx: 0, cy: 0, scale: 1 },
      fitScale: 1,
      fitted: true, // the view follows the frames until the user pans or zooms
      by: { kind: 'none' },
      rgba: new Uint8Array(4 * n),
      found: new Uint8Array(n), foundCount: 0,
      selected: new Uint8Array(n), selectedCount: 0,
      marked: new Uint8Array(n), markedList: new Int32Array(0),
      mode: 'pan',
      tail: [],
      width: 1, height: 1, dpr: 1,
      pending: false,
    };

    // -- view ------------------------------------------------------------------------------
    const rowId = (i) => (data.ids ? data.ids[i] : String(i));
    const rowLabel = (i) => (data.labels ? data.labels.classes[data.labels.codes[i]] : '');
    const visible = (i) => state.by.kind !== 'categorical' || !state.by.hidden[state.by.codes[i]];

    function resize() {
      const rect = stage.getBoundingClientRect();
      state.width = Math.max(1, rect.width);
      state.height = Math.max(1, rect.height);
      state.dpr = window.devicePixelRatio || 1;
      for (const c of [canvas, overlay]) {
        c.width = Math.max(1, Math.round(state.width * state.dpr));
        c.height = Math.max(1, Math.round(state.height * state.dpr));
      }
      octx.setTransform(state.dpr, 0, 0, state.dpr, 0, 0);
    }

    /** Fits the view to the current positions (equal aspect, a margin of 4%). */
    function fit() {
      const e = extentOf(state.pos);
      const w = Math.max(e.xmax - e.xmin, 1e-9), h = Math.max(e.ymax - e.ymin, 1e-9);
      const scale = 0.92 * Math.min(state.width / w, state.height / h);
      state.view = { cx: (e.xmin + e.xmax) / 2, cy: (e.ymin + e.ymax) / 2, scale };
      state.fitScale = scale;
      state.fitted = true;
    }

    const toScreen = (x, y) => [state.width / 2 + (x - state.view.cx) * state.view.scale,
      state.height / 2 - (y - state.view.cy) * state.view.scale];
    const toData = (sx, sy) => [state.view.cx + (sx - state.width / 2) / state.view.scale,
      state.view.cy - (sy - state.height / 2) / state.view.scale];
    const local = (ev) => {
      const r = canvas.getBoundingClientRect();
      return [ev.clientX - r.left, ev.clientY - r.top];
    };

    /** Point diameter (CSS px) and alpha from n and the zoom: small and faint for many points
     *  seen whole, larger and more opaque as the zoom spreads them. */
    function style() {
      const zoom = state.view.scale / state.fitScale;
      const base = clamp(400 / Math.sqrt(n), 1.5, 6);
      const size = clamp(base * Math.sqrt(Math.max(zoom, 1)), base, Math.max(base, 14));
      const alpha = n <= OPAQUE_UP_TO ? 1 : clamp(Math.sqrt(OPAQUE_UP_TO / n) * Math.max(zoom, 1), 0.12, 1);
      return { size, alpha, markSize: Math.max(size * 1.6, 7) };
    }

    function zoomAt(sx, sy, factor) {
      const [x, y] = toData(sx, sy);
      const scale = clamp(state.view.scale * factor, state.fitScale / 50, state.fitScale * 1e6);
      state.view = { cx: x - (sx - state.width / 2) / scale, cy: y + (sy - state.height / 2) / scale, scale };
      state.fitted = false;
      requestDraw();
    }

    function panBy(dx, dy) {
      state.view.cx -= dx / state.view.scale;
      state.view.cy += dy / state.view.scale;
      state.fitted = false;
      requestDraw();
    }

    function draw() {
      const t0 = performance.now();
      const s = style();
      renderer.draw({ cx: state.view.cx, cy: state.view.cy, scale: state.view.scale, dpr: state.dpr,
        size: s.size, alpha: s.alpha, markSize: s.markSize });
      const t1 = performance.now();
      api.lastFrameMs = t1 - t0;
      return t1;
    }

    function requestDraw() {
      if (state.pending) return;
      state.pending = true;
      requestAnimationFrame(() => { state.pending = false; draw(); });
    }

    // -- colours, marks ----------------------------------------------------------------------
    function recolor() {
      const anyMarked = state.foundCount + state.selectedCount > 0;
      pointColors(state.by, n, state.marked, anyMarked, state.rgba);
      renderer.setPoints(null, state.rgba, n);
      uploadMarks();
      requestDraw();
    }

    /** The marked (found or selected) visible rows, drawn again on top. */
    function uploadMarks() {
      const list = [];
      for (let i = 0; i < n; i++) if (state.marked[i] && visible(i)) list.push(i);
      const pos = new Float32Array(2 * list.length), rgba = new Uint8Array(4 * list.length);
      list.forEach((i, k) => {
        pos[2 * k] = state.pos[2 * i]; pos[2 * k + 1] = state.pos[2 * i + 1];
        rgba.set(state.rgba.subarray(4 * i, 4 * i + 3), 4 * k); rgba[4 * k + 3] = 255;
      });
      state.markedList = Int32Array.from(list);
      renderer.setMarks(pos, rgba, list.length);
    }

    function updateMarks() {
      for (let i = 0; i < n; i++) state.marked[i] = state.found[i] | state.selected[i];
      const rows = state.selectedCount || state.foundCount;
      $('download').disabled = rows === 0;
      $('selection-count').textContent = state.selectedCount
        ? `${state.selectedCount} selected` : '';
      recolor();
    }

    function setColorBy(value) {
      const column = value === 'labels' ? Object.assign({ name: 'label', kind: 'categorical' }, data.labels)
        : value.startsWith('column:') ? data.columns[Number(value.slice(7))] : null;
      state.by = coloring(column, n);
      api.colors = {};
      if (state.by.kind === 'categorical') {
        state.by.classes.forEach((c, k) => { api.colors[c] = hex(Array.from(state.by.rgb.subarray(3 * k, 3 * k + 3))); });
      }
      renderLegend();
      hideTooltip();
      recolor();
    }

    // -- legend ------------------------------------------------------------------------------
    /** Builds the legend of the colour-by column: its classes, or a colour bar. */
    function renderLegend() {
      const legend = $('legend');
      legend.replaceChildren();
      const by = state.by;
      const title = document.createElement('div');
      title.className = 'legend-title';
      title.textContent = by.kind === 'none' ? `${n} points` : by.name;
      legend.append(title);
      if (by.kind === 'numeric') return renderColorbar(legend, by);
      if (by.kind !== 'categorical') return;
      const tail = [];
      by.classes.forEach((name, k) => {
        if (!by.colored[k]) { tail.push(k); return; }
        const item = legendItem(name, hex(Array.from(by.rgb.subarray(3 * k, 3 * k + 3))), by.counts[k]);
        item.dataset.class = name;
        item.dataset.k = String(k);
        legend.append(item);
      });
      if (tail.length) {
        const count = tail.reduce((s, k) => s + by.counts[k], 0);
        const item = legendItem(`other (${tail.length} classes)`, hex(TAIL), count);
        item.classList.add('legend-other');
        legend.append(item);
        const note = document.createElement('div');
        note.className = 'legend-note';
        note.textContent = `${by.classes.length} classes: the ${MAX_CLASSES - 1} largest are coloured, the other ${tail.length} are grey`;
        legend.append(note);
      }
      state.tail = tail;
      refreshLegend();
    }

    /** Marks the legend entries of hidden classes. */
    function refreshLegend() {
      const by = state.by;
      if (by.kind !== 'categorical') return;
      for (const item of $('legend').querySelectorAll('.legend-item')) {
        const ks = legendClasses(item);
        item.classList.toggle('off', ks.every((k) => by.hidden[k]));
      }
    }

    /** The classes a legend entry stands for. */
    const legendClasses = (item) => (item.classList.contains('legend-other') ? state.tail : [Number(item.dataset.k)]);

    // One listener for all entries: a click toggles, a shift-click or double-click isolates.
    $('legend').addEventListener('click', (ev) => {
      const item = ev.target.closest('.legend-item');
      if (!item || state.by.kind !== 'categorical' || item.dataset.missing) return;
      (ev.shiftKey ? isolate : toggle)(legendClasses(item));
    });
    $('legend').addEventListener('dblclick', (ev) => {
      const item = ev.target.closest('.legend-item');
      if (!item || state.by.kind !== 'categorical' || item.dataset.missing) return;
      ev.preventDefault();
      isolate(legendClasses(item));
    });

    function legendItem(name, color, count) {
      const item = document.createElement('div');
      item.className = 'legend-item';
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = color;
      const label = document.createElement('span');
      label.className = 'name';
      label.textContent = name;
      label.title = name;
      const c = document.createElement('span');
      c.className = 'count';
      c.textContent = count;
      item.append(swatch, label, c);
      return item;
    }

    /** Hides the classes `ks` if any of them shows, else shows them. */
    function toggle(ks) {
      const hide = ks.some((k) => !state.by.hidden[k]);
      ks.forEach((k) => { state.by.hidden[k] = hide ? 1 : 0; });
      classesChanged();
    }

    /** Shows only the classes `ks`, or every class when only they show already. */
    function isolate(ks) {
      const by = state.by, only = new Set(ks);
      const alone = by.classes.every((_, k) => (by.hidden[k] === 0) === only.has(k));
      by.hidden.fill(alone ? 0 : 1);
      if (!alone) ks.forEach((k) => { by.hidden[k] = 0; });
      classesChanged();
    }

    function classesChanged() {
      refreshLegend();
      hideTooltip();
      recolor();
    }

    function renderColorbar(legend, by) {
      const bar = document.createElement('canvas');
      bar.id = 'colorbar';
      bar.width = 180; bar.height = 14;
      const c = bar.getContext('2d');
      for (let x = 0; x < bar.width; x++) {
        c.fillStyle = hex(viridis(x / (bar.width - 1)));
        c.fillRect(x, 0, 1, bar.height);
      }
      const ends = document.createElement('div');
      ends.className = 'legend-note';
      ends.textContent = Number.isFinite(by.lo) ? `${formatNumber(by.lo)} to ${formatNumber(by.hi)}` : 'no values';
      legend.append(bar, ends);
      if (by.missing) {
        const item = legendItem('missing (NA)', hex(TAIL), by.missing);
        item.dataset.missing = '1';
        item.style.cursor = 'default';
        legend.append(item);
      }
    }

    // -- hover -------------------------------------------------------------------------------
    function hoverAt(sx, sy, clientX, clientY) {
      if (!state.grid) state.grid = buildGrid(state.pos, n);
      const r = (style().size / 2 + HOVER_SLACK) / state.view.scale;
      const [x, y] = toData(sx, sy);
      const i = nearest(state.grid, x, y, r, visible);
      if (i < 0) return hideTooltip();
      const lines = [`row ${i}`];
      if (data.ids) lines.push(`id: ${data.ids[i]}`);
      if (data.labels) lines.push(`label: ${rowLabel(i)}`);
      for (const c of data.columns) {
        lines.push(`${c.name}: ${c.kind === 'numeric' ? formatNumber(c.values[i]) : c.classes[c.codes[i]]}`);
      }
      tooltip.textContent = lines.join('\n');
      tooltip.hidden = false;
      const w = tooltip.offsetWidth, h = tooltip.offsetHeight;
      const left = clientX + 14 + w > window.innerWidth ? clientX - 14 - w : clientX + 14;
      const top = clientY + 14 + h > window.innerHeight ? clientY - 14 - h : clientY + 14;
      tooltip.style.left = `${Math.max(0, left)}px`;
      tooltip.style.top = `${Math.max(0, top)}px`;
    }

    function hideTooltip() {
      tooltip.hidden = true;
    }

    // -- search ------------------------------------------------------------------------------
    let lowerIds = null;
    function search(text) {
      let q = text.trim().toLowerCase(), fields = ['id', 'label'];
      const scoped = /^(id|label):\s*(.*)$/.exec(q);
      if (scoped) { fields = [scoped[1]]; q = scoped[2]; }
      state.found.fill(0);
      state.foundCount = 0;
      if (q) {
        if (fields.includes('id') && !lowerIds) lowerIds = Array.from({ length: n }, (_, i) => rowId(i).toLowerCase());
        const classes = data.labels && fields.includes('label') ? data.labels.classes.map((c) => c.toLowerCase()) : null;
        const ids = fields.includes('id') ? lowerIds : null;
        const run = (test) => {
          const labelHit = classes ? classes.map(test) : null;
          let count = 0;
          for (let i = 0; i < n; i++) {
            if ((ids && test(ids[i])) || (labelHit && labelHit[data.labels.codes[i]])) { state.found[i] = 1; count++; }
          }
          return count;
        };
        state.foundCount = run((s) => s === q) || run((s) => s.startsWith(q));
      }
      const k = state.foundCount;
      $('search-count').textContent = !q ? '' : k === 0 ? 'no match' : k === 1 ? '1 row' : `${k} rows`;
      updateMarks();
    }

    // -- selection ---------------------------------------------------------------------------
    /** Selects the visible rows whose drawn centre lies in the box or lasso (CSS px). */
    function select(shape, add) {
      if (!add) state.selected.fill(0);
      const k = state.view.scale, ox = state.width / 2 - state.view.cx * k, oy = state.height / 2 + state.view.cy * k;
      const p = state.pos;
      let inside;
      if (shape.box) {
        const [x0, y0, x1, y1] = shape.box;
        const [l, r, t, b] = [Math.min(x0, x1), Math.max(x0, x1), Math.min(y0, y1), Math.max(y0, y1)];
        inside = (sx, sy) => sx >= l && sx <= r && sy >= t && sy <= b;
      } else {
        inside = lassoMask(shape.lasso);
      }
      for (let i = 0; i < n; i++) {
        if (visible(i) && inside(ox + p[2 * i] * k, oy - p[2 * i + 1] * k)) state.selected[i] = 1;
      }
      state.selectedCount = state.selected.reduce((s, v) => s + v, 0);
      updateMarks();
    }

    /** A point-in-lasso test: the polygon filled into a pixel mask of the canvas's size. */
    function lassoMask(points) {
      const w = Math.ceil(state.width), h = Math.ceil(state.height);
      const mask = document.createElement('canvas');
      mask.width = w; mask.height = h;
      const c = mask.getContext('2d', { willReadFrequently: true });
      c.beginPath();
      points.forEach(([x, y], k) => (k ? c.lineTo(x, y) : c.moveTo(x, y)));
      c.closePath();
      c.fill();
      const alpha = c.getImageData(0, 0, w, h).data;
      return (sx, sy) => {
        const x = Math.floor(sx), y = Math.floor(sy);
        return x >= 0 && y >= 0 && x < w && y < h && alpha[4 * (y * w + x) + 3] >= 128;
      };
    }

    function clearSelection() {
      state.selected.fill(0);
      state.selectedCount = 0;
      updateMarks();
    }

    function drawShape(shape) {
      octx.clearRect(0, 0, state.width, state.height);
      if (!shape) return;
      octx.strokeStyle = '#2b6cb0';
      octx.fillStyle = 'rgba(43, 108, 176, 0.08)';
      octx.lineWidth = 1.5;
      octx.setLineDash([5, 3]);
      octx.beginPath();
      if (shape.box) {
        const [x0, y0, x1, y1] = shape.box;
        octx.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
      } else {
        shape.lasso.forEach(([x, y], k) => (k ? octx.lineTo(x, y) : octx.moveTo(x, y)));
        octx.closePath();
      }
      octx.fill();
      octx.stroke();
    }

    function download() {
      const pick = state.selectedCount ? state.selected : state.found;
      const head = data.labels ? 'row,id,label' : 'row,id';
      const lines = [head];
      for (let i = 0; i < n; i++) {
        if (!pick[i]) continue;
        lines.push(data.labels ? `${i},${csvField(rowId(i))},${csvField(rowLabel(i))}` : `${i},${csvField(rowId(i))}`);
      }
      const url = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = (data.title.replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '') || 'map') + '-selection.csv';
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    }

    // -- frames ------------------------------------------------------------------------------
    function setFrame(k) {
      state.frame = k;
      state.pos = k < data.frames.length ? data.frames[k].positions : final;
      state.grid = null;
      renderer.setPoints(state.pos, null, n);
      uploadMarks();
      if (state.fitted) fit();
      $('frame').value = String(k);
      $('frame-label').textContent = k < data.frames.length ? `iteration ${data.frames[k].iteration}` : 'final map';
      hideTooltip();
      requestDraw();
    }

    function setupFrames() {
      const footer = $('frames');
      if (!data.frames.length) { footer.remove(); return; }
      const play = document.createElement('button');
      play.id = 'play'; play.type = 'button'; play.textContent = 'play';
      const slider = document.createElement('input');
      slider.id = 'frame'; slider.type = 'range'; slider.min = '0'; slider.max = String(data.frames.length);
      slider.step = '1'; slider.value = slider.max;
      const label = document.createElement('span');
      label.id = 'frame-label'; label.textContent = 'final map';
      footer.append(play, slider, label);
      footer.hidden = false;
      let timer = null;
      const stop = () => { clearInterval(timer); timer = null; play.textContent = 'play'; };
      slider.addEventListener('input', () => { stop(); setFrame(Number(slider.value)); });
      play.addEventListener('click', () => {
        if (timer) return stop();
        if (state.frame >= data.frames.length) setFrame(0);
        play.textContent = 'pause';
        const step = Math.max(40, Math.min(400, 6000 / (data.frames.length + 1)));
        timer = setInterval(() => {
          if (state.frame >= data.frames.length) return stop();
          setFrame(state.frame + 1);
        }, step);
      });
    }

    // -- input -------------------------------------------------------------------------------
    const pointers = new Map();
    let gesture = null; // {kind: 'pan' | 'pinch' | 'box' | 'lasso', ...}

    function setMode(mode) {
      state.mode = mode;
      for (const m of ['pan', 'box', 'lasso']) $(`mode-${m}`).classList.toggle('active', m === mode);
      canvas.classList.toggle('select', mode !== 'pan');
    }

    canvas.addEventListener('pointerdown', (ev) => {
      canvas.setPointerCapture(ev.pointerId);
      pointers.set(ev.pointerId, local(ev));
      hideTooltip();
      if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        gesture = { kind: 'pinch', dist: Math.hypot(a[0] - b[0], a[1] - b[1]), mid: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] };
        drawShape(null);
      } else if (pointers.size === 1) {
        const p = local(ev);
        gesture = state.mode === 'pan' ? { kind: 'pan', last: p }
          : state.mode === 'box' ? { kind: 'box', box: [p[0], p[1], p[0], p[1]], add: ev.shiftKey, moved: false }
            : { kind: 'lasso', lasso: [p], add: ev.shiftKey, moved: false };
        if (gesture.kind === 'pan') canvas.classList.add('dragging');
      }
    });

    canvas.addEventListener('pointermove', (ev) => {
      const p = local(ev);
      if (!pointers.has(ev.pointerId)) return hoverAt(p[0], p[1], ev.clientX, ev.clientY);
      pointers.set(ev.pointerId, p);
      if (!gesture) return;
      if (gesture.kind === 'pinch' && pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const dist = Math.hypot(a[0] - b[0], a[1] - b[1]), mid = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
        panBy(mid[0] - gesture.mid[0], mid[1] - gesture.mid[1]);
        if (gesture.dist > 0 && dist > 0) zoomAt(mid[0], mid[1], dist / gesture.dist);
        gesture.dist = dist; gesture.mid = mid;
      } else if (gesture.kind === 'pan') {
        panBy(p[0] - gesture.last[0], p[1] - gesture.last[1]);
        gesture.last = p;
      } else if (gesture.kind === 'box') {
        gesture.box[2] = p[0]; gesture.box[3] = p[1];
        gesture.moved = gesture.moved || Math.hypot(p[0] - gesture.box[0], p[1] - gesture.box[1]) > 3;
        drawShape(gesture);
      } else if (gesture.kind === 'lasso') {
        const last = gesture.lasso[gesture.lasso.length - 1];
        if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= 2) gesture.lasso.push(p);
        gesture.moved = gesture.moved || gesture.lasso.length > 2;
        drawShape(gesture);
      }
    });

    const endPointer = (ev) => {
      if (!pointers.delete(ev.pointerId)) return;
      canvas.classList.remove('dragging');
      if (gesture && (gesture.kind === 'box' || gesture.kind === 'lasso') && pointers.size === 0) {
        if (gesture.moved) select(gesture, gesture.add);
        else if (!gesture.add) clearSelection();
        drawShape(null);
      }
      if (pointers.size === 0) gesture = null;
      else if (gesture && gesture.kind === 'pinch') gesture = { kind: 'pan', last: [...pointers.values()][0] };
    };
    canvas.addEventListener('pointerup', endPointer);
    canvas.addEventListener('pointercancel', endPointer);
    canvas.addEventListener('pointerleave', () => { if (!pointers.size) hideTooltip(); });
    canvas.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? state.height : 1;
      const [sx, sy] = local(ev);
      zoomAt(sx, sy, Math.exp(-ev.deltaY * unit * 0.002));
      hideTooltip();
    }, { passive: false });
    window.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && ev.target.tagName !== 'INPUT') clearSelection();
    });

    for (const m of ['pan', 'box', 'lasso']) $(`mode-${m}`).addEventListener('click', () => setMode(m));
    $('reset').addEventListener('click', () => { fit(); requestDraw(); });
    $('download').addEventListener('click', download);
    let searchTimer = null;
    $('search').addEventListener('input', (ev) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => search(ev.target.value), n > 200000 ? 200 : 60);
    });
    $('search').addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') { clearTimeout(searchTimer); search(ev.target.value); }
    });

    const select$ = $('color-by');
    const option = (value, text) => { const o = document.createElement('option'); o.value = value; o.textContent = text; select$.append(o); };
    if (data.labels) option('labels', 'labels');
    data.columns.forEach((c, k) => option(`column:${k}`, c.name));
    option('none', 'one colour');
    select$.addEventListener('change', () => setColorBy(select$.value));

    new ResizeObserver(() => {
      const { cx, cy } = state.view, zoom = state.view.scale / state.fitScale, fitted = state.fitted;
      resize();
      fit();
      if (!fitted) state.view = { cx, cy, scale: state.fitScale * zoom };
      state.fitted = fitted;
      requestDraw();
    }).observe(stage);

    // -- the interface, the first frame ---------------------------------------------------------
    Object.assign(api, {
      renderer: renderer.name,
      n,
      toScreen(i) {
        const r = canvas.getBoundingClientRect();
        const [x, y] = toScreen(state.pos[2 * i], state.pos[2 * i + 1]);
        return [r.left + x, r.top + y];
      },
      visibleExtent() {
        const [xmin, ymax] = toData(0, 0), [xmax, ymin] = toData(state.width, state.height);
        return { xmin, xmax, ymin, ymax };
      },
    });

    document.title = data.title;
    $('title').textContent = data.title;
    $('status').textContent = `${n.toLocaleString('en')} points · ${renderer.name}`;
    resize();
    setupFrames();
    renderer.setPoints(state.pos, state.rgba, n);
    fit();
    setColorBy(select$.value);
    state.pending = false;
    api.firstFrameMs = draw();
    resolveReady(api);
  }

  function fail(e) {
    const status = $('status');
    status.textContent = `cannot show the map: ${e.message}`;
    status.classList.add('error');
    rejectReady(e);
  }

  loadData().then(start).catch(fail);
})();
