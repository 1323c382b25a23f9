// The embedding map: the points the daemon projected (GET /v1/admin/embedding_map) drawn on a
// canvas, coloured by category, cold products as hollow diamonds. A click picks the nearest point
// within reach and calls onPick(product); keyboard users type a product id into the Explore
// panel's product form instead (the canvas is an image to assistive technology, with a summary).
"use strict";

const EmbeddingMap = (() => {
  // Tableau 10, a palette made for categories; "other / none" is grey.
  const COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                   "#9c755f", "#17becf"];
  const OTHER = "#9aa3ad";
  const PAD = 16;
  const REACH = 8;  // px: how far from a point a click still picks it

  class MapView {
    constructor(canvas, legend, hover, onPick) {
      this.canvas = canvas;
      this.legend = legend;
      this.hover = hover;
      this.onPick = onPick;
      this.map = null;
      this.screen = [];  // per point: [x, y] in canvas pixels
      canvas.addEventListener("click", (e) => this.pick(e, true));
      canvas.addEventListener("mousemove", (e) => this.pick(e, false));
      new ResizeObserver(() => this.draw()).observe(canvas);
    }

    set(map) {
      this.map = map;
      this.canvas.dataset.points = String(map.points);
      this.canvas.dataset.version = map.version;
      const cold = map.cold.reduce((a, c) => a + c, 0);
      this.canvas.setAttribute("aria-label",
        `Embedding map of version ${map.version}: ${map.points} of ${map.products} products, ` +
        `${cold} of them cold, in ${map.categories.length} coloured categories.`);
      this.legend.replaceChildren(
        ...map.categories.map((name, i) => legendItem(COLOURS[i % COLOURS.length], name, false)),
        legendItem(OTHER, "other or none", false),
        legendItem(null, "cold product", true));
      this.draw();
    }

    draw() {
      const c = this.canvas;
      const cssWidth = c.clientWidth;
      if (!this.map || cssWidth === 0) return;
      const ratio = window.devicePixelRatio || 1;
      const cssHeight = Math.round(cssWidth * 0.62);
      c.width = Math.round(cssWidth * ratio);
      c.height = Math.round(cssHeight * ratio);
      c.style.height = cssHeight + "px";
      const g = c.getContext("2d");
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.clearRect(0, 0, cssWidth, cssHeight);
      const { x, y } = this.map;
      const [x0, x1] = range(x), [y0, y1] = range(y);
      const sx = (cssWidth - 2 * PAD) / (x1 - x0 || 1), sy = (cssHeight - 2 * PAD) / (y1 - y0 || 1);
      this.screen = x.map((xv, i) => [PAD + (xv - x0) * sx, cssHeight - PAD - (y[i] - y0) * sy]);
      // Warm points first, cold ones on top so that they stay visible.
      for (const coldPass of [0, 1]) {
        for (let i = 0; i < this.screen.length; i++) {
          if (this.map.cold[i] !== coldPass) continue;
          const [px, py] = this.screen[i];
          const k = this.map.category[i];
          const colour = k >= 0 ? COLOURS[k % COLOURS.length] : OTHER;
          if (coldPass) {
            g.beginPath();
            g.moveTo(px, py - 4.5); g.lineTo(px + 4.5, py); g.lineTo(px, py + 4.5); g.lineTo(px - 4.5, py); g.closePath();
            g.fillStyle = "#ffffff"; g.fill();
            g.lineWidth = 2; g.strokeStyle = colour === OTHER ? "#1b1f24" : colour; g.stroke();
          } else {
            g.beginPath();
            g.arc(px, py, 2.6, 0, 2 * Math.PI);
            g.fillStyle = colour; g.fill();
          }
        }
      }
    }

    nearest(e) {
      const r = this.canvas.getBoundingClientRect();
      const mx = e.clientX - r.left, my = e.clientY - r.top;
      let best = -1, bestD = REACH * REACH;
      this.screen.forEach(([px, py], i) => {
        const d = (px - mx) ** 2 + (py - my) ** 2;
        if (d <= bestD) { best = i; bestD = d; }
      });
      return best;
    }

    pick(e, click) {
      if (!this.map) return;
      const i = this.nearest(e);
      if (i < 0) {
        if (!click) this.hover.textContent = "";
        return;
      }
      const k = this.map.category[i];
      const what = `${this.map.product[i]} (${k >= 0 ? this.map.categories[k] : "other or none"}` +
                   `${this.map.cold[i] ? ", cold" : ""})`;
      this.hover.textContent = click ? `Picked ${what}` : what;
      if (click) this.onPick(this.map.product[i]);
    }
  }

  function range(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    return lo <= hi ? [lo, hi] : [0, 1];
  }

  function legendItem(colour, name, cold) {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = cold ? "swatch cold" : "swatch";
    if (!cold) swatch.style.background = colour;
    li.append(swatch, document.createTextNode(name));
    return li;
  }

  return { MapView };
})();
