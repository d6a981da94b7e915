import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

// One look for every chart: the doc is read on GitHub's white background, in light and dark themes.
const kConfig = {
  background: 'white',
  font: 'Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 400 },
  title: { fontSize: 14, anchor: 'start' },
} as const;

/**
 * Renders a vega-lite spec to SVG text in Node (vega's headless view: no canvas, no browser).
 * @throws when the spec does not compile.
 */
export async function renderSvg (spec: TopLevelSpec): Promise<string> {
  // vega-lite's warnings about merged facet scales are expected for these charts; errors still throw.
  const compiled = compile({ ...spec, config: { ...kConfig, ...spec.config } }, { logger: vega.logger(vega.Error) }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
