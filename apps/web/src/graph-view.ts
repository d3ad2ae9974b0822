import type { GraphData, Layout } from './protocol.js';

const SVG = 'http://www.w3.org/2000/svg';

/** Fill colour of a component's sources (and its LNs' outline): one hue per component. @example componentColor(0) */
export function componentColor(c: number): string {
  return `hsl(${(c * 137.5 + 200) % 360} 65% 45%)`;
}

/**
 * The model graph as SVG, laid out by elkjs: pan by dragging, zoom with the wheel or the buttons,
 * LayerNorms green (foldable) or red (not), each component's sources in its colour, blocking nodes
 * outlined in orange. `focus(name)` centres a node and marks it.
 *
 * @example
 * ```ts
 * const view = new GraphView(document.querySelector('#graph')!);
 * view.show(data, layout);
 * view.focus('node_27_LayerNormalization');
 * ```
 */
export class GraphView {
  private readonly svg: SVGSVGElement;
  private readonly root: SVGGElement;
  private scale = 1;
  private tx = 0;
  private ty = 0;
  private boxes = new Map<string, { x: number; y: number; width: number; height: number }>();
  private layout: Layout | undefined;

  constructor(private readonly host: HTMLElement) {
    this.svg = document.createElementNS(SVG, 'svg');
    this.svg.setAttribute('role', 'img');
    this.svg.setAttribute('aria-label', 'Model graph: drag to pan, scroll to zoom');
    this.svg.classList.add('graph-svg');
    this.root = document.createElementNS(SVG, 'g');
    this.svg.append(this.root);
    host.append(this.svg);
    this.enablePanZoom();
  }

  /** Draws the graph (replacing what was shown) and fits it to the view. */
  show(data: GraphData, layout: Layout): void {
    this.layout = layout;
    this.root.replaceChildren();
    this.boxes = new Map(layout.nodes.map((n) => [n.id, n]));
    const edges = document.createElementNS(SVG, 'g');
    edges.classList.add('edges');
    for (const e of layout.edges) {
      if (e.points.length < 2) continue;
      const p = document.createElementNS(SVG, 'polyline');
      p.setAttribute('points', e.points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' '));
      edges.append(p);
    }
    this.root.append(edges);
    const info = new Map(data.nodes.map((n) => [n.id, n]));
    for (const box of layout.nodes) {
      const n = info.get(box.id);
      if (!n) continue;
      const g = document.createElementNS(SVG, 'g');
      g.classList.add('node', n.role);
      if (n.role === 'ln') g.classList.add(n.foldable ? 'foldable' : 'blocked');
      g.dataset.id = n.id;
      g.setAttribute('transform', `translate(${box.x},${box.y})`);
      const r = document.createElementNS(SVG, 'rect');
      r.setAttribute('width', String(box.width));
      r.setAttribute('height', String(box.height));
      r.setAttribute('rx', '4');
      if (n.role === 'source' && n.component !== undefined) r.style.fill = componentColor(n.component);
      const t = document.createElementNS(SVG, 'text');
      t.setAttribute('x', String(box.width / 2));
      t.setAttribute('y', String(box.height / 2 + 4));
      t.textContent = n.op === 'LayerNormalization' ? 'LayerNorm' : n.op;
      const title = document.createElementNS(SVG, 'title');
      title.textContent = `${n.id} (${n.op})`;
      g.append(r, t, title);
      this.root.append(g);
    }
    this.fit();
  }

  /** Centres node `id` at a readable zoom and marks it selected; false when the graph has no such node. */
  focus(id: string): boolean {
    const b = this.boxes.get(id);
    if (!b) return false;
    for (const el of this.root.querySelectorAll('.node.selected')) el.classList.remove('selected');
    this.root.querySelector(`.node[data-id="${CSS.escape(id)}"]`)?.classList.add('selected');
    const { width, height } = this.viewport();
    this.scale = 1.2;
    this.tx = width / 2 - (b.x + b.width / 2) * this.scale;
    this.ty = height / 2 - (b.y + b.height / 2) * this.scale;
    this.apply();
    return true;
  }

  /** Zooms by `factor` around the centre of the view. */
  zoomBy(factor: number): void {
    const { width, height } = this.viewport();
    this.zoomAt(width / 2, height / 2, factor);
  }

  /** Shows the whole graph. */
  fit(): void {
    if (!this.layout) return;
    const { width, height } = this.viewport();
    this.scale = Math.min(width / Math.max(1, this.layout.width + 20), height / Math.max(1, this.layout.height + 20), 1.5);
    this.tx = (width - this.layout.width * this.scale) / 2;
    this.ty = 10;
    this.apply();
  }

  /** The current transform, for tests and the zoom readout. */
  get transform(): { scale: number; tx: number; ty: number } {
    return { scale: this.scale, tx: this.tx, ty: this.ty };
  }

  private viewport(): { width: number; height: number } {
    const r = this.host.getBoundingClientRect();
    return { width: r.width || 800, height: r.height || 500 };
  }

  private zoomAt(x: number, y: number, factor: number): void {
    const s = Math.min(8, Math.max(0.02, this.scale * factor));
    this.tx = x - ((x - this.tx) * s) / this.scale;
    this.ty = y - ((y - this.ty) * s) / this.scale;
    this.scale = s;
    this.apply();
  }

  private apply(): void {
    this.root.setAttribute('transform', `translate(${this.tx.toFixed(1)},${this.ty.toFixed(1)}) scale(${this.scale.toFixed(4)})`);
  }

  private enablePanZoom(): void {
    let drag: { x: number; y: number } | undefined;
    this.svg.addEventListener('pointerdown', (e) => {
      drag = { x: e.clientX, y: e.clientY };
      this.svg.setPointerCapture(e.pointerId);
    });
    this.svg.addEventListener('pointermove', (e) => {
      if (!drag) return;
      this.tx += e.clientX - drag.x;
      this.ty += e.clientY - drag.y;
      drag = { x: e.clientX, y: e.clientY };
      this.apply();
    });
    const end = () => {
      drag = undefined;
    };
    this.svg.addEventListener('pointerup', end);
    this.svg.addEventListener('pointercancel', end);
    this.svg.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const r = this.svg.getBoundingClientRect();
        this.zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * 0.0015));
      },
      { passive: false },
    );
  }
}
