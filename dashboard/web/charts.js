// Line charts for the dashboard, drawn by uPlot (vendored: dashboard/web/vendor). A chart follows
// its container's width (ResizeObserver), so it is drawn once its panel is shown, and is rebuilt
// when its set of series changes (a new endpoint, reason or partition appears).
"use strict";

const Charts = (() => {
  // Distinguishable for common colour-vision deficiencies, each 4.5:1 or more on white.
  const PALETTE = ["#0b57a4", "#b93e00", "#1e6b34", "#7a2a9c", "#8a5a00", "#0b6a7d", "#b0154b", "#4d5561",
                   "#3a4fb0", "#6b4e16"];
  const HEIGHT = 220;

  class LineChart {
    // el: the container; opts: {time: true for x in epoch seconds, false for plain seconds;
    // yLabel: the y axis' label; format: value -> text for the legend}.
    constructor(el, opts) {
      this.el = el;
      this.opts = opts;
      this.plot = null;
      this.names = [];
      this.data = null;
      this.hasData = false;
      this.empty = document.createElement("p");
      this.empty.className = "empty";
      this.empty.textContent = "No data yet.";
      el.appendChild(this.empty);
      new ResizeObserver(() => this.resize()).observe(el);
    }

    // x: numbers; series: [{name, values}] with values aligned to x (null = unknown).
    update(x, series) {
      const names = series.map((s) => s.name);
      this.data = [x, ...series.map((s) => s.values)];
      const hasData = x.length > 0 && series.length > 0;
      this.hasData = hasData;
      this.empty.hidden = hasData;
      if (!hasData) {
        this.destroy();
        return;
      }
      if (!this.plot || names.join("\u0000") !== this.names.join("\u0000")) {
        this.destroy();
        this.names = names;
        this.build();
      } else {
        this.plot.setData(this.data);
      }
    }

    build() {
      const width = this.el.clientWidth;
      if (width === 0) return;  // hidden: drawn by resize() when shown
      const format = this.opts.format || ((v) => (v == null ? "\u2014" : String(+v.toPrecision(4))));
      const options = {
        width,
        height: HEIGHT,
        scales: { x: { time: this.opts.time !== false } },
        axes: [{ stroke: "#1b1f24", grid: { stroke: "#e3e6ea" } },
               { stroke: "#1b1f24", grid: { stroke: "#e3e6ea" }, label: this.opts.yLabel || "", size: 60 }],
        series: [{ label: this.opts.time !== false ? "time" : "s" },
                 ...this.names.map((name, i) => ({
                   label: name, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: false,
                   value: (u, v) => format(v),
                 }))],
        cursor: { drag: { x: false, y: false } },
      };
      this.plot = new uPlot(options, this.data, this.el);
    }

    resize() {
      const width = this.el.clientWidth;
      if (width === 0) return;
      if (!this.plot) {
        if (this.hasData) this.build();
        return;
      }
      if (Math.abs(this.plot.width - width) > 1) this.plot.setSize({ width, height: HEIGHT });
    }

    destroy() {
      if (this.plot) this.plot.destroy();
      this.plot = null;
    }
  }

  return { LineChart, PALETTE };
})();
